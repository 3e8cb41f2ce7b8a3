"""Invariants of the plan arithmetic over many generated plans (hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from models.affordability import min_term
from models.finance import PlanPreviewRequest, annuity_payment, preview_plan
from models.money import ZERO, q2

D = Decimal
FAST = settings(max_examples=100, deadline=None)


def plan(**fields: Any) -> PlanPreviewRequest:
    return PlanPreviewRequest.model_validate(fields)


principals = st.integers(min_value=100_00, max_value=500_000_00).map(lambda c: D(c) / 100)
rates = st.integers(min_value=0, max_value=499).map(lambda bp: D(bp) / 10_000)  # 0 .. 4.99 % a month
terms = st.integers(min_value=1, max_value=60)


@st.composite
def plans(draw: st.DrawFn) -> PlanPreviewRequest:
    principal = draw(principals)
    term = draw(terms)
    rate = draw(rates)
    holiday = draw(st.integers(min_value=0, max_value=12))
    mode = draw(st.sampled_from(["capitalise", "interest_only"]))
    n_steps = draw(st.integers(min_value=0, max_value=min(3, term - 1)))
    # Small steps (at most a tenth of the principal each) always leave a balance to amortise.
    steps = [D(draw(st.integers(min_value=1, max_value=int(principal * 10)))) / 100 for _ in range(n_steps)]
    return plan(
        method=draw(st.sampled_from(["annuity", "equal_principal"])),
        principal=principal,
        term_months=term,
        monthly_rate=rate,
        holiday_months=holiday,
        holiday_mode=mode,
        step_payments=steps,
        first_due_date="2027-01-31",
    )


@FAST
@given(plans())
def test_schedule_repays_principal_exactly_when_any_plan(req: PlanPreviewRequest) -> None:
    out = preview_plan(req)
    assert sum((r.principal for r in out.schedule), ZERO) == req.principal
    assert out.schedule[-1].balance == D("0.00")
    assert all(r.balance >= 0 for r in out.schedule)
    assert len(out.schedule) == req.holiday_months + req.term_months


@FAST
@given(plans())
def test_total_interest_is_payments_less_principal_when_any_plan(req: PlanPreviewRequest) -> None:
    out = preview_plan(req)
    assert out.total_payment == sum((r.payment for r in out.schedule), ZERO)
    assert out.total_interest == out.total_payment - req.principal
    assert out.total_interest == sum((r.interest for r in out.schedule), ZERO)
    assert all(r.payment == r.principal + r.interest for r in out.schedule)
    assert all(r.interest >= 0 for r in out.schedule)


@FAST
@given(principals, terms, rates, rates)
def test_apr_rises_with_rate_when_same_loan(principal: Decimal, term: int, r1: Decimal, r2: Decimal) -> None:
    lo, hi = sorted((r1, r2))
    a = preview_plan(plan(method="annuity", principal=principal, term_months=term, monthly_rate=lo))
    b = preview_plan(plan(method="annuity", principal=principal, term_months=term, monthly_rate=hi))
    assert a.apr_compound <= b.apr_compound
    assert a.apr_simple <= b.apr_simple
    if hi - lo >= D("0.001"):
        assert a.apr_compound < b.apr_compound


@FAST
@given(st.integers(min_value=5_000, max_value=500_000).map(D), terms, rates)
def test_apr_simple_matches_rate_when_no_fee(principal: Decimal, term: int, rate: Decimal) -> None:
    out = preview_plan(plan(method="annuity", principal=principal, term_months=term, monthly_rate=rate))
    # Cent rounding of instalment and interest moves the IRR only slightly off the contractual rate.
    assert abs(out.apr_simple - 12 * rate) <= D("0.0010")


@FAST
@given(principals, terms, rates)
def test_equal_principal_costs_no_more_interest_when_same_loan(
    principal: Decimal, term: int, rate: Decimal
) -> None:
    common = {"principal": principal, "term_months": term, "monthly_rate": rate}
    annuity = preview_plan(plan(method="annuity", **common))
    equal_principal = preview_plan(plan(method="equal_principal", **common))
    assert equal_principal.total_interest <= annuity.total_interest


@FAST
@given(
    principals,
    rates,
    st.integers(min_value=1, max_value=12_000),  # capacity in basis points of the principal
    st.integers(min_value=1, max_value=60),
)
def test_min_term_is_minimal_when_feasible(principal: Decimal, rate: Decimal, bp: int, max_term: int) -> None:
    capacity = q2(principal * bp / 10_000)

    def fits(n: int) -> bool:
        # at 0% the term must cover the outstanding (n × capacity ≥ P); otherwise A(P, i, n) ≤ capacity.
        return n * capacity >= principal if rate == 0 else annuity_payment(principal, rate, n) <= capacity

    n = min_term(principal, rate, capacity, max_term)
    if n is None:
        assert not any(fits(k) for k in range(1, max_term + 1))
    else:
        assert 1 <= n <= max_term
        assert fits(n)
        assert n == 1 or not fits(n - 1)


@FAST
@given(plans(), st.integers(min_value=0, max_value=30))
def test_irr_seeded_in_floats_is_the_full_decimal_bisection(req: PlanPreviewRequest, fee_pct: int) -> None:
    """The IRR starts its Decimal bisection from a narrow bracket found in floats; it must land where the
    bisection over the whole bracket lands (to its tolerance, so the APRs to 4 places are the same)."""
    from decimal import localcontext

    from models.finance import _PREC, _bisect, _npv, irr_monthly, plan_cashflows, plan_schedule

    schedule = plan_schedule(req)
    flows = plan_cashflows(req.principal - q2(req.principal * fee_pct / 100), schedule)
    with localcontext() as ctx:
        ctx.prec = _PREC
        lo, hi = D("-0.9999"), D(1)
        f_lo, f_hi = _npv(flows, lo), _npv(flows, hi)
        while f_hi * f_lo > 0 and hi < 1000:
            hi *= 2
            f_hi = _npv(flows, hi)
        reference = _bisect(flows, lo, hi, f_lo, D("1e-10"))
    assert abs(irr_monthly(flows) - reference) <= D("1e-11")
