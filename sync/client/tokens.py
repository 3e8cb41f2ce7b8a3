"""Where the device keeps its token pair: a 0600 JSON file next to the store's database, or memory."""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from storage.private_file import write_private_json

__all__ = ["FileTokens", "MemoryTokens", "StoredTokens", "TokenStore", "default_token_store"]


@dataclass(frozen=True, slots=True)
class StoredTokens:
    """A token pair and the device it was issued to (a mismatch with the store's device means: sign in)."""

    device_id: str
    access_token: str
    refresh_token: str


class TokenStore(Protocol):
    def load(self) -> StoredTokens | None: ...

    def save(self, tokens: StoredTokens | None) -> None: ...


class MemoryTokens:
    def __init__(self) -> None:
        self._tokens: StoredTokens | None = None

    def load(self) -> StoredTokens | None:
        return self._tokens

    def save(self, tokens: StoredTokens | None) -> None:
        self._tokens = tokens


class FileTokens:
    """Replaced atomically (temp file, fsync, rename), so a crash leaves the old pair or the new one."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def load(self) -> StoredTokens | None:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        try:
            return StoredTokens(str(data["device_id"]), str(data["access_token"]), str(data["refresh_token"]))
        except (KeyError, TypeError):
            return None

    def save(self, tokens: StoredTokens | None) -> None:
        with self._lock:
            if tokens is None:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                return
            body: dict[str, Any] = {
                "device_id": tokens.device_id,
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
            }
            write_private_json(self.path, body)


def default_token_store(store: object) -> TokenStore:
    """A file beside the store's database when it has one (`<db>.tokens`), else memory."""
    path = getattr(store, "path", None)
    if isinstance(path, Path | str) and str(path):
        return FileTokens(Path(path).with_name(Path(path).name + ".tokens"))
    return MemoryTokens()
