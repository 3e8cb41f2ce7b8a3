"""Plans and promises followed after the visit, the loan system's repayments, the risk feed's facts and the
legal-escalation recommendation (protocol.md v1.1 "Repayments, plans and promises tracked"; domain P-6,
§5.2, §5.4, §5.5). The arithmetic is `models.tracking`; this module stores and reads it.

An account is evaluated against the server's clock when repayments arrive, when a plan is approved, when
its visit is read, and in a sweep before the feed, the lists, the desk's board and dashboard and the exports
are read (the whole set once a day, otherwise what changed since the last sweep) and whenever the operator's
daily `fieldvisit evaluate` runs (the whole set). A plan's first change to `lapsed` and a promise's first
change to `broken` each write one feed event and reopen the visit for dispatch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError
from sqlite_utils import Database

from models.messages import field_errors, message_for
from models.money import PosMoney
from models.privacy import business_day
from models.report import RepaymentPlan
from models.rules import DEFAULT_SETTINGS, RuleSettings, plan_figures
from models.tracking import (
    DEFAULT_GRACE_DAYS,
    Due,
    EscalationInputs,
    Payment,
    PlanStatus,
    ability,
    plan_status,
    promise_status,
    recommendation,
    segment,
)
from sync.server.errors import RefusedRecord
from sync.server.store.common import Principal, audit, dumps, get_meta, loads, set_meta
from sync.server.store.contact import contact_stop
from sync.server.store.rulebook import evaluate_stored
from sync.server.store.state import add_changes, collectors

__all__ = [
    "REPAYMENT_EXAMPLE",
    "RISK_CSV_FACTS",
    "Evaluation",
    "RepaymentIn",
    "RepaymentsBody",
    "TrackingPolicy",
    "account_view",
    "device_tracking",
    "evaluate_accounts",
    "payments_since",
    "post_repayments",
    "report_facts",
    "risk_csv_facts",
    "sweep",
    "today_of",
    "tracking_board",
    "untracked_promise_state",
]

log = logging.getLogger("fieldvisit.server.tracking")

_DEFAULT_TZ = "Asia/Shanghai"
_PLAN_FINAL = ("lapsed", "completed")
_PROMISE_FINAL = ("kept", "broken")


@dataclass(frozen=True, slots=True)
class TrackingPolicy:
    """The server's settings for tracking, the recommendation and the contact rules."""

    grace_days: int = DEFAULT_GRACE_DAYS
    visits_per_day: int = 1
    visits_per_month: int = 4
    unreachable_attempts: int = 3
    contact_lost_days: int = 30
    broken_promises: int = 2
    high_bucket: int = 4
    high_balance: Decimal = Decimal("30000.00")
    rules: RuleSettings = field(default=DEFAULT_SETTINGS)

    @classmethod
    def from_settings(cls, s: Any) -> TrackingPolicy:
        return cls(
            grace_days=s.tracking_grace_days,
            visits_per_day=s.visits_per_day,
            visits_per_month=s.visits_per_month,
            unreachable_attempts=s.unreachable_attempts,
            contact_lost_days=s.escalation_contact_lost_days,
            broken_promises=s.escalation_broken_promises,
            high_bucket=s.escalation_high_bucket,
            high_balance=s.escalation_high_balance,
            rules=s.rules,
        )


def today_of(now: datetime) -> date:
    """The business day (Asia/Shanghai) of a server instant: due dates and promise dates are local days."""
    return business_day(now, _DEFAULT_TZ)


# ---------------------------------------------------------------------------------------------------
# Repayments in


def _text_date(v: Any) -> Any:
    if not isinstance(v, str):
        raise PydanticCustomError("date_type", "a date YYYY-MM-DD")
    return v


REPAYMENT_EXAMPLE: dict[str, Any] = {
    "payment_id": "PAY-20261215-0001",
    "external_id": "LN-0000001",
    "paid_on": "2026-12-15",
    "amount": "1100.16",
}


