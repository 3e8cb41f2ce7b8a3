"""Scope checks, the change log, and the payloads a device receives (visit, report review state)."""

from __future__ import annotations

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
    "visit_payload",
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
    return [
        {
            "at": at,
            "author_id": author_id,
            "author_name": author_name or "",
            "action": action,
            "comment": comment or "",
            "route": route,
            "server_version": server_version,
        }
        for at, author_id, author_name, action, comment, route, server_version in db.conn.execute(
            "SELECT c.at, c.author_id, u.name, c.action, c.comment, c.route, c.server_version FROM comments c "
            "LEFT JOIN users u ON u.id = c.author_id WHERE c.report_id = ? ORDER BY c.id",
            [report_id],
        )
    ]


def review_state(db: Database, report: dict[str, Any], *, with_report: bool = True) -> dict[str, Any]:
    """The `report_review` payload: review state, comments, flags and the current version's content."""
    out: dict[str, Any] = {
        "report_id": report["id"],
        "visit_id": report["visit_id"],
        "server_version": report["server_version"],
        "status": report["status"],
        "comments": comments(db, report["id"]),
        "flags": loads(report["flags"], []),
        "current_version_id": report["current_version_id"],
        "missing_blobs": missing_blobs(db, report["id"]),
    }
    if with_report:
        row = db.conn.execute(
            "SELECT body FROM report_versions WHERE version_id = ?", [report["current_version_id"]]
        ).fetchone()
        out["report"] = loads(row[0]) if row else None
    return out


def visit_payload(db: Database, visit: dict[str, Any]) -> dict[str, Any]:
    """A visit as `models.entities.Visit` describes it (what the device stores)."""
    data = loads(visit["data"], {})
    previous = [
        {"report_id": report_id, "visited_at": visited_at, "outcome": outcome, "status": status}
        for report_id, visited_at, outcome, status in db.conn.execute(
            "SELECT id, visited_at, outcome, status FROM reports WHERE visit_id = ? ORDER BY created_at",
            [visit["id"]],
        )
    ]
    return {
        "visit_id": visit["id"],
        "external_id": visit["external_id"],
        "team": visit["team"],
        "status": visit["status"],
        "borrower": data.get("borrower"),
        "loan": data.get("loan"),
        "investigator_ids": collectors(db, visit["id"]),
        "planned_date": visit["planned_date"],
        "priority": data.get("priority", "0"),
        "broken_ptp_count": data.get("broken_ptp_count", 0),
        "days_since_last_contact": data.get("days_since_last_contact"),
        "contact_lost": data.get("contact_lost", False),
        "active_plan_current": data.get("active_plan_current", False),
        "previous_visits": previous,
        "updated_at": visit["updated_at"],
    }
