"""The wrapped data key beside a device database (`<db>.key`): scrypt parameters, salt, the AES-GCM-wrapped
key, a check value, and the count of wrong passwords in a row (kept here so a restart does not reset it).

Nothing in the file is secret without the password; destroying it makes the database unreadable.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from pathlib import Path
from typing import Any

from storage.crypto import KDF_N, CryptoError, DataKey, WrongPassword, unwrap_key, wrap_key
from storage.private_file import write_private_json

__all__ = ["KeyFile", "key_path"]

_CHECK = b"fieldvisit/key-check"


def key_path(db_path: str | Path) -> Path:
    p = Path(db_path)
    return p.with_name(p.name + ".key")


class KeyFile:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_store(cls, db_path: str | Path) -> KeyFile:
        return cls(key_path(db_path))

    def exists(self) -> bool:
        return self.path.is_file()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise WrongPassword("no key on this device") from None
        except ValueError:
            raise CryptoError("the key file is damaged") from None
        if not isinstance(data, dict):
            raise CryptoError("the key file is damaged")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        write_private_json(self.path, data)

    def create(self, password: str, *, context: str = "", n: int = KDF_N) -> DataKey:
        """A fresh random data key, wrapped with the password and written (replacing any earlier key)."""
        key = DataKey.generate()
        self.rewrap(key, password, context=context, n=n)
        return key

    def rewrap(self, key: DataKey, password: str, *, context: str = "", n: int = KDF_N) -> None:
        record = wrap_key(key, password, n=n, context=context)
        record["check"] = base64.b64encode(key.seal(b"", _CHECK)).decode("ascii")
        record["failures"] = 0
        self._write(record)

    def unlock(self, password: str, *, context: str = "") -> DataKey:
        """The data key; `WrongPassword` when the password does not open it (the caller counts failures)."""
        return unwrap_key(self._read(), password, context=context)

    def matches(self, key: DataKey) -> bool:
        """Whether `key` is the key this file wraps (for a key kept in the platform's secure storage)."""
        try:
            key.open(base64.b64decode(self._read()["check"]), _CHECK)
        except (CryptoError, KeyError, ValueError):
            return False
        return True

    def failures(self) -> int:
        try:
            return int(self._read().get("failures", 0))
        except CryptoError:
            return 0

    def note_failure(self) -> int:
        """Counts one more wrong password in a row, durably; answers the count."""
        data = self._read()
        data["failures"] = int(data.get("failures", 0)) + 1
        self._write(data)
        return int(data["failures"])

    def clear_failures(self) -> None:
        with contextlib.suppress(CryptoError):
            data = self._read()
            if data.get("failures"):
                data["failures"] = 0
                self._write(data)

    def destroy(self) -> None:
        """Overwrites the wrapped key, then removes the file: the data sealed under it cannot be read again."""
        with contextlib.suppress(FileNotFoundError):
            size = self.path.stat().st_size
            with open(self.path, "r+b") as f:
                f.write(b"\0" * size)
                f.flush()
                os.fsync(f.fileno())
            self.path.unlink()
