"""Blobs (photos, documents) addressed by SHA-256: their rows (size, when stored, the scope rules) here,
their bytes in the blob store (sync/server/blobstore.py).

A blob's bytes are put in the store before its row is written, and a deleted blob's row goes first with
its bytes queued in `blob_deletions`, deleted from the store after the commit (`drain_blob_deletions`).
Rows written before the blob store existed hold their bytes in `blobs.data`; `move_legacy_blobs` moves
them out when a server opens the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlite_utils import Database

from sync.server.blobstore import BlobStore
from sync.server.errors import ApiError
from sync.server.store.common import Principal, audit

__all__ = [
    "blob_exists",
    "blob_size_for",
    "check_blob_scope",
    "drain_blob_deletions",
    "legacy_blob_data",
    "move_legacy_blobs",
    "put_blob",
    "queue_blob_deletion",
    "read_blob",
]


def blob_exists(db: Database, sha256: str) -> int | None:
    row = db.execute("SELECT size FROM blobs WHERE sha256 = ?", [sha256]).fetchone()
    return None if row is None else int(row[0])


def put_blob(db: Database, *, actor: Principal, sha256: str, size: int, now: datetime) -> bool:
    """Record a blob whose verified bytes are already in the blob store; returns True when newly stored,
    False when already present. A blob already stored but outside the caller's scope is 404, as GET answers
    it (protocol "Resumable blob uploads": PUT and PATCH follow GET's scope rules for existing blobs)."""
    if blob_exists(db, sha256) is not None:
        if not _in_scope(db, actor, sha256):
            raise _not_found()
        return False
    db.execute(
        "INSERT INTO blobs(sha256, size, data, created_at) VALUES (?, ?, NULL, ?)",
        [sha256, size, now.isoformat()],
    )
    # Stored again after a deletion was queued (and before it ran): the bytes now stay.
    db.execute("DELETE FROM blob_deletions WHERE sha256 = ?", [sha256])
    audit(
        db,
        at=now.isoformat(),
        actor=actor,
        action="blob.put",
        entity="blob",
        entity_id=sha256,
        detail={"size": size},
    )
    return True


def _in_scope(db: Database, actor: Principal, sha256: str) -> bool:
    """Whether the caller may see a report that references the blob (the scope of every blob call)."""
    if actor.is_admin:
        scope, args = "1 = 1", []
    elif actor.is_supervisor:
        scope, args = "r.team = ?", [actor.team]
    else:
        scope = (
            "EXISTS (SELECT 1 FROM visit_assignees a WHERE a.visit_id = r.visit_id AND a.user_id = ? "
            "AND a.active = 1)"
        )
        args = [actor.user_id]
    ok = db.execute(
        f"SELECT 1 FROM report_blobs rb JOIN reports r ON r.id = rb.report_id WHERE rb.sha256 = ? AND {scope} LIMIT 1",
        [sha256, *args],
    ).fetchone()
    return ok is not None


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "no such blob")


def check_blob_scope(db: Database, *, actor: Principal, sha256: str) -> None:
    """404 for a blob stored but outside the caller's scope (an upload of it is answered as GET would be)."""
    if blob_exists(db, sha256) is not None and not _in_scope(db, actor, sha256):
        raise _not_found()


def blob_size_for(db: Database, *, actor: Principal, sha256: str) -> int | None:
    """The stored size, only for a caller in the blob's scope; None otherwise, as if it were not stored."""
    size = blob_exists(db, sha256)
    if size is None or not _in_scope(db, actor, sha256):
        return None
    return size


def legacy_blob_data(db: Database, sha256: str) -> bytes | None:
    """The bytes of a blob stored in the database itself (before the blob store; until moved out)."""
    row = db.execute("SELECT data FROM blobs WHERE sha256 = ? AND data IS NOT NULL", [sha256]).fetchone()
    return None if row is None else bytes(row[0])


def read_blob(db: Database, *, actor: Principal, sha256: str, store: BlobStore) -> bytes | None:
    """The bytes, only for a caller who may see a report that references the blob."""
    if blob_size_for(db, actor=actor, sha256=sha256) is None:
        return None
    return legacy_blob_data(db, sha256) or store.get(sha256)


def queue_blob_deletion(db: Database, sha256: str, now: datetime) -> None:
    """Delete a blob's row; its bytes leave the store after the commit (`drain_blob_deletions`)."""
    db.execute("DELETE FROM blobs WHERE sha256 = ?", [sha256])
    db.execute(
        "INSERT INTO blob_deletions(sha256, queued_at) VALUES (?, ?) ON CONFLICT(sha256) DO NOTHING",
        [sha256, now.isoformat()],
    )


def _pending_deletions(db: Database, limit: int) -> list[str]:
    return [
        str(r[0])
        for r in db.execute(
            "SELECT d.sha256 FROM blob_deletions d WHERE NOT EXISTS "
            "(SELECT 1 FROM blobs b WHERE b.sha256 = d.sha256) ORDER BY d.queued_at LIMIT ?",
            [limit],
        ).fetchall()
    ]


def _forget_deletions(db: Database, shas: list[str]) -> None:
    db.conn.executemany("DELETE FROM blob_deletions WHERE sha256 = ?", [(s,) for s in shas])


def drain_blob_deletions(database: Any, store: BlobStore, *, batch: int = 500) -> int:
    """Delete from the store the bytes of every blob whose row is gone; answers how many. Safe to run
    again: a deletion interrupted half-way is queued until it completes."""
    n = 0
    while True:
        shas = database.read_sync(_pending_deletions, batch)
        if not shas:
            return n
        for sha in shas:
            store.delete(sha)
        database.write_sync(_forget_deletions, shas)
        n += len(shas)
        if len(shas) < batch:
            return n


def _legacy_batch(db: Database, limit: int) -> list[tuple[str, bytes]]:
    return [
        (str(s), bytes(d))
        for s, d in db.execute(
            "SELECT sha256, data FROM blobs WHERE data IS NOT NULL ORDER BY sha256 LIMIT ?", [limit]
        ).fetchall()
    ]


def _drop_legacy_data(db: Database, shas: list[str]) -> None:
    db.conn.executemany("UPDATE blobs SET data = NULL WHERE sha256 = ?", [(s,) for s in shas])


def move_legacy_blobs(database: Any, store: BlobStore, *, batch: int = 50) -> int:
    """Move bytes held in the database into the blob store (each put before its column is cleared);
    answers how many moved."""
    n = 0
    while True:
        rows = database.read_sync(_legacy_batch, batch)
        if not rows:
            return n
        for sha, data in rows:
            store.put(sha, data)
        database.write_sync(_drop_legacy_data, [s for s, _ in rows])
        n += len(rows)
