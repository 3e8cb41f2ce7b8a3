"""The rule book: every rule of domain.md §1–§4 a visit report can be checked against, in one place.

`evaluate(report, case, settings)` returns every problem of a report with its domain rule id, its severity
(`block`: the app refuses to submit; `sign_off`: a supervisor must give a reason to approve; `note`: shown,
nothing more), the field it concerns and, where protocol.md names one, the server flag it raises. The app's
form shows these problems as the investigator types and blocks submission on the blocking ones; the central
server evaluates the same book on every push with **its own** settings and stores the flags; the desk shows
them. Pure: no I/O, no clock (the caller passes `today`).

Where each rule of domain.md §1–§4 lives:
- R-1 hours: `checkin_outside_hours` here (in the borrower's time zone, `models.privacy.within_visit_hours`).
- R-2 two collectors: `collectors_too_few`, `collectors_not_assigned`, `collectors_differ` here; the server's
  assign endpoint also refuses fewer than two (`sync/server/store/visits.py`).
- R-3 identification: `id_not_shown`, `authorisation_not_shown` here; the app also keeps the interview
  locked until it is ticked (`VisitFormState.interview_locked`).
- R-4 consent to enter: `consent_to_enter_missing`, `entry_without_consent` here.
- R-5 no impersonation, R-14 forbidden conduct, R-15 notices, R-16 official channels, R-21 credit-report
  statements: conduct on site, not checkable from a report.
- R-6 records: `checkin_missing`, `checkin_position_missing`, `checkin_outside_planned_date`,
  `outcome_missing`, `checkout_missing` here.
- R-7 recording announced: `recording_off` here.
- R-8 retention, R-9 tamper evidence: the stores (attachments are content-addressed by SHA-256); not rules
  of a report.
- R-10, R-11 whom to approach, R-13 frequency: the dispatch of visits (server), not a report.
- R-12 third parties: `third_party_attestation_missing`, `third_party_missing` here; a third-party report
  carrying amounts is malformed (`VisitReport` refuses it, `fv.third_party_disclosure`).
- R-17..R-20 agencies and staff: lender administration, not checkable here.
- D-1..D-7 privacy: the stores, masking (`models.privacy`) and the app's third-party mode.
- §3 P-1 term: `term_beyond_max`; P-2 APR shown: the plan screen (`app/views/visit/plan.py`); P-3 capacity:
  `over_capacity`; P-4 ceiling: `p4_ceiling_exceeded` (promises to pay and settlements are not
  restructures); P-5 court limit: `above_charge_cap` (APR_simple by IRR, `models.finance`); P-6 written
  agreement: `agreement_missing`; P-7 restructured marker: set by the app on the plan.
  The plan's own figures against the server's recomputation: `plan_mismatch`; the plan's product against
  the loan's: `product_mismatch`; a plan that cannot be computed: `plan_invalid`.
- §4 A-1..A-8: `incomes_missing`, `dsr_high`, `dsr_severe`, `hardship` here; the arithmetic is
  `models.affordability.assess` (A-4: DEBT = DEBT lines + itemised debts).
- §5 interview: `reasons_missing`, `primary_reason_missing`, `willingness_missing`, `plan_missing` here.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.affordability import Affordability, AffordabilityPolicy, assess
from models.codes import (
    PRODUCT_MAX_TERM,
    THIRD_PARTY_OUTCOMES,
    ContactOutcome,
    InterviewResult,
    LocationKind,
    PlanOption,
    ProductType,
)
from models.finance import (
    P5_ANNUAL_CAP,
    P4Check,
    PlanPreview,
    PlanPreviewRequest,
    p4_check,
    p5_ok,
    preview_plan,
)
from models.money import ZERO, Money, fmt_rate
from models.privacy import DEFAULT_TZ, local_time, within_visit_hours
from models.report import Assessment, RepaymentPlan, VisitReport

__all__ = [
    "APPROVAL_BLOCKING_FLAGS",
    "DEFAULT_SETTINGS",
    "RULES",
    "SIGN_OFF_FLAGS",
    "CaseContext",
    "Evaluation",
    "PlanFigures",
    "Problem",
    "RuleDef",
    "RuleSettings",
    "ServerAssessment",
    "Severity",
    "evaluate",
    "household_assessment",
    "plan_figures",
    "regular_instalment",
    "warm",
]


class Severity(StrEnum):
    BLOCK = "block"  # the app refuses to submit
    SIGN_OFF = "sign_off"  # a supervisor approves only with a reason
    NOTE = "note"  # shown to the supervisor, nothing more


# protocol.md "Sign-off on approval": approval needs a reason with any of these; the charge cap forbids it.
SIGN_OFF_FLAGS: tuple[str, ...] = (
    "over_capacity",
    "dsr_severe",
    "hardship",
    "term_beyond_max",
    "product_mismatch",
    "p4_ceiling_exceeded",
    "plan_mismatch",
)
APPROVAL_BLOCKING_FLAGS: tuple[str, ...] = ("above_charge_cap",)


@dataclass(frozen=True)
class RuleDef:
    """One rule of the book: the domain rule it serves, the form tab and field it concerns, the message
    code the app shows, and the server flag it raises (None when the server records it only as a note)."""

    rule: str
    section: str
    field: str
    message: str
    flag: str | None = None


RULES: dict[str, RuleDef] = {
    # §1 the visit
    "checkin_missing": RuleDef("R-6", "checkin", "checkin.at", "fv.checkin_missing", "checkin_missing"),
    "checkin_position_missing": RuleDef(
        "R-6", "checkin", "checkin.position", "fv.checkin_position_missing", "checkin_missing"
    ),
    "checkin_outside_hours": RuleDef(
        "R-1",
        "checkin",
        "compliance.outside_hours_consent",
        "fv.outside_hours_consent",
        "checkin_outside_hours",
    ),
    "checkin_outside_planned_date": RuleDef(
        "R-6", "checkin", "checkin.at", "fv.checkin_outside_planned_date", "checkin_outside_planned_date"
    ),
    "collectors_too_few": RuleDef("R-2", "checkin", "compliance.collector_ids", "fv.collectors_too_few"),
    "collectors_not_assigned": RuleDef(
        "R-2", "checkin", "compliance.collector_ids", "fv.collectors_not_assigned"
    ),
    "collectors_differ": RuleDef(
        "R-2", "checkin", "compliance.collector_ids", "fv.collectors_differ", "collectors_differ"
    ),
    "visit_reassigned": RuleDef("R-2", "checkin", "visit_id", "fv.visit_reassigned", "visit_reassigned"),
    "id_not_shown": RuleDef("R-3", "checkin", "compliance.id_shown", "fv.id_not_shown", "id_not_shown"),
    "authorisation_not_shown": RuleDef(
        "R-3", "checkin", "compliance.authorisation_shown", "fv.authorisation_not_shown"
    ),
    "recording_off": RuleDef("R-7", "checkin", "compliance.recording_on", "fv.recording_off"),
    "consent_to_enter_missing": RuleDef(
        "R-4", "checkin", "compliance.consent_to_enter", "fv.consent_to_enter"
    ),
    "entry_without_consent": RuleDef(
        "R-4", "checkin", "compliance.location_kind", "fv.entry_without_consent", "entry_without_consent"
    ),
    "outcome_missing": RuleDef("R-6", "outcome", "outcome", "fv.outcome_missing"),
    "third_party_attestation_missing": RuleDef(
        "R-12",
        "outcome",
        "compliance.no_disclosure_attested",
        "fv.no_disclosure",
        "third_party_attestation_missing",
    ),
    "third_party_missing": RuleDef("R-12", "outcome", "third_party", "fv.third_party_missing"),
    "checkout_missing": RuleDef("R-6", "review", "checkout.at", "fv.checkout_missing"),
    # §5 the interview
    "reasons_missing": RuleDef("§5.3", "interview", "interview.reasons", "fv.reasons_missing"),
    "primary_reason_missing": RuleDef(
        "§5.3", "interview", "interview.primary_reason", "fv.primary_reason_missing"
    ),
    "willingness_missing": RuleDef("§5.4", "interview", "interview.willingness", "fv.willingness_missing"),
    "plan_missing": RuleDef("§3", "plan", "plan", "fv.plan_missing"),
    # §4 the household
    "incomes_missing": RuleDef("A-1", "assessment", "assessment.incomes", "fv.incomes_missing"),
    "hardship": RuleDef("A-7", "assessment", "assessment", "fv.hardship", "hardship"),
    "dsr_high": RuleDef("A-6", "plan", "plan.term_months", "fv.dsr_high", "dsr_high"),
    "dsr_severe": RuleDef("A-6", "plan", "plan.term_months", "fv.dsr_severe", "dsr_severe"),
    # §3 the plan
    # A plan the book cannot compute is one the server cannot confirm: the same sign-off as a mismatch.
    "plan_invalid": RuleDef("§3", "plan", "plan.principal", "visit.err.plan_invalid", "plan_mismatch"),
    "term_beyond_max": RuleDef(
        "P-1", "plan", "plan.term_months", "fv.term_beyond_product", "term_beyond_max"
    ),
    "product_mismatch": RuleDef(
        "P-1", "plan", "plan.product_type", "fv.product_mismatch", "product_mismatch"
    ),
    "over_capacity": RuleDef("P-3", "plan", "plan.override_reason", "fv.capacity_override", "over_capacity"),
    "p4_ceiling_exceeded": RuleDef(
        "P-4", "plan", "plan.monthly_rate", "fv.p4_ceiling_exceeded", "p4_ceiling_exceeded"
    ),
    "above_charge_cap": RuleDef("P-5", "plan", "plan.monthly_rate", "fv.p5_charges_cap", "above_charge_cap"),
    "agreement_missing": RuleDef("P-6", "plan", "plan.agreement", "fv.agreement_missing"),
    "plan_mismatch": RuleDef("F-5", "plan", "plan.instalment", "fv.plan_mismatch", "plan_mismatch"),
}


class RuleSettings(BaseModel):
    """The lender's thresholds. The server uses its own (from its settings); figures a device sends in a
    report (its buffer, its DSR limit) are what it showed, never what decides."""

    model_config = ConfigDict(frozen=True)

    buffer: Decimal = Decimal("0.80")
    dsr_high: Decimal = Decimal("0.50")
    dsr_severe: Decimal = Decimal("0.70")
    declared_share: Decimal = Decimal("0.50")  # A-2 item 5
    receipts_share_costs_unknown: Decimal = Decimal("0.30")  # A-2 item 4
    charge_cap: Decimal = P5_ANNUAL_CAP  # P-5
    max_term: dict[ProductType, int] = Field(default_factory=lambda: dict(PRODUCT_MAX_TERM))  # P-1

    def policy(self) -> AffordabilityPolicy:
        return _policy(self.declared_share, self.receipts_share_costs_unknown, self.dsr_severe)

    def product_max_term(self, product: ProductType | str | None) -> int:
        # A product's code as received (str) finds its StrEnum key; an unknown one gets the longest term.
        found = self.max_term.get(product) if product is not None else None  # type: ignore[call-overload]
        return found if found is not None else max(self.max_term.values())


@functools.lru_cache(maxsize=64)
def _policy(declared: Decimal, receipts: Decimal, severe: Decimal) -> AffordabilityPolicy:
    return AffordabilityPolicy(
        declared_share=declared, receipts_share_costs_unknown=receipts, dsr_severe=severe
    )


DEFAULT_SETTINGS = RuleSettings()


class CaseContext(BaseModel):
    """What the rule book needs to know of the visit and its case beside the report itself."""

    model_config = ConfigDict(frozen=True)

    product_type: ProductType | None = None
    outstanding_principal: Decimal | None = None
    contractual_monthly_rate: Decimal | None = None
    timezone: str = DEFAULT_TZ
    planned_date: date | None = None
    # The visit's current collectors; None when unknown (then R-2 is checked only for two distinct people).
    assigned: tuple[str, ...] | None = None
    caller_active: bool = True


class ServerAssessment(BaseModel):
    """protocol.md `server_assessment`: the household's figures by the rule book's own settings."""

    net_income: Money
    essential_expenses: Money
    debt_service: Money
    disposable_income: Money
    capacity: Money
    dsr_after: str | None
    verdict: Literal["pass", "fail", "hardship"]


@dataclass(frozen=True)
class Problem:
    """One broken rule: its code and domain rule id, how much it matters, where it points, its flag."""

    code: str
    rule: str
    severity: Severity
    section: str
    field: str
    message: str
    flag: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "code": self.code,
            "severity": self.severity.value,
            "field": self.field,
            "flag": self.flag,
        }


@dataclass(frozen=True)
class PlanFigures:
    """A plan as the book computes it: the schedule and APR (None when it cannot be computed), the largest
    regular instalment (P-3, A-6) and the total repayable with fees (P-4)."""

    preview: PlanPreview | None
    regular_instalment: Decimal | None
    total_repayable: Decimal | None
    mismatch: bool


@dataclass
class Evaluation:
    problems: list[Problem] = field(default_factory=list)
    plan: PlanFigures | None = None
    affordability: Affordability | None = None
    assessment: ServerAssessment | None = None
    p4: P4Check | None = None

    @property
    def flags(self) -> list[str]:
        """The server flags of the problems, each once, in the book's order."""
        seen: dict[str, None] = {}
        for p in self.problems:
            if p.flag is not None:
                seen.setdefault(p.flag, None)
        return list(seen)

    @property
    def blocking(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.BLOCK]

    def has(self, code: str) -> bool:
        return any(p.code == code for p in self.problems)


