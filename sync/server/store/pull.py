"""Pull (protocol "Pull"): a paged snapshot of the caller's scope, then the change log since a cursor.

A cursor is `<epoch8>.<seq>` (or `<epoch8>.<seq>.s<visit_id>` inside a snapshot). Changes are logged as
(recipient, type, op, id); a page materialises the current state of each entity it delivers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlite_utils import Database

from sync.server.errors import ApiError
from sync.server.store.common import Principal, audit, get_meta, server_epoch
from sync.server.store.state import review_state, visit_payload, visit_visible

__all__ = ["pull", "record_pull"]


def _reset(message: str) -> ApiError:
    return ApiError(410, "reset_required", message)


def _scope_visits(db: Database, actor: Principal, after: str, limit: int) -> list[dict[str, Any]]:
    if actor.is_admin:
        sql, args = "SELECT * FROM visits v WHERE v.id > ? AND v.status != 'closed'", [after]
    elif actor.is_supervisor:
        sql, args = (
            "SELECT * FROM visits v WHERE v.id > ? AND v.team = ? AND v.status != 'closed'",
            [after, actor.team],
        )
    else:
        sql = (
            "SELECT v.* FROM visits v JOIN visit_assignees a ON a.visit_id = v.id "
            "WHERE v.id > ? AND a.user_id = ? AND a.active = 1"
        )
        args = [after, actor.user_id]
    return list(db.query(sql + " ORDER BY v.id LIMIT ?", [*args, limit + 1]))


def pull(
    db: Database, *, actor: Principal, cursor: str | None, limit: int, epoch: str | None
) -> dict[str, Any]:
    current_epoch = server_epoch(db)
    if epoch is not None and epoch != current_epoch:
        raise _reset("the server was restored; pull a snapshot")
    e8 = current_epoch[:8]
    max_seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0]
    dev = db.execute("SELECT last_mutation_id FROM devices WHERE id = ?", [actor.device_id]).fetchone()
    last_mutation_id = dev[0] if dev else 0
    snapshot_after: str | None = None
    if cursor is None:
        seq, snapshot_after = max_seq, ""
    else:
        parts = cursor.split(".")
        if len(parts) not in (2, 3) or parts[0] != e8 or not parts[1].isdigit():
            raise _reset("unknown cursor")
        seq = int(parts[1])
        floor = int(get_meta(db, "changes_floor") or "0")
        if seq > max_seq or seq < floor:
            raise _reset("unknown or compacted cursor")
        if len(parts) == 3:
            if not parts[2].startswith("s"):
                raise _reset("unknown cursor")
            snapshot_after = parts[2][1:]
    changes: list[dict[str, Any]] = []
    if snapshot_after is not None:
        visits = _scope_visits(db, actor, snapshot_after, limit)
        has_more = len(visits) > limit
        visits = visits[:limit]
        for v in visits:
            changes.append(
                {"seq": seq, "type": "visit", "op": "put", "id": v["id"], "data": visit_payload(db, v)}
            )
            for r in db.query("SELECT * FROM reports WHERE visit_id = ? ORDER BY created_at", [v["id"]]):
                changes.append(
                    {
                        "seq": seq,
                        "type": "report_review",
                        "op": "put",
                        "id": r["id"],
                        "data": review_state(db, r),
                    }
                )
        next_cursor = f"{e8}.{seq}.s{visits[-1]['id']}" if has_more else f"{e8}.{seq}"
        return {
            "cursor": next_cursor,
            "has_more": has_more,
            "last_mutation_id": last_mutation_id,
            "server_epoch": current_epoch,
            "changes": changes,
        }

    rows = db.execute(
        "SELECT seq, type, op, entity_id FROM changes WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        [actor.user_id, seq, limit + 1],
    ).fetchall()
    has_more = len(rows) > limit
    rows = rows[:limit]
    # Only the last change of an entity in a page matters: a put carries the current state anyway.
    last_of: dict[tuple[str, str], int] = {(r[1], r[3]): i for i, r in enumerate(rows)}
    for i, (s, type_, op, entity_id) in enumerate(rows):
        if last_of[(type_, entity_id)] != i:
            continue
        if op == "del":
            changes.append({"seq": s, "type": type_, "op": "del", "id": entity_id})
            continue
        if type_ == "visit":
            vs = list(db.query("SELECT * FROM visits WHERE id = ?", [entity_id]))
            if vs and visit_visible(db, actor, entity_id, vs[0]["team"]):
                changes.append(
                    {
                        "seq": s,
                        "type": "visit",
                        "op": "put",
                        "id": entity_id,
                        "data": visit_payload(db, vs[0]),
                    }
                )
        elif type_ == "report_review":
            rs = list(db.query("SELECT * FROM reports WHERE id = ?", [entity_id]))
            if rs and visit_visible(db, actor, rs[0]["visit_id"], rs[0]["team"]):
                changes.append(
                    {
                        "seq": s,
                        "type": "report_review",
                        "op": "put",
                        "id": entity_id,
                        "data": review_state(db, rs[0]),
                    }
                )
    if rows:
        new_seq = rows[-1][0]
    else:
        new_seq = max_seq  # nothing for this caller up to now: the cursor can move to the head
    return {
        "cursor": f"{e8}.{new_seq}",
        "has_more": has_more,
        "last_mutation_id": last_mutation_id,
        "server_epoch": current_epoch,
        "changes": changes,
    }


def record_pull(db: Database, *, actor: Principal, visit_ids: list[str], now: datetime) -> None:
    """Audit the personal data a pull delivered (visit IDs only) and note the device's last pull."""
    db.execute("UPDATE devices SET last_pull_at = ? WHERE id = ?", [now.isoformat(), actor.device_id])
    if visit_ids:
        audit(
            db,
            at=now.isoformat(),
            actor=actor,
            action="read.pull",
            entity="visit",
            entity_id=None,
            detail={"visit_ids": visit_ids},
        )
