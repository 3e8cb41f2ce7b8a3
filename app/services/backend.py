"""The app's one seam to storage and sync: sign in, open the user's store, start the sync engine.

Tests pass a stub `Backend`; the real one (`DefaultBackend`) imports storage and the sync client lazily, so
a missing optional part degrades to a clear message instead of a crash.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from storage.crypto import DataKey
    from storage.store import DeviceStore

__all__ = [
    "Backend",
    "Engine",
    "EngineStatus",
    "LoginFailed",
    "LoginResult",
    "SignedInUser",
]

log = logging.getLogger(__name__)


class LoginFailed(Exception):
    """Sign-in refused; `reason` is an i18n key suffix: invalid_credentials, offline, rate_limited, server."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedInUser:
    id: str
    name: str
    role: str
    team: str
    username: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "team": self.team,
            "username": self.username,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SignedInUser:
        return cls(
            str(d["id"]),
            str(d.get("name", "")),
            str(d.get("role", "")),
            str(d.get("team", "")),
            str(d.get("username", "")),
        )


@dataclass
class LoginResult:
    user: SignedInUser
    device_id: str
    server_epoch: str | None = None
    # Backend-specific sign-in details (e.g. a staging registration that `adopt()` moves into the store).
    client: dict[str, Any] | None = None


@dataclass(frozen=True)
class EngineStatus:
    """What the sync screen shows; `last_error` is an error code (sync/client/errors.py)."""

    pending: int = 0
    last_sync_at: datetime | None = None
    in_progress: bool = False
    last_error: str | None = None
    next_retry_at: datetime | None = None


class Engine(Protocol):
    """A running sync engine as the app drives it. Optional extras are looked up when used:
    `self_scheduling` (it keeps its own interval and backoff) and `report_detail_read(visit_id)`."""

    def status(self) -> EngineStatus: ...

    def sync_now(self) -> None: ...

    def set_online(self, online: bool) -> None: ...

    def stop(self) -> None: ...


class Backend(Protocol):
    def login(
        self,
        server_url: str,
        username: str,
        password: str,
        device_name: str,
        store: DeviceStore | None = None,
    ) -> LoginResult: ...

    def adopt(self, result: LoginResult, store: DeviceStore) -> None: ...

    def open_store(self, path: Path, key: DataKey) -> DeviceStore:
        """The user's store at `path`, sealed under `key` (app/services/data_keys.py)."""
        ...

    def start_engine(
        self, store: DeviceStore, server_url: str, login: LoginResult | None
    ) -> Engine | None: ...
