"""The contact rules that protect the borrower (domain R-11, R-13, R-14) and the queue exclusions of §6.3,
as the assignment and the dispatch suggestion apply them; each refusal names its rule and says why."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlite_utils import Database

from models.messages import render
from sync.server.errors import ApiError
from sync.server.store.common import Principal, audit, loads
from sync.server.store.state import visit_visible

__all__ = [
    "FAILED_ATTEMPT_OUTCOMES",
    "clear_contact_stop",
    "contact_problems",
    "contact_stop",
    "dispatch_exclusion",
]

#: Outcomes of an attempt that did not reach the debtor (R-11 counts them in a row).
FAILED_ATTEMPT_OUTCOMES = frozenset(
    {
        "NO_ONE_HOME",
        "MOVED",
        "ADDRESS_INVALID",
        "ACCESS_DENIED",
        "MET_FAMILY",
        "MET_THIRD_PARTY",
        "ABORTED_UNSAFE",
    }
)


def contact_stop(db: Database, visit_id: str) -> dict[str, Any] | None:
    """The R-14 stop in force on an account, or None: a report recording a refusal of further contact
    (`REFUSED_CONTACT`) or a dispute (`DISPUTE`), or the loan system's `contact_stopped`, received after
    the last time a supervisor cleared the account."""
    cleared = db.execute(
        "SELECT MAX(at) FROM contact_events WHERE visit_id = ? AND kind = 'clear'", [visit_id]
    ).fetchone()[0]
    after = cleared or ""
    found = db.execute(
        "SELECT r.id, r.outcome, rv.received_at, EXISTS (SELECT 1 FROM json_each(rv.body, '$.interview.results') "
        "WHERE value = 'DISPUTE') FROM reports r JOIN report_versions rv ON rv.version_id = r.current_version_id "
        "WHERE r.visit_id = ? AND rv.received_at > ? AND (r.outcome = 'REFUSED_CONTACT' OR EXISTS (SELECT 1 FROM "
        "json_each(rv.body, '$.interview.results') WHERE value = 'DISPUTE')) ORDER BY rv.received_at DESC LIMIT 1",
        [visit_id, after],
    ).fetchone()
    if found is not None:
        source = "refused_contact" if found[1] == "REFUSED_CONTACT" else "dispute"
        return {"rule": "R-14", "source": source, "report_id": found[0], "since": found[2]}
    imported = db.execute(
        "SELECT at FROM contact_events WHERE visit_id = ? AND kind = 'stop' AND at > ? ORDER BY id DESC LIMIT 1",
        [visit_id, after],
    ).fetchone()
    if imported is not None:
        return {"rule": "R-14", "source": "loan_system", "report_id": None, "since": imported[0]}
    return None


def _failed_in_a_row(db: Database, visit_id: str) -> int:
    n = 0
    for (outcome,) in db.execute(
        "SELECT outcome FROM reports WHERE visit_id = ? ORDER BY COALESCE(visited_at, created_at) DESC, rowid DESC",
        [visit_id],
    ).fetchall():
        if outcome not in FAILED_ATTEMPT_OUTCOMES:
            break
        n += 1
    return n


def contact_problems(
    db: Database,
    *,
    visit: dict[str, Any],
    planned: date | None,
    purpose: str,
    policy: Any,
    lang: str = "en",
) -> list[dict[str, str]]:
    """Why a visit may not be planned: `[{"rule", "code", "msg"}]`, empty when every rule allows it."""
    out: list[dict[str, str]] = []
    vid = visit["id"]
    stop = contact_stop(db, vid)
    if stop is not None:
        out.append(
            {
                "rule": "R-14",
                "code": stop["source"],
                "msg": render("contact.r14_refused", lang, source=stop["source"]),
            }
        )
    if planned is not None:
        day = planned.isoformat()
        n_day = db.execute(
            "SELECT COUNT(*) FROM reports WHERE visit_id = ? AND visit_date = ?", [vid, day]
        ).fetchone()[0]
        if n_day >= policy.visits_per_day:
            out.append(
                {
                    "rule": "R-13",
                    "code": "visited_that_day",
                    "msg": render("contact.r13_day", lang, date=day, cap=policy.visits_per_day),
                }
            )
        month = day[:7]
        n_month = db.execute(
            "SELECT COUNT(*) FROM reports WHERE visit_id = ? AND substr(visit_date, 1, 7) = ?", [vid, month]
        ).fetchone()[0]
        if n_month >= policy.visits_per_month:
            out.append(
                {
                    "rule": "R-13",
                    "code": "monthly_cap",
                    "msg": render(
                        "contact.r13_month", lang, month=month, count=n_month, cap=policy.visits_per_month
                    ),
                }
            )
    if purpose == "third_party":
        data = loads(visit.get("data"), {}) or {}
        failed = _failed_in_a_row(db, vid)
        unreachable = (
            bool(data.get("phone_invalid"))
            or bool(data.get("deceased"))
            or failed >= policy.unreachable_attempts
        )
        if not unreachable:
            out.append(
                {
                    "rule": "R-11",
                    "code": "debtor_reachable",
                    "msg": render(
                        "contact.r11_reachable", lang, attempts=policy.unreachable_attempts, failed=failed
                    ),
                }
            )
    return out


def dispatch_exclusion(
    db: Database, *, visit: dict[str, Any], day: date, policy: Any, lang: str = "en"
) -> str | None:
    """Why the dispatch suggestion leaves an open visit out (§6.3 and the contact rules), or None."""
    data = loads(visit.get("data"), {}) or {}
    problems = contact_problems(db, visit=visit, planned=day, purpose="debtor", policy=policy, lang=lang)
    if problems:
        return problems[0]["msg"]
    vid = visit["id"]
    last = db.execute(
        "SELECT outcome FROM reports WHERE visit_id = ? ORDER BY COALESCE(visited_at, created_at) DESC LIMIT 1",
        [vid],
    ).fetchone()
    if data.get("deceased") or (last is not None and last[0] == "DECEASED_OR_INCAPACITATED"):
        return render("exclude.deceased", lang)
    if data.get("legal_hold"):
        return render("exclude.legal_hold", lang)
    plan = db.execute(
        "SELECT state FROM plan_tracking WHERE visit_id = ? ORDER BY approved_at DESC LIMIT 1", [vid]
    ).fetchone()
    if (plan is not None and plan[0] in ("performing", "missed_1")) or (
        plan is None and data.get("active_plan_current")
    ):
        return render("exclude.active_plan", lang)
    return None


def clear_contact_stop(
    db: Database, *, actor: Principal, visit_id: str, comment: str, now: datetime
) -> dict[str, Any]:
    """A supervisor lifts the R-14 stop (audited with the comment); 404 outside scope, 403 for investigators,
    422 without a comment."""
    rows = list(db.query("SELECT id, team FROM visits WHERE id = ?", [visit_id]))
    if not rows or not visit_visible(db, actor, visit_id, rows[0]["team"]):
        raise ApiError(404, "not_found", "no such visit")
    if actor.is_investigator:
        raise ApiError(403, "forbidden", "only a supervisor or an admin may clear a contact stop")
    comment = (comment or "").strip()
    if not comment:
        raise ApiError(
            422,
            "validation",
            "clearing a contact stop needs a comment",
            [{"loc": ["body", "comment"], "msg": "required: why the borrower may be contacted again"}],
        )
    before = contact_stop(db, visit_id)
    ts = now.isoformat()
    db.execute(
        "INSERT INTO contact_events(visit_id, kind, source, at, actor_id, comment) VALUES (?, 'clear', 'supervisor', ?, ?, ?)",
        [visit_id, ts, actor.user_id, comment],
    )
    audit(
        db,
        at=ts,
        actor=actor,
        action="visit.clear_contact_stop",
        entity="visit",
        entity_id=visit_id,
        detail={"cleared": before["source"] if before else None},
    )
    return {"visit_id": visit_id, "cleared": before, "contact_stop": contact_stop(db, visit_id), "at": ts}
