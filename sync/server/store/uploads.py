"""Resumable blob uploads (tus 1.0 core): the bytes received so far are kept by a `PartialStore`, their
count in `blob_uploads`; a complete upload is hash-checked and becomes a blob, a stale one expires.

The database row is the truth. Where the bytes so far are kept:
- `PartialFiles`: a file per caller and hash in a directory (`FIELDVISIT_UPLOAD_DIR`, or beside the
  database or the blob directory). A file longer than its row's offset (the server stopped between the
  write and the commit) is cut back to the offset before the next append.
- `PartialObjects`, with object storage (unless `FIELDVISIT_UPLOAD_DIR` names a directory): every piece
  received is an object of its own beside the blobs, so any worker on any host behind a load balancer
  takes an upload up where another left off. A piece's name carries its offset, its size and a fresh token,
  so a piece written twice at one offset (a retry after a lost answer, two workers at once) never
  overwrites the other; the complete bytes are a chain of pieces from 0 to the length, checked against
  the hash like any upload.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlite_utils import Database

from sync.server.blobstore import BlobStore, S3BlobStore
from sync.server.store.blobs import put_blob
from sync.server.store.common import Principal

__all__ = [
    "Partial",
    "PartialFiles",
    "PartialObjects",
    "PartialStore",
    "begin_upload",
    "discard_upload",
    "expire_uploads",
    "finish_upload",
    "partial_for",
    "partial_store",
    "record_offset",
]

log = logging.getLogger("fieldvisit.server.uploads")

SPOOL_MEMORY = 8 * 1024 * 1024  # a completed upload held in memory up to this, on disk beyond
_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_PIECE = re.compile(r"^([0-9]{20})-([0-9]{12})-[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class Partial:
    offset: int
    length: int
    updated_at: str


class PartialStore(Protocol):
    """Where the bytes of partial uploads are kept until complete (names checked against `_SAFE`)."""

    def append(self, user_id: str, sha256: str, offset: int, data: bytes) -> int:
        """Keep `data` as the bytes from `offset` on, durably; answers the bytes held from 0."""

    def complete(self, user_id: str, sha256: str, length: int, blobs: BlobStore | None) -> bool:
        """Whether the first `length` bytes are all held and hash to `sha256`; when they do and `blobs` is
        given, they are handed to it, streamed. Pieces in object storage are fetched once for both."""

    def remove(self, user_id: str, sha256: str) -> None: ...

    def sweep(self, keep: set[tuple[str, str]], older_than: datetime) -> int:
        """Delete the partials no row names that were last written before `older_than`; answers how many."""


def _upload_name(user_id: str, sha256: str) -> str:
    """`<user>.<hash>`, the name of one caller's upload of one hash (ValueError unless both are safe)."""
    if not _SAFE.match(user_id) or not _SAFE.match(sha256):
        raise ValueError("unsafe upload name")
    return f"{user_id}.{sha256}"


def partial_store(blobs: BlobStore, directory: str | None) -> PartialStore:
    """Partial uploads in `directory` (`Settings.uploads_path`), or beside the blobs of object storage when
    there is none."""
    if directory is not None:
        return PartialFiles(Path(directory))
    if not isinstance(blobs, S3BlobStore):
        raise ValueError("partial uploads need a directory unless the blobs are in object storage")
    return PartialObjects(blobs)


