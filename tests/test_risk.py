"""Delinquency, visit priority and triage rules (domain §5, §6) including worked example E-12."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from models.codes import Willingness
from models.risk import (
    EscalationPolicy,
    PriorityWeights,
    RepaymentRow,
    Segment,
    bucket,
    bucket_label,
    dpd,
    dpd_from_history,
    priority_score,
    segment,
    should_escalate_legal,
)

D = Decimal
AS_OF = date(2027, 3, 1)


def test_dpd_counts_calendar_days_when_due_date_past() -> None:
    assert dpd(AS_OF, date(2027, 1, 15)) == 45


def test_dpd_is_zero_when_nothing_unpaid_or_not_yet_due() -> None:
    assert dpd(AS_OF, None) == 0
    assert dpd(AS_OF, date(2027, 3, 10)) == 0


def test_dpd_from_history_keeps_running_when_oldest_only_partly_paid() -> None:
    history = [
        {"due_date": "2027-01-15", "amount_due": "1000.00", "amount_paid": "999.99", "paid_on": "2027-01-20"},
        {
            "due_date": "2027-02-15",
            "amount_due": "1000.00",
            "amount_paid": "1000.00",
            "paid_on": "2027-02-15",
        },
    ]
    assert dpd_from_history(history, AS_OF) == 45


def test_dpd_from_history_is_zero_when_all_paid_in_full() -> None:
    history = [
        RepaymentRow(due_date=date(2027, 1, 15), amount_due=D("1000.00"), amount_paid=D("1000.00")),
        RepaymentRow(due_date=date(2027, 2, 15), amount_due=D("1000.00"), amount_paid=D("1200.00")),
    ]
    assert dpd_from_history(history, AS_OF) == 0


def test_dpd_from_history_counts_from_second_when_first_paid() -> None:
    history = [
        {"due_date": "2027-02-15", "amount_due": "1000.00", "amount_paid": "0.00"},
        {"due_date": "2027-01-15", "amount_due": "1000.00", "amount_paid": "1000.00"},
    ]
    assert dpd_from_history(history, AS_OF) == 14


def test_dpd_from_history_ignores_payment_when_made_after_as_of() -> None:
    history = [
        {"due_date": "2027-01-15", "amount_due": "1000.00", "amount_paid": "1000.00", "paid_on": "2027-03-05"}
    ]
    assert dpd_from_history(history, AS_OF) == 45


@pytest.mark.parametrize(
    "days,expected,label",
    [
        (0, 0, "M0"),
        (1, 1, "M1"),
        (30, 1, "M1"),
        (31, 2, "M2"),
        (60, 2, "M2"),
        (61, 3, "M3"),
        (90, 3, "M3"),
        (91, 4, "M4"),
        (120, 4, "M4"),
        (121, 5, "M5"),
        (150, 5, "M5"),
        (151, 6, "M6"),
        (180, 6, "M6"),
        (181, 7, "M7+"),
        (900, 7, "M7+"),
    ],
)
def test_bucket_follows_b2_table_when_dpd_at_boundaries(days: int, expected: int, label: str) -> None:
    assert bucket(days) == expected
    assert bucket_label(bucket(days)) == label


def test_bucket_label_refuses_when_out_of_range() -> None:
    with pytest.raises(ValueError):
        bucket_label(8)


def test_priority_is_46_5_when_e12() -> None:
    score = priority_score(
        bucket=3,
        balance=D("20000"),
        broken_ptp=1,
        contact_lost=False,
        days_since_last_contact=15,
        active_plan_current=False,
    )
    assert score == D("46.5")


def test_priority_caps_each_term_when_inputs_large() -> None:
    score = priority_score(
        bucket=5,
        balance=D("900000"),
        broken_ptp=9,
        contact_lost=True,
        days_since_last_contact=400,
    )
    assert score == D("95.00")


def test_priority_drops_20_when_active_plan_current() -> None:
    base = priority_score(bucket=3, balance=D("20000"), broken_ptp=1, days_since_last_contact=15)
    with_plan = priority_score(
        bucket=3, balance=D("20000"), broken_ptp=1, days_since_last_contact=15, active_plan_current=True
    )
    assert base - with_plan == D("20")


def test_priority_uses_configured_weights_when_given() -> None:
    weights = PriorityWeights(balance=D(0), bucket_weights={3: D(1)})
    score = priority_score(bucket=3, balance=D("20000"), weights=weights)
    assert score == D("30.00")


@pytest.mark.parametrize(
    "capacity,willingness,broken,expected",
    [
        (D("1000"), Willingness.COOPERATIVE, 0, Segment.WILLING_ABLE),
        (D("100"), Willingness.COOPERATIVE, 0, Segment.WILLING_UNABLE),
        (D("1000"), Willingness.REFUSES, 0, Segment.UNWILLING_ABLE),
        (D("100"), Willingness.REFUSES, 0, Segment.UNWILLING_UNABLE),
        (D("1000"), Willingness.HESITANT, 0, Segment.WILLING_ABLE),
        (D("1000"), Willingness.HESITANT, 1, Segment.UNWILLING_ABLE),
        (D("1000"), Willingness.COOPERATIVE, 2, Segment.UNWILLING_ABLE),
    ],
)
def test_segment_places_case_in_quadrant_when_rated(
    capacity: Decimal, willingness: Willingness, broken: int, expected: Segment
) -> None:
    result = segment(
        capacity=capacity, contractual_instalment=D("500"), willingness=willingness, broken_ptp=broken
    )
    assert result.segment is expected


def test_segment_is_able_when_capacity_equals_instalment() -> None:
    result = segment(capacity=D("500"), contractual_instalment=D("500"), willingness=Willingness.COOPERATIVE)
    assert result.able
    assert result.treatment == "self_cure_ptp"


def test_escalation_not_proposed_when_no_condition_holds() -> None:
    decision = should_escalate_legal(willing=True, able=False, bucket=3, balance=D("50000"))
    assert not decision.escalate
    assert decision.reasons == []


@pytest.mark.parametrize(
    "kwargs,reason",
    [
        ({"willing": False, "able": True}, "unwilling_and_able"),
        ({"days_contact_lost": 31, "all_channels_tried": True}, "contact_lost"),
        ({"broken_ptp": 2}, "broken_ptp"),
        ({"plan_lapsed": True}, "plan_lapsed"),
        ({"bucket": 4, "balance": D("10000")}, "late_bucket_high_balance"),
        ({"fraud_or_concealment": True}, "fraud_or_concealment"),
    ],
)
def test_escalation_proposed_with_reason_when_condition_holds(kwargs: dict[str, object], reason: str) -> None:
    decision = should_escalate_legal(**kwargs)  # type: ignore[arg-type]
    assert decision.escalate
    assert decision.reasons == [reason]


def test_escalation_waits_when_contact_lost_but_channels_not_exhausted() -> None:
    assert not should_escalate_legal(days_contact_lost=45, all_channels_tried=False).escalate
    assert not should_escalate_legal(days_contact_lost=30, all_channels_tried=True).escalate


def test_escalation_uses_policy_threshold_when_configured() -> None:
    policy = EscalationPolicy(balance_threshold=D("50000"))
    assert not should_escalate_legal(bucket=5, balance=D("20000"), policy=policy).escalate
