"""Device preferences and the remembered sign-in, kept in one small JSON file in the app's data folder.

The password is never stored: only a salted PBKDF2 verifier, so the lock screen can unlock offline.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

__all__ = ["Prefs", "check_verifier", "make_verifier"]

_ITERATIONS = 120_000


def make_verifier(password: str) -> dict[str, Any]:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _ITERATIONS)
    return {"salt": salt.hex(), "hash": digest.hex(), "iterations": _ITERATIONS}


def check_verifier(password: str, verifier: dict[str, Any] | None) -> bool:
    if not verifier:
        return False
    digest = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), bytes.fromhex(verifier["salt"]), int(verifier["iterations"])
    )
    return hmac.compare_digest(digest.hex(), verifier["hash"])


class Prefs:
    """Key/value settings persisted atomically (write to a temp file, then rename)."""

    FILE = "app-settings.json"

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / self.FILE
        try:
            self._data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self._data = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = value
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)
