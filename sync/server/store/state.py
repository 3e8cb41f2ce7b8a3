"""Scope checks, the change log, and the payloads a device receives (visit, report review state)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from sync.server.store.common import Principal, loads

__all__ = [
    "add_changes",
    "collectors",
    "missing_blobs",
    "report_visible",
    "review_state",
    "review_states",
    "visible_visit_ids",
    "visit_payload",
    "visit_payloads",
    "visit_visible",
]


def collectors(db: Database, visit_id: str) -> list[str]:
    """The visit's current collectors, lead first."""
    return [
        r[0]
        for r in db.conn.execute(
            "SELECT user_id FROM visit_assignees WHERE visit_id = ? AND active = 1 ORDER BY position, user_id",
            [visit_id],
        ).fetchall()
    ]


def visit_visible(db: Database, actor: Principal, visit_id: str, team: str) -> bool:
    if actor.is_admin:
        return True
    if actor.is_supervisor:
        return team == actor.team
    return (
        db.execute(
            "SELECT 1 FROM visit_assignees WHERE visit_id = ? AND user_id = ? AND active = 1",
            [visit_id, actor.user_id],
        ).fetchone()
        is not None
    )


report_visible = visit_visible


def _ids_json(ids: Iterable[str]) -> str:
    """A list of IDs as one JSON parameter (`json_each(?)`), so a page needs one statement, not one per ID."""
    return json.dumps(list(ids))


def visible_visit_ids(db: Database, actor: Principal, visits: Iterable[tuple[str, str]]) -> set[str]:
    """Of (visit_id, team) pairs, the visit IDs the actor may see (batched `visit_visible`)."""
    pairs = list(visits)
    if actor.is_admin:
        return {vid for vid, _ in pairs}
    if actor.is_supervisor:
        return {vid for vid, team in pairs if team == actor.team}
    if not pairs:
        return set()
    return {
        r[0]
        for r in db.conn.execute(
            "SELECT visit_id FROM visit_assignees WHERE user_id = ? AND active = 1 "
            "AND visit_id IN (SELECT value FROM json_each(?))",
            [actor.user_id, _ids_json(vid for vid, _ in pairs)],
        )
    }


def add_changes(db: Database, user_ids: Iterable[str], type_: str, op: str, entity_id: str) -> None:
    """Log one change per recipient; pulls materialise the current state when they deliver it."""
    db.conn.executemany(
        "INSERT INTO changes(user_id, type, op, entity_id) VALUES (?, ?, ?, ?)",
        [(uid, type_, op, entity_id) for uid in user_ids],
    )


def missing_blobs(db: Database, report_id: str) -> list[str]:
    return [
        r[0]
        for r in db.conn.execute(
            "SELECT rb.sha256 FROM report_blobs rb WHERE rb.report_id = ? "
            "AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = rb.sha256) ORDER BY rb.sha256",
            [report_id],
        ).fetchall()
    ]


def comments(db: Database, report_id: str) -> list[dict[str, Any]]:
    return _comments_of(db, [report_id]).get(report_id, [])