def sign_off_needed(flags: Iterable[str]) -> tuple[list[str], list[str]]:
    """(flags that need a sign-off reason to approve, flags that forbid approval)."""
    present = set(flags)
    return (
        [f for f in SIGN_OFF_FLAGS if f in present],
        [f for f in APPROVAL_BLOCKING_FLAGS if f in present],
    )


__all__ += ["sign_off_needed"]


# ---------------------------------------------------------------------------------------------------
# Figures


def _plan_key(plan: RepaymentPlan, today: date) -> tuple[Any, ...]:
    return (
        plan.method,
        plan.principal,
        plan.term_months,
        plan.monthly_rate,
        plan.upfront_fee,
        plan.holiday_months,
        plan.holiday_mode,
        tuple(plan.step_payments),
        plan.first_due_date or today,
        plan.instalment,
        plan.total_payment,
        plan.apr_simple,
        plan.apr_compound,
    )


def plan_figures(plan: RepaymentPlan, *, today: date) -> PlanFigures:
    """The plan's schedule and APR by `models.finance`, and whether the figures the device showed agree."""
    return _plan_figures(_plan_key(plan, today), plan, today)


def _request(key: tuple[Any, ...]) -> PlanPreviewRequest:
    """The preview request of a plan key (`_plan_key(...)[:9]`), built without the preview's own limits
    (term 1–60): the book measures any well-formed plan, and a plan beyond a limit is a rule broken (P-1),
    not a plan that cannot be measured."""
    method, principal, term, rate, fee, holiday, mode, steps, first_due = key
    return PlanPreviewRequest.model_construct(
        method=method,
        principal=principal,
        term_months=term,
        monthly_rate=rate,
        upfront_fee=fee,
        holiday_months=holiday,
        holiday_mode=mode,
        step_payments=list(steps),
        first_due_date=first_due,
        assessment=None,
    )


