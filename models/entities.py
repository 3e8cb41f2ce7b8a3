"""Borrower, loan account, visit and the loan system's import record (domain §6, protocol "Visits")."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from models.canonical import MAX_JSON_DEPTH, loads_json
from models.codes import ContactOutcome, ProductType, VisitStatus
from models.identity import validate_id_number, validate_id_number_form, validate_mobile
from models.money import DecStr, NonNegMoney, Rate
from models.strict import WireDate

__all__ = [
    "TRUSTED",
    "Borrower",
    "Collector",
    "Coordinate",
    "IdNumber",
    "LoanAccount",
    "Mobile",
    "PreviousVisit",
    "RepaymentRecord",
    "TrackedPlan",
    "TrackedPromise",
    "Visit",
    "VisitImportRecord",
]


#: Validation context for data that was fully validated where it entered the system: a visit from the
#: device's own server (checked by `VisitImportRecord` at import) or from the device's own store. The
#: structure is still validated in full (types, lengths, enums, money, dates, the ID number's form), so a
#: malformed page is refused before it reaches the store; only the resident ID's region, birth date and
#: GB 11643 check digit are not recomputed. Without this context (imports, anything typed by a person) every
#: check runs.
TRUSTED: dict[str, Any] = {"fv_trusted_source": True}


def _id_number(value: Any, info: ValidationInfo) -> str:
    if info.context is not None and info.context.get("fv_trusted_source") is True:
        return validate_id_number_form(value)
    return validate_id_number(value)


Mobile = Annotated[str, BeforeValidator(validate_mobile)]
IdNumber = Annotated[str, BeforeValidator(_id_number)]
Coordinate = DecStr


class _Base(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class RepaymentRecord(_Base):
    due_date: WireDate
    amount_due: NonNegMoney
    amount_paid: NonNegMoney = Decimal("0.00")
    paid_on: WireDate | None = None


class Borrower(_Base):
    name: str = Field(min_length=1, max_length=64)
    phone: Mobile
    id_number: IdNumber
    address: str = Field(min_length=1, max_length=300)
    district: str = Field(min_length=1, max_length=64)
    lat: Coordinate | None = None
    lon: Coordinate | None = None
    timezone: str = "Asia/Shanghai"

    @field_validator("lat")
    @classmethod
    def _lat(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and not (-90 <= v <= 90):
            raise PydanticCustomError("fv.coordinate_range", "latitude must be between -90 and 90")
        return v

    @field_validator("lon")
    @classmethod
    def _lon(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and not (-180 <= v <= 180):
            raise PydanticCustomError("fv.coordinate_range", "longitude must be between -180 and 180")
        return v


class LoanAccount(_Base):
    external_id: str
    product_type: ProductType
    outstanding_principal: NonNegMoney
    overdue_amount: NonNegMoney
    dpd: StrictInt = Field(ge=0, le=20000)
    bucket: StrictInt = Field(ge=0, le=7)
    contractual_instalment: NonNegMoney | None = None
    monthly_rate: Rate | None = None
    repayment_history: list[RepaymentRecord] = Field(default_factory=list)


class PreviousVisit(_Base):
    report_id: str
    visited_at: datetime | None = None
    outcome: ContactOutcome | None = None
    promise_amount: NonNegMoney | None = None
    promise_date: date | None = None
    status: str | None = None


PlanState = Literal["performing", "missed_1", "lapsed", "completed"]
PromiseState = Literal["open", "kept", "broken"]


class TrackedPlan(_Base):
    """An approved plan of the account and how it is being kept, as the server last evaluated it (P-6)."""

    report_id: str
    state: PlanState
    paid: NonNegMoney = Decimal("0.00")
    due_to_date: NonNegMoney = Decimal("0.00")
    missed: StrictInt = Field(default=0, ge=0)
    next_due_date: date | None = None
    approved_at: datetime | None = None


class TrackedPromise(_Base):
    """A promise to pay made at a visit of the account and its outcome (§5.2)."""

    report_id: str
    amount: NonNegMoney
    date: date
    state: PromiseState


class Collector(_Base):
    """An assigned investigator as the device shows them: a colleague's name is staff data, not the
    borrower's, so the server sends it with the visit."""

    id: str
    name: str = ""