class RepaymentIn(BaseModel):
    """One repayment the loan system received for an account."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    payment_id: str = Field(min_length=1, max_length=64)
    external_id: str = Field(min_length=1, max_length=64)
    paid_on: Annotated[date, BeforeValidator(_text_date)]
    amount: PosMoney


class RepaymentsBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"records": [REPAYMENT_EXAMPLE]}]})

    records: list[Any] = Field(max_length=100_000)


def post_repayments(
    db: Database,
    *,
    actor: Principal,
    records: list[Any],
    now: datetime,
    policy: TrackingPolicy,
    lang: str = "en",
) -> dict[str, Any]:
    """Store each new repayment (idempotent by `payment_id`), then evaluate the accounts they touch."""
    created = duplicates = 0
    errors: list[dict[str, Any]] = []
    touched: dict[str, None] = {}
    ts = now.isoformat()
    for row, rec in enumerate(records, start=1):
        if isinstance(rec, RefusedRecord):  # text holding U+0000
            errors.append(
                {"row": row, "field": rec.field, "code": "validation", "msg": message_for(rec.code, lang)}
            )
            continue
        if not isinstance(rec, dict):
            errors.append(
                {"row": row, "field": "", "code": "validation", "msg": "a record must be an object"}
            )
            continue
        try:
            r = RepaymentIn.model_validate(rec)
        except ValidationError as exc:
            for e in field_errors(exc.errors(), lang):
                errors.append(
                    {
                        "row": row,
                        "field": ".".join(str(p) for p in e["loc"]),
                        "code": "validation",
                        "msg": e["msg"],
                    }
                )
            continue
        visit = db.execute("SELECT id, team FROM visits WHERE external_id = ?", [r.external_id]).fetchone()
        if visit is None or (not actor.is_admin and visit[1] != actor.team):
            errors.append(
                {"row": row, "field": "external_id", "code": "unknown_account", "msg": "no such account"}
            )
            continue
        known = db.execute(
            "SELECT visit_id, paid_on, amount FROM repayments WHERE payment_id = ?", [r.payment_id]
        ).fetchone()
        if known is not None:
            if tuple(known) == (visit[0], r.paid_on.isoformat(), str(r.amount)):
                duplicates += 1
            else:
                errors.append(
                    {
                        "row": row,
                        "field": "payment_id",
                        "code": "payment_id_reused",
                        "msg": "this payment_id is already stored with other content",
                    }
                )
            continue
        db.execute(
            "INSERT INTO repayments(payment_id, visit_id, paid_on, amount, created_at) VALUES (?,?,?,?,?)",
            [r.payment_id, visit[0], r.paid_on.isoformat(), str(r.amount), ts],
        )
        created += 1
        touched[visit[0]] = None
    audit(
        db,
        at=ts,
        actor=actor,
        action="repayments.post",
        entity="repayment",
        detail={"created": created, "duplicates": duplicates, "errors": len(errors)},
    )
    if touched:
        evaluate_accounts(db, visit_ids=list(touched), now=now, policy=policy)
    return {"created": created, "duplicates": duplicates, "errors": errors}


# ---------------------------------------------------------------------------------------------------
# Evaluation


@dataclass(slots=True)
class Evaluation:
    """What an evaluation did: the accounts it looked at, each plan's and promise's change of state
    (`{"visit_id","report_id","kind":"plan"|"promise","from","to"}`, `from` None when first evaluated), the
    feed events it wrote and the cases it sent back to dispatch. IDs and codes only."""

    accounts: list[str] = field(default_factory=list)
    moves: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)


def _payments(db: Database, visit_id: str, data: dict[str, Any]) -> list[Payment]:
    """Posted repayments, and the imported `repayment_history` payments on days no posted one covers (the
    loan system sends either; a day it sent both is counted once)."""
    out = [
        Payment(date.fromisoformat(d), Decimal(a))
        for d, a in db.conn.execute("SELECT paid_on, amount FROM repayments WHERE visit_id = ?", [visit_id])
    ]
    days = {p.paid_on for p in out}
    for h in (data.get("loan") or {}).get("repayment_history") or []:
        try:
            paid_on = date.fromisoformat(h["paid_on"]) if h.get("paid_on") else None
            amount = Decimal(h.get("amount_paid") or "0")
        except (ValueError, ArithmeticError):
            continue
        if paid_on is not None and amount > 0 and paid_on not in days:
            out.append(Payment(paid_on, amount))
    return out


def untracked_promise_state(
    db: Database,
    *,
    visit_id: str,
    data: dict[str, Any],
    promise: dict[str, Any],
    since: date,
    today: date,
    grace_days: int = DEFAULT_GRACE_DAYS,
) -> str:
    """§5.2 for a promise the tracker has not evaluated yet: the tracker's own rule over the same payments
    (those from `since`, the check-in day, up to the promise date plus grace)."""
    try:
        amount, when = Decimal(promise["amount"]), date.fromisoformat(promise["date"])
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return "open"
    payments = _payments(db, visit_id, data)
    return promise_status(amount, when, payments, since=since, today=today, grace_days=grace_days).state


def _reports(db: Database, visit_id: str) -> list[dict[str, Any]]:
    return list(
        db.query(
            "SELECT r.id, r.status, r.visit_id, r.visit_date, r.flags, r.investigator_id, r.updated_at, "
            "r.created_at, rv.body, rv.received_at, (SELECT MAX(c.at) FROM comments c WHERE c.report_id = r.id "
            "AND c.action = 'approve') AS approved_at FROM reports r "
            "LEFT JOIN report_versions rv ON rv.version_id = r.current_version_id "
            "WHERE r.visit_id = ? ORDER BY r.created_at, r.rowid",
            [visit_id],
        )
    )


def payments_since(report: dict[str, Any]) -> date:
    """Payments count from the visit's check-in day (its local date), or the day the report arrived: `report`
    holds `visit_date`, the current version's `received_at` and `created_at`."""
    return date.fromisoformat((report["visit_date"] or report["received_at"] or report["created_at"])[:10])


