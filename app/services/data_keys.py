"""The session's side of encryption at rest (D-5, docs/security.md): each user's data key, wrapped by their
password in `<db>.key`, opened at sign-in, at the lock screen and after a restart; wrong passwords counted;
the key and the data destroyed at sign-out, at remote wipe and after too many wrong passwords.

On phones the key is also kept in the platform's secure storage (Keystore/Keychain, `SecureStore`), so a
password changed on the server re-wraps it at the next sign-in instead of losing the device's unsent work.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from app.config import db_path
from storage.crypto import KDF_N, CryptoError, DataKey, WrongPassword
from storage.keyfile import KeyFile

__all__ = ["DataKeys", "TooManyAttempts", "discard_user_data", "escrow_entry"]

log = logging.getLogger(__name__)
# Scheduled removals of a phone's key copy, kept until they ran.
_pending: set[Any] = set()


class TooManyAttempts(WrongPassword):
    """The wrong-password limit was reached: the device's data for this user has been destroyed."""


def escrow_entry(user_id: str) -> str:
    """The secure-storage entry holding a user's data key on a phone."""
    return f"fieldvisit.data_key.{user_id}"


def discard_user_data(folder: Path, user_id: str) -> None:
    """Destroys the user's key, then deletes the database (and its WAL), tokens and attachment files."""
    path = db_path(folder, user_id)
    KeyFile.for_store(path).destroy()
    for suffix in ("", "-wal", "-shm", ".tokens"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.stem + "-blobs"), ignore_errors=True)


def _sealed_database(path: Path) -> bool:
    """Whether a database already holds sealed data (so without its key file it cannot be read)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute(
                "SELECT 1 FROM _sqlite_migrations WHERE name = '0005_encryption_at_rest'"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return row is not None


class DataKeys:
    def __init__(
        self, folder: Path, *, kdf_n: int = KDF_N, max_failures: int = 10, secure_store: Any = None
    ) -> None:
        self.folder = Path(folder)
        self.kdf_n = kdf_n
        self.max_failures = max_failures
        # A `SecureStore` (app/services/device.py) on phones; None where the platform has none.
        self.secure_store = secure_store

    def key_file(self, user_id: str) -> KeyFile:
        return KeyFile.for_store(db_path(self.folder, user_id))

    def try_open(self, user_id: str, password: str) -> DataKey | None:
        """The key if this password opens it (before the server has checked the password: not counted)."""
        with contextlib.suppress(CryptoError):
            return self.key_file(user_id).unlock(password, context=user_id)
        return None

    async def for_sign_in(self, user_id: str, password: str) -> DataKey:
        """After the server accepted the password: the user's key, re-wrapped from secure storage if the
        password changed, or a new key (and an empty store) when the old data cannot be read any more."""
        kf = self.key_file(user_id)
        path = db_path(self.folder, user_id)
        if kf.exists():
            key = self.try_open(user_id, password)
            if key is None:
                escrowed = await self._escrowed(user_id)
                if escrowed is not None and kf.matches(escrowed):
                    kf.rewrap(escrowed, password, context=user_id, n=self.kdf_n)
                    key = escrowed
            if key is not None:
                kf.clear_failures()
                await self._escrow(user_id, key)
                return key
            log.warning("data key unreadable with the new password; local data discarded (user %s)", user_id)
            discard_user_data(self.folder, user_id)
        elif path.exists() and _sealed_database(path):
            discard_user_data(self.folder, user_id)
        # A database from before encryption at rest is sealed in place when the store opens with this key.
        key = kf.create(password, context=user_id, n=self.kdf_n)
        await self._escrow(user_id, key)
        return key

    def unlock(self, user_id: str, password: str) -> DataKey:
        """The lock screen (idle lock or restart), offline: the key, or `WrongPassword` (counted durably);
        at the limit the user's data are destroyed and `TooManyAttempts` is raised."""
        kf = self.key_file(user_id)
        try:
            key = kf.unlock(password, context=user_id)
        except WrongPassword:
            if not kf.exists():
                raise
            if kf.note_failure() >= self.max_failures:
                log.warning("wrong password limit reached; device data destroyed (user %s)", user_id)
                self.destroy(user_id)
                raise TooManyAttempts("too many wrong passwords") from None
            raise
        kf.clear_failures()
        return key

    def destroy(self, user_id: str) -> None:
        discard_user_data(self.folder, user_id)
        self._forget_escrow(user_id)

    # -- the phone's secure storage -----------------------------------------------------------------

    async def _escrowed(self, user_id: str) -> DataKey | None:
        if self.secure_store is None:
            return None
        try:
            text = await self.secure_store.get(escrow_entry(user_id))
            return DataKey(base64.b64decode(text, validate=True)) if text else None
        except Exception:
            log.info("no data key in secure storage (user %s)", user_id)
            return None

    async def _escrow(self, user_id: str, key: DataKey) -> None:
        if self.secure_store is None:
            return
        try:
            await self.secure_store.set(escrow_entry(user_id), base64.b64encode(key.raw).decode("ascii"))
        except Exception:
            log.warning("data key not kept in secure storage (user %s)", user_id)

    def _forget_escrow(self, user_id: str) -> None:
        """Removes the phone's copy of the key (the secure store is asynchronous: scheduled on the loop)."""
        store = self.secure_store
        if store is None:
            return
        import asyncio

        async def forget() -> None:
            with contextlib.suppress(Exception):
                await store.delete(escrow_entry(user_id))

        try:
            task = asyncio.get_running_loop().create_task(forget())
        except RuntimeError:
            asyncio.run(forget())
            return
        _pending.add(task)
        task.add_done_callback(_pending.discard)
