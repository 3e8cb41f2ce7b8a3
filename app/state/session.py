"""Who is signed in, the idle lock (D-5) and sign-out; owns the user's device store and sync engine.

The store is sealed under the user's data key (app/services/data_keys.py): sign-in opens it with the
password the server accepted, the lock screen (idle lock, or after a restart) with the password offline;
too many wrong passwords, sign-out and remote wipe destroy the key with the data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import flet as ft

from app.config import AppConfig, db_path
from app.services.backend import Backend, Engine, LoginFailed, LoginResult, SignedInUser
from app.services.data_keys import DataKeys, TooManyAttempts
from app.services.prefs import Prefs
from storage.crypto import WrongPassword

if TYPE_CHECKING:
    from storage.store import DeviceStore

__all__ = ["Phase", "SessionState"]

log = logging.getLogger(__name__)

Phase = Literal["signed_out", "locked", "active"]
_REMEMBERED = "session"


@ft.observable
@dataclass
class SessionState:
    config: AppConfig
    backend: Backend
    prefs: Prefs
    monotonic: Callable[[], float] = time.monotonic
    phase: Phase = "signed_out"
    user: SignedInUser | None = None
    server_url: str = ""
    username: str = ""
    busy: bool = False
    error_key: str | None = None
    # Bumped whenever the store's content may have changed (sign-in, sync finished), so lists reload.
    data_version: int = 0
    _store: DeviceStore | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)
    _last_activity: float = 0.0
    # The platform's secure storage on phones (app/services/device.py `SecureStore`), set by the app.
    secure_store: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.server_url = self.prefs.get("last_server_url") or self.config.default_server_url
        self.username = self.prefs.get("last_username") or ""

    @property
    def store(self) -> DeviceStore | None:
        return self._store

    @property
    def engine(self) -> Engine | None:
        return self._engine

    @property
    def keys(self) -> DataKeys:
        c = self.config
        return DataKeys(
            c.data_dir, kdf_n=c.kdf_cost, max_failures=c.wipe_after_failures, secure_store=self.secure_store
        )

    @property
    def lock_after_s(self) -> float:
        minutes = self.prefs.get("lock_minutes")
        return float(minutes) * 60 if minutes else self.config.lock_after_s

    # -- start-up ------------------------------------------------------------
    def restore(self) -> None:
        """A remembered sign-in comes back behind the lock screen; the store opens with the password."""
        saved = self.prefs.get(_REMEMBERED)
        if not saved:
            return
        user = SignedInUser.from_dict(saved["user"])
        path = db_path(self.config.data_dir, user.id)
        if not path.exists():
            self.prefs.set(_REMEMBERED, None)
            return
        self.user = user
        self.server_url = saved.get("server_url") or self.server_url
        self.phase = "locked"

    # -- sign-in -------------------------------------------------------------
    async def sign_in(self, server_url: str, username: str, password: str) -> bool:
        server_url, username = server_url.strip().rstrip("/"), username.strip()
        if not server_url or not username or not password:
            self.error_key = "signin.error.missing"
            return False
        self.busy, self.error_key = True, None
        known_id = (self.prefs.get("known_users") or {}).get(f"{server_url}|{username}")
        if self._store is not None and (self.user is None or self.user.id != known_id):
            self._close()
        if self._store is None and known_id and db_path(self.config.data_dir, known_id).exists():
            # The known user's store opens before the server answers only if this password opens its key.
            key = await asyncio.to_thread(self.keys.try_open, known_id, password)
            if key is not None:
                self._store = await asyncio.to_thread(
                    self.backend.open_store, db_path(self.config.data_dir, known_id), key
                )
        try:
            result: LoginResult = await asyncio.to_thread(
                self.backend.login, server_url, username, password, self.config.device_name, self._store
            )
            user = SignedInUser(
                result.user.id, result.user.name, result.user.role, result.user.team, username
            )
            if self._store is not None and user.id != known_id:
                self._close()
            if self._store is None:
                key = await self.keys.for_sign_in(user.id, password)
                self._store = await asyncio.to_thread(
                    self.backend.open_store, db_path(self.config.data_dir, user.id), key
                )
                self.backend.adopt(result, self._store)
        except LoginFailed as exc:
            self.error_key = f"signin.error.{exc.reason}"
            return False
        except Exception:
            log.exception("sign-in failed")
            self.error_key = "signin.error.server"
            return False
        finally:
            self.busy = False
        known = dict(self.prefs.get("known_users") or {})
        known[f"{server_url}|{username}"] = user.id
        self.prefs.set("known_users", known)
        self.prefs.set("last_server_url", server_url)
        self.prefs.set("last_username", username)
        self.prefs.set(
            _REMEMBERED,
            {
                "user": user.to_dict(),
                "server_url": server_url,
                "device_id": result.device_id,
            },
        )
        self.server_url, self.username, self.user = server_url, username, user
        self._start_engine(result)
        self.touch()
        self.phase = "active"
        self.data_version += 1
        return True

    def _start_engine(self, result: LoginResult | None) -> None:
        if self._engine is not None:
            with contextlib.suppress(Exception):
                self._engine.stop()
        if self._store is None:
            self._engine = None  # nothing to sync until a store is open
            return
        try:
            self._engine = self.backend.start_engine(self._store, self.server_url, result)
        except Exception:
            log.exception("sync engine did not start")
            self._engine = None

    # -- idle lock -----------------------------------------------------------
    def touch(self) -> None:
        self._last_activity = self.monotonic()

    def check_idle(self) -> bool:
        """Locks an active session after `lock_after_s` without interaction; True when it just locked."""
        if self.phase == "active" and self.monotonic() - self._last_activity >= self.lock_after_s:
            self.lock()
            return True
        return False

    def lock(self) -> None:
        if self.phase == "active":
            self.phase = "locked"

    def unlock(self, password: str) -> bool:
        """The lock screen: the password opens the data key offline (after a restart, the store too)."""
        user = self.user
        if user is None:
            return False
        try:
            key = self.keys.unlock(user.id, password)
        except TooManyAttempts:
            self._close()
            self.prefs.set(_REMEMBERED, None)
            self.user, self.error_key = None, "lock.error.wiped"
            self.phase = "signed_out"
            return False
        except WrongPassword:
            self.error_key = "lock.error.wrong_password"
            return False
        self.error_key = None
        if self._store is None:
            try:
                self._store = self.backend.open_store(db_path(self.config.data_dir, user.id), key)
            except Exception:
                log.exception("store did not open (user %s)", user.id)
                self.error_key = "signin.error.server"
                return False
        if self._engine is None:
            self._start_engine(None)
        self.touch()
        self.phase = "active"
        self.data_version += 1
        return True

    # -- sign-out ------------------------------------------------------------
    def unsynced_count(self) -> int:
        """Reports not yet acknowledged plus drafts: what signing out would delete."""
        store = self._store
        if store is None:
            return self._unsynced_while_closed()
        n = 0
        with contextlib.suppress(Exception):
            n += int(store.pending_count())
        with contextlib.suppress(Exception):
            n += len(store.drafts())
        return n

    def _unsynced_while_closed(self) -> int:
        """Locked after a restart the store is closed (its key is not open); the counts need no key."""
        if self.user is None:
            return 0
        path = db_path(self.config.data_dir, self.user.id)
        if not path.exists():
            return 0
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                return int(
                    conn.execute(
                        "SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM drafts)"
                    ).fetchone()[0]
                )
            finally:
                conn.close()
        except sqlite3.Error:
            return 0

    def sign_out(self) -> None:
        """Deletes this user's data from the device (D-5) and forgets the sign-in."""
        store, user = self._store, self.user
        self._close()
        if store is not None:
            with contextlib.suppress(Exception):
                store.wipe()
        if user is not None:
            self.keys.destroy(user.id)
        self.prefs.set(_REMEMBERED, None)
        self.user, self.error_key = None, None
        self.phase = "signed_out"

    def _close(self) -> None:
        engine, store = self._engine, self._store
        self._engine = self._store = None
        if engine is not None:
            with contextlib.suppress(Exception):
                engine.stop()
        if store is not None and hasattr(store, "close"):
            with contextlib.suppress(Exception):
                store.close()

    def shutdown(self) -> None:
        """The session ended (window closed): stop the engine, keep the data."""
        self._close()