def _schedule(plan: Any, received_at: str | None) -> list[Due] | None:
    try:
        parsed = RepaymentPlan.model_validate(plan)
    except ValidationError:
        return None
    day = date.fromisoformat(received_at[:10]) if received_at else date.today()
    figures = plan_figures(parsed, today=day)
    if figures.preview is None:
        return None
    return [Due(r.due_date, r.payment) for r in figures.preview.schedule]


def _latest_plan(reports: list[dict[str, Any]]) -> dict[str, Any] | None:
    approved = [
        r
        for r in reports
        if r["status"] == "approved" and (loads(r["body"], {}) or {}).get("plan") is not None
    ]
    return max(approved, key=lambda r: r["approved_at"] or r["updated_at"] or "", default=None)


def _promise_of(report: dict[str, Any]) -> dict[str, Any] | None:
    body = loads(report["body"], {}) or {}
    return (body.get("interview") or {}).get("promise")


def evaluate_accounts(
    db: Database,
    *,
    visit_ids: Iterable[str],
    now: datetime,
    policy: TrackingPolicy,
    into: Evaluation | None = None,
) -> list[dict[str, Any]]:
    """Evaluate each account's latest approved plan and every promise; returns the feed events written
    (and records everything that changed in `into`, when given)."""
    found = into if into is not None else Evaluation()
    before = len(found.events)
    for vid in dict.fromkeys(visit_ids):
        found.accounts.append(vid)
        _evaluate_account(db, vid, now, policy, found)
    return found.events[before:]


