"""Delinquency and case triage (domain §5.4, §5.5, §6): DPD, buckets, visit priority, escalation; promises to pay
(§5.2) are judged in `models.tracking`.

Pure functions with configurable weights; the server ranks the visit queue with them and the app shows
the same figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.codes import Willingness
from models.money import ZERO, NonNegMoney

__all__ = [
    "DEFAULT_ESCALATION",
    "DEFAULT_WEIGHTS",
    "EscalationDecision",
    "EscalationPolicy",
    "PriorityWeights",
    "RepaymentRow",
    "Segment",
    "SegmentResult",
    "bucket",
    "bucket_label",
    "dpd",
    "dpd_from_history",
    "is_able",
    "is_willing",
    "priority_score",
    "segment",
    "should_escalate_legal",
]


# ---------------------------------------------------------------------------------------------------
# B-1, B-2: days past due and buckets


def dpd(as_of: date, earliest_unpaid_due: date | None) -> int:
    """B-1: calendar days from the earliest unpaid due date; 0 when nothing is past due."""
    if earliest_unpaid_due is None:
        return 0
    return max(0, (as_of - earliest_unpaid_due).days)


class RepaymentRow(BaseModel):
    """One contractual instalment and what was paid against it (import `repayment_history`)."""

    model_config = ConfigDict(extra="ignore")

    due_date: date
    amount_due: NonNegMoney
    amount_paid: NonNegMoney = ZERO
    paid_on: date | None = None


def dpd_from_history(history: Iterable[RepaymentRow | Mapping[str, Any]], as_of: date) -> int:
    """B-1 from a repayment history: a partly paid instalment stays unpaid, so it keeps DPD running.

    A payment made after `as_of` did not exist on that date and is ignored.
    """
    earliest: date | None = None
    for raw in history:
        row = raw if isinstance(raw, RepaymentRow) else RepaymentRow.model_validate(raw)
        if row.due_date >= as_of:
            continue
        paid = row.amount_paid if row.paid_on is None or row.paid_on <= as_of else ZERO
        if paid < row.amount_due and (earliest is None or row.due_date < earliest):
            earliest = row.due_date
    return dpd(as_of, earliest)


def bucket(days_past_due: int) -> int:
    """B-2: 0 for current, else min(7, ceil(DPD/30)); 7 means M7+."""
    if days_past_due <= 0:
        return 0
    return min(7, -(-days_past_due // 30))


def bucket_label(b: int) -> str:
    """B-2: "M0" … "M6", "M7+"."""
    if not 0 <= b <= 7:
        raise ValueError("bucket must be 0..7")
    return "M7+" if b == 7 else f"M{b}"


# ---------------------------------------------------------------------------------------------------
# §6.3 visit priority


class PriorityWeights(BaseModel):
    """§6.3 weights; the defaults are the domain's, the lender may tune them."""

    model_config = ConfigDict(frozen=True)

    bucket: Decimal = Decimal(30)
    balance: Decimal = Decimal(25)
    balance_cap: Decimal = Decimal(50000)
    broken_ptp: Decimal = Decimal(15)
    broken_ptp_cap: Decimal = Decimal(2)
    contact_lost: Decimal = Decimal(15)
    recency: Decimal = Decimal(10)
    recency_cap_days: Decimal = Decimal(30)
    active_plan: Decimal = Decimal(20)
    bucket_weights: dict[int, Decimal] = Field(
        default_factory=lambda: {
            0: Decimal(0),
            1: Decimal("0.2"),
            2: Decimal("0.5"),
            3: Decimal("0.8"),
            4: Decimal(1),
            5: Decimal(1),
            6: Decimal(1),
            7: Decimal("0.6"),
        }
    )


DEFAULT_WEIGHTS = PriorityWeights()


def _capped(value: Decimal, cap: Decimal) -> Decimal:
    return min(Decimal(1), max(ZERO, value) / cap) if cap > 0 else ZERO


