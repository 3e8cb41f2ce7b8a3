"""Repayment-plan arithmetic (domain F-0..F-8, P-4, P-5) and the plan preview of protocol.md.

Everything is Decimal, rounded half-up to 0.01 at the steps the domain names; the app and the server run
this same code, so a plan computed offline matches the server's recomputation to the cent.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from models.affordability import Affordability, AssessmentInput, assess
from models.codes import HolidayMode, PlanMethod
from models.money import ZERO, DecStr, Money, NonNegMoney, PosMoney, Rate, q2
from models.strict import WireDate

__all__ = [
    "MAX_MONTHLY_RATE",
    "P5_ANNUAL_CAP",
    "P4Check",
    "PlanPreview",
    "PlanPreviewRequest",
    "ScheduleRow",
    "Settlement",
    "add_months",
    "annuity_payment",
    "apr_from_cashflows",
    "build_schedule",
    "capitalised_balance",
    "daily_to_monthly",
    "flat_fee_payment",
    "irr_monthly",
    "p4_ceiling",
    "p4_check",
    "p4_ok",
    "p5_ok",
    "penalty_interest",
    "plan_cashflows",
    "plan_schedule",
    "preview_plan",
    "settlement",
    "total_cost_of_credit",
    "waiver_share",
]

MAX_MONTHLY_RATE = Decimal("0.05")
P5_ANNUAL_CAP = Decimal("0.24")
_FOUR = Decimal("0.0001")
# Enough digits that (1+i)^72 and the IRR search keep far more precision than the cent needs.
_PREC = 40


# ---------------------------------------------------------------------------------------------------
# F-0 .. F-2: rates and instalments


def daily_to_monthly(daily_rate: Decimal, basis: int = 360) -> Decimal:
    """F-0: a per-day rate as a monthly rate; the contract's day-count basis (360 or 365) decides."""
    if basis not in (360, 365):
        raise ValueError("day-count basis must be 360 or 365")
    with localcontext() as ctx:
        ctx.prec = _PREC
        return daily_rate * basis / 12


def annuity_payment(principal: Decimal, monthly_rate: Decimal, n: int) -> Decimal:
    """F-1: equal instalment A = P·i / (1 − (1+i)^−n), rounded half-up; P/n when i = 0."""
    if n < 1:
        raise ValueError("n must be at least 1")
    with localcontext() as ctx:
        ctx.prec = _PREC
        growth = (1 + monthly_rate) ** n
        if growth == 1:
            # No interest, or a rate too small to move the balance at this precision (its limit is P/n).
            return q2(principal / n)
        return q2(principal * monthly_rate * growth / (growth - 1))


def flat_fee_payment(principal: Decimal, monthly_fee_rate: Decimal, n: int) -> Decimal:
    """E-5: a "flat" instalment, P/n plus a monthly fee charged on the original principal."""
    if n < 1:
        raise ValueError("n must be at least 1")
    return q2(principal / n + principal * monthly_fee_rate)


def capitalised_balance(principal: Decimal, monthly_rate: Decimal, months: int) -> Decimal:
    """F-7: balance after a holiday whose interest is rounded and added month by month (protocol)."""
    balance = q2(principal)
    for _ in range(months):
        balance += q2(balance * monthly_rate)
    return balance


def penalty_interest(overdue: Decimal, daily_rate: Decimal, days: int) -> Decimal:
    """F-6: overdue amount × contractual daily penalty rate × days overdue."""
    if days <= 0:
        return ZERO
    return q2(overdue * daily_rate * days)


def total_cost_of_credit(
    payments: Iterable[Decimal], *, fees_paid_separately: Decimal = ZERO, net_received: Decimal
) -> Decimal:
    """F-4: everything the borrower pays, minus what they actually received."""
    return q2(sum(payments, ZERO) + fees_paid_separately - net_received)


# ---------------------------------------------------------------------------------------------------
# F-5: annualised rate by IRR (PBOC 2021 No. 3)


def _npv(cashflows: Sequence[Decimal], rate: Decimal) -> Decimal:
    v = 1 / (1 + rate)
    acc = Decimal(0)
    for cf in reversed(cashflows):
        acc = acc * v + cf
    return acc


def _bisect(flows: Sequence[Decimal], lo: Decimal, hi: Decimal, f_lo: Decimal, tol: Decimal) -> Decimal:
    while hi - lo > tol / 100:
        mid = (lo + hi) / 2
        f_mid = _npv(flows, mid)
        if f_mid == 0:
            return mid
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return (lo + hi) / 2