class Visit(_Base):
    """A visit as the device holds it: the case (borrower + loan) and its assignment."""

    visit_id: str
    external_id: str
    team: str
    status: VisitStatus = VisitStatus.OPEN
    borrower: Borrower
    loan: LoanAccount
    investigator_ids: list[str] = Field(default_factory=list)
    # The same collectors, lead first, with their names (older servers send none).
    collectors: list[Collector] = Field(default_factory=list)
    planned_date: date | None = None
    priority: DecStr = Decimal("0")
    broken_ptp_count: StrictInt = Field(default=0, ge=0)
    days_since_last_contact: StrictInt | None = Field(default=None, ge=0)
    contact_lost: bool = False
    active_plan_current: bool = False
    agency_id: str | None = None
    placement_id: str | None = None
    previous_visits: list[PreviousVisit] = Field(default_factory=list)
    # The account's approved plans (newest first) and promises with their outcome (older servers send none).
    plans: list[TrackedPlan] = Field(default_factory=list)
    promises: list[TrackedPromise] = Field(default_factory=list)
    updated_at: datetime | None = None


_IMPORT_EXAMPLE: dict[str, Any] = {
    "external_id": "LN-0000001",
    "team": "hz-a",
    "borrower_name": "王建国",
    "phone": "13812345678",
    "id_number": "330106198507120017",
    "address": "杭州市西湖区文三路 100 号 2 幢 301 室",
    "district": "西湖区",
    "product_type": "cash_loan",
    "outstanding_principal": "20000.00",
    "overdue_amount": "3300.48",
    "dpd": 75,
    "lat": "30.2741",
    "lon": "120.1551",
    "contractual_instalment": "1100.16",
    "monthly_rate": "0.015",
    "broken_ptp_count": 1,
    "days_since_last_contact": 15,
    "repayment_history": [
        {"due_date": "2026-09-15", "amount_due": "1100.16", "amount_paid": "0.00", "paid_on": None}
    ],
}


class VisitImportRecord(_Base):
    """One record of the loan system's import (JSON object or CSV row); upsert key `external_id`."""

    model_config = ConfigDict(
        extra="ignore", str_strip_whitespace=True, json_schema_extra={"examples": [_IMPORT_EXAMPLE]}
    )

    external_id: str = Field(min_length=1, max_length=64)
    team: str = Field(min_length=1, max_length=64)
    borrower_name: str = Field(min_length=1, max_length=64)
    phone: Mobile
    id_number: IdNumber
    address: str = Field(min_length=1, max_length=300)
    district: str = Field(min_length=1, max_length=64)
    product_type: ProductType
    outstanding_principal: NonNegMoney
    overdue_amount: NonNegMoney
    dpd: StrictInt = Field(ge=0, le=20000)
    lat: Coordinate | None = None
    lon: Coordinate | None = None
    contractual_instalment: NonNegMoney | None = None
    monthly_rate: Rate | None = None
    broken_ptp_count: StrictInt = Field(default=0, ge=0, le=1000)
    days_since_last_contact: StrictInt | None = Field(default=None, ge=0, le=20000)
    contact_lost: StrictBool = False
    active_plan_current: StrictBool = False
    repayment_history: list[RepaymentRecord] = Field(default_factory=list, max_length=600)
    status: VisitStatus | None = None
    # The loan system's own knowledge of the account (domain, §5.5, §6.3).
    contact_stopped: StrictBool = False  # the borrower refused further contact or complained
    phone_invalid: StrictBool = False  # the debtor's own mobile number is invalid
    deceased: StrictBool = False  # reported deceased or without capacity (§6.3)
    legal_hold: StrictBool = False  # a do-not-visit legal hold (§6.3)
    fraud_suspected: StrictBool = False  # evidence of fraud or asset concealment (§5.5)

    @field_validator(
        "lat", "lon", "contractual_instalment", "monthly_rate", "days_since_last_contact", mode="before"
    )
    @classmethod
    def _blank_is_none(cls, v: Any) -> Any:
        return None if v == "" else v

    @field_validator("repayment_history", mode="before")
    @classmethod
    def _history_from_csv(cls, v: Any) -> Any:
        # A CSV cell carries the history as a JSON array.
        if isinstance(v, str):
            if not v.strip():
                return []
            try:
                # Bounded like a request body: a cell nested without end is an error, not a crash.
                return loads_json(v, max_depth=MAX_JSON_DEPTH)
            except ValueError:
                raise PydanticCustomError("json_invalid", "repayment_history is not a JSON list") from None
        return v
