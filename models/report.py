"""The visit report: the unit that syncs (protocol.md "Push"), its sections and their shape.

The model refuses only what is malformed: values, shapes and contradictions within a section (check-out
before check-in, a third-party contact carrying debt amounts, a primary reason that is not a reason). Every
rule of the domain that a well-formed report can break — hours, attestations, the plan's limits, the
household's capacity — is in the rule book, `models.rules`, which both the app and the server evaluate.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator
from pydantic_core import PydanticCustomError

from models.affordability import AssessmentInput, BufferShare, DsrLimit, ExpenseLine, IncomeLine, OtherDebt
from models.codes import (
    THIRD_PARTY_OUTCOMES,
    AgreementMethod,
    AttachmentKind,
    ContactOutcome,
    DisputeType,
    HolidayMode,
    InterviewResult,
    LocationKind,
    PlanMethod,
    PlanOption,
    ProductType,
    Reason,
    Willingness,
)
from models.money import DecStr, NonNegMoney, PosMoney, Rate
from models.strict import WireBool, WireDate, WireDateTime

__all__ = [
    "EXAMPLE_REPORT",
    "Assessment",
    "AttachmentMeta",
    "CheckIn",
    "CheckOut",
    "Compliance",
    "Dispute",
    "GeoPoint",
    "Interview",
    "OtherDebt",
    "PromiseToPay",
    "RepaymentPlan",
    "ThirdPartyContact",
    "VisitReport",
    "Waiver",
    "report_created_at",
]

_SHA = re.compile(r"^[0-9a-f]{64}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class GeoPoint(_Section):
    lat: DecStr
    lon: DecStr
    accuracy_m: DecStr | None = None
    source: Literal["gps", "manual"] = "gps"

    @model_validator(mode="after")
    def _range(self) -> GeoPoint:
        if not (-90 <= self.lat <= 90) or not (-180 <= self.lon <= 180):
            raise PydanticCustomError("fv.coordinate_range", "coordinate out of range")
        if self.accuracy_m is not None and self.accuracy_m < 0:
            raise PydanticCustomError("fv.coordinate_range", "accuracy must not be negative")
        return self


class CheckIn(_Section):
    at: WireDateTime
    position: GeoPoint | None = None


class CheckOut(_Section):
    at: WireDateTime
    position: GeoPoint | None = None


class Compliance(_Section):
    """The attestations R-1..R-4 and R-12, recorded at check-in and during the visit."""

    outside_hours_consent: WireBool = False  # the debtor agreed to a visit outside 08:00–22:00
    outside_hours_consent_note: str = Field(default="", max_length=500)
    collector_ids: list[str] = Field(default_factory=list, max_length=10)  # staff present
    id_shown: WireBool = False
    authorisation_shown: WireBool = False  # 委托书 for agency staff
    consent_to_enter: WireBool | None = None  # None = not asked yet
    location_kind: LocationKind | None = None  # where the interview was held
    no_disclosure_attested: WireBool = False
    recording_on: WireBool = False  # the debtor was told recording is on


class ThirdPartyContact(_Section):
    """R-12: only contact details and a message; nothing about the debt."""

    relation: Literal["family", "co_resident", "neighbour", "property_management", "employer", "other"]
    contact_details: str = Field(default="", max_length=200)
    message_passed: WireBool = False
    refused_further_contact: WireBool = False
    volunteered_info: str = Field(default="", max_length=500)


class Dispute(_Section):
    type: DisputeType
    note: str = Field(default="", max_length=1000)


class PromiseToPay(_Section):
    amount: PosMoney
    date: WireDate


class Interview(_Section):
    results: list[InterviewResult] = Field(default_factory=list, max_length=7)
    reasons: list[Reason] = Field(default_factory=list, max_length=13)
    primary_reason: Reason | None = None
    willingness: Willingness | None = None
    hardship: WireBool = False
    hardship_note: str = Field(default="", max_length=1000)
    dispute: Dispute | None = None
    promise: PromiseToPay | None = None
    paid_reference: str = Field(default="", max_length=100)
    notes: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _rules(self) -> Interview:
        if self.primary_reason is not None and self.primary_reason not in self.reasons:
            raise PydanticCustomError("fv.primary_reason", "the primary reason must be one of the reasons")
        if InterviewResult.PTP in self.results and self.promise is None:
            raise PydanticCustomError("fv.ptp_missing", "a promise to pay needs an amount and a date")
        if InterviewResult.DISPUTE in self.results and self.dispute is None:
            raise PydanticCustomError("fv.dispute_missing", "choose the type of dispute")
        return self


class Assessment(_Section):
    incomes: list[IncomeLine] = Field(default_factory=list, max_length=50)
    expenses: list[ExpenseLine] = Field(default_factory=list, max_length=100)
    other_debts: list[OtherDebt] = Field(default_factory=list, max_length=50)
    # What the device showed with (the rule book uses the server's own figures): the same range as.
    buffer: BufferShare = Decimal("0.80")
    dsr_limit: DsrLimit = Decimal("0.50")

    def as_input(
        self, max_term: int = 60, *, buffer: Decimal | None = None, dsr_limit: Decimal | None = None
    ) -> AssessmentInput:
        """The household's lines for `assess()`; the rule book passes its own buffer and DSR limit (the
        figures a device sends are what it showed, not what the lender decides)."""
        return AssessmentInput.model_construct(
            incomes=self.incomes,
            expenses=self.expenses,
            other_debts=self.other_debts,
            buffer=self.buffer if buffer is None else buffer,
            dsr_limit=self.dsr_limit if dsr_limit is None else dsr_limit,
            max_term=max_term,
        )


class Waiver(_Section):
    """P-4: waived amounts listed item by item."""

    penalty: NonNegMoney = Decimal("0.00")
    fees: NonNegMoney = Decimal("0.00")
    interest: NonNegMoney = Decimal("0.00")
    principal: NonNegMoney = Decimal("0.00")

    @property
    def total(self) -> Decimal:
        return self.penalty + self.fees + self.interest + self.principal


class RepaymentPlan(_Section):
    option: PlanOption
    product_type: ProductType
    method: PlanMethod = PlanMethod.ANNUITY
    principal: PosMoney
    term_months: StrictInt = Field(ge=1, le=120)
    monthly_rate: Rate = Decimal("0")
    upfront_fee: NonNegMoney = Decimal("0.00")
    holiday_months: StrictInt = Field(default=0, ge=0, le=12)
    holiday_mode: HolidayMode = HolidayMode.CAPITALISE
    step_payments: list[PosMoney] = Field(default_factory=list, max_length=60)
    first_due_date: WireDate | None = None
    # What the device computed and showed the borrower; the server recomputes and flags a mismatch.
    instalment: NonNegMoney | None = None
    total_payment: NonNegMoney | None = None
    apr_simple: DecStr | None = None
    apr_compound: DecStr | None = None
    waiver: Waiver | None = None
    total_due: NonNegMoney | None = None
    settlement_amount: NonNegMoney | None = None
    override_reason: str = Field(default="", max_length=1000)
    agreement: AgreementMethod | None = None
    agreement_attachment: str | None = None
    restructured: WireBool = True  # P-7

    @field_validator("term_months")
    @classmethod
    def _term(cls, v: int) -> int:
        if v < 1:
            raise PydanticCustomError("fv.term_range", "term must be at least 1 month")
        return v

    @model_validator(mode="after")
    def _rules(self) -> RepaymentPlan:
        # P-1 (the product's maximum term) is a rule of the rule book, not a shape: models.rules.
        if len(self.step_payments) >= self.term_months:
            raise PydanticCustomError("fv.step_payments", "step payments must be fewer than the term")
        if (
            self.settlement_amount is not None
            and self.total_due is not None
            and self.settlement_amount > self.total_due
        ):
            raise PydanticCustomError("fv.settlement_range", "the settlement cannot exceed the total due")
        return self


class AttachmentMeta(_Section):
    sha256: str
    kind: AttachmentKind
    mime: str = Field(default="application/octet-stream", max_length=100)
    size_bytes: StrictInt = Field(ge=0, le=64 * 1024 * 1024)
    filename: str = Field(default="", max_length=200)
    captured_at: WireDateTime | None = None

    @field_validator("sha256")
    @classmethod
    def _sha(cls, v: str) -> str:
        v = v.lower()
        if not _SHA.match(v):
            raise PydanticCustomError("fv.sha256_invalid", "not a valid SHA-256 hex digest")
        return v


EXAMPLE_REPORT: dict[str, Any] = {
    "report_id": "7d0f9a52-3c1e-4b8e-9f61-2a4c5e6d7b80",
    "visit_id": "3f2b8c1d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "notes": "借款人配合，提出分期方案",
    "schema_version": 1,
    "collector_ids": [],
    "checkin": {
        "at": "2026-11-20T10:15:00+08:00",
        "position": {"lat": "30.2741", "lon": "120.1551", "accuracy_m": "12", "source": "gps"},
    },
    "checkout": {"at": "2026-11-20T11:05:00+08:00", "position": None},
    "compliance": {
        "outside_hours_consent": False,
        "id_shown": True,
        "consent_to_enter": True,
        "location_kind": "inside_home",
        "recording_on": True,
    },
    "outcome": "MET_BORROWER",
    "interview": {
        "results": ["PLAN_PROPOSED"],
        "reasons": ["INCOME_REDUCTION", "OVER_INDEBTEDNESS"],
        "primary_reason": "INCOME_REDUCTION",
        "willingness": "cooperative",
        "hardship": False,
    },
    "assessment": {
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
        "buffer": "0.80",
        "dsr_limit": "0.50",
    },
    "plan": {
        "option": "P-INSTAL",
        "product_type": "consumer_instalment",
        "method": "annuity",
        "principal": "12000.00",
        "term_months": 12,
        "monthly_rate": "0.015",
        "first_due_date": "2026-12-20",
        "instalment": "1100.16",
        "total_payment": "13201.95",
        "apr_simple": "0.1800",
        "apr_compound": "0.1956",
        "agreement": "recorded_verbal",
    },
    "attachments": [],
}


class VisitReport(BaseModel):
    """One report of one visit attempt. `report_id`, `visit_id` and `notes` are the protocol's fixed keys."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [EXAMPLE_REPORT]}
    )

    report_id: str
    visit_id: str
    notes: str = Field(default="", max_length=8000)
    schema_version: StrictInt = 1
    investigator_id: str | None = None
    collector_ids: list[str] = Field(default_factory=list, max_length=10)
    created_at: WireDateTime | None = None
    checkin: CheckIn | None = None
    checkout: CheckOut | None = None
    compliance: Compliance = Field(default_factory=Compliance)
    outcome: ContactOutcome | None = None
    third_party: ThirdPartyContact | None = None
    interview: Interview | None = None
    assessment: Assessment | None = None
    plan: RepaymentPlan | None = None
    attachments: list[AttachmentMeta] = Field(default_factory=list, max_length=50)
    escalation_recommended: WireBool = False
    escalation_reason: str = Field(default="", max_length=1000)
    agency_id: str | None = None
    placement_id: str | None = None

    @field_validator("report_id", "visit_id")
    @classmethod
    def _uuid(cls, v: str) -> str:
        if not _UUID.match(v):
            raise PydanticCustomError("fv.uuid_invalid", "not a valid UUID")
        return v.lower()

    @model_validator(mode="after")
    def _rules(self) -> VisitReport:
        if self.checkin and self.checkout and self.checkout.at < self.checkin.at:
            raise PydanticCustomError("fv.checkout_before_checkin", "check-out must not be before check-in")
        if self.outcome in THIRD_PARTY_OUTCOMES and (
            self.plan is not None
            or self.assessment is not None
            or (self.interview is not None and self.interview.promise is not None)
        ):
            raise PydanticCustomError(
                "fv.third_party_disclosure",
                "a family or third-party contact must not carry debt amounts (R-12)",
            )
        if self.interview is not None and self.outcome not in (None, ContactOutcome.MET_BORROWER):
            raise PydanticCustomError(
                "fv.interview_needs_borrower", "the interview is recorded only when the borrower was met"
            )
        # P-3 (instalment within capacity) is a rule of the rule book: models.rules.
        return self


def report_created_at(report: VisitReport) -> datetime | None:
    return report.created_at or (report.checkin.at if report.checkin else None)