def priority_score(
    *,
    bucket: int,
    balance: Decimal,
    broken_ptp: int = 0,
    contact_lost: bool = False,
    days_since_last_contact: int = 0,
    active_plan_current: bool = False,
    weights: PriorityWeights = DEFAULT_WEIGHTS,
) -> Decimal:
    """§6.3 visit priority, higher first; rounded to 0.01 so queue ordering is stable across machines."""
    w = weights
    score = (
        w.bucket * w.bucket_weights.get(bucket, ZERO)
        + w.balance * _capped(Decimal(balance), w.balance_cap)
        + w.broken_ptp * _capped(Decimal(broken_ptp), w.broken_ptp_cap)
        + (w.contact_lost if contact_lost else ZERO)
        + w.recency * _capped(Decimal(days_since_last_contact), w.recency_cap_days)
        - (w.active_plan if active_plan_current else ZERO)
    )
    return score.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------------------------------
# §5.4 ability × willingness, §5.5 escalation


class Segment(StrEnum):
    WILLING_ABLE = "willing_able"
    WILLING_UNABLE = "willing_unable"
    UNWILLING_ABLE = "unwilling_able"
    UNWILLING_UNABLE = "unwilling_unable"


# §5.4 treatments per quadrant, as codes the UI translates.
_TREATMENT = {
    Segment.WILLING_ABLE: "self_cure_ptp",
    Segment.WILLING_UNABLE: "restructure",
    Segment.UNWILLING_ABLE: "notice_and_legal_review",
    Segment.UNWILLING_UNABLE: "verify_hardship_settle_or_token",
}


@dataclass(frozen=True)
class SegmentResult:
    segment: Segment
    able: bool
    willing: bool
    treatment: str


def is_able(capacity: Decimal, contractual_instalment: Decimal) -> bool:
    """§5.4: able when the assessed capacity covers the contractual instalment."""
    return capacity >= contractual_instalment


def is_willing(willingness: Willingness, broken_ptp: int = 0, *, broken_ptp_limit: int = 2) -> bool:
    """§5.4: the investigator's rating, tempered by the PTP record (repeated broken promises count
    against a cooperative rating; any broken promise tips a hesitant one)."""
    if willingness is Willingness.REFUSES:
        return False
    if willingness is Willingness.HESITANT:
        return broken_ptp == 0
    return broken_ptp < broken_ptp_limit


def segment(
    *,
    capacity: Decimal,
    contractual_instalment: Decimal,
    willingness: Willingness,
    broken_ptp: int = 0,
) -> SegmentResult:
    """§5.4 2×2 quadrant with its default treatment."""
    able = is_able(capacity, contractual_instalment)
    willing = is_willing(willingness, broken_ptp)
    if willing:
        seg = Segment.WILLING_ABLE if able else Segment.WILLING_UNABLE
    else:
        seg = Segment.UNWILLING_ABLE if able else Segment.UNWILLING_UNABLE
    return SegmentResult(segment=seg, able=able, willing=willing, treatment=_TREATMENT[seg])


class EscalationPolicy(BaseModel):
    """§5.5 thresholds; lender policy, so configurable."""

    model_config = ConfigDict(frozen=True)

    contact_lost_days: int = 30
    broken_ptp: int = 2
    min_bucket: int = 4
    balance_threshold: Decimal = Decimal("10000.00")


DEFAULT_ESCALATION = EscalationPolicy()


@dataclass(frozen=True)
class EscalationDecision:
    """A recommendation only: risk management decides (§5.5)."""

    escalate: bool
    reasons: list[str] = field(default_factory=list)


def should_escalate_legal(
    *,
    willing: bool | None = None,
    able: bool | None = None,
    days_contact_lost: int = 0,
    all_channels_tried: bool = False,
    broken_ptp: int = 0,
    plan_lapsed: bool = False,
    bucket: int = 0,
    balance: Decimal = ZERO,
    fraud_or_concealment: bool = False,
    policy: EscalationPolicy = DEFAULT_ESCALATION,
) -> EscalationDecision:
    """§5.5: recommend ESCALATE_LEGAL when any listed condition holds; reasons name each one."""
    reasons: list[str] = []
    if willing is False and able is True:
        reasons.append("unwilling_and_able")
    if all_channels_tried and days_contact_lost > policy.contact_lost_days:
        reasons.append("contact_lost")
    if broken_ptp >= policy.broken_ptp:
        reasons.append("broken_ptp")
    if plan_lapsed:
        reasons.append("plan_lapsed")
    if bucket >= policy.min_bucket and balance >= policy.balance_threshold:
        reasons.append("late_bucket_high_balance")
    if fraud_or_concealment:
        reasons.append("fraud_or_concealment")
    return EscalationDecision(escalate=bool(reasons), reasons=reasons)
