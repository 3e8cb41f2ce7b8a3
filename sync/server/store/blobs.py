"""Blobs (photos, documents) addressed by SHA-256, stored in the database so backups include them."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from sync.server.store.common import Principal, audit

__all__ = ["blob_exists", "put_blob", "read_blob"]


def blob_exists(db: Database, sha256: str) -> int | None:
    row = db.execute("SELECT size FROM blobs WHERE sha256 = ?", [sha256]).fetchone()
    return None if row is None else int(row[0])


def put_blob(db: Database, *, actor: Principal, sha256: str, data: bytes, now: datetime) -> bool:
    """Store verified bytes; returns True when newly stored, False when already present."""
    if blob_exists(db, sha256) is not None:
        return False
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


def read_blob(db: Database, *, actor: Principal, sha256: str) -> bytes | None:
    """The bytes, only for a caller who may see a report that references the blob."""
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
    if ok is None:
        return None
    row = db.execute("SELECT data FROM blobs WHERE sha256 = ?", [sha256]).fetchone()
    return None if row is None else bytes(row[0])