def _evaluate_account(
    db: Database, visit_id: str, now: datetime, policy: TrackingPolicy, found: Evaluation
) -> None:
    visit = db.execute("SELECT id, status, data FROM visits WHERE id = ?", [visit_id]).fetchone()
    if visit is None:
        return
    data = loads(visit[2], {}) or {}
    today = today_of(now)
    ts = now.isoformat()
    reports = _reports(db, visit_id)
    payments = _payments(db, visit_id, data)
    changes: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    moved = False

    plan_report = _latest_plan(reports)
    if plan_report is not None:
        prev = db.execute(
            "SELECT state, paid FROM plan_tracking WHERE report_id = ?", [plan_report["id"]]
        ).fetchone()
        if prev is None or prev[0] not in _PLAN_FINAL:
            schedule = _schedule(
                (loads(plan_report["body"], {}) or {}).get("plan"), plan_report["received_at"]
            )
            if schedule is not None:
                st = plan_status(
                    schedule,
                    payments,
                    since=payments_since(plan_report),
                    today=today,
                    grace_days=policy.grace_days,
                )
                _store_plan(db, plan_report, st, ts)
                if prev is None or prev[0] != st.state:
                    found.moves.append(_move(visit_id, plan_report["id"], "plan", prev, st.state))
                if st.state == "lapsed":
                    changes.append(
                        ("plan_lapsed", plan_report, {"plan_status": _plan_json(plan_report["id"], st)})
                    )
                moved = moved or prev is None or (prev[0], prev[1]) != (st.state, str(st.paid))

    for r in reports:
        promise = _promise_of(r)
        if promise is None or r["status"] == "rejected":
            continue
        prev = db.execute("SELECT state FROM promise_tracking WHERE report_id = ?", [r["id"]]).fetchone()
        if prev is not None and prev[0] in _PROMISE_FINAL:
            continue
        try:
            amount, when = Decimal(promise["amount"]), date.fromisoformat(promise["date"])
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue
        ps = promise_status(
            amount, when, payments, since=payments_since(r), today=today, grace_days=policy.grace_days
        )
        db.execute(
            "INSERT INTO promise_tracking(report_id, visit_id, amount, date, state, updated_at) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT(report_id) DO UPDATE SET amount = excluded.amount, "
            "date = excluded.date, state = excluded.state, updated_at = excluded.updated_at",
            [r["id"], visit_id, str(amount), when.isoformat(), ps.state, ts],
        )
        if prev is None or prev[0] != ps.state:
            found.moves.append(_move(visit_id, r["id"], "promise", prev, ps.state))
            moved = True
        if ps.state == "broken":
            entry = {"report_id": r["id"], "amount": str(amount), "date": when.isoformat(), "state": "broken"}
            changes.append(("ptp_broken", r, {"promise": entry}))

    if changes:
        for kind, report, extra in changes:
            found.events.append(_feed_event(db, kind, report, extra, now, policy))
        _reopen(db, visit_id, visit[1], changes[0][0], changes[0][1]["id"], ts)
        found.reopened.append(visit_id)
    elif moved:
        # The collectors' devices show the account's plans and promises: tell them it changed.
        add_changes(db, collectors(db, visit_id), "visit", "put", visit_id)


def _move(visit_id: str, report_id: str, kind: str, prev: Any, to: str) -> dict[str, Any]:
    return {
        "visit_id": visit_id,
        "report_id": report_id,
        "kind": kind,
        "from": prev[0] if prev else None,
        "to": to,
    }


def _plan_json(report_id: str, st: PlanStatus) -> dict[str, Any]:
    return {"report_id": report_id, **st.as_json()}


def _store_plan(db: Database, report: dict[str, Any], st: PlanStatus, ts: str) -> None:
    db.execute(
        "INSERT INTO plan_tracking(report_id, visit_id, state, paid, due_to_date, missed, next_due_date, "
        "approved_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(report_id) DO UPDATE SET "
        "state = excluded.state, paid = excluded.paid, due_to_date = excluded.due_to_date, "
        "missed = excluded.missed, next_due_date = excluded.next_due_date, updated_at = excluded.updated_at",
        [
            report["id"],
            report["visit_id"],
            st.state,
            str(st.paid),
            str(st.due_to_date),
            st.missed,
            None if st.next_due_date is None else st.next_due_date.isoformat(),
            report["approved_at"],
            ts,
        ],
    )