@functools.lru_cache(maxsize=4096)
def _figures(key: tuple[Any, ...]) -> tuple[PlanPreview | None, Decimal | None]:
    req = _request(key)
    if req.upfront_fee >= req.principal:
        return None, None
    try:
        preview = preview_plan(req)
    except (ValueError, ArithmeticError):
        return None, None
    return preview, regular_instalment(preview, req.holiday_months)


def regular_instalment(preview: PlanPreview, holiday_months: int) -> Decimal:
    """The plan's largest regular instalment (P-3, A-6): the largest payment after the holiday months, the
    last one left out when there are others (it only absorbs the rounding residue) — but never less than
    the plan's amortising instalment, which the last payment is when step payments leave only one (a
    balloon of the whole balance is not a rounding residue)."""
    paying = preview.schedule[holiday_months:]
    regular = paying[:-1] if len(paying) > 1 else paying
    return max((r.payment for r in regular), default=preview.instalment).max(preview.instalment)


def _plan_figures(key: tuple[Any, ...], plan: RepaymentPlan, today: date) -> PlanFigures:
    preview, regular = _figures(key[:9])
    claimed = (plan.instalment, plan.total_payment, plan.apr_simple, plan.apr_compound)
    if preview is None:
        return PlanFigures(None, None, None, mismatch=any(c is not None for c in claimed))
    computed = (preview.instalment, preview.total_payment, preview.apr_simple, preview.apr_compound)
    mismatch = any(c is not None and Decimal(c) != v for c, v in zip(claimed, computed, strict=True))
    return PlanFigures(preview, regular, preview.total_payment + plan.upfront_fee, mismatch)