def _near_root(flows: Sequence[Decimal], tol: Decimal = Decimal("1e-10")) -> Decimal | None:
    """The Decimal bisection started from a bracket of 2e-9 around the root found in floats first (a few
    microseconds), when the Decimal values confirm that the root lies in it; None otherwise."""
    fl = [float(x) for x in flows]

    def npv(rate: float) -> float:
        v, acc = 1 / (1 + rate), 0.0
        for cf in reversed(fl):
            acc = acc * v + cf
        return acc

    lo, hi = -0.9999, 1.0
    f_lo, f_hi = npv(lo), npv(hi)
    if f_lo == 0 or f_hi == 0 or (f_lo > 0) == (f_hi > 0):
        return None
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        f_mid = npv(mid)
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    d_lo, d_hi = Decimal(lo) - Decimal("1e-9"), Decimal(hi) + Decimal("1e-9")
    g_lo, g_hi = _npv(flows, d_lo), _npv(flows, d_hi)
    if g_lo == 0 or g_hi == 0 or (g_lo > 0) == (g_hi > 0):
        return None
    return _bisect(flows, d_lo, d_hi, g_lo, tol)


def irr_monthly(cashflows: Sequence[Decimal], *, tol: Decimal = Decimal("1e-10")) -> Decimal:
    """F-5: the monthly rate r with Σ CF_t/(1+r)^t = 0, by bisection (robust for any plan shape).

    CF_0 is the (negative) amount received; raises ValueError when the flows have no IRR.
    """
    if len(cashflows) < 2:
        raise ValueError("need at least two cash flows")
    with localcontext() as ctx:
        ctx.prec = _PREC
        flows = [Decimal(x) for x in cashflows]
        near = _near_root(flows, tol)
        if near is not None:
            return near
        lo, hi = Decimal("-0.9999"), Decimal(1)
        f_lo = _npv(flows, lo)
        f_hi = _npv(flows, hi)
        while f_hi * f_lo > 0 and hi < 1000:
            hi *= 2
            f_hi = _npv(flows, hi)
        if f_lo == 0:
            return lo
        if f_hi == 0:
            return hi
        if f_lo * f_hi > 0:
            raise ValueError("cash flows have no internal rate of return")
        return _bisect(flows, lo, hi, f_lo, tol)


def _q4(x: Decimal) -> Decimal:
    q = x.quantize(_FOUR, rounding=ROUND_HALF_UP)
    # Bisection lands a hair either side of 0; "-0.0000" must not reach a screen.
    return abs(q) if q == 0 else q


def apr_from_cashflows(cashflows: Sequence[Decimal]) -> tuple[Decimal, Decimal]:
    """F-5: (APR_simple = 12r, labelled 单利; APR_compound = (1+r)^12 − 1), both to 4 places."""
    r = irr_monthly(cashflows)
    with localcontext() as ctx:
        ctx.prec = _PREC
        simple = 12 * r
        compound = (1 + r) ** 12 - 1
    return _q4(simple), _q4(compound)


# ---------------------------------------------------------------------------------------------------
# F-8 settlement, P-4 / P-5 plan limits


class Settlement(BaseModel):
    """F-8: a discounted lump sum and what it waives, item by item (P-4 asks for the itemised list)."""

    total_due: Money
    settlement_amount: Money
    waiver: Money
    waiver_pct: DecStr = Field(description="waiver / total_due, 4 decimal places (0.2314 = 23.14%)")
    waived_principal: Money
    waived_interest: Money
    waived_penalty: Money
    waived_fees: Money


def waiver_share(waiver: Decimal, total_due: Decimal) -> Decimal:
    """F-8 `waiver_% = waiver / total_due`, as a fraction to 4 places, half-up (0 for nothing due)."""
    return (waiver / total_due).quantize(_FOUR, rounding=ROUND_HALF_UP) if total_due > 0 else ZERO


