"""Pull (protocol "Pull"): a paged snapshot of the caller's scope, then the change log since a cursor.

A cursor is `<epoch8>.<seq>` (or `<epoch8>.<seq>.s<visit_id>` inside a snapshot). Changes are logged as
(recipient, type, op, id); a page materialises the current state of each entity it delivers.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from sync.server.errors import ApiError
from sync.server.store.common import Principal, audit, get_meta, server_epoch, set_meta
from sync.server.store.state import review_states, visible_visit_ids, visit_payloads
from sync.server.store.tracking import device_tracking

__all__ = ["compact_changes", "cursor_seq", "pull", "record_pull"]


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
        # Driven by the collector's assignments in visit order (index user_id, active, visit_id).
        sql = (
            "SELECT v.* FROM visit_assignees a CROSS JOIN visits v ON v.id = a.visit_id "
            "WHERE a.user_id = ? AND a.active = 1 AND a.visit_id > ? ORDER BY a.visit_id LIMIT ?"
        )
        return list(db.query(sql, [actor.user_id, after, limit + 1]))
    return list(db.query(sql + " ORDER BY v.id LIMIT ?", [*args, limit + 1]))


def _device_visits(db: Database, visits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The visits as the device stores them, with the account's plans and promises and their outcome."""
    payloads = visit_payloads(db, visits)
    tracked = device_tracking(db, (v["id"] for v in visits))
    for v, payload in zip(visits, payloads, strict=True):
        payload.update(tracked.get(v["id"]) or {"plans": [], "promises": []})
    return payloads