def household_assessment(
    assessment: Assessment,
    *,
    instalment: Decimal,
    principal: Decimal = ZERO,
    monthly_rate: Decimal = ZERO,
    term_months: int = 1,
    max_term: int = 60,
    settings: RuleSettings | None = DEFAULT_SETTINGS,
) -> Affordability:
    """§4 for a report's household lines. With `settings` the lender's thresholds apply (the rule book);
    with None the figures the device sent (its buffer and DSR limit) — what the investigator was shown."""
    return _assessed(assessment, instalment, principal, monthly_rate, term_months, max_term, settings)[0]


def _assessed(
    assessment: Assessment,
    instalment: Decimal,
    principal: Decimal,
    rate: Decimal,
    term: int,
    max_term: int,
    settings: RuleSettings | None,
) -> tuple[Affordability, ServerAssessment]:
    if settings is None:
        buffer, dsr_limit, policy = assessment.buffer, assessment.dsr_limit, _DEVICE_POLICY
    else:
        buffer, dsr_limit, policy = settings.buffer, settings.dsr_high, settings.policy()
    key = (
        tuple(map(_INCOME_KEY, assessment.incomes)),
        tuple(map(_EXPENSE_KEY, assessment.expenses)),
        tuple(map(_DEBT_KEY, assessment.other_debts)),
        buffer,
        dsr_limit,
        max_term,
        instalment,
        principal,
        rate,
        term,
        policy.declared_share,
        policy.receipts_share_costs_unknown,
        policy.dsr_severe,
    )
    hit = _ASSESSED.get(key)
    if hit is None:
        aff = assess(
            assessment.as_input(max_term, buffer=buffer, dsr_limit=dsr_limit),
            instalment=instalment,
            principal=principal,
            monthly_rate=rate,
            term_months=term,
            policy=policy,
        )
        hit = (aff, _server_assessment(aff))
        if len(_ASSESSED) >= 4096:
            _ASSESSED.clear()
        _ASSESSED[key] = hit
    return hit


