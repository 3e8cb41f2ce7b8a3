"""Affordability assessment (domain §4) against worked example E-11 and the A-2 evidence rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from models.affordability import (
    AffordabilityPolicy,
    AssessmentInput,
    IncomeLine,
    assess,
    counted_income,
    min_term,
)
from models.codes import EvidenceLevel, IncomeSource
from models.finance import annuity_payment

D = Decimal


def e11(**overrides: Any) -> AssessmentInput:
    body: dict[str, Any] = {
        "incomes": [
            {"amount": "6000.00", "source": "salary", "evidence": "payslip"},
            {"amount": "3000.00", "source": "spouse", "evidence": "payslip"},
        ],
        "expenses": [
            {"amount": "2500.00", "category": "HOUS"},
            {"amount": "1800.00", "category": "FOOD"},
            {"amount": "600.00", "category": "EDUC"},
            {"amount": "300.00", "category": "MEDI"},
            {"amount": "400.00", "category": "TRAN"},
            {"amount": "300.00", "category": "UTIL"},
            {"amount": "800.00", "category": "DEBT"},
        ],
    }
    body.update(overrides)
    return AssessmentInput.model_validate(body)


def test_assess_matches_e11_when_12_month_plan_at_zero_percent() -> None:
    result = assess(e11(), instalment=D("1166.67"), principal=D("14000"), monthly_rate=D(0), term_months=12)
    assert result.net_income == D("9000.00")
    assert result.essential_expenses == D("5900.00")
    assert result.debt_service == D("800.00")
    assert result.disposable_income == D("2300.00")
    assert result.capacity == D("1840.00")
    assert result.dsr_after == D("0.2185")
    assert result.verdict == "pass"
    assert result.min_term_months == 8
    assert result.dsr_severity == "ok"
    assert not result.hardship
    dumped = result.model_dump(mode="json")
    assert dumped["dsr_after"] == "0.2185"
    assert dumped["capacity"] == "1840.00"


def test_12_month_instalment_is_1166_67_when_e11_outstanding() -> None:
    assert annuity_payment(D("14000"), D(0), 12) == D("1166.67")


def test_min_term_is_8_when_e11_at_zero_percent() -> None:
    assert min_term(D("14000"), D(0), D("1840.00"), 60) == 8
    assert annuity_payment(D("14000"), D(0), 8) == D("1750.00")
    assert annuity_payment(D("14000"), D(0), 7) == D("2000.00")


def test_min_term_is_8_when_e11_at_one_percent() -> None:
    assert min_term(D("14000"), D("0.01"), D("1840.00"), 60) == 8
    assert annuity_payment(D("14000"), D("0.01"), 8) == D("1829.66")
    assert annuity_payment(D("14000"), D("0.01"), 7) > D("1840.00")


def test_min_term_is_none_when_capacity_zero() -> None:
    assert min_term(D("14000"), D("0.01"), D("0.00"), 60) is None


def test_min_term_is_none_when_capacity_below_interest() -> None:
    assert min_term(D("14000"), D("0.01"), D("140.00"), 60) is None


def test_min_term_is_none_when_beyond_max_term() -> None:
    assert min_term(D("14000"), D(0), D("100.00"), 60) is None


def test_assess_fails_with_reasons_when_instalment_above_capacity() -> None:
    result = assess(e11(), instalment=D("1900.00"), principal=D("14000"), monthly_rate=D(0), term_months=8)
    assert result.verdict == "fail"
    assert result.reasons == ["instalment_above_capacity"]


def test_assess_fails_when_term_above_max() -> None:
    result = assess(
        e11(max_term=6), instalment=D("1000.00"), principal=D("14000"), monthly_rate=D(0), term_months=12
    )
    assert result.verdict == "fail"
    assert "term_above_max" in result.reasons
    assert result.min_term_months is None


def test_assess_flags_dsr_high_and_severe_when_limits_crossed() -> None:
    high = assess(
        e11(dsr_limit="0.20"),
        instalment=D("1166.67"),
        principal=D("14000"),
        monthly_rate=D(0),
        term_months=12,
    )
    assert high.dsr_severity == "high"
    assert "dsr_above_limit" in high.reasons
    severe = assess(
        e11(),
        instalment=D("1166.67"),
        principal=D("14000"),
        monthly_rate=D(0),
        term_months=12,
        policy=AffordabilityPolicy(dsr_severe=D("0.20")),
    )
    assert severe.dsr_severity == "severe"


@pytest.mark.parametrize(
    ("instalment", "shown", "severity", "verdict"),
    [
        # 50% exactly is at the limit, not above it.
        ("1000.00", "0.5000", "ok", "pass"),
        # 50.004% shows as 50.00% but lies above the limit: the limit judges the ratio, not its figure.
        ("1000.40", "0.5000", "high", "fail"),
        ("3000.00", "0.7000", "high", "fail"),
        ("3000.40", "0.7000", "severe", "fail"),
    ],
)
def test_dsr_limits_judge_the_ratio_not_its_rounded_figure_when_just_above(
    instalment: str, shown: str, severity: str, verdict: str
) -> None:
    household = AssessmentInput.model_validate(
        {
            "incomes": [{"amount": "10000.00", "source": "salary", "evidence": "payslip"}],
            "expenses": [{"amount": "4000.00", "category": "DEBT"}],
            "buffer": "1.00",
        }
    )
    result = assess(household, instalment=D(instalment), principal=D(1000), monthly_rate=D(0), term_months=1)
    assert result.dsr_after == D(shown)
    assert result.dsr_severity == severity
    assert result.verdict == verdict
    assert ("dsr_above_limit" in result.reasons) == (severity != "ok")


def test_assess_flags_hardship_when_disposable_income_not_positive() -> None:
    body = e11()
    poor = body.model_copy(update={"incomes": body.incomes[1:]})
    result = assess(poor, instalment=D("100.00"), principal=D("14000"), monthly_rate=D(0), term_months=12)
    assert result.disposable_income == D("-3700.00")
    assert result.capacity == D("0.00")
    assert result.hardship
    assert result.verdict == "fail"
    assert result.min_term_months is None
    assert "no_disposable_income" in result.reasons


def test_assess_gives_null_dsr_when_no_income() -> None:
    result = assess(
        AssessmentInput(), instalment=D("100.00"), principal=D("1000"), monthly_rate=D(0), term_months=10
    )
    assert result.dsr_after is None
    assert result.model_dump(mode="json")["dsr_after"] is None
    assert result.verdict == "fail"
    assert result.dsr_severity == "severe"


def test_debt_lines_are_not_essential_expenses_when_categorised_debt() -> None:
    body = e11(expenses=[{"amount": "800.00", "category": "DEBT"}])
    result = assess(body, instalment=D("0"), principal=D("1"), monthly_rate=D(0), term_months=1)
    assert result.essential_expenses == D("0.00")
    assert result.debt_service == D("800.00")


# --- A-2 evidence ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "evidence",
    [
        EvidenceLevel.BANK_STATEMENT,
        EvidenceLevel.PAYSLIP,
        EvidenceLevel.SOCIAL_INSURANCE_TAX,
        EvidenceLevel.BUSINESS_RECEIPTS,
    ],
)
def test_counted_income_is_full_when_documented(evidence: EvidenceLevel) -> None:
    line = IncomeLine(amount=D("6000.00"), source=IncomeSource.SALARY, evidence=evidence)
    assert counted_income(line) == D("6000.00")


def test_counted_income_is_half_when_declared_only() -> None:
    line = IncomeLine(amount=D("6000.00"), source=IncomeSource.SALARY, evidence=EvidenceLevel.DECLARED)
    assert counted_income(line) == D("3000.00")
    assert counted_income(line, AffordabilityPolicy(declared_share=D("0.40"))) == D("2400.00")


def test_counted_income_is_30_percent_when_business_costs_unknown() -> None:
    line = IncomeLine(
        amount=D("10000.00"),
        source=IncomeSource.BUSINESS,
        evidence=EvidenceLevel.BUSINESS_RECEIPTS,
        costs_known=False,
    )
    assert counted_income(line) == D("3000.00")


def test_income_line_refused_with_clear_message_when_evidence_missing() -> None:
    with pytest.raises(ValidationError) as exc:
        IncomeLine.model_validate({"amount": "6000.00", "source": "salary"})
    (err,) = exc.value.errors()
    assert err["loc"] == ("evidence",)
    assert err["type"] == "fv.evidence_required"
    assert "evidence level" in err["msg"]


def test_income_line_refused_when_evidence_null_inside_assessment() -> None:
    with pytest.raises(ValidationError) as exc:
        AssessmentInput.model_validate(
            {"incomes": [{"amount": "6000.00", "source": "salary", "evidence": None}]}
        )
    assert exc.value.errors()[0]["loc"] == ("incomes", 0, "evidence")


def test_income_line_schema_marks_evidence_required_when_published() -> None:
    assert "evidence" in IncomeLine.model_json_schema()["required"]


@pytest.mark.parametrize("amount", ["-1.00", "10.005", 12.5])
def test_income_line_refused_when_amount_bad(amount: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        IncomeLine.model_validate({"amount": amount, "source": "salary", "evidence": "payslip"})
    assert exc.value.errors()[0]["loc"] == ("amount",)


@pytest.mark.parametrize(
    "field,value", [("buffer", "0"), ("buffer", "1.2"), ("dsr_limit", "-0.1"), ("max_term", 61)]
)
def test_assessment_refused_when_parameter_out_of_range(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        AssessmentInput.model_validate({field: value})
    assert exc.value.errors()[0]["loc"] == (field,)


def test_assessment_defaults_are_domain_values_when_omitted() -> None:
    dumped = AssessmentInput().model_dump(mode="json")
    assert (dumped["buffer"], dumped["dsr_limit"], dumped["max_term"]) == ("0.80", "0.50", 60)
