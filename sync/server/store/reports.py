"""Supervisor review: report lists with per-state counts, report detail, and review transitions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlite_utils import Database

from models.codes import ReportStatus
from models.privacy import mask_name
from models.rules import DEFAULT_SETTINGS, RuleSettings, sign_off_needed
from sync.server.errors import ApiError
from sync.server.store.common import Principal, audit, dumps, loads
from sync.server.store.rulebook import report_rules
from sync.server.store.state import (
    add_changes,
    collectors,
    comments,
    missing_blobs,
    report_visible,
    review_state,
)
from sync.server.store.tracking import TrackingPolicy, evaluate_accounts, report_facts

__all__ = [
    "TRANSITIONS",
    "ReportFilters",
    "check_if_match",
    "get_report",
    "list_reports",
    "parse_bucket",
    "review_report",
]

# from-state -> action -> to-state (protocol "Transitions"); anything else is 409 invalid_transition.
TRANSITIONS: dict[str, dict[str, str]] = {
    "submitted": {
        "approve": "approved",
        "return": "returned",
        "reject": "rejected",
        "escalate_legal": "escalated_legal",
    },
    "returned": {"reject": "rejected", "escalate_legal": "escalated_legal"},
    "resubmitted": {
        "approve": "approved",
        "return": "returned",
        "reject": "rejected",
        "escalate_legal": "escalated_legal",
    },
}
_FEED_TYPES = {
    "approved": "report_approved",
    "rejected": "report_rejected",
    "escalated_legal": "legal_escalated",
}
STATES = [s.value for s in ReportStatus]


@dataclass(frozen=True, slots=True)
class ReportFilters:
    status: str | None = None
    investigator_id: str | None = None
    team: str | None = None
    bucket: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None
    outcome: str | None = None
    verdict: str | None = None


def parse_bucket(value: str) -> int:
    """`3`, `M3` and `M7+` all name a bucket."""
    m = re.fullmatch(r"[Mm]?([0-7])\+?", value.strip())
    if not m:
        raise ApiError(
            422,
            "validation",
            "invalid bucket",
            [{"loc": ["query", "bucket"], "msg": "a bucket is 0-7 or M0-M7"}],
        )
    return int(m.group(1))


def _scope(actor: Principal) -> tuple[str, list[Any]]:
    if actor.is_admin:
        return "1 = 1", []
    if actor.is_supervisor:
        return "r.team = ?", [actor.team]
    return (
        "EXISTS (SELECT 1 FROM visit_assignees a WHERE a.visit_id = r.visit_id AND a.user_id = ? AND a.active = 1)",
        [actor.user_id],
    )


def list_reports(
    db: Database, *, actor: Principal, filters: ReportFilters, limit: int, offset: int
) -> dict[str, Any]:
    """`{"items","total","counts"}`; counts cover every state over the scope with all filters but status."""
    where, params = _scope(actor)
    clauses, args = [where], list(params)
    f = filters
    if f.investigator_id:
        clauses.append(
            "(r.investigator_id = ? OR EXISTS (SELECT 1 FROM visit_assignees a2 WHERE a2.visit_id = r.visit_id "
            "AND a2.user_id = ? AND a2.active = 1))"
        )
        args += [f.investigator_id, f.investigator_id]
    if f.team:
        clauses.append("r.team = ?")
        args.append(f.team)
    if f.bucket is not None:
        clauses.append("r.visit_id IN (SELECT id FROM visits WHERE bucket = ?)")
        args.append(f.bucket)
    if f.date_from:
        clauses.append("r.visit_date >= ?")
        args.append(f.date_from.isoformat())
    if f.date_to:
        clauses.append("r.visit_date <= ?")
        args.append(f.date_to.isoformat())
    if f.q:
        like = "%" + f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        # The visit columns are matched once in a subquery (a scan of a covering index), not row by row.
        clauses.append(
            "(r.id LIKE ? ESCAPE '\\' OR r.visit_id LIKE ? ESCAPE '\\' OR r.visit_id IN (SELECT id FROM visits "
            "WHERE external_id LIKE ? ESCAPE '\\' OR borrower_name LIKE ? ESCAPE '\\' OR district LIKE ? ESCAPE '\\'))"
        )
        args += [like] * 5
    if f.outcome:
        clauses.append("r.outcome = ?")
        args.append(f.outcome)
    if f.verdict:
        clauses.append("r.verdict = ?")
        args.append(f.verdict)
    # The counts read only the reports (a covering index); the total comes from them (they carry every
    # filter but status), so a page costs one grouped count and one indexed, limited read.
    where = " WHERE " + " AND ".join(clauses)
    counts = {s: 0 for s in STATES}
    for status, n in db.execute(
        f"SELECT r.status, COUNT(*) FROM reports r{where} GROUP BY r.status", args
    ).fetchall():
        counts[status] = n
    total = counts.get(f.status, 0) if f.status else sum(counts.values())
    base = "FROM reports r JOIN visits v ON v.id = r.visit_id" + where
    if f.status:
        base += " AND r.status = ?"
        args.append(f.status)
    rows = db.query(
        "SELECT r.*, v.external_id, v.district, v.bucket, v.borrower_name, v.planned_date, "
        "(SELECT COUNT(*) FROM report_blobs rb WHERE rb.report_id = r.id AND NOT EXISTS "
        " (SELECT 1 FROM blobs b WHERE b.sha256 = rb.sha256)) AS missing "
        f"{base} ORDER BY r.updated_at DESC, r.id LIMIT ? OFFSET ?",
        [*args, limit, offset],
    )
    items = [
        {
            "report_id": r["id"],
            "visit_id": r["visit_id"],
            "external_id": r["external_id"],
            "team": r["team"],
            "district": r["district"],
            "bucket": r["bucket"],
            "status": r["status"],
            "server_version": r["server_version"],
            "investigator_id": r["investigator_id"],
            "outcome": r["outcome"],
            "verdict": r["verdict"],
            "flags": loads(r["flags"], []),
            "visit_date": r["visit_date"],
            "planned_date": r["planned_date"],
            "borrower_name_masked": mask_name(r["borrower_name"] or ""),
            "incomplete": r["missing"] > 0,
            "created_at": r["created_at"],
            "updated_at": r["updated_at"],
        }
        for r in rows
    ]
    return {"items": items, "total": total, "counts": counts}


def _load(db: Database, actor: Principal, report_id: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM reports WHERE id = ?", [report_id.lower()]))
    if not rows or not report_visible(db, actor, rows[0]["visit_id"], rows[0]["team"]):
        raise ApiError(404, "not_found", "no such report")
    return rows[0]


def get_report(
    db: Database, *, actor: Principal, report_id: str, rules: RuleSettings = DEFAULT_SETTINGS
) -> dict[str, Any]:
    """Current version, history, conflict siblings, flags and comments of a report in the caller's scope,
    with the rule book's view of the current version (the server's assessment, problems, sign-off)."""
    r = _load(db, actor, report_id)
    versions = list(
        db.query(
            "SELECT version_id, server_version, base_version, content_sha256, body, result, flags, device_id, "
            "user_id, kind, received_at FROM report_versions WHERE report_id = ? ORDER BY received_at, rowid",
            [r["id"]],
        )
    )

    def ver(v: dict[str, Any]) -> dict[str, Any]:
        return {
            "version_id": v["version_id"],
            "server_version": v["server_version"],
            "base_version": v["base_version"],
            "content_sha256": v["content_sha256"],
            "flags": loads(v["flags"], []),
            "device_id": v["device_id"],
            "user_id": v["user_id"],
            "kind": v["kind"],
            "received_at": v["received_at"],
            "report": loads(v["body"]),
        }

    current = next((v for v in versions if v["version_id"] == r["current_version_id"]), None)
    visit = next(
        iter(
            db.query(
                "SELECT id, external_id, team, district, bucket, planned_date, status FROM visits WHERE id = ?",
                [r["visit_id"]],
            )
        )
    )
    flags = loads(r["flags"], [])
    body = loads(current["body"]) if current else None
    book = report_rules(
        db,
        report=body,
        visit_id=r["visit_id"],
        investigator_id=r["investigator_id"],
        received_at=current["received_at"] if current else None,
        flags=flags,
        rules=rules,
    )
    return {
        "report_id": r["id"],
        "visit_id": r["visit_id"],
        "team": r["team"],
        "status": r["status"],
        "server_version": r["server_version"],
        "current_version_id": r["current_version_id"],
        "investigator_id": r["investigator_id"],
        "outcome": r["outcome"],
        "verdict": r["verdict"],
        "visit_date": r["visit_date"],
        "flags": flags,
        "missing_blobs": missing_blobs(db, r["id"]),
        "report": body,
        **book,
        "history": [ver(v) for v in versions if v["result"] == "applied"],
        "conflicts": [ver(v) for v in versions if v["result"] == "conflict"],
        "comments": comments(db, r["id"]),
        "visit": {
            "visit_id": visit["id"],
            "external_id": visit["external_id"],
            "team": visit["team"],
            "district": visit["district"],
            "bucket": visit["bucket"],
            "planned_date": visit["planned_date"],
            "status": visit["status"],
            "investigator_ids": collectors(db, visit["id"]),
        },
        "created_at": r["created_at"],
        "updated_at": r["updated_at"],
    }


def check_if_match(header: str | None, server_version: int) -> None:
    """RFC 9110 strong comparison: 428 when absent or `*`; 412 when no strong tag names the current version."""
    if header is None or header.strip() in ("", "*"):
        raise ApiError(
            428, "precondition_required", 'send If-Match: "v<server_version>" from GET /v1/reports/{id}'
        )
    current = f'"v{server_version}"'
    tags = [t.strip() for t in header.split(",")]
    if current not in tags:
        raise ApiError(
            412,
            "precondition_failed",
            "the report has changed since it was read",
            extra={"server_version": server_version},
            headers={"ETag": current},
        )


def review_report(
    db: Database,
    *,
    actor: Principal,
    report_id: str,
    if_match: str | None,
    action: str,
    comment: str,
    route: str | None,
    now: datetime,
    sign_off_reason: str = "",
    policy: TrackingPolicy | None = None,
) -> dict[str, Any]:
    """Apply one review action: 404 → 403 → 428/412 → 422 → 409, then bump the version and tell the devices.

    Approval is gated by the flags the rule book raised (protocol.md "Sign-off on approval"): a flag that
    needs a sign-off wants a reason (409 `sign_off_required` without one), the charge cap forbids it (409
    `charge_cap`); the reason is stored with the transition, audited and sent to the risk feed."""
    r = _load(db, actor, report_id)
    if actor.is_investigator:
        raise ApiError(403, "forbidden", "only a supervisor or an admin may review reports")
    check_if_match(if_match, r["server_version"])
    comment = (comment or "").strip()
    if action == "return" and not comment:
        raise ApiError(
            422,
            "validation",
            "a returned report needs a comment",
            [{"loc": ["body", "comment"], "msg": "required when returning a report"}],
        )
    if action == "escalate_legal" and not route:
        raise ApiError(
            422,
            "validation",
            "a legal escalation needs a route",
            [{"loc": ["body", "route"], "msg": "lawyer_letter, payment_order, litigation or mediation"}],
        )
    to = TRANSITIONS.get(r["status"], {}).get(action)
    if to is None:
        raise ApiError(
            409,
            "invalid_transition",
            f"cannot {action} a report that is {r['status']}",
            extra={"status": r["status"]},
        )
    flags = loads(r["flags"], [])
    sign_off_reason = (sign_off_reason or "").strip()
    if action == "approve":
        required, blocked = sign_off_needed(flags)
        if blocked:
            raise ApiError(
                409,
                "charge_cap",
                "the plan's charges are above 24% a year (P-5): it cannot be approved; return, reject or "
                "escalate it",
                blocked,
            )
        if required and not sign_off_reason:
            raise ApiError(
                409,
                "sign_off_required",
                "approving this report needs a sign-off reason for: " + ", ".join(required),
                required,
            )
    else:
        sign_off_reason = ""
    sv = r["server_version"] + 1
    ts = now.isoformat()
    db.execute(
        "UPDATE reports SET status = ?, server_version = ?, updated_at = ? WHERE id = ?",
        [to, sv, ts, r["id"]],
    )
    db.execute(
        "INSERT INTO comments(report_id, at, author_id, action, comment, route, server_version, sign_off_reason) "
        "VALUES (?,?,?,?,?,?,?,?)",
        [
            r["id"],
            ts,
            actor.user_id,
            action,
            comment,
            route if action == "escalate_legal" else None,
            sv,
            sign_off_reason or None,
        ],
    )
    add_changes(db, collectors(db, r["visit_id"]), "report_review", "put", r["id"])
    policy = policy or TrackingPolicy()
    if to in _FEED_TYPES:
        body = db.execute(
            "SELECT body FROM report_versions WHERE version_id = ?", [r["current_version_id"]]
        ).fetchone()
        plan = (loads(body[0], {}) if body else {}).get("plan")
        ext = db.execute("SELECT external_id FROM visits WHERE id = ?", [r["visit_id"]]).fetchone()
        db.execute(
            "INSERT INTO feed(type, report_id, visit_id, external_id, team, at, data) VALUES (?,?,?,?,?,?,?)",
            [
                _FEED_TYPES[to],
                r["id"],
                r["visit_id"],
                ext[0] if ext else None,
                r["team"],
                ts,
                dumps(
                    {
                        "plan": plan,
                        "route": route if action == "escalate_legal" else None,
                        "comment": comment or None,
                        "flags": flags,
                        "sign_off_reason": sign_off_reason or None,
                        **report_facts(db, report_id=r["id"], policy=policy),
                    }
                ),
            ],
        )
    if to == "approved":
        # The approved plan is followed from now on (P-6); its first evaluation may already find it lapsed,
        # and that plan_lapsed event comes after the report_approved one in the feed.
        evaluate_accounts(db, visit_ids=[r["visit_id"]], now=now, policy=policy)
    audit(
        db,
        at=ts,
        actor=actor,
        action=f"report.{action}",
        entity="report",
        entity_id=r["id"],
        detail={
            "from": r["status"],
            "to": to,
            "server_version": sv,
            **({"sign_off_reason": sign_off_reason} if sign_off_reason else {}),
        },
    )
    updated = dict(r, status=to, server_version=sv)
    return review_state(db, updated, with_report=False)
