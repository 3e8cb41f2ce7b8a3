"""Content-addressed attachment files under `<store dir>/blobs/<sha256>`, written durably before use.

On disk a file holds its bytes sealed under the data key (AES-256-GCM, the hash as associated data, so
files cannot be swapped); its name stays the SHA-256 of the plain bytes, the blob's identity on the wire.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from storage.crypto import OVERHEAD, DataKey

__all__ = ["BlobDir", "MemoryBlobs", "sha256_hex"]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobDir:
    """Files named by their hash; a file exists only complete (temp file, fsync, rename, fsync dir)."""

    def __init__(self, root: Path, key: DataKey) -> None:
        self.root = root
        self._key = key
        root.mkdir(parents=True, exist_ok=True)
        # A crash between write and rename leaves a temp file that nothing names.
        for stale in root.glob(".*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()

    def path(self, sha256: str) -> Path:
        return self.root / sha256

    def write(self, sha256: str, data: bytes) -> None:
        target = self.path(sha256)
        if target.exists() and target.stat().st_size == len(data) + OVERHEAD:
            return
        sealed = self._key.seal(data, _aad(sha256))
        tmp = self.root / f".{sha256}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(sealed)
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
            sealed = self.path(sha256).read_bytes()
        except FileNotFoundError:
            return None
        return self._key.open(sealed, _aad(sha256))

    def seal_plain_files(self) -> int:
        """Files written before encryption at rest (their bytes hash to their name) are sealed in place."""
        n = 0
        for path in self.root.iterdir():
            if path.name.startswith(".") or not path.is_file():
                continue
            data = path.read_bytes()
            if sha256_hex(data) == path.name:
                self.write(path.name, data)  # a sealed copy replaces it atomically
                n += 1
        return n

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def clear(self) -> None:
        for child in self.root.iterdir():
            with contextlib.suppress(FileNotFoundError):
                child.unlink()


def _aad(sha256: str) -> bytes:
    return b"blob:" + sha256.encode("ascii")


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