def _reopen(db: Database, visit_id: str, status: str, reason: str, report_id: str, ts: str) -> None:
    """Back to dispatch: `open`, unassigned (the collectors' devices get a `del`), with the reason."""
    db.execute(
        "INSERT INTO account_reopened(visit_id, reason, report_id, at) VALUES (?,?,?,?) "
        "ON CONFLICT(visit_id) DO UPDATE SET reason = excluded.reason, report_id = excluded.report_id, "
        "at = excluded.at",
        [visit_id, reason, report_id, ts],
    )
    if status == "closed":
        return
    people = collectors(db, visit_id)
    if people:
        db.execute("UPDATE visit_assignees SET active = 0 WHERE visit_id = ?", [visit_id])
        add_changes(db, people, "visit", "del", visit_id)
        for (rid,) in db.execute("SELECT id FROM reports WHERE visit_id = ?", [visit_id]).fetchall():
            add_changes(db, people, "report_review", "del", rid)
    db.execute(
        "UPDATE visits SET status = 'open', planned_date = NULL, updated_at = ? WHERE id = ?", [ts, visit_id]
    )
    audit(
        db,
        at=ts,
        actor=None,
        action="visit.reopen",
        entity="visit",
        entity_id=visit_id,
        detail={"reason": reason, "report_id": report_id},
    )


# ---------------------------------------------------------------------------------------------------
# What risk management needs to decide: the feed's facts


def _visit_row(db: Database, visit_id: str) -> dict[str, Any] | None:
    rows = list(
        db.query(
            "SELECT id, external_id, team, status, bucket, outstanding, data FROM visits WHERE id = ?",
            [visit_id],
        )
    )
    return rows[0] if rows else None


def _report_row(db: Database, report_id: str) -> dict[str, Any] | None:
    rows = list(
        db.query(
            "SELECT r.id, r.status, r.visit_id, r.visit_date, r.flags, r.investigator_id, r.updated_at, "
            "r.created_at, rv.body, rv.received_at FROM reports r "
            "LEFT JOIN report_versions rv ON rv.version_id = r.current_version_id WHERE r.id = ?",
            [report_id],
        )
    )
    return rows[0] if rows else None


def _segment_of(
    db: Database, report: dict[str, Any], data: dict[str, Any], rules: RuleSettings
) -> tuple[dict[str, Any], str | None, str | None, str | None, dict[str, Any] | None]:
    """(reasons, willingness, ability, segment, the server's assessment) of one stored report."""
    body = loads(report["body"], {}) or {}
    iv = body.get("interview") or {}
    primary = iv.get("primary_reason")
    reasons = {"primary": primary, "others": [x for x in iv.get("reasons") or [] if x != primary]}
    willingness = iv.get("willingness")
    assessment = None
    found = evaluate_stored(
        db,
        report=body or None,
        visit_id=report["visit_id"],
        investigator_id=report["investigator_id"],
        received_at=report["received_at"],
        rules=rules,
    )
    if found is not None and found[2].assessment is not None:
        assessment = found[2].assessment.model_dump(mode="json")
    contractual = (data.get("loan") or {}).get("contractual_instalment")
    able = ability(
        Decimal(assessment["capacity"]) if assessment else None,
        Decimal(contractual) if contractual is not None else None,
    )
    return reasons, willingness, able, segment(willingness, able), assessment


def _recommendation(
    db: Database, visit: dict[str, Any], seg: str | None, policy: TrackingPolicy
) -> dict[str, Any]:
    data = loads(visit["data"], {}) or {}
    broken = db.execute(
        "SELECT COUNT(*) FROM promise_tracking WHERE visit_id = ? AND state = 'broken'", [visit["id"]]
    ).fetchone()[0]
    lapsed = db.execute(
        "SELECT 1 FROM plan_tracking WHERE visit_id = ? AND state = 'lapsed'", [visit["id"]]
    ).fetchone()
    facts = EscalationInputs(
        segment=seg,
        contact_lost=bool(data.get("contact_lost")),
        days_since_last_contact=data.get("days_since_last_contact"),
        # The loan system's own count and the server's are two views of one history: the larger stands.
        broken_promises=max(int(data.get("broken_ptp_count") or 0), int(broken)),
        plan_lapsed=lapsed is not None,
        bucket=int(visit["bucket"] or 0),
        balance=Decimal(visit["outstanding"] or "0"),
        fraud=bool(data.get("fraud_suspected")),
    )
    return recommendation(
        facts,
        contact_lost_days=policy.contact_lost_days,
        broken_promises=policy.broken_promises,
        min_bucket=policy.high_bucket,
        high_balance=policy.high_balance,
    )


