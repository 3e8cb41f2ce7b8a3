"""Content-addressed attachment files under `<store dir>/blobs/<sha256>`, written durably before use."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

__all__ = ["BlobDir", "MemoryBlobs", "sha256_hex"]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobDir:
    """Files named by their hash; a file exists only complete (temp file, fsync, rename, fsync dir)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        # A crash between write and rename leaves a temp file that nothing names.
        for stale in root.glob(".*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()

    def path(self, sha256: str) -> Path:
        return self.root / sha256

    def write(self, sha256: str, data: bytes) -> None:
        target = self.path(sha256)
        if target.exists() and target.stat().st_size == len(data):
            return
        tmp = self.root / f".{sha256}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        # The rename itself must reach the disk before a database row may name the file.
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self, sha256: str) -> bytes | None:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            return None

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def clear(self) -> None:
        for child in self.root.iterdir():
            with contextlib.suppress(FileNotFoundError):
                child.unlink()


class MemoryBlobs:
    """The in-memory store's blobs (tests and previews): same interface, nothing on disk."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def write(self, sha256: str, data: bytes) -> None:
        self._data[sha256] = bytes(data)

    def read(self, sha256: str) -> bytes | None:
        return self._data.get(sha256)

    def exists(self, sha256: str) -> bool:
        return sha256 in self._data

    def clear(self) -> None:
        self._data.clear()
