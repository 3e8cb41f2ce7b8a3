"""The rule book (models/rules.py): every rule code raised by a report that breaks it, with its rule id,
severity and server flag; P-5 measured by IRR (domain vectors); A-4's itemised debts (E-13); the lender's
settings over a device's thresholds; P-1 with holiday months; P-4 only for restructures."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from models.affordability import AssessmentInput, assess, debt_service
from models.codes import PlanMethod, ProductType
from models.finance import P5_ANNUAL_CAP, PlanPreviewRequest, p5_ok, preview_plan
from models.report import EXAMPLE_REPORT, VisitReport
from models.rules import (
    APPROVAL_BLOCKING_FLAGS,
    RULES,
    SIGN_OFF_FLAGS,
    CaseContext,
    Evaluation,
    RuleSettings,
    Severity,
    evaluate,
    household_assessment,
    plan_figures,
    sign_off_needed,
)

D = Decimal
TODAY = date(2026, 11, 20)
PAIR = ("u-lead", "u-partner")

# The loan the example report's plan restructures: a pay-later line of 12,000.00 at 1.5% a month, visited
# on its planned date by the two collectors it was assigned to.
CASE = CaseContext(
    product_type=ProductType.CONSUMER_INSTALMENT,
    outstanding_principal=D("12000.00"),
    contractual_monthly_rate=D("0.015"),
    planned_date=TODAY,
    assigned=PAIR,
)

# E-11's household without its DEBT expense line (E-13 gives that 800 as itemised debts instead).
E11_ESSENTIALS = [
    {"amount": "2500.00", "category": "HOUS"},
    {"amount": "1800.00", "category": "FOOD"},
    {"amount": "600.00", "category": "EDUC"},
    {"amount": "300.00", "category": "MEDI"},
    {"amount": "400.00", "category": "TRAN"},
    {"amount": "300.00", "category": "UTIL"},
]
E11_INCOMES = [
    {"amount": "6000.00", "source": "salary", "evidence": "payslip"},
    {"amount": "3000.00", "source": "spouse", "evidence": "payslip"},
]
E13_DEBTS = [
    {"lender": "花呗", "balance": "6000.00", "monthly_payment": "500.00"},
    {"lender": "credit card", "balance": "3000.00", "monthly_payment": "300.00"},
]
JIEBEI = {"lender": "借呗", "balance": "24000.00", "monthly_payment": "2000.00"}


def report_dict(change: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The example report (a clean one on CASE) with both collectors present, changed by `change`."""
    rep = copy.deepcopy(EXAMPLE_REPORT)
    rep["compliance"]["collector_ids"] = list(PAIR)
    if change is not None:
        change(rep)
    return rep


def check(
    change: Callable[[dict[str, Any]], None] | None = None,
    case: CaseContext = CASE,
    settings: RuleSettings | None = None,
) -> Evaluation:
    report = VisitReport.model_validate(report_dict(change))
    if settings is None:
        return evaluate(report, case, today=TODAY)
    return evaluate(report, case, settings, today=TODAY)


def codes(ev: Evaluation) -> set[str]:
    return {p.code for p in ev.problems}


def problem(ev: Evaluation, code: str) -> Any:
    found = [p for p in ev.problems if p.code == code]
    assert len(found) == 1, [p.code for p in ev.problems]
    return found[0]


def set_plan(**values: Any) -> Callable[[dict[str, Any]], None]:
    """A plan changed in its terms; the device's own figures are left out (the book recomputes them), so
    only the terms under test can raise a problem."""

    def change(rep: dict[str, Any]) -> None:
        for k in ("instalment", "total_payment", "apr_simple", "apr_compound"):
            rep["plan"].pop(k, None)
        rep["plan"].update(values)

    return change


