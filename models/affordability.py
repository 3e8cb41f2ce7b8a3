"""Household affordability assessment (domain §4, A-1..A-8): income, expenses, capacity, DSR, minimum term.

Pure Decimal arithmetic; the same code sizes a plan on the device and re-checks it on the server.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from models.codes import EvidenceLevel, ExpenseCategory, IncomeSource
from models.money import ZERO, DecStr, Money, NonNegMoney, fmt_rate, parse_decimal, q2

__all__ = [
    "DEFAULT_POLICY",
    "Affordability",
    "AffordabilityPolicy",
    "AssessmentInput",
    "BufferShare",
    "DsrLimit",
    "ExpenseLine",
    "IncomeLine",
    "OtherDebt",
    "assess",
    "counted_income",
    "debt_service",
    "min_term",
]


def _require_evidence(value: Any) -> Any:
    # an income line without its evidence level cannot be weighted, so it is refused outright.
    if value is None or value == "":
        raise PydanticCustomError(
            "fv.evidence_required",
            "each income line needs an evidence level "
            "(bank_statement, payslip, social_insurance_tax, business_receipts or declared)",
        )
    return value


def _mark_evidence_required(schema: dict[str, Any]) -> None:
    required = schema.setdefault("required", [])
    if "evidence" not in required:
        required.append("evidence")


class IncomeLine(BaseModel):
    """One net monthly income of the household (A-1) with its evidence level (A-2)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_mark_evidence_required)

    amount: NonNegMoney
    source: IncomeSource
    evidence: EvidenceLevel = Field(default=None, validate_default=True)
    note: str = ""
    # A-2 item 4: receipts of a business whose costs are unknown count only in part.
    costs_known: StrictBool = True

    @field_validator("evidence", mode="before")
    @classmethod
    def _evidence_present(cls, value: Any) -> Any:
        return _require_evidence(value)


class ExpenseLine(BaseModel):
    """One monthly outgoing (§4.2); DEBT lines are other debt service, the rest are essential."""

    model_config = ConfigDict(extra="forbid")

    amount: NonNegMoney
    category: ExpenseCategory
    note: str = ""


class OtherDebt(BaseModel):
    """One itemised contractual debt of the household (lender, balance, monthly payment): part of DEBT (A-4)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    lender: str = Field(default="", max_length=100)
    balance: NonNegMoney = Decimal("0.00")
    monthly_payment: NonNegMoney = Decimal("0.00")


def _fraction(value: Any, *, code: str, message: str) -> Decimal:
    d = parse_decimal(value)
    if not (ZERO < d <= 1):
        raise PydanticCustomError(code, message)
    return d


def _buffer_range(value: Any) -> Decimal:
    return _fraction(value, code="fv.buffer_range", message="buffer must be above 0 and at most 1")


def _dsr_limit_range(value: Any) -> Decimal:
    return _fraction(value, code="fv.dsr_limit_range", message="DSR limit must be above 0 and at most 1")


# A-5's buffer (a share of DI) and A-6's DSR limit (a share of net income): above 0, at most 1.
_SHARE = r"^[0-9]+(\.[0-9]+)?$"
BufferShare = Annotated[
    DecStr,
    AfterValidator(_buffer_range),
    WithJsonSchema({"type": "string", "pattern": _SHARE, "examples": ["0.80"]}),
]
DsrLimit = Annotated[
    DecStr,
    AfterValidator(_dsr_limit_range),
    WithJsonSchema({"type": "string", "pattern": _SHARE, "examples": ["0.50"]}),
]


class AssessmentInput(BaseModel):
    """What the investigator records on site: incomes, expenses and the lender's sizing parameters."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "incomes": [
                        {"amount": "6000.00", "source": "salary", "evidence": "payslip"},
                        {"amount": "3000.00", "source": "spouse", "evidence": "payslip"},
                    ],
                    "expenses": [
                        {"amount": "2500.00", "category": "HOUS"},
                        {"amount": "1800.00", "category": "FOOD"},
                        {"amount": "800.00", "category": "DEBT"},
                    ],
                    "buffer": "0.80",
                    "dsr_limit": "0.50",
                    "max_term": 60,
                }
            ]
        },
    )

    incomes: list[IncomeLine] = Field(default_factory=list)
    expenses: list[ExpenseLine] = Field(default_factory=list)
    # itemised debts count toward DEBT beside the DEBT expense lines.
    other_debts: list[OtherDebt] = Field(default_factory=list)
    buffer: BufferShare = Decimal("0.80")
    dsr_limit: DsrLimit = Decimal("0.50")
    max_term: StrictInt = Field(default=60, json_schema_extra={"minimum": 1, "maximum": 60})

    @field_validator("max_term", mode="after")
    @classmethod
    def _max_term_range(cls, value: int) -> int:
        if not 1 <= value <= 60:
            raise PydanticCustomError("fv.max_term_range", "maximum term must be 1 to 60 months")
        return value