def _comments_of(db: Database, report_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    if not report_ids:
        return out
    for (
        report_id,
        at,
        author_id,
        author_name,
        action,
        comment,
        route,
        server_version,
        sign_off,
    ) in db.conn.execute(
        "SELECT c.report_id, c.at, c.author_id, u.name, c.action, c.comment, c.route, c.server_version, "
        "c.sign_off_reason "
        "FROM comments c LEFT JOIN users u ON u.id = c.author_id "
        "WHERE c.report_id IN (SELECT value FROM json_each(?)) ORDER BY c.id",
        [_ids_json(report_ids)],
    ):
        out.setdefault(report_id, []).append(
            {
                "at": at,
                "author_id": author_id,
                "author_name": author_name or "",
                "action": action,
                "comment": comment or "",
                "route": route,
                "server_version": server_version,
                "sign_off_reason": sign_off,
            }
        )
    return out


def _missing_blobs_of(db: Database, report_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if not report_ids:
        return out
    for report_id, sha in db.conn.execute(
        "SELECT rb.report_id, rb.sha256 FROM report_blobs rb "
        "WHERE rb.report_id IN (SELECT value FROM json_each(?)) "
        "AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = rb.sha256) ORDER BY rb.report_id, rb.sha256",
        [_ids_json(report_ids)],
    ):
        out.setdefault(report_id, []).append(sha)
    return out


def review_state(db: Database, report: dict[str, Any], *, with_report: bool = True) -> dict[str, Any]:
    """The `report_review` payload: review state, comments, flags and the current version's content."""
    return review_states(db, [report], with_report=with_report)[0]


def review_states(
    db: Database, reports: list[dict[str, Any]], *, with_report: bool = True
) -> list[dict[str, Any]]:
    """`review_state` for many reports with one query per table (a pull page)."""
    if not reports:
        return []
    ids = [r["id"] for r in reports]
    comments_of = _comments_of(db, ids)
    missing_of = _missing_blobs_of(db, ids)
    bodies: dict[str, str] = {}
    if with_report:
        bodies = dict(
            db.conn.execute(
                "SELECT version_id, body FROM report_versions "
                "WHERE version_id IN (SELECT value FROM json_each(?))",
                [_ids_json(r["current_version_id"] for r in reports if r["current_version_id"] is not None)],
            ).fetchall()
        )
    states = []
    for report in reports:
        out: dict[str, Any] = {
            "report_id": report["id"],
            "visit_id": report["visit_id"],
            "server_version": report["server_version"],
            "status": report["status"],
            "comments": comments_of.get(report["id"], []),
            "flags": loads(report["flags"], []),
            "current_version_id": report["current_version_id"],
            "missing_blobs": missing_of.get(report["id"], []),
        }
        if with_report:
            body = bodies.get(report["current_version_id"])
            out["report"] = loads(body) if body is not None else None
        states.append(out)
    return states


def visit_payload(db: Database, visit: dict[str, Any]) -> dict[str, Any]:
    """A visit as `models.entities.Visit` describes it (what the device stores)."""
    return visit_payloads(db, [visit])[0]


def visit_payloads(db: Database, visits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`visit_payload` for many visits with one query for their reports and one for their collectors."""
    if not visits:
        return []
    ids = _ids_json(v["id"] for v in visits)
    previous: dict[str, list[dict[str, Any]]] = {}
    for visit_id, report_id, visited_at, outcome, status in db.conn.execute(
        "SELECT visit_id, id, visited_at, outcome, status FROM reports "
        "WHERE visit_id IN (SELECT value FROM json_each(?)) ORDER BY visit_id, created_at, rowid",
        [ids],
    ):
        previous.setdefault(visit_id, []).append(
            {"report_id": report_id, "visited_at": visited_at, "outcome": outcome, "status": status}
        )
    people: dict[str, list[str]] = {}
    names: dict[str, list[dict[str, str]]] = {}
    for visit_id, user_id, name in db.conn.execute(
        "SELECT a.visit_id, a.user_id, u.name FROM visit_assignees a LEFT JOIN users u ON u.id = a.user_id "
        "WHERE a.active = 1 AND a.visit_id IN (SELECT value FROM json_each(?)) "
        "ORDER BY a.visit_id, a.position, a.user_id",
        [ids],
    ):
        people.setdefault(visit_id, []).append(user_id)
        # Colleagues' names (staff data) so the check-in lists people, not user ids.
        names.setdefault(visit_id, []).append({"id": user_id, "name": name or ""})
    out = []
    for visit in visits:
        data = loads(visit["data"], {})
        out.append(
            {
                "visit_id": visit["id"],
                "external_id": visit["external_id"],
                "team": visit["team"],
                "status": visit["status"],
                "borrower": data.get("borrower"),
                "loan": data.get("loan"),
                "investigator_ids": people.get(visit["id"], []),
                "collectors": names.get(visit["id"], []),
                "planned_date": visit["planned_date"],
                "priority": data.get("priority", "0"),
                "broken_ptp_count": data.get("broken_ptp_count", 0),
                "days_since_last_contact": data.get("days_since_last_contact"),
                "contact_lost": data.get("contact_lost", False),
                "active_plan_current": data.get("active_plan_current", False),
                "previous_visits": previous.get(visit["id"], []),
                "updated_at": visit["updated_at"],
            }
        )
    return out