def settlement(
    *,
    principal: Decimal,
    interest: Decimal,
    penalty: Decimal,
    fees: Decimal,
    waive_penalty: bool = False,
    waive_fees: bool = False,
    principal_discount_pct: Decimal = ZERO,
    interest_discount_pct: Decimal = ZERO,
) -> Settlement:
    """F-8 / E-10: what the borrower pays to close the account and the waiver it represents."""
    for pct in (principal_discount_pct, interest_discount_pct):
        if not ZERO <= pct <= 1:
            raise ValueError("discount must be a fraction between 0 and 1")
    total_due = q2(principal + interest + penalty + fees)
    w_principal = q2(principal * principal_discount_pct)
    w_interest = q2(interest * interest_discount_pct)
    w_penalty = q2(penalty) if waive_penalty else ZERO
    w_fees = q2(fees) if waive_fees else ZERO
    waiver = w_principal + w_interest + w_penalty + w_fees
    pct = waiver_share(waiver, total_due)
    return Settlement(
        total_due=total_due,
        settlement_amount=total_due - waiver,
        waiver=waiver,
        waiver_pct=pct,
        waived_principal=w_principal,
        waived_interest=w_interest,
        waived_penalty=w_penalty,
        waived_fees=w_fees,
    )


def p4_ceiling(*, outstanding: Decimal, contractual_monthly_rate: Decimal, term_months: int) -> Decimal:
    """P-4: outstanding plus the contractual interest an equal-instalment loan would bear over the term."""
    rows = build_schedule(
        principal=q2(outstanding),
        monthly_rate=contractual_monthly_rate,
        term_months=term_months,
        first_due_date=date(2000, 1, 1),  # dates do not affect the amounts
    )
    return q2(outstanding) + sum((r.interest for r in rows), ZERO)


def p4_ok(*, total_repayable: Decimal, ceiling: Decimal) -> bool:
    """P-4: a restructure must not raise the total repayable above the ceiling."""
    return total_repayable <= ceiling


def p5_ok(apr_simple: Decimal, *, cap: Decimal = P5_ANNUAL_CAP) -> bool:
    """P-5: courts may cut a lender's charges above 24% a year. The charges are interest on the principal the
    borrower actually occupies, so the measure is the plan's own simple annualised rate by IRR (F-5:
    `apr_simple` of `preview_plan`, upfront fees in month 0), never total charges over the original
    principal, which understates an amortising plan about twice over."""
    return apr_simple <= cap


# ---------------------------------------------------------------------------------------------------
# Schedules


def add_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (Jan 31 + 1 → Feb 28/29)."""
    index = start.year * 12 + (start.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(start.day, last))


class ScheduleRow(BaseModel):
    """One month of a plan. payment = principal + interest on every row; a capitalised holiday month
    has a negative principal (the balance grows), so the principal column always sums to the loan."""

    n: int
    due_date: date
    payment: Money
    principal: Money
    interest: Money
    balance: Money


@dataclass(frozen=True)
class _Row:
    payment: Decimal
    principal: Decimal
    interest: Decimal
    balance: Decimal


def _pre_amortisation(
    principal: Decimal,
    monthly_rate: Decimal,
    holiday_months: int,
    holiday_mode: HolidayMode,
    step_payments: Sequence[Decimal],
) -> list[_Row]:
    """Holiday months, then the fixed step payments; interest is rounded month by month."""
    rows: list[_Row] = []
    balance = principal
    for _ in range(holiday_months):
        interest = q2(balance * monthly_rate)
        if holiday_mode is HolidayMode.CAPITALISE:
            balance += interest
            rows.append(_Row(ZERO, -interest, interest, balance))
        else:
            rows.append(_Row(interest, ZERO, interest, balance))
    for pay in step_payments:
        interest = q2(balance * monthly_rate)
        amortised = pay - interest
        balance -= amortised
        rows.append(_Row(pay, amortised, interest, balance))
    return rows


def _amortise(balance: Decimal, monthly_rate: Decimal, n: int, method: PlanMethod) -> list[_Row]:
    """F-1 / F-2 over n instalments; the last one takes whatever is left so the balance ends at 0.00."""
    rows: list[_Row] = []
    if method is PlanMethod.ANNUITY:
        fixed = annuity_payment(balance, monthly_rate, n)
    else:
        per_period = q2(balance / n)
    for k in range(1, n + 1):
        interest = q2(balance * monthly_rate)
        if k == n:
            part = balance
        elif method is PlanMethod.ANNUITY:
            part = fixed - interest
        else:
            part = per_period
        # Rounding up on tiny balances could overshoot; never pay back more than is owed.
        part = min(part, balance)
        balance -= part
        rows.append(_Row(part + interest, part, interest, balance))
    return rows


def _rows(
    principal: Decimal,
    monthly_rate: Decimal,
    term_months: int,
    method: PlanMethod,
    holiday_months: int,
    holiday_mode: HolidayMode,
    step_payments: Sequence[Decimal],
) -> list[_Row]:
    """The schedule's months without their dates: holiday months, step payments, then amortisation."""
    if len(step_payments) >= term_months:
        raise ValueError("step payments must be fewer than the instalments")
    rows = _pre_amortisation(principal, monthly_rate, holiday_months, holiday_mode, step_payments)
    remaining = rows[-1].balance if rows else principal
    if remaining <= 0:
        raise ValueError("step payments leave nothing to amortise")
    rows += _amortise(remaining, monthly_rate, term_months - len(step_payments), method)
    return rows


