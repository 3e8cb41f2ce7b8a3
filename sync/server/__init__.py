"""The central server of protocol v1 (FastAPI over SQLite or PostgreSQL). Never imports flet.

`create_app` and `Settings` load on first use: a command that only opens the database (`fieldvisit users
add`, `import`, `backup`) does not pay for importing the web application.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync.server.app import create_app
    from sync.server.settings import Settings

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from sync.server.app import create_app

        return create_app
    if name == "Settings":
        from sync.server.settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
