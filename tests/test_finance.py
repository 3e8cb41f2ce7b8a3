"""Plan arithmetic against the domain's worked examples E-1..E-10 and the protocol's plan preview."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from models.finance import (
    PlanPreviewRequest,
    add_months,
    annuity_payment,
    apr_from_cashflows,
    build_schedule,
    capitalised_balance,
    daily_to_monthly,
    flat_fee_payment,
    irr_monthly,
    p4_ceiling,
    p4_check,
    p4_ok,
    p5_ok,
    penalty_interest,
    preview_plan,
    settlement,
    total_cost_of_credit,
)

D = Decimal


def request(**overrides: Any) -> PlanPreviewRequest:
    body: dict[str, Any] = {
        "method": "annuity",
        "principal": "12000.00",
        "term_months": 12,
        "monthly_rate": "0.015",
        "first_due_date": "2027-01-15",
    }
    body.update(overrides)
    return PlanPreviewRequest.model_validate(body)


def error_locs(exc: ValidationError) -> list[tuple[Any, ...]]:
    return [tuple(e["loc"]) for e in exc.errors()]


# --- E-1 ------------------------------------------------------------------------------------------


def test_annuity_payment_is_1100_16_when_e1() -> None:
    assert annuity_payment(D("12000"), D("0.015"), 12) == D("1100.16")


def test_annuity_payment_is_p_over_n_when_the_rate_is_too_small_to_move_the_balance() -> None:
    # (1 + i)^n rounds to 1 at the working precision: the limit of F-1 as i → 0, not a division by zero.
    assert annuity_payment(Decimal("1200"), Decimal("1e-41"), 12) == Decimal("100.00")


def test_schedule_matches_e1_rows_and_totals_when_annuity() -> None:
    rows = build_schedule(
        principal=D("12000.00"), monthly_rate=D("0.015"), term_months=12, first_due_date=date(2027, 1, 15)
    )
    first, second, last = rows[0], rows[1], rows[11]
    assert (first.payment, first.interest, first.principal, first.balance) == (
        D("1100.16"),
        D("180.00"),
        D("920.16"),
        D("11079.84"),
    )
    assert (second.interest, second.principal, second.balance) == (D("166.20"), D("933.96"), D("10145.88"))
    assert (last.payment, last.principal, last.interest, last.balance) == (
        D("1100.19"),
        D("1083.93"),
        D("16.26"),
        D("0.00"),
    )
    assert sum(r.interest for r in rows) == D("1201.95")
    assert sum(r.payment for r in rows) == D("13201.95")


def test_apr_is_18_00_and_19_56_when_e1_cashflows() -> None:
    rows = build_schedule(
        principal=D("12000.00"), monthly_rate=D("0.015"), term_months=12, first_due_date=date(2027, 1, 15)
    )
    assert apr_from_cashflows([D("-12000"), *(r.payment for r in rows)]) == (D("0.1800"), D("0.1956"))


def test_preview_returns_protocol_example_when_e1_request() -> None:
    out = preview_plan(request()).model_dump(mode="json")
    assert out["instalment"] == "1100.16"
    assert out["total_payment"] == "13201.95"
    assert out["total_interest"] == "1201.95"
    assert out["apr_simple"] == "0.1800"
    assert out["apr_compound"] == "0.1956"
    assert out["affordability"] is None
    assert out["schedule"][0] == {
        "n": 1,
        "due_date": "2027-01-15",
        "payment": "1100.16",
        "principal": "920.16",
        "interest": "180.00",
        "balance": "11079.84",
    }
    assert out["schedule"][-1]["balance"] == "0.00"
    assert out["schedule"][-1]["due_date"] == "2027-12-15"


def test_request_example_in_schema_validates_when_used_as_body() -> None:
    example = PlanPreviewRequest.model_json_schema()["examples"][0]
    assert preview_plan(PlanPreviewRequest.model_validate(example)).instalment == D("1100.16")


# --- E-2 .. E-6 ----------------------------------------------------------------------------------


def test_annuity_payment_is_1101_59_when_e2_daily_rate_365_basis() -> None:
    monthly = daily_to_monthly(D("0.0005"), basis=365)
    assert monthly.quantize(D("0.000001")) == D("0.015208")
    assert annuity_payment(D("12000"), monthly, 12) == D("1101.59")


def test_daily_to_monthly_gives_18_percent_a_year_when_360_basis() -> None:
    assert daily_to_monthly(D("0.0005"), basis=360) * 12 == D("0.18")


def test_daily_to_monthly_refuses_when_basis_unknown() -> None:
    with pytest.raises(ValueError):
        daily_to_monthly(D("0.0005"), basis=366)


def test_equal_principal_payments_fall_by_15_when_e3() -> None:
    out = preview_plan(request(method="equal_principal"))
    payments = [r.payment for r in out.schedule]
    assert payments[0] == D("1180.00")
    assert payments[1] == D("1165.00")
    assert payments[-1] == D("1015.00")
    assert all(a - b == D("15.00") for a, b in itertools.pairwise(payments))
    assert out.total_interest == D("1170.00")
    assert out.instalment == D("1180.00")


def test_irr_is_1_06698_percent_and_apr_12_80_13_58_when_e4_pboc_example() -> None:
    flows = [D("-99000"), *([D("8833.3")] * 12)]
    assert irr_monthly(flows).quantize(D("0.0000001")) == D("0.0106698")
    assert apr_from_cashflows(flows) == (D("0.1280"), D("0.1358"))


def test_preview_apr_uses_net_amount_when_upfront_fee() -> None:
    with_fee = preview_plan(request(upfront_fee="120.00"))
    without = preview_plan(request())
    assert with_fee.total_payment == without.total_payment
    assert with_fee.apr_compound > without.apr_compound


def test_flat_fee_payment_is_1072_with_apr_13_03_13_84_when_e5() -> None:
    payment = flat_fee_payment(D("12000"), D("0.006"), 12)
    assert payment == D("1072.00")
    assert apr_from_cashflows([D("-12000"), *([payment] * 12)]) == (D("0.1303"), D("0.1384"))


def test_penalty_is_67_50_when_e6() -> None:
    assert penalty_interest(D("3000"), D("0.0005"), 45) == D("67.50")


def test_penalty_is_zero_when_not_overdue() -> None:
    assert penalty_interest(D("3000"), D("0.0005"), 0) == D("0.00")


# --- E-7 deferral ---------------------------------------------------------------------------------


def test_capitalised_balance_is_12548_14_when_e7() -> None:
    assert capitalised_balance(D("12000"), D("0.015"), 3) == D("12548.14")


def test_preview_capitalises_holiday_then_pays_1150_41_when_e7() -> None:
    out = preview_plan(request(holiday_months=3, holiday_mode="capitalise"))
    assert len(out.schedule) == 15
    holiday = out.schedule[:3]
    assert [r.payment for r in holiday] == [D("0.00")] * 3
    assert [r.interest for r in holiday] == [D("180.00"), D("182.70"), D("185.44")]
    assert holiday[-1].balance == D("12548.14")
    assert out.instalment == D("1150.41")
    assert out.schedule[3].payment == D("1150.41")
    assert out.schedule[-1].balance == D("0.00")
    assert sum(r.principal for r in out.schedule) == D("12000.00")
    assert out.total_interest == out.total_payment - D("12000.00")


def test_preview_pays_180_during_holiday_when_e7_interest_only() -> None:
    out = preview_plan(request(holiday_months=3, holiday_mode="interest_only"))
    assert [r.payment for r in out.schedule[:3]] == [D("180.00")] * 3
    assert [r.balance for r in out.schedule[:3]] == [D("12000.00")] * 3
    assert out.instalment == D("1100.16")
    assert len(out.schedule) == 15


# --- E-8 .. E-10 ---------------------------------------------------------------------------------


def test_instalment_is_240_when_e8_interest_frozen() -> None:
    assert annuity_payment(D("14400"), D("0"), 60) == D("240.00")
    out = preview_plan(request(principal="14400.00", term_months=60, monthly_rate="0"))
    assert out.instalment == D("240.00")
    assert out.total_interest == D("0.00")
    assert out.model_dump(mode="json")["apr_simple"] == "0.0000"


def test_instalment_is_320_32_when_e8_one_percent() -> None:
    assert annuity_payment(D("14400"), D("0.01"), 60) == D("320.32")


def test_preview_step_up_amortises_remaining_balance_when_e9() -> None:
    out = preview_plan(request(monthly_rate="0.01", step_payments=["500.00", "500.00", "500.00"]))
    steps = out.schedule[:3]
    assert [r.payment for r in steps] == [D("500.00")] * 3
    assert [r.interest for r in steps] == [D("120.00"), D("116.20"), D("112.36")]
    assert steps[-1].balance == D("10848.56")
    assert out.instalment == D("1266.46")
    assert [r.payment for r in out.schedule[3:11]] == [D("1266.46")] * 8
    assert len(out.schedule) == 12
    assert out.schedule[-1].balance == D("0.00")


def test_settlement_is_8800_waiving_23_14_percent_when_e10() -> None:
    s = settlement(
        principal=D("10000"),
        interest=D("800"),
        penalty=D("450"),
        fees=D("200"),
        waive_penalty=True,
        waive_fees=True,
        principal_discount_pct=D("0.20"),
    )
    assert s.total_due == D("11450.00")
    assert s.settlement_amount == D("8800.00")
    assert s.waiver == D("2650.00")
    assert s.waiver_pct == D("0.2314")
    assert (s.waived_principal, s.waived_penalty, s.waived_fees) == (D("2000.00"), D("450.00"), D("200.00"))


def test_settlement_refuses_when_discount_above_one() -> None:
    with pytest.raises(ValueError):
        settlement(principal=D(1), interest=D(0), penalty=D(0), fees=D(0), principal_discount_pct=D("1.5"))


# --- F-4, P-4, P-5 -----------------------------------------------------------------------------------


def test_total_cost_of_credit_counts_fees_when_received_less() -> None:
    assert total_cost_of_credit(
        [D("8833.30")] * 12, fees_paid_separately=D("0"), net_received=D("99000")
    ) == D("6999.60")


def test_p4_ceiling_is_outstanding_plus_contractual_interest_when_e1_terms() -> None:
    ceiling = p4_ceiling(outstanding=D("12000"), contractual_monthly_rate=D("0.015"), term_months=12)
    assert ceiling == D("13201.95")
    assert p4_ok(total_repayable=D("13201.95"), ceiling=ceiling)
    assert not p4_ok(total_repayable=D("13201.96"), ceiling=ceiling)


@pytest.mark.parametrize(
    ("rate", "fee", "apr", "keeps"),
    [
        ("0.02", "0.00", "0.2400", True),
        ("0.0201", "0.00", "0.2412", False),
        ("0.0345", "0.00", "0.4140", False),  # total charges ÷ principal would wrongly say 23.8%
        ("0.018", "300.00", "0.2909", False),
        ("0.015", "150.00", "0.2166", True),
    ],
)
def test_p5_measures_the_plans_simple_apr_by_irr_when_domain_vectors(
    rate: str, fee: str, apr: str, keeps: bool
) -> None:
    prev = preview_plan(
        PlanPreviewRequest(
            method="annuity", principal="8000.00", term_months=12, monthly_rate=rate, upfront_fee=fee
        )
    )
    assert prev.apr_simple == D(apr)
    assert p5_ok(D(prev.apr_simple)) is keeps


# --- dates ----------------------------------------------------------------------------------------


def test_add_months_clamps_to_month_end_when_day_missing() -> None:
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2027, 1, 31), 2) == date(2027, 3, 31)
    assert add_months(date(2027, 12, 15), 1) == date(2028, 1, 15)


def test_preview_due_dates_keep_first_day_when_short_months_between() -> None:
    out = preview_plan(request(first_due_date="2027-01-31", term_months=3))
    assert [r.due_date for r in out.schedule] == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)]


def test_preview_first_due_is_next_month_when_date_omitted() -> None:
    body = request().model_dump()
    body["first_due_date"] = None
    out = preview_plan(PlanPreviewRequest.model_validate(body), today=date(2027, 1, 31))
    assert out.schedule[0].due_date == date(2027, 2, 28)


# --- bad input ------------------------------------------------------------------------------------


def test_request_refused_naming_step_payments_when_steps_exhaust_balance() -> None:
    with pytest.raises(ValidationError) as exc:
        request(principal="1000.00", term_months=6, step_payments=["600.00", "600.00"])
    assert any("step_payments" in loc for loc in error_locs(exc.value))
    assert exc.value.errors()[0]["type"] == "fv.step_payments_exhaust_balance"


def test_request_refused_naming_step_payments_when_as_many_as_term() -> None:
    with pytest.raises(ValidationError) as exc:
        request(term_months=2, step_payments=["100.00", "100.00"])
    assert any("step_payments" in loc for loc in error_locs(exc.value))


def test_request_refused_naming_step_payments_when_a_step_is_zero() -> None:
    with pytest.raises(ValidationError) as exc:
        request(step_payments=["0.00"])
    assert error_locs(exc.value) == [("step_payments", 0)]


@pytest.mark.parametrize("term", [0, 61])
def test_request_refused_when_term_out_of_range(term: int) -> None:
    with pytest.raises(ValidationError) as exc:
        request(term_months=term)
    assert error_locs(exc.value) == [("term_months",)]
    assert exc.value.errors()[0]["type"] == "fv.term_range"


@pytest.mark.parametrize("rate", ["0.05", "0.2", "-0.01"])
def test_request_refused_when_rate_out_of_range(rate: str) -> None:
    with pytest.raises(ValidationError) as exc:
        request(monthly_rate=rate)
    assert error_locs(exc.value) == [("monthly_rate",)]


def test_request_accepts_when_rate_just_below_cap() -> None:
    assert request(monthly_rate="0.0499").monthly_rate == D("0.0499")


@pytest.mark.parametrize("principal", ["-100.00", "0.00", "100.001", 100.5])
def test_request_refused_when_principal_bad(principal: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        request(principal=principal)
    assert error_locs(exc.value) == [("principal",)]
    assert exc.value.errors()[0]["type"].startswith("fv.")


def test_request_refused_when_fee_not_below_principal() -> None:
    with pytest.raises(ValidationError) as exc:
        request(principal="1000.00", upfront_fee="1000.00")
    assert error_locs(exc.value) == [("upfront_fee",)]


def test_request_refused_when_holiday_over_12() -> None:
    with pytest.raises(ValidationError) as exc:
        request(holiday_months=13)
    assert error_locs(exc.value) == [("holiday_months",)]


def test_request_refused_when_unknown_field() -> None:
    with pytest.raises(ValidationError):
        request(surprise=1)


def test_preview_includes_affordability_when_assessment_given() -> None:
    assessment = {
        "incomes": [{"amount": "9000.00", "source": "salary", "evidence": "bank_statement"}],
        "expenses": [{"amount": "5900.00", "category": "HOUS"}, {"amount": "800.00", "category": "DEBT"}],
    }
    out = preview_plan(request(principal="14000.00", monthly_rate="0", assessment=assessment))
    assert out.affordability is not None
    assert out.affordability.capacity == D("1840.00")
    assert out.affordability.verdict == "pass"
    assert out.affordability.min_term_months == 8
    assert out.model_dump(mode="json")["affordability"]["dsr_after"] == "0.2185"


def _e1_plan(**changes: Any) -> PlanPreviewRequest:
    body = {"method": "annuity", "principal": "12000.00", "term_months": 12, "monthly_rate": "0.015"}
    return PlanPreviewRequest.model_validate(body | {"first_due_date": date(2026, 12, 20)} | changes)


def test_p4_check_of_an_equal_instalment_plan_uses_the_equal_instalment_ceiling() -> None:
    req = _e1_plan()
    check = p4_check(req, D("13201.95"), outstanding=D("12000"), contractual_monthly_rate=D("0.015"))
    assert check.ceiling == p4_ceiling(
        outstanding=D("12000"), contractual_monthly_rate=D("0.015"), term_months=12
    )
    assert check.within


@pytest.mark.parametrize(
    ("changes", "outstanding", "contract_rate", "within"),
    [
        ({}, "12000", "0.010", False),  # a restructure dearer than the contract
        ({"principal": "12500.00"}, "12000", "0.015", False),  # more than is owed
        ({"monthly_rate": "0.010"}, "12000", "0.015", True),  # interest reduced (P-WAIVE)
        ({"holiday_months": 3}, "12000", "0.015", True),  # a deferral at the contract's rate
        ({"holiday_months": 3, "monthly_rate": "0.016"}, "12000", "0.015", False),
        ({"step_payments": ["300.00", "300.00"]}, "12000", "0.015", True),  # a step-up at the contract's rate
    ],
)
def test_p4_check_compares_the_plan_with_the_same_shape_at_the_contracts_rate(
    changes: dict[str, Any], outstanding: str, contract_rate: str, within: bool
) -> None:
    req = _e1_plan(**changes)
    total = preview_plan(req).total_payment
    check = p4_check(req, total, outstanding=D(outstanding), contractual_monthly_rate=D(contract_rate))
    assert check.total_repayable == total
    assert check.within is within