# Household figures recur across amendments, resends and the device/server pair; assess() with its
# minimum-term search is the dearest part of checking a report. Results are immutable in use.
_ASSESSED: dict[tuple[Any, ...], tuple[Affordability, ServerAssessment]] = {}
_DEVICE_POLICY = AffordabilityPolicy()
_INCOME_KEY = operator.attrgetter("amount", "evidence", "costs_known")
_EXPENSE_KEY = operator.attrgetter("amount", "category")
_DEBT_KEY = operator.attrgetter("monthly_payment")


def _server_assessment(aff: Affordability) -> ServerAssessment:
    if aff.hardship:
        verdict: Literal["pass", "fail", "hardship"] = "hardship"
    else:
        verdict = aff.verdict
    return ServerAssessment(
        net_income=aff.net_income,
        essential_expenses=aff.essential_expenses,
        debt_service=aff.debt_service,
        disposable_income=aff.disposable_income,
        capacity=aff.capacity,
        dsr_after=None if aff.dsr_after is None else fmt_rate(Decimal(aff.dsr_after)),
        verdict=verdict,
    )


@functools.lru_cache(maxsize=4096)
def _p4(key: tuple[Any, ...], outstanding: Decimal, rate: Decimal, total: Decimal) -> P4Check | None:
    try:
        return p4_check(_request(key), total, outstanding=outstanding, contractual_monthly_rate=rate)
    except (ValueError, ArithmeticError):
        return None