def build_schedule(
    *,
    principal: Decimal,
    monthly_rate: Decimal,
    term_months: int,
    first_due_date: date,
    method: PlanMethod = PlanMethod.ANNUITY,
    holiday_months: int = 0,
    holiday_mode: HolidayMode = HolidayMode.CAPITALISE,
    step_payments: Sequence[Decimal] = (),
) -> list[ScheduleRow]:
    """The full month-by-month schedule: holiday months, step payments, then amortisation."""
    rows = _rows(principal, monthly_rate, term_months, method, holiday_months, holiday_mode, step_payments)
    # Every amount is already a 2-place Decimal computed here: the rows need no validation.
    return [
        ScheduleRow.model_construct(
            n=k,
            due_date=add_months(first_due_date, k - 1),
            payment=r.payment,
            principal=r.principal,
            interest=r.interest,
            balance=r.balance,
        )
        for k, r in enumerate(rows, start=1)
    ]


def plan_cashflows(net_received: Decimal, schedule: Sequence[ScheduleRow]) -> list[Decimal]:
    """F-5 cash flows: −(amount received) at month 0, then every scheduled payment at its month."""
    return [-net_received, *(row.payment for row in schedule)]


# ---------------------------------------------------------------------------------------------------
# Plan preview (protocol.md "Plan preview")

_PREVIEW_EXAMPLE: dict[str, Any] = {
    "method": "annuity",
    "principal": "12000.00",
    "term_months": 12,
    "monthly_rate": "0.015",
    "upfront_fee": "0.00",
    "holiday_months": 0,
    "holiday_mode": "capitalise",
    "step_payments": [],
    "first_due_date": "2027-01-15",
    "assessment": None,
}