def report_facts(db: Database, *, report_id: str, policy: TrackingPolicy) -> dict[str, Any]:
    """The facts every feed event carries for a report: reasons, willingness, ability, segment, the
    server's assessment, the promise (with its state) and the §5.5 recommendation for the account."""
    report = _report_row(db, report_id)
    visit = _visit_row(db, report["visit_id"]) if report else None
    if report is None or visit is None:
        return {
            "reasons": {"primary": None, "others": []},
            "willingness": None,
            "ability": None,
            "segment": None,
            "assessment": None,
            "promise": None,
            "recommendation": {"escalate_legal": False, "reasons": []},
        }
    data = loads(visit["data"], {}) or {}
    reasons, willingness, able, seg, assessment = _segment_of(db, report, data, policy.rules)
    promise = None
    raw = _promise_of(report)
    if raw is not None:
        state = db.execute("SELECT state FROM promise_tracking WHERE report_id = ?", [report_id]).fetchone()
        promise = {
            "report_id": report_id,
            "amount": raw.get("amount"),
            "date": raw.get("date"),
            "state": state[0] if state else "open",
        }
    return {
        "reasons": reasons,
        "willingness": willingness,
        "ability": able,
        "segment": seg,
        "assessment": assessment,
        "promise": promise,
        "recommendation": _recommendation(db, visit, seg, policy),
    }


def _feed_event(
    db: Database,
    kind: str,
    report: dict[str, Any],
    extra: dict[str, Any],
    now: datetime,
    policy: TrackingPolicy,
) -> dict[str, Any]:
    visit = _visit_row(db, report["visit_id"])
    assert visit is not None
    body = loads(report["body"], {}) or {}
    data = {
        "plan": body.get("plan"),
        "route": None,
        "comment": None,
        "flags": loads(report["flags"], []),
        "sign_off_reason": None,
        **report_facts(db, report_id=report["id"], policy=policy),
        **extra,
    }
    db.execute(
        "INSERT INTO feed(type, report_id, visit_id, external_id, team, at, data) VALUES (?,?,?,?,?,?,?)",
        [kind, report["id"], visit["id"], visit["external_id"], visit["team"], now.isoformat(), dumps(data)],
    )
    log.info("feed %s for report %s", kind, report["id"])
    return {"type": kind, "report_id": report["id"], "visit_id": visit["id"], "data": data}


# ---------------------------------------------------------------------------------------------------
# Sweeps and views


def sweep(db: Database, *, now: datetime, policy: TrackingPolicy, force: bool = False) -> Evaluation:
    """Evaluate the accounts that may have moved: every open plan and promise once a business day (or
    whenever `force`d), and between, the accounts whose reports changed since the last sweep. Returns what
    the evaluation did (nothing when no report changed since the day's sweep)."""
    found = Evaluation()
    today = today_of(now).isoformat()
    mark = db.execute("SELECT MAX(updated_at) FROM reports").fetchone()[0] or ""
    last_day, _, last_mark = (get_meta(db, "tracking_sweep") or "").partition("|")
    if not force and last_day == today and last_mark == mark:
        return found
    if force or last_day != today:
        rows = db.execute(
            "SELECT DISTINCT r.visit_id FROM reports r JOIN report_versions rv ON rv.version_id = r.current_version_id "
            "WHERE r.status != 'rejected' AND ((r.status = 'approved' AND json_extract(rv.body, '$.plan') IS NOT NULL "
            " AND NOT EXISTS (SELECT 1 FROM plan_tracking p WHERE p.report_id = r.id AND p.state IN ('lapsed', 'completed'))) "
            "OR (json_extract(rv.body, '$.interview.promise') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM promise_tracking p "
            " WHERE p.report_id = r.id AND p.state IN ('kept', 'broken'))))"
        ).fetchall()
    else:
        rows = db.execute(
            "SELECT DISTINCT visit_id FROM reports WHERE updated_at > ?", [last_mark]
        ).fetchall()
    evaluate_accounts(db, visit_ids=[r[0] for r in rows], now=now, policy=policy, into=found)
    set_meta(db, "tracking_sweep", f"{today}|{mark}")
    return found


