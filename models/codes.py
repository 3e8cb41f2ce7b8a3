"""The domain's code lists (domain.md §3–§6, protocol.md) as string enums.

Every enum value is the wire code; labels for people live in `models.labels`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "FINAL_STATES",
    "PRODUCT_MAX_TERM",
    "SENSITIVE_REASONS",
    "THIRD_PARTY_OUTCOMES",
    "AgreementMethod",
    "AttachmentKind",
    "ContactOutcome",
    "DisputeType",
    "EvidenceLevel",
    "ExpenseCategory",
    "HolidayMode",
    "IncomeSource",
    "InterviewResult",
    "LegalRoute",
    "LocationKind",
    "PlanMethod",
    "PlanOption",
    "ProductType",
    "Reason",
    "ReportStatus",
    "ReviewAction",
    "Role",
    "VisitStatus",
    "Willingness",
]


class ProductType(StrEnum):
    CONSUMER_INSTALMENT = "consumer_instalment"  # pay-later line (花呗-style)
    CASH_LOAN = "cash_loan"  # cash loan (借呗-style)


# P-1: product maximum restructure term (months); configurable defaults.
PRODUCT_MAX_TERM: dict[ProductType, int] = {
    ProductType.CONSUMER_INSTALMENT: 60,
    ProductType.CASH_LOAN: 36,
}


class ContactOutcome(StrEnum):
    MET_BORROWER = "MET_BORROWER"
    MET_FAMILY = "MET_FAMILY"
    MET_THIRD_PARTY = "MET_THIRD_PARTY"
    NO_ONE_HOME = "NO_ONE_HOME"
    MOVED = "MOVED"
    ADDRESS_INVALID = "ADDRESS_INVALID"
    REFUSED_CONTACT = "REFUSED_CONTACT"
    ACCESS_DENIED = "ACCESS_DENIED"
    DECEASED_OR_INCAPACITATED = "DECEASED_OR_INCAPACITATED"
    ABORTED_UNSAFE = "ABORTED_UNSAFE"


THIRD_PARTY_OUTCOMES = frozenset({ContactOutcome.MET_FAMILY, ContactOutcome.MET_THIRD_PARTY})


class InterviewResult(StrEnum):
    PTP = "PTP"
    PLAN_PROPOSED = "PLAN_PROPOSED"
    PAID_VIA_OFFICIAL_CHANNEL = "PAID_VIA_OFFICIAL_CHANNEL"
    DISPUTE = "DISPUTE"
    HARDSHIP_CLAIMED = "HARDSHIP_CLAIMED"
    REFUSES_TO_PAY = "REFUSES_TO_PAY"
    FOLLOW_UP_NEEDED = "FOLLOW_UP_NEEDED"


class DisputeType(StrEnum):
    AMOUNT = "amount"
    IDENTITY_FRAUD = "identity_fraud"
    MERCHANT = "merchant"
    OTHER = "other"


class Reason(StrEnum):
    UNEMPLOYMENT = "UNEMPLOYMENT"
    INCOME_REDUCTION = "INCOME_REDUCTION"
    BUSINESS_FAILURE = "BUSINESS_FAILURE"
    ILLNESS_INJURY = "ILLNESS_INJURY"
    FAMILY_EVENT = "FAMILY_EVENT"
    OVER_INDEBTEDNESS = "OVER_INDEBTEDNESS"
    IMPULSIVE_SPENDING = "IMPULSIVE_SPENDING"
    PAYMENT_ISSUE = "PAYMENT_ISSUE"
    MERCHANT_DISPUTE = "MERCHANT_DISPUTE"
    FRAUD_ID_THEFT = "FRAUD_ID_THEFT"
    STRATEGIC_DEFAULT = "STRATEGIC_DEFAULT"
    GAMBLING_OR_ILLEGAL = "GAMBLING_OR_ILLEGAL"
    OTHER = "OTHER"


# D-3: reasons that are sensitive personal information (health) or flagged for review.
SENSITIVE_REASONS = frozenset({Reason.ILLNESS_INJURY, Reason.GAMBLING_OR_ILLEGAL})


class Willingness(StrEnum):
    COOPERATIVE = "cooperative"
    HESITANT = "hesitant"
    REFUSES = "refuses"


class IncomeSource(StrEnum):
    SALARY = "salary"
    SPOUSE = "spouse"
    BUSINESS = "business"
    RENT = "rent"
    PENSION = "pension"
    BENEFITS = "benefits"
    MAINTENANCE = "maintenance"
    OTHER = "other"


class EvidenceLevel(StrEnum):
    """A-2 verification ladder, strongest first."""

    BANK_STATEMENT = "bank_statement"
    PAYSLIP = "payslip"
    SOCIAL_INSURANCE_TAX = "social_insurance_tax"
    BUSINESS_RECEIPTS = "business_receipts"
    DECLARED = "declared"


class ExpenseCategory(StrEnum):
    HOUS = "HOUS"
    UTIL = "UTIL"
    FOOD = "FOOD"
    TRAN = "TRAN"
    EDUC = "EDUC"
    MEDI = "MEDI"
    DEPN = "DEPN"
    DEBT = "DEBT"
    OTHR = "OTHR"


class PlanOption(StrEnum):
    INSTAL = "P-INSTAL"
    WAIVE = "P-WAIVE"
    DEFER = "P-DEFER"
    SETTLE = "P-SETTLE"
    STEP = "P-STEP"
    TOKEN = "P-TOKEN"
    PTP = "P-PTP"


class PlanMethod(StrEnum):
    ANNUITY = "annuity"
    EQUAL_PRINCIPAL = "equal_principal"


class HolidayMode(StrEnum):
    CAPITALISE = "capitalise"
    INTEREST_ONLY = "interest_only"


class LocationKind(StrEnum):
    """R-4: where the interview took place."""

    INSIDE_HOME = "inside_home"
    DOORSTEP = "doorstep"
    PUBLIC_PLACE = "public_place"


class AttachmentKind(StrEnum):
    VISIT_PHOTO = "visit_photo"
    PAYSLIP = "payslip"
    BANK_STATEMENT = "bank_statement"
    ID_SHOWN = "id_shown"
    AGREEMENT = "agreement"
    DOCUMENT = "document"
    AUDIO = "audio"


class AgreementMethod(StrEnum):
    """P-6: how the plan was agreed."""

    WRITTEN = "written"
    E_SIGNATURE = "e_signature"
    RECORDED_VERBAL = "recorded_verbal"


class ReportStatus(StrEnum):
    SUBMITTED = "submitted"
    RETURNED = "returned"
    RESUBMITTED = "resubmitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    ESCALATED_LEGAL = "escalated_legal"


FINAL_STATES = frozenset({ReportStatus.APPROVED, ReportStatus.REJECTED, ReportStatus.ESCALATED_LEGAL})


class ReviewAction(StrEnum):
    APPROVE = "approve"
    RETURN = "return"
    REJECT = "reject"
    ESCALATE_LEGAL = "escalate_legal"


class LegalRoute(StrEnum):
    LAWYER_LETTER = "lawyer_letter"
    PAYMENT_ORDER = "payment_order"
    LITIGATION = "litigation"
    MEDIATION = "mediation"


class VisitStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    VISITED = "visited"
    CLOSED = "closed"


class Role(StrEnum):
    INVESTIGATOR = "investigator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