class PlanPreviewRequest(BaseModel):
    """Body of POST /v1/plans/preview; also what the app sizes offline."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_PREVIEW_EXAMPLE]})

    method: PlanMethod
    principal: PosMoney
    term_months: StrictInt = Field(json_schema_extra={"minimum": 1, "maximum": 60})
    monthly_rate: Rate = Field(json_schema_extra={"exclusiveMaximum": "0.05"})
    upfront_fee: NonNegMoney = Decimal("0.00")
    holiday_months: StrictInt = Field(default=0, json_schema_extra={"minimum": 0, "maximum": 12})
    holiday_mode: HolidayMode = HolidayMode.CAPITALISE
    step_payments: list[PosMoney] = Field(default_factory=list)
    first_due_date: WireDate | None = None
    assessment: AssessmentInput | None = None

    @field_validator("term_months", mode="after")
    @classmethod
    def _term_range(cls, value: int) -> int:
        if not 1 <= value <= 60:
            raise PydanticCustomError("fv.term_range", "term must be 1 to 60 months")
        return value

    @field_validator("monthly_rate", mode="after")
    @classmethod
    def _rate_range(cls, value: Decimal) -> Decimal:
        if value >= MAX_MONTHLY_RATE:
            raise PydanticCustomError("fv.rate_above_max", "monthly rate must be below 0.05 (5%)")
        return value

    @field_validator("upfront_fee", mode="after")
    @classmethod
    def _fee_below_principal(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        principal = info.data.get("principal")
        if principal is not None and value >= principal:
            raise PydanticCustomError(
                "fv.fee_not_below_principal", "upfront fee must be less than the principal"
            )
        return value

    @field_validator("holiday_months", mode="after")
    @classmethod
    def _holiday_range(cls, value: int) -> int:
        if not 0 <= value <= 12:
            raise PydanticCustomError("fv.holiday_range", "payment holiday must be 0 to 12 months")
        return value

    @field_validator("step_payments", mode="after")
    @classmethod
    def _steps_leave_balance(cls, value: list[Decimal], info: ValidationInfo) -> list[Decimal]:
        data = info.data
        term = data.get("term_months")
        if term is not None and len(value) >= term:
            raise PydanticCustomError(
                "fv.step_payments_too_many", "step payments must be fewer than the term's instalments"
            )
        needed = ("principal", "monthly_rate", "holiday_months", "holiday_mode")
        if value and all(data.get(k) is not None for k in needed):
            rows = _pre_amortisation(
                data["principal"], data["monthly_rate"], data["holiday_months"], data["holiday_mode"], value
            )
            if any(r.balance <= 0 for r in rows):
                raise PydanticCustomError(
                    "fv.step_payments_exhaust_balance",
                    "step payments must leave a balance to amortise over the remaining instalments",
                )
        return value


class PlanPreview(BaseModel):
    """Answer of POST /v1/plans/preview."""

    instalment: Money = Field(description="regular amortising payment (equal_principal: the first one)")
    schedule: list[ScheduleRow]
    total_payment: Money
    total_interest: Money
    apr_simple: DecStr = Field(description="12 × monthly IRR, 4 places (单利)")
    apr_compound: DecStr = Field(description="(1 + monthly IRR)^12 − 1, 4 places")
    affordability: Affordability | None = None


def plan_schedule(
    req: PlanPreviewRequest,
    *,
    principal: Decimal | None = None,
    monthly_rate: Decimal | None = None,
    today: date | None = None,
) -> list[ScheduleRow]:
    """The schedule of a plan request, or of the same shape (method, term, holiday, steps, dates) on another
    principal or rate; `today` sets the default first due date."""
    return build_schedule(
        principal=req.principal if principal is None else principal,
        monthly_rate=req.monthly_rate if monthly_rate is None else monthly_rate,
        term_months=req.term_months,
        first_due_date=req.first_due_date or add_months(today or date.today(), 1),
        method=req.method,
        holiday_months=req.holiday_months,
        holiday_mode=req.holiday_mode,
        step_payments=req.step_payments,
    )


def preview_plan(req: PlanPreviewRequest, *, today: date | None = None) -> PlanPreview:
    """Compute a plan exactly as protocol.md specifies; `today` sets the default first due date."""
    schedule = plan_schedule(req, today=today)
    before = req.holiday_months + len(req.step_payments)
    if req.method is PlanMethod.ANNUITY:
        remaining = schedule[before - 1].balance if before else req.principal
        instalment = annuity_payment(remaining, req.monthly_rate, req.term_months - len(req.step_payments))
    else:
        instalment = schedule[before].payment
    total_payment = sum((r.payment for r in schedule), ZERO)
    apr_simple, apr_compound = apr_from_cashflows(plan_cashflows(req.principal - req.upfront_fee, schedule))
    affordability = None
    if req.assessment is not None:
        affordability = assess(
            req.assessment,
            instalment=instalment,
            principal=req.principal,
            monthly_rate=req.monthly_rate,
            term_months=req.holiday_months + req.term_months,
        )
    return PlanPreview(
        instalment=instalment,
        schedule=schedule,
        total_payment=total_payment,
        total_interest=total_payment - req.principal,
        apr_simple=apr_simple,
        apr_compound=apr_compound,
        affordability=affordability,
    )


class P4Check(BaseModel):
    """P-4 for one proposed restructure: its total repayable against the ceiling."""

    total_repayable: Money
    ceiling: Money
    within: bool


def p4_check(
    req: PlanPreviewRequest,
    total_repayable: Decimal,
    *,
    outstanding: Decimal,
    contractual_monthly_rate: Decimal,
) -> P4Check:
    """P-4: the ceiling is the current outstanding plus the interest the contract's rate would charge over
    the plan's new term, taken in the plan's own shape (method, holiday and step payments): what the same
    restructure costs at the contract's rate. For equal instalments that is `p4_ceiling`. A plan with a
    higher rate, a larger principal or an interest-bearing fee goes above it."""
    try:
        # The payments alone (no dates): the ceiling is their sum.
        rows = _rows(
            q2(outstanding),
            contractual_monthly_rate,
            req.term_months,
            req.method,
            req.holiday_months,
            req.holiday_mode,
            req.step_payments,
        )
        ceiling = sum((r.payment for r in rows), ZERO)
    except ValueError:  # step payments that would clear the smaller balance: the plain equal-instalment shape
        ceiling = p4_ceiling(
            outstanding=outstanding,
            contractual_monthly_rate=contractual_monthly_rate,
            term_months=req.holiday_months + req.term_months,
        )
    return P4Check(
        total_repayable=total_repayable,
        ceiling=ceiling,
        within=p4_ok(total_repayable=total_repayable, ceiling=ceiling),
    )
