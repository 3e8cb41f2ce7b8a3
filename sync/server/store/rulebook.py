"""The rule book as the desk reads it: the server's own assessment, the device's figures beside it, every
problem of the current version and what approving it needs (protocol.md v1.1 "The server's rule book")."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlite_utils import Database

from models.codes import ProductType
from models.report import VisitReport
from models.rules import (
    DEFAULT_SETTINGS,
    CaseContext,
    Evaluation,
    RuleSettings,
    evaluate,
    household_assessment,
    sign_off_needed,
)
from sync.server.store.push import _VISIT_CASE_SQL, case_context
from sync.server.store.state import collectors

__all__ = ["evaluate_stored", "report_rules"]


def evaluate_stored(
    db: Database,
    *,
    report: dict[str, Any] | None,
    visit_id: str,
    investigator_id: str | None,
    received_at: str | None,
    rules: RuleSettings = DEFAULT_SETTINGS,
) -> tuple[VisitReport, CaseContext, Evaluation] | None:
    """The rule book on a stored version with its visit's case as it stands; None when there is nothing to
    evaluate (no version, a visit gone, or a body stored before today's shape rules — its flags stand)."""
    if report is None:
        return None
    try:
        parsed = VisitReport.model_validate(report)
    except ValidationError:
        return None
    row = db.conn.execute(f"SELECT {_VISIT_CASE_SQL} FROM visits WHERE id = ?", [visit_id]).fetchone()
    if row is None:
        return None
    assigned = collectors(db, visit_id)
    case = case_context(row, assigned=assigned, caller_active=investigator_id in assigned)
    # Plans without a first due date start a month after they arrived, as the push evaluated them.
    today = date.fromisoformat(received_at[:10]) if received_at else date.today()
    return parsed, case, evaluate(parsed, case, rules, today=today)


def report_rules(
    db: Database,
    *,
    report: dict[str, Any] | None,
    visit_id: str,
    investigator_id: str | None,
    received_at: str | None,
    flags: list[str],
    rules: RuleSettings = DEFAULT_SETTINGS,
) -> dict[str, Any]:
    """`server_assessment`, `device_assessment`, `rules` and `sign_off` for a report's current version.
    Approval is gated by the flags stored when the version arrived (`flags`), which `sign_off` reports."""
    required, blocked = sign_off_needed(flags)
    out: dict[str, Any] = {
        "server_assessment": None,
        "device_assessment": None,
        "rules": [],
        "sign_off": {"required": required, "blocked": blocked},
    }
    found = evaluate_stored(
        db,
        report=report,
        visit_id=visit_id,
        investigator_id=investigator_id,
        received_at=received_at,
        rules=rules,
    )
    if found is None:
        return out
    parsed, case, ev = found
    out["rules"] = [p.as_json() for p in ev.problems]
    if ev.assessment is not None:
        out["server_assessment"] = ev.assessment.model_dump(mode="json")
    if parsed.assessment is not None:
        plan = parsed.plan
        product = case.product_type or (plan.product_type if plan else ProductType.CASH_LOAN)
        device = household_assessment(
            parsed.assessment,
            instalment=(plan.instalment if plan and plan.instalment is not None else 0),  # type: ignore[arg-type]
            max_term=rules.product_max_term(product),
            settings=None,
        )
        out["device_assessment"] = {
            "net_income": str(device.net_income),
            "essential_expenses": str(device.essential_expenses),
            "debt_service": str(device.debt_service),
            "disposable_income": str(device.disposable_income),
            "capacity": str(device.capacity),
            "dsr_after": None if device.dsr_after is None else str(device.dsr_after),
            "verdict": "hardship" if device.hardship else device.verdict,
        }
    return out
