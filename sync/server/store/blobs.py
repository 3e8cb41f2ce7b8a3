"""Blobs (photos, documents) addressed by SHA-256, stored in the database so backups include them."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from sync.server.store.common import Principal, audit

__all__ = ["blob_exists", "blob_size_for", "put_blob", "read_blob"]


def blob_exists(db: Database, sha256: str) -> int | None:
    row = db.execute("SELECT size FROM blobs WHERE sha256 = ?", [sha256]).fetchone()
    return None if row is None else int(row[0])


def put_blob(db: Database, *, actor: Principal, sha256: str, data: bytes, now: datetime) -> bool:
    """Store verified bytes; returns True when newly stored, False when already present. A blob already
    stored but outside the caller's scope answers True as if it were new: the caller proved it holds the
    bytes, and learns nothing about another team's photos."""
    if blob_exists(db, sha256) is not None:
        return not _in_scope(db, actor, sha256)
    db.execute(
        "INSERT INTO blobs(sha256, size, data, created_at) VALUES (?, ?, ?, ?)",
        [sha256, len(data), data, now.isoformat()],
    )
    audit(
        db,
        at=now.isoformat(),
        actor=actor,
        action="blob.put",
        entity="blob",
        entity_id=sha256,
        detail={"size": len(data)},
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


def blob_size_for(db: Database, *, actor: Principal, sha256: str) -> int | None:
    """The stored size, only for a caller in the blob's scope; None otherwise, as if it were not stored."""
    size = blob_exists(db, sha256)
    if size is None or not _in_scope(db, actor, sha256):
        return None
    return size


def read_blob(db: Database, *, actor: Principal, sha256: str) -> bytes | None:
    """The bytes, only for a caller who may see a report that references the blob."""
    if not _in_scope(db, actor, sha256):
        return None
    row = db.execute("SELECT data FROM blobs WHERE sha256 = ?", [sha256]).fetchone()
    return None if row is None else bytes(row[0])