def _plans_and_promises(db: Database, visit_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    plans = [
        {
            "report_id": r["report_id"],
            "state": r["state"],
            "paid": r["paid"],
            "due_to_date": r["due_to_date"],
            "missed": r["missed"],
            "next_due_date": r["next_due_date"],
            "approved_at": r["approved_at"],
        }
        for r in db.query(
            "SELECT * FROM plan_tracking WHERE visit_id = ? ORDER BY approved_at DESC, report_id", [visit_id]
        )
    ]
    promises = [
        {"report_id": r["report_id"], "amount": r["amount"], "date": r["date"], "state": r["state"]}
        for r in db.query(
            "SELECT * FROM promise_tracking WHERE visit_id = ? ORDER BY date, report_id", [visit_id]
        )
    ]
    return plans, promises


def device_tracking(db: Database, visit_ids: Iterable[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Each account's `plans` (newest approval first) and `promises` (by date) as the collectors' devices
    receive them with the visit, as last evaluated; one query per table for a whole page of visits."""
    ids = dumps(list(dict.fromkeys(visit_ids)))
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in db.query(
        "SELECT visit_id, report_id, state, paid, due_to_date, missed, next_due_date, approved_at "
        "FROM plan_tracking WHERE visit_id IN (SELECT value FROM json_each(?)) "
        "ORDER BY visit_id, approved_at DESC, report_id",
        [ids],
    ):
        vid = r.pop("visit_id")
        out.setdefault(vid, {"plans": [], "promises": []})["plans"].append(r)
    for r in db.query(
        "SELECT visit_id, report_id, amount, date, state FROM promise_tracking "
        "WHERE visit_id IN (SELECT value FROM json_each(?)) ORDER BY visit_id, date, report_id",
        [ids],
    ):
        vid = r.pop("visit_id")
        out.setdefault(vid, {"plans": [], "promises": []})["promises"].append(r)
    return out


def account_view(db: Database, *, visit_id: str, policy: TrackingPolicy) -> dict[str, Any]:
    """`plan_status` (the latest approved plan), `plans` (every approved plan, newest first), `promises`, the
    §5.4 segment and §5.5 recommendation of the latest report, and why the case was reopened."""
    visit = _visit_row(db, visit_id)
    if visit is None:
        return {}
    plans, promises = _plans_and_promises(db, visit_id)
    reports = _reports(db, visit_id)
    latest = _latest_plan(reports)
    current = next((p for p in plans if latest is not None and p["report_id"] == latest["id"]), None)
    plan_state = None
    if current is not None:
        plan_state = {
            k: current[k] for k in ("report_id", "state", "paid", "due_to_date", "missed", "next_due_date")
        }
    data = loads(visit["data"], {}) or {}
    seg = None
    if reports:
        _r, _w, _a, seg, _s = _segment_of(db, reports[-1], data, policy.rules)
    reopened = db.execute(
        "SELECT reason, report_id, at FROM account_reopened WHERE visit_id = ?", [visit_id]
    ).fetchone()
    return {
        "plan_status": plan_state,
        "plans": plans,
        "promises": promises,
        "segment": seg,
        "recommendation": _recommendation(db, visit, seg, policy),
        "reopened": None
        if reopened is None
        else {"reason": reopened[0], "report_id": reopened[1], "at": reopened[2]},
        "contact_stop": contact_stop(db, visit_id),
    }


def tracking_board(
    db: Database, *, actor: Principal, policy: TrackingPolicy, team: str | None = None
) -> dict[str, Any]:
    """The desk's dashboard: plans and promises in the caller's scope with their states, the accounts
    reopened for dispatch, and the accounts whose recommendation is legal escalation."""
    if actor.is_admin:
        where, args = ("v.team = ?", [team]) if team else ("1 = 1", [])
    else:
        where, args = "v.team = ?", [actor.team]
    plans = [
        dict(r)
        for r in db.query(
            "SELECT p.report_id, p.visit_id, v.external_id, p.state, p.paid, p.due_to_date, p.missed, "
            f"p.next_due_date FROM plan_tracking p JOIN visits v ON v.id = p.visit_id WHERE {where} "
            "ORDER BY CASE p.state WHEN 'lapsed' THEN 0 WHEN 'missed_1' THEN 1 ELSE 2 END, p.updated_at DESC "
            "LIMIT 200",
            args,
        )
    ]
    promises = [
        dict(r)
        for r in db.query(
            "SELECT p.report_id, p.visit_id, v.external_id, p.amount, p.date, p.state FROM promise_tracking p "
            f"JOIN visits v ON v.id = p.visit_id WHERE {where} "
            "ORDER BY CASE p.state WHEN 'broken' THEN 0 WHEN 'open' THEN 1 ELSE 2 END, p.date DESC LIMIT 200",
            args,
        )
    ]
    counts = {
        "plans": {s: 0 for s in ("performing", "missed_1", "lapsed", "completed")},
        "promises": {s: 0 for s in ("open", "kept", "broken")},
    }
    for state, n in db.execute(
        f"SELECT p.state, COUNT(*) FROM plan_tracking p JOIN visits v ON v.id = p.visit_id WHERE {where} "
        "GROUP BY p.state",
        args,
    ).fetchall():
        counts["plans"][state] = n
    for state, n in db.execute(
        f"SELECT p.state, COUNT(*) FROM promise_tracking p JOIN visits v ON v.id = p.visit_id WHERE {where} "
        "GROUP BY p.state",
        args,
    ).fetchall():
        counts["promises"][state] = n
    accounts = {p["visit_id"] for p in plans} | {p["visit_id"] for p in promises}
    reopened = [
        dict(r)
        for r in db.query(
            "SELECT a.visit_id, v.external_id, a.reason, a.report_id, a.at FROM account_reopened a "
            f"JOIN visits v ON v.id = a.visit_id WHERE {where} AND v.status = 'open' ORDER BY a.at DESC LIMIT 200",
            args,
        )
    ]
    accounts |= {r["visit_id"] for r in reopened}
    recommended = []
    for vid in sorted(accounts):
        view = account_view(db, visit_id=vid, policy=policy)
        if view and view["recommendation"]["escalate_legal"]:
            ext = db.execute("SELECT external_id FROM visits WHERE id = ?", [vid]).fetchone()
            recommended.append(
                {
                    "visit_id": vid,
                    "external_id": ext[0] if ext else None,
                    "segment": view["segment"],
                    "reasons": view["recommendation"]["reasons"],
                }
            )
    return {
        "counts": counts,
        "plans": plans,
        "promises": promises,
        "reopened": reopened,
        "recommended": recommended,
    }


# ---------------------------------------------------------------------------------------------------
# The same facts as columns of risk.csv

RISK_CSV_FACTS = [
    "primary_reason",
    "other_reasons",
    "willingness",
    "ability",
    "segment",
    "net_income",
    "disposable_income",
    "capacity",
    "dsr_after",
    "verdict",
    "promise_amount",
    "promise_date",
    "promise_state",
    "plan_state",
    "plan_missed",
    "escalate_legal",
    "recommendation_reasons",
]


def risk_csv_facts(data: dict[str, Any]) -> list[str]:
    """A feed event's facts as the cells of `RISK_CSV_FACTS` (empty where the event has none)."""
    reasons = data.get("reasons") or {}
    assessment = data.get("assessment") or {}
    promise = data.get("promise") or {}
    plan_status = data.get("plan_status") or {}
    rec = data.get("recommendation") or {}
    return [
        reasons.get("primary") or "",
        " ".join(reasons.get("others") or []),
        data.get("willingness") or "",
        data.get("ability") or "",
        data.get("segment") or "",
        assessment.get("net_income") or "",
        assessment.get("disposable_income") or "",
        assessment.get("capacity") or "",
        assessment.get("dsr_after") or "",
        assessment.get("verdict") or "",
        promise.get("amount") or "",
        promise.get("date") or "",
        promise.get("state") or "",
        plan_status.get("state") or "",
        "" if plan_status.get("missed") is None else str(plan_status["missed"]),
        "true" if rec.get("escalate_legal") else "false",
        " ".join(rec.get("reasons") or []),
    ]