def both(*changes: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def change(rep: dict[str, Any]) -> None:
        for c in changes:
            c(rep)

    return change


def checked_in(at: str) -> Callable[[dict[str, Any]], None]:
    """Check-in at `at`, check-out at the same instant (it must not come before the check-in)."""

    def change(rep: dict[str, Any]) -> None:
        rep["checkin"]["at"] = at
        rep["checkout"]["at"] = at

    return change


def compliance(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda rep: rep["compliance"].update(values)


def interview(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda rep: rep["interview"].update(values)


def household(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda rep: rep["assessment"].update(values)


def met_third_party(outcome: str, *, attested: bool, contact: bool) -> Callable[[dict[str, Any]], None]:
    """A family or third-party contact: R-12 forbids it to carry the interview, the plan or the household."""

    def change(rep: dict[str, Any]) -> None:
        rep["outcome"] = outcome
        for k in ("interview", "plan", "assessment"):
            rep.pop(k)
        rep["compliance"].update(no_disclosure_attested=attested, location_kind="doorstep")
        rep["third_party"] = {"relation": "family", "message_passed": True} if contact else None

    return change


# ---------------------------------------------------------------------------------------------------
# The clean report


def test_evaluate_finds_no_problem_when_example_report_has_both_assigned_collectors() -> None:
    ev = check()
    assert ev.problems == [] and ev.flags == []
    assert ev.assessment is not None and ev.assessment.verdict == "pass"
    assert ev.assessment.capacity == D("1840.00") and ev.assessment.dsr_after == "0.2111"
    assert ev.p4 is not None and ev.p4.within


def test_evaluate_flags_collectors_too_few_when_example_report_lists_no_collectors() -> None:
    ev = evaluate(VisitReport.model_validate(copy.deepcopy(EXAMPLE_REPORT)), today=TODAY)
    assert codes(ev) == {"collectors_too_few"}


# ---------------------------------------------------------------------------------------------------
# One report per rule code: (change, case, the codes it raises, the severity of the code under test)

_HIGH_DEBT = [*E11_ESSENTIALS[:1], {"amount": "3600.00", "category": "DEBT"}]  # EE 2,500, DEBT 3,600
_SEVERE_DEBT = [*E11_ESSENTIALS[:1], {"amount": "5300.00", "category": "DEBT"}]  # EE 2,500, DEBT 5,300

RULE_CASES: dict[str, tuple[Callable[[dict[str, Any]], None], CaseContext, set[str], Severity]] = {
    "checkin_missing": (
        lambda r: r.update(checkin=None),
        CASE,
        {"checkin_missing"},
        Severity.BLOCK,
    ),
    "checkin_position_missing": (
        lambda r: r["checkin"].update(position=None),
        CASE,
        {"checkin_position_missing"},
        Severity.NOTE,
    ),
    "checkin_outside_hours": (
        lambda r: r["checkin"].update(at="2026-11-20T07:30:00+08:00"),
        CASE,
        {"checkin_outside_hours"},
        Severity.BLOCK,
    ),
    "checkin_outside_planned_date": (
        lambda r: None,
        CASE.model_copy(update={"planned_date": date(2026, 11, 19)}),
        {"checkin_outside_planned_date"},
        Severity.NOTE,
    ),
    "collectors_too_few": (
        compliance(collector_ids=["u-lead"]),
        CASE.model_copy(update={"assigned": None}),
        {"collectors_too_few"},
        Severity.BLOCK,
    ),
    # Someone not assigned is present: the pair also differs from the assignment.
    "collectors_not_assigned": (
        compliance(collector_ids=["u-lead", "u-stranger"]),
        CASE,
        {"collectors_not_assigned", "collectors_differ"},
        Severity.BLOCK,
    ),
    "collectors_differ": (
        lambda r: None,
        CASE.model_copy(update={"assigned": (*PAIR, "u-third")}),
        {"collectors_differ"},
        Severity.NOTE,
    ),
    "visit_reassigned": (
        lambda r: None,
        CASE.model_copy(update={"caller_active": False}),
        {"visit_reassigned"},
        Severity.NOTE,
    ),
    "id_not_shown": (compliance(id_shown=False), CASE, {"id_not_shown"}, Severity.BLOCK),
    "authorisation_not_shown": (
        lambda r: r.update(agency_id="agency-7"),
        CASE,
        {"authorisation_not_shown"},
        Severity.BLOCK,
    ),
    "recording_off": (compliance(recording_on=False), CASE, {"recording_off"}, Severity.BLOCK),
    "consent_to_enter_missing": (
        compliance(consent_to_enter=None, location_kind="doorstep"),
        CASE,
        {"consent_to_enter_missing"},
        Severity.BLOCK,
    ),
    "entry_without_consent": (
        compliance(consent_to_enter=False),
        CASE,
        {"entry_without_consent"},
        Severity.BLOCK,
    ),
    "outcome_missing": (lambda r: r.update(outcome=None), CASE, {"outcome_missing"}, Severity.BLOCK),
    "third_party_attestation_missing": (
        met_third_party("MET_FAMILY", attested=False, contact=True),
        CASE,
        {"third_party_attestation_missing"},
        Severity.BLOCK,
    ),
    "third_party_missing": (
        met_third_party("MET_THIRD_PARTY", attested=True, contact=False),
        CASE,
        {"third_party_missing"},
        Severity.BLOCK,
    ),
    "checkout_missing": (lambda r: r.update(checkout=None), CASE, {"checkout_missing"}, Severity.BLOCK),
    "reasons_missing": (
        interview(reasons=[], primary_reason=None),
        CASE,
        {"reasons_missing"},
        Severity.BLOCK,
    ),
    "primary_reason_missing": (
        interview(primary_reason=None),
        CASE,
        {"primary_reason_missing"},
        Severity.BLOCK,
    ),
    "willingness_missing": (
        interview(willingness=None),
        CASE,
        {"willingness_missing"},
        Severity.BLOCK,
    ),
    "plan_missing": (lambda r: r.update(plan=None), CASE, {"plan_missing"}, Severity.BLOCK),
    # Without incomes there is nothing to pay from: DI < 0 (hardship), DSR undefined with debts (severe),
    # capacity 0 (over capacity).
    "incomes_missing": (
        household(incomes=[]),
        CASE,
        {"incomes_missing", "hardship", "dsr_severe", "over_capacity"},
        Severity.BLOCK,
    ),
    # DI = 2,000 − 2,000 = 0 with no plan proposed: no instalment is affordable (A-7).
    "hardship": (
        both(
            lambda r: r.update(plan=None),
            interview(results=["HARDSHIP_CLAIMED"]),
            household(
                incomes=[{"amount": "2000.00", "source": "salary", "evidence": "payslip"}],
                expenses=[{"amount": "2000.00", "category": "HOUS"}],
            ),
        ),
        CASE,
        {"hardship"},
        Severity.SIGN_OFF,
    ),
    # DSR_after = (3,600 + 1,100.16) / 9,000 = 52.22%: above 50%, below 70%; capacity 2,320 still fits.
    "dsr_high": (household(expenses=_HIGH_DEBT), CASE, {"dsr_high"}, Severity.NOTE),
    # DSR_after = (5,300 + 1,100.16) / 9,000 = 71.11%; capacity 960.00 is below the instalment too.
    "dsr_severe": (
        both(household(expenses=_SEVERE_DEBT), lambda r: r["plan"].update(override_reason="配偶下月复工")),
        CASE,
        {"dsr_severe", "over_capacity"},
        Severity.SIGN_OFF,
    ),
    # A fee of the whole principal: nothing is received, so nothing can be priced (and P-5 is broken).
    "plan_invalid": (
        set_plan(upfront_fee="12000.00"),
        CASE,
        {"plan_invalid", "above_charge_cap"},
        Severity.BLOCK,
    ),
    # A cash loan's restructure is at most 36 months (P-1); 48 at the contract's rate stays within P-4.
    "term_beyond_max": (
        set_plan(product_type="cash_loan", term_months=48),
        CASE.model_copy(update={"product_type": ProductType.CASH_LOAN}),
        {"term_beyond_max"},
        Severity.BLOCK,
    ),
    "product_mismatch": (
        set_plan(product_type="cash_loan"),
        CASE,
        {"product_mismatch"},
        Severity.BLOCK,
    ),
    # The spouse earns 1,000: NI 7,000, DI 300, capacity 240.00 against 1,100.16.
    "over_capacity": (
        household(incomes=[E11_INCOMES[0], {"amount": "1000.00", "source": "spouse", "evidence": "payslip"}]),
        CASE,
        {"over_capacity"},
        Severity.BLOCK,
    ),
    # 1.8% a month on the same 12,000.00: 21.60% a year keeps to P-5 but costs more than the contract's 1.5%.
    "p4_ceiling_exceeded": (
        set_plan(monthly_rate="0.018"),
        CASE,
        {"p4_ceiling_exceeded"},
        Severity.SIGN_OFF,
    ),
    # 2.5% a month is 30% a year; the contract's own rate is as high, so P-4 holds.
    "above_charge_cap": (
        set_plan(monthly_rate="0.025"),
        CASE.model_copy(update={"contractual_monthly_rate": D("0.025")}),
        {"above_charge_cap"},
        Severity.BLOCK,
    ),
    "agreement_missing": (
        lambda r: r["plan"].update(agreement=None),
        CASE,
        {"agreement_missing"},
        Severity.BLOCK,
    ),
    "plan_mismatch": (
        lambda r: r["plan"].update(instalment="1100.00"),
        CASE,
        {"plan_mismatch"},
        Severity.SIGN_OFF,
    ),
}


def test_rule_cases_cover_every_rule_code_of_the_book() -> None:
    # A rule added to the book without a report that breaks it would go untested.
    assert set(RULE_CASES) == set(RULES)


@pytest.mark.parametrize("code", sorted(RULE_CASES))
def test_evaluate_raises_the_rule_with_its_id_severity_and_flag_when_a_report_breaks_it(code: str) -> None:
    change, case, expected, severity = RULE_CASES[code]
    ev = check(change, case)
    assert codes(ev) == expected
    p = problem(ev, code)
    rule = RULES[code]
    assert (p.rule, p.severity, p.field, p.message, p.flag) == (
        rule.rule,
        severity,
        rule.field,
        rule.message,
        rule.flag,
    )
    if rule.flag is not None:
        assert rule.flag in ev.flags
    assert p.as_json() == {
        "rule": rule.rule,
        "code": code,
        "severity": severity.value,
        "field": rule.field,
        "flag": rule.flag,
    }


def test_rules_name_the_domain_rule_and_protocol_flag_of_each_checkable_rule() -> None:
    expected = {
        "checkin_missing": ("R-6", "checkin_missing"),
        "checkin_outside_hours": ("R-1", "checkin_outside_hours"),
        "checkin_outside_planned_date": ("R-6", "checkin_outside_planned_date"),
        "collectors_differ": ("R-2", "collectors_differ"),
        "id_not_shown": ("R-3", "id_not_shown"),
        "entry_without_consent": ("R-4", "entry_without_consent"),
        "third_party_attestation_missing": ("R-12", "third_party_attestation_missing"),
        "term_beyond_max": ("P-1", "term_beyond_max"),
        "product_mismatch": ("P-1", "product_mismatch"),
        "over_capacity": ("P-3", "over_capacity"),
        "p4_ceiling_exceeded": ("P-4", "p4_ceiling_exceeded"),
        "above_charge_cap": ("P-5", "above_charge_cap"),
        "hardship": ("A-7", "hardship"),
        "dsr_high": ("A-6", "dsr_high"),
        "dsr_severe": ("A-6", "dsr_severe"),
    }
    assert {code: (RULES[code].rule, RULES[code].flag) for code in expected} == expected


def test_sign_off_flags_are_the_protocols_when_approval_is_gated() -> None:
    assert set(SIGN_OFF_FLAGS) == {
        "over_capacity",
        "dsr_severe",
        "hardship",
        "term_beyond_max",
        "product_mismatch",
        "p4_ceiling_exceeded",
        "plan_mismatch",
    }
    assert APPROVAL_BLOCKING_FLAGS == ("above_charge_cap",)
    assert sign_off_needed(["dsr_high", "over_capacity", "collectors_differ"]) == (["over_capacity"], [])
    assert sign_off_needed(["above_charge_cap", "plan_mismatch"]) == (["plan_mismatch"], ["above_charge_cap"])
    assert sign_off_needed([]) == ([], [])


# ---------------------------------------------------------------------------------------------------
# Severity that depends on what the investigator recorded


def test_checkin_outside_hours_is_a_note_when_the_debtor_agreed() -> None:
    ev = check(
        both(
            lambda r: r["checkin"].update(at="2026-11-20T07:30:00+08:00"),
            compliance(outside_hours_consent=True),
        )
    )
    p = problem(ev, "checkin_outside_hours")
    assert p.severity is Severity.NOTE and p.flag == "checkin_outside_hours"


def test_checkin_at_22_00_is_outside_hours_when_local_time_is_shanghai() -> None:
    assert check(checked_in("2026-11-20T21:59:00+08:00")).problems == []
    ev = check(checked_in("2026-11-20T14:00:00+00:00"))  # 22:00 in Shanghai
    assert problem(ev, "checkin_outside_hours").severity is Severity.BLOCK


def test_over_capacity_blocks_without_override_reason_and_needs_sign_off_with_one() -> None:
    poor = household(
        incomes=[E11_INCOMES[0], {"amount": "1000.00", "source": "spouse", "evidence": "payslip"}]
    )
    blocked = problem(check(poor), "over_capacity")
    assert blocked.severity is Severity.BLOCK and blocked.flag == "over_capacity"
    reasoned = check(both(poor, lambda r: r["plan"].update(override_reason="配偶下月复工")))
    signed = problem(reasoned, "over_capacity")
    assert signed.severity is Severity.SIGN_OFF and signed.flag == "over_capacity"
    # A blank reason is no reason.
    blank = check(both(poor, lambda r: r["plan"].update(override_reason="   ")))
    assert problem(blank, "over_capacity").severity is Severity.BLOCK


def test_entry_without_consent_when_interview_was_inside_and_consent_is_absent() -> None:
    ev = check(compliance(consent_to_enter=None))
    assert codes(ev) == {"entry_without_consent", "consent_to_enter_missing"}
    assert ev.flags == ["entry_without_consent"]


def test_server_assessment_verdict_is_hardship_when_disposable_income_is_zero() -> None:
    change, case, _, _ = RULE_CASES["hardship"]
    ev = check(change, case)
    assert ev.assessment is not None
    assert (ev.assessment.disposable_income, ev.assessment.capacity) == (D("0.00"), D("0.00"))
    assert ev.assessment.verdict == "hardship" and ev.flags == ["hardship"]


def test_id_not_shown_raises_no_flag_when_nobody_was_met() -> None:
    def nobody_home(rep: dict[str, Any]) -> None:
        rep.update(outcome="NO_ONE_HOME")
        for k in ("interview", "plan", "assessment"):
            rep.pop(k)
        rep["compliance"].update(id_shown=False, consent_to_enter=None, location_kind=None)

    ev = check(nobody_home)
    assert codes(ev) == {"id_not_shown"}
    assert problem(ev, "id_not_shown").flag is None and ev.flags == []


# ---------------------------------------------------------------------------------------------------
# P-5: the plan's APR_simple by IRR (domain §3.1 vectors: 8,000.00 over 12 equal instalments)

P5_VECTORS = [
    # (monthly rate, upfront fee, APR_simple, keeps to 24%)
    ("0.02", "0.00", "0.2400", True),
    ("0.0201", "0.00", "0.2412", False),
    ("0.0345", "0.00", "0.4140", False),
    ("0.018", "300.00", "0.2909", False),
    ("0.015", "150.00", "0.2166", True),
]


@pytest.mark.parametrize(("rate", "fee", "apr", "keeps"), P5_VECTORS)
def test_p5_measures_apr_simple_by_irr_when_domain_vector(rate: str, fee: str, apr: str, keeps: bool) -> None:
    preview = preview_plan(
        PlanPreviewRequest(
            method=PlanMethod.ANNUITY,
            principal=D("8000.00"),
            term_months=12,
            monthly_rate=D(rate),
            upfront_fee=D(fee),
        )
    )
    assert preview.apr_simple == D(apr)
    assert p5_ok(D(preview.apr_simple)) is keeps
    assert P5_ANNUAL_CAP == D("0.24")


@pytest.mark.parametrize(("rate", "fee", "apr", "keeps"), P5_VECTORS)
def test_book_flags_above_charge_cap_only_when_domain_vector_is_above_24_percent(
    rate: str, fee: str, apr: str, keeps: bool
) -> None:
    # P-4 is left out (no contractual rate known), so only P-5 judges the plan's price.
    case = CASE.model_copy(update={"outstanding_principal": None, "contractual_monthly_rate": None})
    ev = check(set_plan(principal="8000.00", monthly_rate=rate, upfront_fee=fee), case)
    assert ev.plan is not None and ev.plan.preview is not None
    assert ev.plan.preview.apr_simple == D(apr)
    assert ev.has("above_charge_cap") is (not keeps)
    assert ("above_charge_cap" in ev.flags) is (not keeps)
    if not keeps:
        assert problem(ev, "above_charge_cap").severity is Severity.BLOCK


def test_above_charge_cap_follows_the_lenders_cap_when_settings_lower_it() -> None:
    case = CASE.model_copy(update={"outstanding_principal": None, "contractual_monthly_rate": None})
    lower = RuleSettings(charge_cap=D("0.20"))
    assert check(set_plan(principal="8000.00", monthly_rate="0.015", upfront_fee="150.00"), case, lower).has(
        "above_charge_cap"
    )


# ---------------------------------------------------------------------------------------------------
# A-4 and E-13: itemised debts are part of DEBT


def _e13_input(*debts: dict[str, str]) -> AssessmentInput:
    return AssessmentInput.model_validate(
        {"incomes": E11_INCOMES, "expenses": E11_ESSENTIALS, "other_debts": list(debts)}
    )


def test_assess_counts_itemised_debts_as_debt_when_e13_has_no_debt_line() -> None:
    inp = _e13_input(*E13_DEBTS)
    assert debt_service(inp) == D("800.00")
    result = assess(inp, instalment=D("1166.67"), principal=D("14000.00"), monthly_rate=D(0), term_months=12)
    assert (result.debt_service, result.disposable_income, result.capacity) == (
        D("800.00"),
        D("2300.00"),
        D("1840.00"),
    )
    assert result.dsr_after == D("0.2185") and result.verdict == "pass"


def test_assess_fails_over_capacity_when_e13_adds_an_itemised_jiebei_instalment() -> None:
    inp = _e13_input(*E13_DEBTS, JIEBEI)
    assert debt_service(inp) == D("2800.00")
    result = assess(inp, instalment=D("1166.67"), principal=D("14000.00"), monthly_rate=D(0), term_months=12)
    assert (result.debt_service, result.disposable_income, result.capacity) == (
        D("2800.00"),
        D("300.00"),
        D("240.00"),
    )
    # DSR_after = (2,800 + 1,166.67) / 9,000 = 44.07%, within the limit: it is the capacity that fails.
    assert result.dsr_after == D("0.4407")
    assert result.verdict == "fail" and result.reasons == ["instalment_above_capacity"]


def _e13_report(*debts: dict[str, str]) -> Callable[[dict[str, Any]], None]:
    """E-13's household and a 12-month 0% plan on 14,000.00 (1,166.67 a month) on a loan of that size."""
    return both(
        household(expenses=E11_ESSENTIALS, other_debts=list(debts)),
        set_plan(principal="14000.00", monthly_rate="0", instalment="1166.67"),
    )


E13_CASE = CASE.model_copy(
    update={"outstanding_principal": D("14000.00"), "contractual_monthly_rate": D("0")}
)


def test_book_passes_e13_plan_when_itemised_debts_replace_the_debt_line() -> None:
    ev = check(_e13_report(*E13_DEBTS), E13_CASE)
    assert ev.problems == []
    assert ev.assessment is not None
    assert ev.assessment.model_dump(mode="json") == {
        "net_income": "9000.00",
        "essential_expenses": "5900.00",
        "debt_service": "800.00",
        "disposable_income": "2300.00",
        "capacity": "1840.00",
        "dsr_after": "0.2185",
        "verdict": "pass",
    }


def test_book_flags_over_capacity_when_e13_adds_an_itemised_jiebei_instalment() -> None:
    ev = check(_e13_report(*E13_DEBTS, JIEBEI), E13_CASE)
    assert codes(ev) == {"over_capacity"} and ev.flags == ["over_capacity"]
    assert ev.assessment is not None
    assert (ev.assessment.debt_service, ev.assessment.disposable_income, ev.assessment.capacity) == (
        D("2800.00"),
        D("300.00"),
        D("240.00"),
    )
    assert ev.assessment.dsr_after == "0.4407" and ev.assessment.verdict == "fail"


# ---------------------------------------------------------------------------------------------------
# The lender's settings decide, not the device's


def test_book_uses_its_own_buffer_when_device_sends_buffer_0_99() -> None:
    # 12,000.00 at 0% over 6 months is 2,000.00: within 2,300 × 0.99 = 2,277.00 the device showed, above
    # the lender's 2,300 × 0.80 = 1,840.00.
    ev = check(
        both(
            household(buffer="0.99", dsr_limit="0.95"),
            set_plan(monthly_rate="0", term_months=6),
        ),
        CASE.model_copy(update={"contractual_monthly_rate": D("0")}),
    )
    assert ev.assessment is not None and ev.assessment.capacity == D("1840.00")
    assert codes(ev) == {"over_capacity"}


def test_book_uses_its_own_dsr_threshold_when_device_sends_dsr_limit_0_95() -> None:
    ev = check(both(household(expenses=_HIGH_DEBT, dsr_limit="0.95")))
    assert ev.assessment is not None and ev.assessment.dsr_after == "0.5222"
    assert codes(ev) == {"dsr_high"}


def test_book_applies_the_lenders_buffer_when_settings_change_it() -> None:
    ev = check(settings=RuleSettings(buffer=D("0.40")))
    # 2,300 × 0.40 = 920.00 < 1,100.16.
    assert ev.assessment is not None and ev.assessment.capacity == D("920.00")
    assert codes(ev) == {"over_capacity"}


def test_household_assessment_shows_the_devices_figures_when_settings_are_none() -> None:
    assessment = VisitReport.model_validate(report_dict(household(buffer="0.99"))).assessment
    assert assessment is not None
    device = household_assessment(assessment, instalment=D("1100.16"), settings=None)
    lender = household_assessment(assessment, instalment=D("1100.16"))
    assert (device.capacity, lender.capacity) == (D("2277.00"), D("1840.00"))


def test_book_flags_over_capacity_when_report_has_a_plan_but_no_assessment() -> None:
    # No household recorded: nothing shows the instalment is affordable (capacity 0).
    ev = check(both(lambda r: r.pop("assessment"), interview(results=["FOLLOW_UP_NEEDED"])))
    assert codes(ev) == {"over_capacity"}
    assert ev.assessment is None


def test_book_checks_capacity_when_plan_leaves_out_its_instalment() -> None:
    poor = household(
        incomes=[E11_INCOMES[0], {"amount": "1000.00", "source": "spouse", "evidence": "payslip"}]
    )
    ev = check(both(poor, set_plan()))
    assert codes(ev) == {"over_capacity"}
    assert ev.plan is not None and ev.plan.regular_instalment == D("1100.16")


def test_book_flags_over_capacity_when_step_payments_leave_a_balloon_as_the_only_amortising_instalment() -> (
    None
):
    # 11 token payments of 10.00, then the whole balance in month 12: that last payment is the plan's
    # instalment, not a rounding residue, and it is far above the household's capacity of 1,840.00.
    ev = check(set_plan(monthly_rate="0", term_months=12, step_payments=["10.00"] * 11))
    assert ev.plan is not None and ev.plan.regular_instalment == D("11890.00")
    assert ev.has("over_capacity") and ev.has("dsr_severe")


# ---------------------------------------------------------------------------------------------------
# P-1: the term, holiday months included


def test_term_beyond_max_when_60_month_plan_has_12_holiday_months_on_a_pay_later_line() -> None:
    ev = check(set_plan(term_months=60, holiday_months=12))
    assert ev.has("term_beyond_max")
    assert problem(ev, "term_beyond_max").flag == "term_beyond_max"


def test_term_within_max_when_48_month_plan_has_12_holiday_months_on_a_pay_later_line() -> None:
    ev = check(set_plan(term_months=48, holiday_months=12))
    assert not ev.has("term_beyond_max")


def test_term_beyond_max_when_plan_runs_72_months() -> None:
    ev = check(set_plan(term_months=72))
    assert codes(ev) == {"term_beyond_max"}
    # The book still prices the plan (its schedule and APR), so its other limits are checked too.
    assert ev.plan is not None and ev.plan.preview is not None and len(ev.plan.preview.schedule) == 72


def test_term_beyond_max_follows_the_product_when_case_product_is_unknown() -> None:
    # Without the visit's product the plan's own counts: a cash loan's 36 months.
    unknown = CASE.model_copy(update={"product_type": None})
    assert check(set_plan(product_type="cash_loan", term_months=37), unknown).has("term_beyond_max")
    assert not check(set_plan(term_months=37), unknown).has("term_beyond_max")


def test_term_beyond_max_follows_the_lenders_product_maximum_when_settings_change_it() -> None:
    short = RuleSettings(max_term={ProductType.CONSUMER_INSTALMENT: 6, ProductType.CASH_LOAN: 6})
    assert check(settings=short).has("term_beyond_max")


# ---------------------------------------------------------------------------------------------------
# Product, P-4 and what is not a restructure


def test_product_mismatch_when_plan_is_for_a_cash_loan_on_a_pay_later_line() -> None:
    ev = check(set_plan(product_type="cash_loan"))
    p = problem(ev, "product_mismatch")
    assert p.severity is Severity.BLOCK and p.flag == "product_mismatch" and p.rule == "P-1"
    # The same plan on a cash loan is clean.
    assert (
        check(
            set_plan(product_type="cash_loan"),
            CASE.model_copy(update={"product_type": ProductType.CASH_LOAN}),
        ).problems
        == []
    )


def test_p4_ceiling_exceeded_when_restructure_principal_is_above_the_outstanding() -> None:
    ev = check(set_plan(principal="13000.00"))
    assert codes(ev) == {"p4_ceiling_exceeded"}
    assert ev.p4 is not None and ev.p4.ceiling == D("13201.95") and ev.p4.total_repayable > ev.p4.ceiling


def test_p4_counts_the_upfront_fee_when_plan_charges_one() -> None:
    ev = check(set_plan(upfront_fee="100.00"))
    assert ev.p4 is not None and ev.p4.total_repayable == D("13301.95")
    assert ev.has("p4_ceiling_exceeded")


@pytest.mark.parametrize("option", ["P-PTP", "P-SETTLE"])
def test_p4_is_not_measured_when_plan_is_a_promise_or_a_settlement(option: str) -> None:
    ev = check(set_plan(option=option, principal="13000.00"))
    assert not ev.has("p4_ceiling_exceeded") and ev.p4 is None
    # The same figures as a restructure break P-4.
    assert check(set_plan(option="P-DEFER", principal="13000.00")).has("p4_ceiling_exceeded")


def test_p4_is_not_measured_when_visit_has_no_contractual_rate() -> None:
    ev = check(set_plan(principal="13000.00"), CASE.model_copy(update={"contractual_monthly_rate": None}))
    assert not ev.has("p4_ceiling_exceeded") and ev.p4 is None


def test_plan_figures_match_the_device_when_example_plan() -> None:
    plan = VisitReport.model_validate(report_dict()).plan
    assert plan is not None
    fig = plan_figures(plan, today=TODAY)
    assert (
        not fig.mismatch and fig.regular_instalment == D("1100.16") and fig.total_repayable == D("13201.95")
    )