_MET = frozenset({ContactOutcome.MET_BORROWER, *THIRD_PARTY_OUTCOMES})
_NOT_RESTRUCTURES = frozenset({PlanOption.PTP, PlanOption.SETTLE})


def warm(report: VisitReport, settings: RuleSettings = DEFAULT_SETTINGS, *, today: date) -> None:
    """Computes what an evaluation of `report` will find remembered: the plan's schedule and APR and the
    household's figures for the plan's product. The server does this off its writer thread."""
    plan, household = report.plan, report.assessment
    figures = plan_figures(plan, today=today) if plan is not None else None
    if household is not None:
        instalment = (
            figures.regular_instalment if figures and figures.regular_instalment is not None else ZERO
        )
        _assessed(
            household,
            instalment,
            plan.principal if plan else ZERO,
            plan.monthly_rate if plan else ZERO,
            (plan.holiday_months + plan.term_months) if plan else 1,
            settings.product_max_term(plan.product_type if plan else None),
            settings,
        )


# ---------------------------------------------------------------------------------------------------
# The book


@functools.cache
def _problem(code: str, severity: Severity, flag: bool) -> Problem:
    # A problem is immutable and there are few of them (a rule, its severity, flagged or not): one each.
    d = RULES[code]
    return Problem(code, d.rule, severity, d.section, d.field, d.message, d.flag if flag else None)


def evaluate(
    report: VisitReport,
    case: CaseContext | None = None,
    settings: RuleSettings = DEFAULT_SETTINGS,
    *,
    today: date,
) -> Evaluation:
    """Every rule of the book against one well-formed report; see the module docstring for the list."""
    case = case or CaseContext()
    ev = Evaluation()
    out = ev.problems

    def add(code: str, severity: Severity = Severity.BLOCK, *, flag: bool = True) -> None:
        out.append(_problem(code, severity, flag))

    c = report.compliance
    outcome = report.outcome

    # check-in, its position, its hour and its date.
    if report.checkin is None:
        add("checkin_missing")
    else:
        if report.checkin.position is None:
            add("checkin_position_missing", Severity.NOTE)
        if not within_visit_hours(report.checkin.at, case.timezone):
            add("checkin_outside_hours", Severity.NOTE if c.outside_hours_consent else Severity.BLOCK)
        if (
            case.planned_date is not None
            and local_time(report.checkin.at, case.timezone).date() != case.planned_date
        ):
            add("checkin_outside_planned_date", Severity.NOTE)

    # two distinct collectors, those the visit was assigned to.
    present = set(c.collector_ids)
    if len(present) < 2:
        add("collectors_too_few")
    if case.assigned is not None:
        if case.assigned and not present <= set(case.assigned):
            add("collectors_not_assigned")
        if set(c.collector_ids or report.collector_ids) != set(case.assigned):
            add("collectors_differ", Severity.NOTE)
    if not case.caller_active:
        add("visit_reassigned", Severity.NOTE)

    # attestations.
    if not c.id_shown:
        add("id_not_shown", flag=outcome in _MET)
    if report.agency_id and not c.authorisation_shown:
        add("authorisation_not_shown")
    if not c.recording_on:
        add("recording_off")
    if outcome is ContactOutcome.MET_BORROWER and c.consent_to_enter is None:
        add("consent_to_enter_missing")
    if c.location_kind is LocationKind.INSIDE_HOME and c.consent_to_enter is not True:
        add("entry_without_consent")

    # the outcome and third parties.
    if outcome is None:
        add("outcome_missing")
    elif outcome in THIRD_PARTY_OUTCOMES:
        if not c.no_disclosure_attested:
            add("third_party_attestation_missing")
        if report.third_party is None:
            add("third_party_missing")

    # §5: the interview.
    iv = report.interview
    if outcome is ContactOutcome.MET_BORROWER:
        if iv is None or not iv.reasons:
            add("reasons_missing")
        elif iv.primary_reason is None:
            add("primary_reason_missing")
        if iv is None or iv.willingness is None:
            add("willingness_missing")
        if iv is not None and InterviewResult.PLAN_PROPOSED in iv.results:
            if report.plan is None:
                add("plan_missing")
            if report.assessment is None or not report.assessment.incomes:
                add("incomes_missing")

    _plan_and_household(report, case, settings, today, ev, add)

    if report.checkout is None:
        add("checkout_missing")
    return ev