def _rows_by_id(db: Database, table: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The rows of `table` (visits or reports) with these ids, in one query, by id."""
    if not ids:
        return {}
    sql = f"SELECT * FROM {table} WHERE id IN (SELECT value FROM json_each(?))"
    return {r["id"]: r for r in db.query(sql, [json.dumps(ids)])}


def pull(
    db: Database, *, actor: Principal, cursor: str | None, limit: int, epoch: str | None
) -> dict[str, Any]:
    current_epoch = server_epoch(db)
    if epoch is not None and epoch != current_epoch:
        raise _reset("the server was restored; pull a snapshot")
    e8 = current_epoch[:8]
    floor = int(get_meta(db, "changes_floor") or "0")
    # A compaction may have removed every row up to the floor: the head is never below it.
    max_seq = max(db.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0], floor)
    dev = db.execute("SELECT last_mutation_id FROM devices WHERE id = ?", [actor.device_id]).fetchone()
    last_mutation_id = dev[0] if dev else 0
    snapshot_after: str | None = None
    if cursor is None:
        seq, snapshot_after = max_seq, ""
    else:
        parts = cursor.split(".")
        if len(parts) not in (2, 3) or parts[0] != e8 or not _count(parts[1]):
            raise _reset("unknown cursor")
        seq = int(parts[1])
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
        # One query per table for the whole page (not several per visit).
        payloads = _device_visits(db, visits)
        reports_of: dict[str, list[dict[str, Any]]] = {}
        if visits:
            reports = list(
                db.query(
                    "SELECT * FROM reports WHERE visit_id IN (SELECT value FROM json_each(?)) "
                    "ORDER BY visit_id, created_at, rowid",
                    [json.dumps([v["id"] for v in visits])],
                )
            )
            for r, state in zip(reports, review_states(db, reports), strict=True):
                reports_of.setdefault(r["visit_id"], []).append(
                    {"seq": seq, "type": "report_review", "op": "put", "id": r["id"], "data": state}
                )
        for v, payload in zip(visits, payloads, strict=True):
            changes.append({"seq": seq, "type": "visit", "op": "put", "id": v["id"], "data": payload})
            changes.extend(reports_of.get(v["id"], ()))
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
    kept = [row for i, row in enumerate(rows) if last_of[(row[1], row[3])] == i]
    # The entities the page's puts name, read and checked for scope with one query per table.
    visit_ids = [r[3] for r in kept if r[2] != "del" and r[1] == "visit"]
    report_ids = [r[3] for r in kept if r[2] != "del" and r[1] == "report_review"]
    visits_by_id = _rows_by_id(db, "visits", visit_ids)
    reports_by_id = _rows_by_id(db, "reports", report_ids)
    visible = visible_visit_ids(
        db,
        actor,
        [(v["id"], v["team"]) for v in visits_by_id.values()]
        + [(r["visit_id"], r["team"]) for r in reports_by_id.values()],
    )

    def shown(visit_id: str, team: str) -> bool:  # `visit_visible`, with the assignments read once
        if actor.is_admin or actor.is_supervisor:
            return actor.is_admin or team == actor.team
        return visit_id in visible

    shown_visits = [
        visits_by_id[i] for i in visit_ids if i in visits_by_id and shown(i, visits_by_id[i]["team"])
    ]
    shown_reports = [
        reports_by_id[i]
        for i in report_ids
        if i in reports_by_id and shown(reports_by_id[i]["visit_id"], reports_by_id[i]["team"])
    ]
    visit_data = dict(zip([v["id"] for v in shown_visits], _device_visits(db, shown_visits), strict=True))
    report_data = dict(zip([r["id"] for r in shown_reports], review_states(db, shown_reports), strict=True))
    for s, type_, op, entity_id in kept:
        if op == "del":
            changes.append({"seq": s, "type": type_, "op": "del", "id": entity_id})
        elif type_ == "visit" and entity_id in visit_data:
            changes.append(
                {"seq": s, "type": "visit", "op": "put", "id": entity_id, "data": visit_data[entity_id]}
            )
        elif type_ == "report_review" and entity_id in report_data:
            changes.append(
                {
                    "seq": s,
                    "type": "report_review",
                    "op": "put",
                    "id": entity_id,
                    "data": report_data[entity_id],
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


def _count(text: str) -> bool:
    """ASCII digits, as the server writes a cursor: str.isdigit() alone also takes "²", which int() refuses,
    and other scripts' digits."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def cursor_seq(cursor: str | None) -> int | None:
    """The change-log position a well-formed cursor stands at (None for a snapshot from scratch)."""
    parts = (cursor or "").split(".")
    return int(parts[1]) if len(parts) in (2, 3) and _count(parts[1]) else None


def record_pull(
    db: Database, *, actor: Principal, visit_ids: list[str], now: datetime, acked_seq: int | None = None
) -> None:
    """Audit the personal data a pull delivered (visit IDs only) and note the device's last pull, with the
    position its cursor showed it had stored (`acked_seq`: everything up to it is applied on the device)."""
    db.execute(
        "UPDATE devices SET last_pull_at = ?, pull_seq = COALESCE(?, pull_seq) WHERE id = ?",
        [now.isoformat(), acked_seq, actor.device_id],
    )
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


def compact_changes(db: Database, *, now: datetime, idle_days: int) -> dict[str, int]:
    """Drop the change log below the oldest position a device active in the last `idle_days` still needs.

    A device idle longer (or revoked) then meets a cursor below the floor: 410 `reset_required`, and it pulls
    a snapshot keeping its outbox and drafts (protocol "Pull"). The floor never moves back.
    """
    cutoff = (now - timedelta(days=idle_days)).isoformat()
    head = db.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0]
    needed = db.execute(
        "SELECT MIN(pull_seq) FROM devices WHERE revoked = 0 AND pull_seq IS NOT NULL AND last_pull_at >= ?",
        [cutoff],
    ).fetchone()[0]
    old_floor = int(get_meta(db, "changes_floor") or "0")
    floor = max(old_floor, head if needed is None else min(int(needed), head))
    deleted = db.execute("DELETE FROM changes WHERE seq <= ?", [floor]).rowcount
    set_meta(db, "changes_floor", str(floor))
    return {"floor": floor, "deleted": deleted}
