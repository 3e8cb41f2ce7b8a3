"""The risk feed: one event per final review transition, paged by an integer cursor."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from sync.server.store.common import Principal, loads

__all__ = ["read_feed"]


def read_feed(db: Database, *, actor: Principal, since: int, limit: int) -> dict[str, Any]:
    scope, args = ("", []) if actor.is_admin else (" AND team = ?", [actor.team])
    rows = list(
        db.query(f"SELECT * FROM feed WHERE seq > ?{scope} ORDER BY seq LIMIT ?", [since, *args, limit + 1])
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    events = [
        {
            "seq": r["seq"],
            "type": r["type"],
            "report_id": r["report_id"],
            "visit_id": r["visit_id"],
            "external_id": r["external_id"],
            "team": r["team"],
            "at": r["at"],
            "data": loads(r["data"], {}),
        }
        for r in rows
    ]
    cursor = rows[-1]["seq"] if rows else since
    return {"cursor": str(cursor), "has_more": has_more, "events": events}
