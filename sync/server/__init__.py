"""The central server of protocol v1 (FastAPI over SQLite). Never imports flet."""

from sync.server.app import create_app
from sync.server.settings import Settings

__all__ = ["Settings", "create_app"]