def _plan_and_household(
    report: VisitReport,
    case: CaseContext,
    settings: RuleSettings,
    today: date,
    ev: Evaluation,
    add: Any,
) -> None:
    """§3 and §4: the plan's limits and the household's capacity, by the book's own figures."""
    plan, household = report.plan, report.assessment
    product = case.product_type or (plan.product_type if plan else None)
    max_term = settings.product_max_term(product)
    figures = plan_figures(plan, today=today) if plan is not None else None
    ev.plan = figures
    instalment = figures.regular_instalment if figures and figures.regular_instalment is not None else ZERO

    if household is not None:
        aff, ev.assessment = _assessed(
            household,
            instalment,
            plan.principal if plan else ZERO,
            plan.monthly_rate if plan else ZERO,
            (plan.holiday_months + plan.term_months) if plan else 1,
            max_term,
            settings,
        )
        ev.affordability = aff
        if aff.hardship:
            add("hardship", Severity.SIGN_OFF)
        if aff.dsr_severity == "severe":
            add("dsr_severe", Severity.SIGN_OFF)
        elif aff.dsr_severity == "high":
            add("dsr_high", Severity.NOTE)

    if plan is None:
        return
    assert figures is not None
    if plan.holiday_months + plan.term_months > max_term:
        add("term_beyond_max")
    if case.product_type is not None and plan.product_type != case.product_type:
        add("product_mismatch")
    if figures.preview is None:
        add("plan_invalid")
        if plan.upfront_fee >= plan.principal:
            add("above_charge_cap")  # the borrower receives nothing: the charges have no finite rate (P-5)
    else:
        capacity = ev.affordability.capacity if ev.affordability is not None else ZERO
        if instalment > capacity:
            add("over_capacity", Severity.SIGN_OFF if plan.override_reason.strip() else Severity.BLOCK)
        if not p5_ok(Decimal(figures.preview.apr_simple), cap=settings.charge_cap):
            add("above_charge_cap")
        if (
            plan.option not in _NOT_RESTRUCTURES
            and case.outstanding_principal is not None
            and case.contractual_monthly_rate is not None
            and figures.total_repayable is not None
        ):
            key = _plan_key(plan, today)[:9]
            ev.p4 = _p4(
                key, case.outstanding_principal, case.contractual_monthly_rate, figures.total_repayable
            )
            if ev.p4 is not None and not ev.p4.within:
                add("p4_ceiling_exceeded", Severity.SIGN_OFF)
    if figures.mismatch:
        add("plan_mismatch", Severity.SIGN_OFF)
    if plan.agreement is None:
        add("agreement_missing")