class PartialFiles:
    """The directory of partial uploads, one file per (user, hash)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, user_id: str, sha256: str) -> Path:
        return self.root / f"{_upload_name(user_id, sha256)}.part"

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

    def complete(self, user_id: str, sha256: str, length: int, blobs: BlobStore | None) -> bool:
        """Hashed in pieces, then streamed to the blob store from the same file (local, so the second pass
        comes from the page cache)."""
        h = hashlib.sha256()
        with open(self.path(user_id, sha256), "rb") as f:
            left = length
            while left > 0 and (piece := f.read(min(left, 1 << 20))):
                h.update(piece)
                left -= len(piece)
            if left or h.hexdigest() != sha256:
                return False
            if blobs is not None:
                f.seek(0)
                blobs.put(sha256, f)
        return True

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


class PartialObjects:
    """Partial uploads as pieces in the object store: `uploads/<user>.<hash>/<offset>-<size>-<token>`."""

    def __init__(self, blobs: S3BlobStore) -> None:
        self.blobs = blobs

    def _dir(self, user_id: str, sha256: str) -> str:
        return f"{_upload_name(user_id, sha256)}/"

    def append(self, user_id: str, sha256: str, offset: int, data: bytes) -> int:
        if data:
            name = f"{self._dir(user_id, sha256)}{offset:020d}-{len(data):012d}-{uuid.uuid4().hex}"
            self.blobs.put_scratch(name, data)
        return offset + len(data)

    def _chain(self, user_id: str, sha256: str, length: int) -> list[str] | None:
        """Names of pieces that follow one another from 0 to `length` (the longest first where pieces start at
        one offset), or None when the pieces held leave a gap."""
        starts: dict[int, list[tuple[int, str]]] = {}
        for name, _, _ in self.blobs.list_scratch(self._dir(user_id, sha256)):
            m = _PIECE.match(name.rpartition("/")[2])
            if m is not None:
                starts.setdefault(int(m.group(1)), []).append((int(m.group(2)), name))

        def pieces_from(at: int) -> Iterator[tuple[int, str]]:
            return iter(sorted(starts.get(at, ()), reverse=True))

        # Depth-first over offsets, with a stack rather than recursion: an upload may come in thousands of
        # pieces (a link cut every few kilobytes).
        chain: list[str] = []
        dead: set[int] = set()  # offsets from which no chain reaches the length
        stack = [(0, pieces_from(0))]
        while stack:
            at, untried = stack[-1]
            if at == length:
                return chain
            for size, name in untried:
                if 0 < size <= length - at and at + size not in dead:
                    chain.append(name)
                    stack.append((at + size, pieces_from(at + size)))
                    break
            else:
                dead.add(at)
                stack.pop()
                if chain:
                    chain.pop()
        return None

    def complete(self, user_id: str, sha256: str, length: int, blobs: BlobStore | None) -> bool:
        """One listing and one GET per piece: the pieces are hashed as they arrive and kept in a spool
        (memory up to `SPOOL_MEMORY`, a temporary file beyond), which the blob store then reads. Nothing
        is written under the blob's name before its hash is known to match."""
        names = self._chain(user_id, sha256, length)
        if names is None:
            return False
        h = hashlib.sha256()
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as spool:
            for name in names:
                for piece in self.blobs.open_scratch(name):
                    h.update(piece)
                    if blobs is not None:
                        spool.write(piece)
            if h.hexdigest() != sha256:
                return False
            if blobs is not None:
                spool.seek(0)
                blobs.put(sha256, spool)
        return True

    def remove(self, user_id: str, sha256: str) -> None:
        try:
            names = [name for name, _, _ in self.blobs.list_scratch(self._dir(user_id, sha256))]
            self.blobs.delete_scratch(names)
        except ValueError:
            return
        except Exception as exc:  # the store unreachable: what it holds of the upload waits for the sweep
            log.warning("pieces of upload %s left for the sweep: %s", sha256, type(exc).__name__)

    def sweep(self, keep: set[tuple[str, str]], older_than: datetime) -> int:
        uploads: dict[str, list[tuple[str, datetime]]] = {}
        for name, _, modified in self.blobs.list_scratch():
            upload, _, _ = name.partition("/")
            uploads.setdefault(upload, []).append((name, modified))
        n = 0
        for upload, pieces in uploads.items():
            user_id, _, sha = upload.rpartition(".")
            if (user_id, sha) in keep or any(m >= older_than for _, m in pieces):
                continue
            self.blobs.delete_scratch([name for name, _ in pieces])
            n += 1
        return n


def partial_for(db: Database, *, user_id: str, sha256: str, live_after: str | None = None) -> Partial | None:
    """The caller's partial upload of this hash; with `live_after` (a timestamp), None for one untouched
    since then (expired, though not yet dropped)."""
    row = db.execute(
        'SELECT "offset", length, updated_at FROM blob_uploads WHERE user_id = ? AND sha256 = ?'
        + (" AND updated_at >= ?" if live_after is not None else ""),
        [user_id, sha256] + ([live_after] if live_after is not None else []),
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


def record_offset(
    db: Database, *, user_id: str, sha256: str, was: int, offset: int, now: datetime
) -> Partial | None:
    """Move the upload's offset from `was` to `offset`; answers the partial as it stands when another
    request (another worker's) moved it first, or the upload is gone (then a `Partial` at 0 and length 0),
    and None when moved. Writes are serialised, so the check and the update see the same row."""
    found = partial_for(db, user_id=user_id, sha256=sha256)
    if found is None:
        return Partial(0, 0, "")
    if found.offset != was:
        return found
    db.execute(
        'UPDATE blob_uploads SET "offset" = ?, updated_at = ? WHERE user_id = ? AND sha256 = ?',
        [offset, now.isoformat(), user_id, sha256],
    )
    return None


def discard_upload(db: Database, *, user_id: str, sha256: str) -> None:
    db.execute("DELETE FROM blob_uploads WHERE user_id = ? AND sha256 = ?", [user_id, sha256])


def finish_upload(db: Database, *, actor: Principal, sha256: str, size: int, now: datetime) -> bool:
    """The verified bytes, already in the blob store, become a blob and the partial row goes, in one
    transaction; answers what `put_blob` answers (True: stored now; 404 when stored outside the caller's
    scope)."""
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