class AffordabilityPolicy(BaseModel):
    """Lender-side settings that the field app may not override (A-2 haircuts, A-6 severe threshold)."""

    model_config = ConfigDict(frozen=True)

    declared_share: DecStr = Decimal("0.50")
    receipts_share_costs_unknown: DecStr = Decimal("0.30")
    dsr_severe: DecStr = Decimal("0.70")


DEFAULT_POLICY = AffordabilityPolicy()


class Affordability(BaseModel):
    """Result of A-3..A-8 for one proposed instalment."""

    net_income: Money
    essential_expenses: Money
    debt_service: Money
    disposable_income: Money
    capacity: Money
    dsr_after: DecStr | None = Field(description="4-decimal fraction; null when net income is 0")
    verdict: Literal["pass", "fail"]
    min_term_months: int | None
    hardship: bool = False
    dsr_severity: Literal["ok", "high", "severe"] = "ok"
    reasons: list[str] = Field(
        default_factory=list,
        description="why the plan fails: no_disposable_income, instalment_above_capacity, "
        "dsr_above_limit, term_above_max",
    )


def counted_income(line: IncomeLine, policy: AffordabilityPolicy = DEFAULT_POLICY) -> Decimal:
    """A-2: documented income counts in full; declared-only income and unknown-cost receipts are cut."""
    if line.evidence is EvidenceLevel.DECLARED:
        return q2(line.amount * policy.declared_share)
    if line.evidence is EvidenceLevel.BUSINESS_RECEIPTS and not line.costs_known:
        return q2(line.amount * policy.receipts_share_costs_unknown)
    return q2(line.amount)


def min_term(principal: Decimal, monthly_rate: Decimal, capacity: Decimal, max_term: int = 60) -> int | None:
    """A-8: the shortest term whose instalment fits the capacity, or None if none within max_term does."""
    from models.finance import annuity_payment  # finance imports this module for its request model

    if principal <= 0:
        return 0
    if capacity <= 0:
        return None
    if monthly_rate == 0:
        n = int((principal / capacity).to_integral_value(rounding=ROUND_CEILING))
        return n if n <= max_term else None
    if capacity <= q2(principal * monthly_rate):
        return None  # the capacity does not even cover the first month's interest
    for n in range(1, max_term + 1):
        if annuity_payment(principal, monthly_rate, n) <= capacity:
            return n
    return None


def debt_service(assessment: AssessmentInput) -> Decimal:
    """A-4: DEBT is every contractual debt service, the DEBT expense lines plus the itemised other debts."""
    lines = sum((x.amount for x in assessment.expenses if x.category is ExpenseCategory.DEBT), ZERO)
    return lines + sum((d.monthly_payment for d in assessment.other_debts), ZERO)


def assess(
    assessment: AssessmentInput,
    *,
    instalment: Decimal,
    principal: Decimal,
    monthly_rate: Decimal,
    term_months: int,
    policy: AffordabilityPolicy = DEFAULT_POLICY,
) -> Affordability:
    """A-1..A-8 for a plan paying `instalment` a month over `term_months` months."""
    net_income = sum((counted_income(x, policy) for x in assessment.incomes), ZERO)
    essential = sum((x.amount for x in assessment.expenses if x.category is not ExpenseCategory.DEBT), ZERO)
    debt = debt_service(assessment)
    disposable = net_income - essential - debt
    capacity = max(ZERO, q2(disposable * assessment.buffer))

    committed = debt + instalment
    dsr: Decimal | None = None
    exact: Decimal | None = None  # the limits judge the ratio itself; `dsr` is its 4-place figure
    if net_income > 0:
        exact = committed / net_income
        dsr = Decimal(fmt_rate(exact))
        if exact > policy.dsr_severe:
            severity: Literal["ok", "high", "severe"] = "severe"
        elif exact > assessment.dsr_limit:
            severity = "high"
        else:
            severity = "ok"
    else:
        severity = "severe" if committed > 0 else "ok"

    reasons: list[str] = []
    hardship = disposable <= 0
    if hardship:
        reasons.append("no_disposable_income")
    if instalment > capacity:
        reasons.append("instalment_above_capacity")
    if (exact is None and committed > 0) or (exact is not None and exact > assessment.dsr_limit):
        reasons.append("dsr_above_limit")
    if term_months > assessment.max_term:
        reasons.append("term_above_max")

    return Affordability(
        net_income=net_income,
        essential_expenses=essential,
        debt_service=debt,
        disposable_income=disposable,
        capacity=capacity,
        dsr_after=dsr,
        verdict="fail" if reasons else "pass",
        min_term_months=min_term(principal, monthly_rate, capacity, assessment.max_term),
        hardship=hardship,
        dsr_severity=severity,
        reasons=reasons,
    )
