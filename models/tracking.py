"""Plans and promises followed after the visit (domain §5.2, §5.4, §5.5, P-6; protocol.md v1.1
"Repayments, plans and promises tracked"): what the loan system's repayments say about an approved plan's
instalments and a promise to pay, the willingness × ability segment, and the legal-escalation
recommendation. Pure: the caller passes the payments, the schedule and the clock's date.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from models.money import ZERO, fmt_money

__all__ = [
    "DEFAULT_GRACE_DAYS",
    "RECOMMENDATION_REASONS",
    "Due",
    "EscalationInputs",
    "Payment",
    "PlanStatus",
    "PromiseStatus",
    "ability",
    "plan_status",
    "promise_status",
    "recommendation",
    "segment",
]

DEFAULT_GRACE_DAYS = 3  # §5.2: a promise (and an instalment) counts as paid when it arrives within 3 days

PlanState = Literal["performing", "missed_1", "lapsed", "completed"]
PromiseState = Literal["open", "kept", "broken"]

#: §5.5 conditions, in the order the recommendation lists them.
RECOMMENDATION_REASONS = (
    "unwilling_able",
    "contact_lost_30d",
    "broken_ptp_2",
    "plan_lapsed",
    "late_bucket_high_balance",
    "fraud",
)


@dataclass(frozen=True, slots=True)
class Payment:
    """One repayment the loan system received, by the day it was paid."""

    paid_on: date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Due:
    """One instalment of an approved plan."""

    due_date: date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PlanStatus:
    state: PlanState
    paid: Decimal
    due_to_date: Decimal
    missed: int
    next_due_date: date | None

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "paid": fmt_money(self.paid),
            "due_to_date": fmt_money(self.due_to_date),
            "missed": self.missed,
            "next_due_date": None if self.next_due_date is None else self.next_due_date.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class PromiseStatus:
    state: PromiseState
    paid: Decimal


def _paid_between(payments: Iterable[Payment], start: date, end: date | None = None) -> Decimal:
    return sum(
        (p.amount for p in payments if p.paid_on >= start and (end is None or p.paid_on <= end)),
        ZERO,
    )


def plan_status(
    schedule: Sequence[Due],
    payments: Iterable[Payment],
    *,
    since: date,
    today: date,
    grace_days: int = DEFAULT_GRACE_DAYS,
    lapsed_before: bool = False,
) -> PlanStatus:
    """P-6 for one approved plan. Payments dated on or after `since` (the visit's check-in date) fill the
    instalments oldest first; an instalment still unpaid more than `grace_days` after its due date is
    missed. Filling oldest first leaves the unpaid ones at the end, so two missed are two in a row:
    0 → performing, 1 → missed_1, 2 or more → lapsed. A lapse is final (`lapsed_before`), even when the
    household pays afterwards; a plan paid in full is completed."""
    dues = sorted((d for d in schedule if d.amount > 0), key=lambda d: d.due_date)
    paid = _paid_between(payments, since)
    left = paid
    missed = 0
    due_to_date = ZERO
    next_due: date | None = None
    for d in dues:
        covered = min(left, d.amount)
        left -= covered
        if d.due_date <= today:
            due_to_date += d.amount
        if covered < d.amount:
            if next_due is None:
                next_due = d.due_date
            if today > d.due_date + timedelta(days=grace_days):
                missed += 1
    total = sum((d.amount for d in dues), ZERO)
    state: PlanState
    if lapsed_before or missed >= 2:
        state = "lapsed"
    elif paid >= total:
        state = "completed"
    elif missed == 1:
        state = "missed_1"
    else:
        state = "performing"
    return PlanStatus(state, paid, due_to_date, missed, next_due)


def promise_status(
    amount: Decimal,
    promise_date: date,
    payments: Iterable[Payment],
    *,
    since: date,
    today: date,
    grace_days: int = DEFAULT_GRACE_DAYS,
) -> PromiseStatus:
    """§5.2: kept when the payments dated from `since` (the check-in date) to the promise date plus grace
    sum to the amount; broken once that day has passed without it; open until then."""
    paid = _paid_between(payments, since, promise_date + timedelta(days=grace_days))
    if paid >= amount:
        return PromiseStatus("kept", paid)
    if today > promise_date + timedelta(days=grace_days):
        return PromiseStatus("broken", paid)
    return PromiseStatus("open", paid)


def ability(capacity: Decimal | None, contractual_instalment: Decimal | None) -> str | None:
    """§5.4: `able` when the server's capacity covers the loan's contractual instalment; None without both."""
    if capacity is None or contractual_instalment is None:
        return None
    return "able" if capacity >= contractual_instalment else "unable"


def segment(willingness: str | None, able: str | None) -> str | None:
    """§5.4 quadrant: `refuses` is unwilling, `cooperative` and `hesitant` willing; None when either is."""
    if willingness is None or able is None:
        return None
    willing = "unwilling" if willingness == "refuses" else "willing"
    return f"{willing}_{able}"


@dataclass(frozen=True, slots=True)
class EscalationInputs:
    """What §5.5 looks at for one account."""

    segment: str | None = None
    contact_lost: bool = False
    days_since_last_contact: int | None = None
    broken_promises: int = 0
    plan_lapsed: bool = False
    bucket: int = 0
    balance: Decimal = ZERO
    fraud: bool = False


def recommendation(
    facts: EscalationInputs,
    *,
    contact_lost_days: int = 30,
    broken_promises: int = 2,
    min_bucket: int = 4,
    high_balance: Decimal = Decimal("30000.00"),
) -> dict[str, Any]:
    """§5.5 `{"escalate_legal": bool, "reasons": [codes]}`: a recommendation for the supervisor and risk
    management, never a decision."""
    reasons: list[str] = []
    if facts.segment == "unwilling_able":
        reasons.append("unwilling_able")
    if facts.contact_lost and (facts.days_since_last_contact or 0) > contact_lost_days:
        reasons.append("contact_lost_30d")
    if facts.broken_promises >= broken_promises:
        reasons.append("broken_ptp_2")
    if facts.plan_lapsed:
        reasons.append("plan_lapsed")
    if facts.bucket >= min_bucket and facts.balance >= high_balance:
        reasons.append("late_bucket_high_balance")
    if facts.fraud:
        reasons.append("fraud")
    return {"escalate_legal": bool(reasons), "reasons": reasons}
