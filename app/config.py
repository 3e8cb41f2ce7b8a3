"""Where the device keeps its data and the app's tunable defaults (server address, lock timeout, paging)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["CLOCK_ENV", "SERVER_ENV", "AppConfig", "clock_from_env", "data_dir", "db_path", "utc_now"]

# `fieldvisit app --server URL` passes the sign-in page's default server address through this variable.
SERVER_ENV = "FIELDVISIT_APP_SERVER"
LOCK_ENV = "FIELDVISIT_APP_LOCK_MINUTES"
# Test hook only (browser journeys): the clock the visit forms stamp check-in/out with. Unset in production.
CLOCK_ENV = "FIELDVISIT_NOW"


def utc_now() -> datetime:
    return datetime.now(UTC)


def _instant(text: str) -> datetime | None:
    try:
        ts = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return ts if ts.tzinfo is not None else None


def clock_from_env(value: str | None = None) -> Callable[[], datetime]:
    """The visit forms' clock; the real UTC time unless `FIELDVISIT_NOW` is set (tests only).

    - `FIELDVISIT_NOW=2026-03-01T21:30:00+08:00`: the clock starts at that instant when the app starts and
      runs on in real time.
    - `FIELDVISIT_NOW=@/path/to/file`: the file holds such an instant and is re-read on every reading, so a
      test can move the clock of a running app; it runs on in real time from the file's modification time.
    A missing file or an unreadable value falls back to the real time.
    """
    raw = os.environ.get(CLOCK_ENV) if value is None else value
    if not raw:
        return utc_now
    if raw.startswith("@"):
        path = Path(raw[1:])

        def from_file() -> datetime:
            try:
                start, written = _instant(path.read_text(encoding="utf-8")), path.stat().st_mtime
            except OSError:
                return utc_now()
            return utc_now() if start is None else start + (utc_now() - datetime.fromtimestamp(written, UTC))

        return from_file
    start = _instant(raw)
    if start is None:
        return utc_now
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


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
    # The longest wait between sync retries after a failure. Short, because a refused connection costs the
    # server nothing and the investigator expects an upload soon after the server (or signal) is back.
    sync_retry_cap_s: float = 30.0
    # The visit forms' clock (check-in, check-out, created_at); see `clock_from_env`.
    clock: Callable[[], datetime] = utc_now
    # Encryption at rest: scrypt's cost parameter N for the password's key (r=8, p=1; 2**15 = 32 MiB), and
    # how many wrong passwords in a row at the lock screen destroy the device's data.
    kdf_cost: int = 2**15
    wipe_after_failures: int = 10

    @classmethod
    def from_env(cls) -> AppConfig:
        kwargs: dict[str, object] = {}
        if os.environ.get(SERVER_ENV):
            kwargs["default_server_url"] = os.environ[SERVER_ENV]
        if os.environ.get(CLOCK_ENV):
            kwargs["clock"] = clock_from_env()
        minutes = os.environ.get(LOCK_ENV)
        if minutes and minutes.replace(".", "", 1).isdigit():
            kwargs["lock_after_s"] = float(minutes) * 60
        return cls(**kwargs)  # type: ignore[arg-type]
