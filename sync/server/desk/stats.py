"""The supervisor dashboard's figures and the risk CSV, computed from the server store (team scope)."""

from __future__ import annotations

import io
import statistics
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlite_utils import Database

from models.money import fmt_money
from models.tracking import DEFAULT_GRACE_DAYS
from sync.server.desk.csvsafe import SafeCsvWriter
from sync.server.store.common import Principal, loads
from sync.server.store.tracking import (
    RISK_CSV_FACTS,
    payments_since,
    risk_csv_facts,
    untracked_promise_state,
)

__all__ = ["RISK_CSV_COLUMNS", "RISK_CSV_MONEY", "dashboard", "risk_csv"]


def _scope(actor: Principal, team: str | None, alias: str = "r") -> tuple[str, list[Any]]:
    if actor.is_admin:
        return (f"{alias}.team = ?", [team]) if team else ("1 = 1", [])
    return f"{alias}.team = ?", [actor.team]


def _dt(v: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(v) if v else None
    except ValueError:
        return None


def dashboard(
    db: Database,
    *,
    actor: Principal,
    today: date,
    days: int = 30,
    team: str | None = None,
    grace_days: int = DEFAULT_GRACE_DAYS,
) -> dict[str, Any]:
    """Visits per day and per investigator, outcomes, reasons, promises, plans and review times."""
    where, args = _scope(actor, team)
    since = (today - timedelta(days=days - 1)).isoformat()
    rows = list(
        db.query(
            "SELECT r.id, r.visit_id, r.status, r.investigator_id, r.outcome, r.visit_date, r.visited_at, r.created_at, "
            "v.body, v.received_at, vi.data AS visit_data, pt.state AS promise_state FROM reports r "
            "LEFT JOIN report_versions v ON v.version_id = r.current_version_id "
            "JOIN visits vi ON vi.id = r.visit_id "
            "LEFT JOIN promise_tracking pt ON pt.report_id = r.id "
            f"WHERE {where} AND COALESCE(r.visit_date, substr(r.created_at, 1, 10)) >= ?",
            [*args, since],
        )
    )
    per_day: Counter[str] = Counter()
    per_inv: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    promises = {"kept": 0, "broken": 0, "open": 0}
    plans = {"proposed": 0, "approved": 0}
    proposed_amount = approved_amount = Decimal("0.00")
    for r in rows:
        per_day[(r["visit_date"] or r["created_at"] or "")[:10]] += 1
        if r["investigator_id"]:
            per_inv[r["investigator_id"]] += 1
        if r["outcome"]:
            outcomes[r["outcome"]] += 1
        body = loads(r["body"], {}) or {}
        iv = body.get("interview") or {}
        if iv.get("primary_reason"):
            reasons[iv["primary_reason"]] += 1
        promise = iv.get("promise")
        if promise:
            # The server's evaluation against the repayments (P-6, §5.2), else the imported history.
            state = r["promise_state"] or untracked_promise_state(
                db,
                visit_id=r["visit_id"],
                data=loads(r["visit_data"], {}) or {},
                promise=promise,
                since=payments_since(r),
                today=today,
                grace_days=grace_days,
            )
            promises[state] += 1
        plan = body.get("plan")
        if plan:
            plans["proposed"] += 1
            proposed_amount += Decimal(plan.get("principal") or "0")
            if r["status"] == "approved":
                plans["approved"] += 1
                approved_amount += Decimal(plan.get("principal") or "0")
    review_hours = _review_hours(db, where, args, since)
    return {
        "since": since,
        "until": today.isoformat(),
        "reports": len(rows),
        "visits_per_day": [{"date": d, "count": n} for d, n in sorted(per_day.items())],
        "visits_per_investigator": [{"investigator_id": i, "count": n} for i, n in per_inv.most_common()],
        "outcomes": dict(outcomes.most_common()),
        "reasons": dict(reasons.most_common()),
        "promises": promises,
        "plans": {
            **plans,
            "proposed_amount": fmt_money(proposed_amount),
            "approved_amount": fmt_money(approved_amount),
        },
        "review_time": review_hours,
    }


def _review_hours(db: Database, where: str, args: list[Any], since: str) -> dict[str, Any]:
    hours: list[float] = []
    for r in db.query(
        "SELECT r.visited_at, r.created_at, MIN(c.at) AS first_review FROM reports r "
        f"JOIN comments c ON c.report_id = r.id WHERE {where} "
        "AND COALESCE(r.visit_date, substr(r.created_at, 1, 10)) >= ? GROUP BY r.id",
        [*args, since],
    ):
        start, end = _dt(r["visited_at"] or r["created_at"]), _dt(r["first_review"])
        if start and end and end >= start:
            hours.append((end - start).total_seconds() / 3600)
    if not hours:
        return {"reviewed": 0, "median_hours": None, "p90_hours": None}
    hours.sort()
    p90 = hours[min(len(hours) - 1, round(0.9 * (len(hours) - 1)))]
    return {
        "reviewed": len(hours),
        "median_hours": round(statistics.median(hours), 1),
        "p90_hours": round(p90, 1),
    }


RISK_CSV_COLUMNS = [
    "event",
    "at",
    "report_id",
    "visit_id",
    "external_id",
    "team",
    "option",
    "principal",
    "term_months",
    "monthly_rate",
    "instalment",
    "total_payment",
    "apr_simple",
    "apr_compound",
    "holiday_months",
    "settlement_amount",
    "route",
    "comment",
    "flags",
    "sign_off_reason",
    *RISK_CSV_FACTS,  # reasons, willingness × ability, assessment, promise, plan state, recommendation
]
# Columns of amounts: a plain negative number there stays a number in the CSV.
RISK_CSV_MONEY = frozenset(
    {
        "principal",
        "instalment",
        "total_payment",
        "settlement_amount",
        "net_income",
        "disposable_income",
        "capacity",
        "promise_amount",
    }
)


def risk_csv(db: Database, *, actor: Principal, team: str | None = None) -> str:
    """Approved plans, legal escalations, lapsed plans and broken promises as CSV for the loan system (one
    row per feed event, with the same facts as the feed)."""
    where, args = _scope(actor, team, alias="f")
    out = io.StringIO()
    # Every cell goes through the formula guard (free text, imported IDs and codes alike).
    w = SafeCsvWriter(out, RISK_CSV_COLUMNS, money=RISK_CSV_MONEY)
    for r in db.query(
        f"SELECT * FROM feed f WHERE {where} AND f.type IN ('report_approved', 'legal_escalated', 'plan_lapsed', 'ptp_broken') "
        "ORDER BY f.seq",
        args,
    ):
        data = loads(r["data"], {}) or {}
        plan = data.get("plan") or {}
        w.writerow(
            [
                r["type"],
                r["at"],
                r["report_id"],
                r["visit_id"],
                r["external_id"],
                r["team"],
                plan.get("option", ""),
                plan.get("principal", ""),
                plan.get("term_months", ""),
                plan.get("monthly_rate", ""),
                plan.get("instalment", ""),
                plan.get("total_payment", ""),
                plan.get("apr_simple", ""),
                plan.get("apr_compound", ""),
                plan.get("holiday_months", ""),
                plan.get("settlement_amount", "") or "",
                data.get("route") or "",
                data.get("comment") or "",
                " ".join(data.get("flags") or []),
                data.get("sign_off_reason") or "",
                *risk_csv_facts(data),
            ]
        )
    # A UTF-8 BOM so spreadsheet programs open the Chinese text correctly.
    return "\ufeff" + out.getvalue()
