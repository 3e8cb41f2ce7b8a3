"""Where the device keeps its data and the app's tunable defaults (server address, lock timeout, paging)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SERVER_ENV", "AppConfig", "data_dir", "db_path"]

# `fieldvisit app --server URL` passes the sign-in page's default server address through this variable.
SERVER_ENV = "FIELDVISIT_APP_SERVER"
LOCK_ENV = "FIELDVISIT_APP_LOCK_MINUTES"


def data_dir() -> Path:
    """Packaged apps and `flet run` set FLET_APP_STORAGE_DATA to an app-private durable folder."""
    base = os.environ.get("FLET_APP_STORAGE_DATA") or str(Path.home() / ".local" / "share" / "fieldvisit")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def db_path(folder: Path, user_id: str) -> Path:
    """One device database per signed-in user; the id is reduced to file-name-safe characters."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", user_id) or "user"
    return folder / f"fieldvisit-{safe}.db"


@dataclass(frozen=True)
class AppConfig:
    data_dir: Path = field(default_factory=data_dir)
    default_server_url: str = "http://127.0.0.1:8765"
    lock_after_s: float = 600.0
    page_size: int = 50
    # How often the runtime polls the engine's status and checks the lock (seconds).
    tick_s: float = 1.0
    # Automatic sync while online and idle; the engine's own backoff governs retries after errors.
    auto_sync_s: float = 120.0
    device_name: str = "FieldVisit app"

    @classmethod
    def from_env(cls) -> AppConfig:
        kwargs: dict[str, object] = {}
        if os.environ.get(SERVER_ENV):
            kwargs["default_server_url"] = os.environ[SERVER_ENV]
        minutes = os.environ.get(LOCK_ENV)
        if minutes and minutes.replace(".", "", 1).isdigit():
            kwargs["lock_after_s"] = float(minutes) * 60
        return cls(**kwargs)  # type: ignore[arg-type]
