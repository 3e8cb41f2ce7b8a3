"""Resumable blob uploads (tus 1.0 core): the bytes received so far live in a file per caller and hash,
their count in `blob_uploads`; a complete upload is hash-checked and becomes a blob, a stale one expires.

The database row is the truth: a file longer than its row's offset (the server stopped between the write
and the commit) is cut back to the offset before the next append.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

from sync.server.blobstore import BlobStore
from sync.server.store.blobs import put_blob
from sync.server.store.common import Principal

__all__ = [
    "Partial",
    "PartialFiles",
    "begin_upload",
    "discard_upload",
    "expire_uploads",
    "finish_upload",
    "partial_for",
    "record_offset",
]

_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


@dataclass(frozen=True, slots=True)
class Partial:
    offset: int
    length: int
    updated_at: str


class PartialFiles:
    """The directory of partial uploads, one file per (user, hash)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, user_id: str, sha256: str) -> Path:
        if not _SAFE.match(user_id) or not _SAFE.match(sha256):
            raise ValueError("unsafe upload name")
        return self.root / f"{user_id}.{sha256}.part"

    def append(self, user_id: str, sha256: str, offset: int, data: bytes) -> int:
        """Write `data` at `offset` (dropping anything past it first) durably; answers the new size."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path(user_id, sha256)
        with open(path, "r+b" if path.exists() else "w+b") as f:
            f.truncate(offset)
            f.seek(offset)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            return f.tell()

    def read(self, user_id: str, sha256: str, length: int) -> bytes:
        with open(self.path(user_id, sha256), "rb") as f:
            return f.read(length)

    def digest(self, user_id: str, sha256: str, length: int) -> str:
        """The SHA-256 of the first `length` bytes, read in pieces."""
        h = hashlib.sha256()
        with open(self.path(user_id, sha256), "rb") as f:
            left = length
            while left > 0 and (piece := f.read(min(left, 1 << 20))):
                h.update(piece)
                left -= len(piece)
        return h.hexdigest()

    def store(self, user_id: str, sha256: str, blobs: BlobStore) -> None:
        """Hand the complete bytes to the blob store, streamed from the file."""
        with open(self.path(user_id, sha256), "rb") as f:
            blobs.put(sha256, f)

    def remove(self, user_id: str, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            self.path(user_id, sha256).unlink()

    def sweep(self, keep: set[tuple[str, str]], older_than: datetime) -> int:
        """Delete files no row names that were last written before `older_than` (a restore, a crash)."""
        if not self.root.is_dir():
            return 0
        n = 0
        for path in self.root.glob("*.part"):
            user_id, _, sha = path.name[: -len(".part")].rpartition(".")
            if (user_id, sha) in keep:
                continue
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < older_than.timestamp():
                    path.unlink()
                    n += 1
        return n


def partial_for(db: Database, *, user_id: str, sha256: str) -> Partial | None:
    row = db.execute(
        'SELECT "offset", length, updated_at FROM blob_uploads WHERE user_id = ? AND sha256 = ?',
        [user_id, sha256],
    ).fetchone()
    return None if row is None else Partial(int(row[0]), int(row[1]), str(row[2]))


def begin_upload(db: Database, *, user_id: str, sha256: str, length: int, now: datetime) -> Partial:
    """The caller's partial upload of this hash, created at offset 0 when there is none."""
    found = partial_for(db, user_id=user_id, sha256=sha256)
    if found is not None:
        return found
    ts = now.isoformat()
    db.execute(
        'INSERT INTO blob_uploads(user_id, sha256, length, "offset", created_at, updated_at) '
        "VALUES (?, ?, ?, 0, ?, ?)",
        [user_id, sha256, length, ts, ts],
    )
    return Partial(0, length, ts)


def record_offset(db: Database, *, user_id: str, sha256: str, offset: int, now: datetime) -> None:
    db.execute(
        'UPDATE blob_uploads SET "offset" = ?, updated_at = ? WHERE user_id = ? AND sha256 = ?',
        [offset, now.isoformat(), user_id, sha256],
    )


def discard_upload(db: Database, *, user_id: str, sha256: str) -> None:
    db.execute("DELETE FROM blob_uploads WHERE user_id = ? AND sha256 = ?", [user_id, sha256])


def finish_upload(db: Database, *, actor: Principal, sha256: str, size: int, now: datetime) -> bool:
    """The verified bytes, already in the blob store, become a blob and the partial row goes, in one
    transaction; answers what `put_blob` answers (True: stored now, or held outside the caller's scope)."""
    created = put_blob(db, actor=actor, sha256=sha256, size=size, now=now)
    discard_upload(db, user_id=actor.user_id, sha256=sha256)
    return created


def expire_uploads(db: Database, *, now: datetime, days: int) -> list[tuple[str, str]]:
    """Drop partial uploads untouched for `days`; answers their (user_id, sha256) so the files go too."""
    cutoff = (now - timedelta(days=days)).isoformat()
    rows = db.execute(
        "SELECT user_id, sha256 FROM blob_uploads WHERE updated_at < ? ORDER BY updated_at LIMIT 1000",
        [cutoff],
    ).fetchall()
    gone = [(str(u), str(s)) for u, s in rows]
    for user_id, sha in gone:
        discard_upload(db, user_id=user_id, sha256=sha)
    return gone


def live_uploads(db: Database) -> set[tuple[str, str]]:
    return {(str(u), str(s)) for u, s in db.execute("SELECT user_id, sha256 FROM blob_uploads").fetchall()}
