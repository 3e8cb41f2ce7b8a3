"""The visit report being written: a VisitReport-shaped draft saved on every change, and what the rule book
(`models.rules`) says of it while the investigator types. The form edits and presents; every rule is the
book's, the same one the central server evaluates on push."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

import flet as ft
from pydantic import ValidationError

from models.affordability import (
    Affordability,
    AssessmentInput,
    ExpenseLine,
    IncomeLine,
    OtherDebt,
    debt_service,
)
from models.codes import (
    THIRD_PARTY_OUTCOMES,
    ContactOutcome,
    ExpenseCategory,
    InterviewResult,
    PlanOption,
    ProductType,
)
from models.finance import P4Check, PlanPreview, PlanPreviewRequest, preview_plan, waiver_share
from models.ids import new_id as make_id
from models.money import ZERO, q2, typed_input
from models.privacy import DEFAULT_TZ, local_time, mask_name
from models.report import Assessment, VisitReport
from models.rules import (
    DEFAULT_SETTINGS,
    CaseContext,
    Evaluation,
    Severity,
    evaluate,
    household_assessment,
    regular_instalment,
)

if TYPE_CHECKING:
    from storage.store import DeviceStore

__all__ = ["SECTIONS", "FormProblem", "VisitFormState", "amount_text"]

log = logging.getLogger(__name__)

SECTIONS = ("checkin", "outcome", "interview", "assessment", "plan", "attachments", "review")
_BORROWER_SECTIONS = frozenset({"interview", "assessment", "plan"})
_LINES = ("incomes", "expenses", "other_debts")
_AMOUNTS = ("amount", "balance", "monthly_payment")
# A rule that spans several fields is shown on the field the investigator has to change.
_RULE_FIELDS = {
    "fv.step_payments": "plan.step_payments",
    "fv.settlement_range": "plan.settlement_amount",
    "fv.primary_reason": "interview.primary_reason",
    "fv.ptp_missing": "interview.promise.amount",
    "fv.dispute_missing": "interview.dispute.type",
    "fv.checkout_before_checkin": "checkout.at",
    "fv.third_party_disclosure": "outcome",
    "fv.interview_needs_borrower": "outcome",
}
# Rule-book problems shown under their field as well as on the review tab: what the investigator must change
# in what was entered, rather than something still to fill in.
_SHOWN_AT_FIELD = frozenset(
    {
        "over_capacity",
        "above_charge_cap",
        "term_beyond_max",
        "product_mismatch",
        "plan_invalid",
        "collectors_not_assigned",
        "authorisation_not_shown",
        "recording_off",
        "entry_without_consent",
    }
)
_TAB_OF = {
    "compliance": "checkin",
    "collector_ids": "checkin",
    "third_party": "outcome",
    "checkout": "review",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def amount_text(x: Decimal | None) -> str:
    """1840 → "1,840.00": how amounts read on screen (the wire form has no separators)."""
    return "" if x is None else f"{q2(Decimal(x)):,.2f}"


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _prune(obj: Any) -> Any:
    """Blank inputs are left out, so the model's defaults and its "required" messages apply."""
    if isinstance(obj, dict):
        return {k: _prune(v) for k, v in obj.items() if not _blank(v)}
    if isinstance(obj, list):
        return [_prune(v) for v in obj if not _blank(v)]
    return obj


# Draft fields that hold typed numbers, by name (the same names wherever they occur in the report).
_TYPED: dict[str, Literal["money", "decimal", "int"]] = {
    **dict.fromkeys(
        ("amount", "balance", "monthly_payment", "principal", "upfront_fee", "step_payments", "penalty",
         "fees", "interest", "total_due", "settlement_amount", "instalment", "total_payment"),
        "money",
    ),
    **dict.fromkeys(
        ("buffer", "dsr_limit", "monthly_rate", "lat", "lon", "accuracy_m", "apr_simple", "apr_compound"),
        "decimal",
    ),
    "term_months": "int",
    "holiday_months": "int",
}  # fmt: skip


def _typed(obj: Any, kind: Literal["money", "decimal", "int"] | None = None) -> Any:
    """The draft keeps what was typed ("1,840", "12"); the models take wire values ("1840.00", 12)."""
    if isinstance(obj, dict):
        return {k: _typed(v, _TYPED.get(k)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_typed(v, kind) for v in obj]
    return typed_input(obj, kind) if kind else obj


def _fill(defaults: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """A resumed draft keeps every saved value and gains any field added to the form since."""
    out = dict(data)
    for k, v in defaults.items():
        if k not in out or (out[k] is None and isinstance(v, dict)):
            out[k] = v
        elif isinstance(v, dict) and isinstance(out[k], dict):
            out[k] = _fill(v, out[k])
    return out


def _key(part: str) -> str | int:
    return int(part) if part.isascii() and part.isdigit() else part


@dataclass(frozen=True)
class FormProblem:
    """Something that stops submission: the tab and draft path it points at, and its message code."""

    section: str
    field: str
    code: str


@ft.observable
class VisitFormState:
    """One visit attempt's report. Every mutation saves the whole draft (`store.save_draft`)."""

    def __init__(
        self,
        store: DeviceStore,
        visit_id: str,
        *,
        user_id: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
        new_id: Callable[[], str] = make_id,
        report_id: str | None = None,
    ) -> None:
        self._store, self._clock, self._new_id = store, clock, new_id
        self._cache: dict[str, Any] = {}
        self._case_cache: dict[str, CaseContext] = {}
        self.visit_id = visit_id
        self.user_id = user_id
        self.visit: Any = store.get_visit(visit_id)
        self.section = "checkin"
        self.focus: str | None = None
        self.revision = 0
        self.save_failed = False
        self.submit_failed = False
        self.submitted: Any = None
        self.review_comments: list[str] = []
        # Newest draft first; with `report_id` a returned report is reopened for a new version.
        existing = [d for d in store.drafts(visit_id) if report_id in (None, d.report_id)]
        earlier = store.get_report(report_id) if report_id and not existing else None
        if existing:
            self.report_id = existing[0].report_id
            self._draft: dict[str, Any] = _fill(self._new_draft(), existing[0].data)
        elif earlier is not None and earlier.content:
            self.report_id = earlier.report_id
            self._draft = _fill(self._new_draft(), copy.deepcopy(earlier.content))
            self._save()
        else:
            self.report_id = new_id()
            self._draft = self._new_draft()
            self._save()
        if report_id:
            local = store.get_report(self.report_id)
            for c in getattr(local, "comments", None) or []:
                text = c.get("comment") or c.get("text") if isinstance(c, dict) else str(c)
                if text:
                    self.review_comments.append(str(text))

    # ---------------------------------------------------------------- creation and saving
    def _new_draft(self) -> dict[str, Any]:
        me = [self.user_id] if self.user_id else []
        loan = getattr(self.visit, "loan", None)
        product = loan.product_type.value if loan else ProductType.CASH_LOAN.value
        return {
            "report_id": self.report_id,
            "visit_id": self.visit_id,
            "notes": "",
            "schema_version": 1,
            "investigator_id": self.user_id,
            "collector_ids": list(me),
            "created_at": self._clock().isoformat(),
            "agency_id": getattr(self.visit, "agency_id", None),
            "placement_id": getattr(self.visit, "placement_id", None),
            "checkin": None,
            "checkout": None,
            "compliance": {
                "outside_hours_consent": False, "outside_hours_consent_note": "", "collector_ids": list(me),
                "id_shown": False, "authorisation_shown": False, "consent_to_enter": None,
                "location_kind": None, "no_disclosure_attested": False, "recording_on": False,
            },
            "outcome": None,
            "third_party": {
                "relation": None, "contact_details": "", "message_passed": False,
                "refused_further_contact": False, "volunteered_info": "",
            },
            "interview": {
                "results": [], "reasons": [], "primary_reason": None, "willingness": None, "hardship": False,
                "hardship_note": "", "dispute": {"type": None, "note": ""}, "promise": {"amount": "", "date": ""},
                "paid_reference": "", "notes": "",
            },
            "assessment": {
                "incomes": [],
                "expenses": [{"amount": "", "category": c.value} for c in ExpenseCategory],
                "other_debts": [],
                "buffer": "0.80",
                "dsr_limit": "0.50",
            },
            "plan": {
                "option": None, "product_type": product, "method": "annuity",
                "principal": str(loan.outstanding_principal) if loan else "", "term_months": "12",
                "monthly_rate": str(loan.monthly_rate) if loan and loan.monthly_rate is not None else "0",
                "upfront_fee": "", "holiday_months": "0", "holiday_mode": "capitalise", "step_payments": [],
                "first_due_date": "", "waiver": {"penalty": "", "fees": "", "interest": "", "principal": ""},
                "total_due": "", "settlement_amount": "", "override_reason": "", "agreement": None,
                "agreement_attachment": None,
            },
            "attachments": [],
        }  # fmt: skip

    def _save(self) -> None:
        try:
            self._store.save_draft(self.report_id, self.visit_id, self._draft)
            self.save_failed = False
        except Exception:
            # The screen keeps the input and says so; the next change retries the save.
            log.exception("draft %s could not be saved", self.report_id)
            self.save_failed = True

    def _changed(self) -> None:
        self._cache.clear()
        self._save()
        self.revision += 1

    @property
    def draft(self) -> dict[str, Any]:
        """A copy of the raw draft (what the store holds)."""
        return copy.deepcopy(self._draft)

    # ---------------------------------------------------------------- generic field access
    def get(self, path: str, default: Any = "") -> Any:
        node: Any = self._draft
        for part in path.split("."):
            k = _key(part)
            try:
                node = node[k]
            except (KeyError, IndexError, TypeError):
                return default
        return default if node is None else node

    def set(self, path: str, value: Any) -> None:
        """Sets one draft field (dotted path, list indices as numbers) and saves the draft."""
        if self.submitted is not None:
            return
        parts = [_key(p) for p in path.split(".")]
        node: Any = self._draft
        for k in parts[:-1]:
            nxt = node[int(k)] if isinstance(node, list) else node.get(k)
            if nxt is None:
                nxt = node[k] = {}
            node = nxt
        last = parts[-1]
        if isinstance(node, dict) and node.get(last) == value:
            return
        node[last] = value
        self._after_set(path, value)
        self._changed()

    def _after_set(self, path: str, value: Any) -> None:
        comp, plan = self._draft["compliance"], self._draft["plan"]
        if path == "compliance.consent_to_enter":
            # without consent the interview happens at the door or somewhere public.
            if value is True:
                comp["location_kind"] = "inside_home"
            elif comp.get("location_kind") in (None, "inside_home"):
                comp["location_kind"] = "doorstep"
        elif path == "compliance.collector_ids":
            self._draft["collector_ids"] = list(value)
        elif path == "plan.settlement_amount" and plan.get("option") == PlanOption.SETTLE.value:
            plan["principal"] = value
        elif path.endswith((".position.lat", ".position.lon", ".position.accuracy_m")):
            # A typed coordinate is marked manual so the supervisor can tell it from a GPS fix.
            self.get(path.rsplit(".", 1)[0], {})["source"] = "manual"

    # ---------------------------------------------------------------- actions
    def now(self) -> datetime:
        return self._clock()

    @property
    def today(self) -> date:
        """The date where the visit takes place (the borrower's time zone), not the UTC date."""
        return local_time(self._clock(), self.timezone).date()

    def check_in(self) -> None:
        if self.get("checkin.at"):
            return
        self.set("checkin", {"at": self._clock().isoformat(), "position": self.get("checkin.position", None)})

    def check_out(self) -> None:
        self.set(
            "checkout", {"at": self._clock().isoformat(), "position": self.get("checkout.position", None)}
        )

    def set_position(self, which: str, lat: Any, lon: Any, accuracy: Any = None, source: str = "gps") -> None:
        """A GPS fix or a hand-typed position; coordinates are kept as decimal strings (no floats)."""

        def dec(x: Any) -> str | None:
            return (
                None if x is None else format(Decimal(str(x)).quantize(Decimal("0.000001")).normalize(), "f")
            )

        self.set(
            f"{which}.position",
            {"lat": dec(lat), "lon": dec(lon), "accuracy_m": dec(accuracy), "source": source},
        )

    def set_outcome(self, outcome: str) -> None:
        self.set("outcome", outcome)
        if outcome not in {o.value for o in THIRD_PARTY_OUTCOMES}:
            self.set("compliance.no_disclosure_attested", False)

    def toggle_collector(self, user_id: str) -> None:
        ids = list(self.get("compliance.collector_ids", []))
        self.set(
            "compliance.collector_ids",
            [i for i in ids if i != user_id] if user_id in ids else [*ids, user_id],
        )

    def toggle_result(self, code: str) -> None:
        results = list(self.get("interview.results", []))
        adding = code not in results
        self.set("interview.results", [*results, code] if adding else [r for r in results if r != code])
        if adding and code == InterviewResult.PLAN_PROPOSED.value and not self.get("plan.option"):
            self.set_plan_option(PlanOption.INSTAL.value)

    def toggle_reason(self, code: str) -> None:
        reasons = list(self.get("interview.reasons", []))
        if code in reasons:
            reasons.remove(code)
            if self.get("interview.primary_reason", None) == code:
                self._draft["interview"]["primary_reason"] = reasons[0] if reasons else None
        else:
            reasons.append(code)
            if not self.get("interview.primary_reason", None):
                self._draft["interview"]["primary_reason"] = code
        self.set("interview.reasons", reasons)

    def set_primary_reason(self, code: str) -> None:
        if code not in self.get("interview.reasons", []):
            self.toggle_reason(code)
        self.set("interview.primary_reason", code)

    def add_line(self, name: str, **values: Any) -> int:
        """Adds an income, expense or other-debt line; returns its index."""
        blanks: dict[str, dict[str, Any]] = {
            "incomes": {"amount": "", "source": "salary", "evidence": None},
            "expenses": {"amount": "", "category": ExpenseCategory.OTHR.value},
            "other_debts": {"lender": "", "balance": "", "monthly_payment": ""},
        }
        blank = blanks[name]
        lines = self._draft["assessment"][name]
        lines.append({**blank, **values})
        self._changed()
        return len(lines) - 1

    def remove_line(self, name: str, index: int) -> None:
        lines = self._draft["assessment"][name]
        if 0 <= index < len(lines):
            del lines[index]
            self._changed()

    def expense_index(self, category: str) -> int:
        """The first expense line of a category, added when there is none."""
        for i, line in enumerate(self._draft["assessment"]["expenses"]):
            if line.get("category") == category:
                return i
        return self.add_line("expenses", category=category)

    def loan_defaults(self) -> dict[str, str]:
        """The plan figures a new draft starts from, taken from the loan (the form marks them while they
        are unchanged, so a prefilled value is never mistaken for a typed one)."""
        loan = getattr(self.visit, "loan", None)
        if loan is None:
            return {}
        out = {"plan.principal": str(loan.outstanding_principal), "plan.term_months": "12"}
        if loan.monthly_rate is not None:
            out["plan.monthly_rate"] = str(loan.monthly_rate)
        return out

    def set_plan_option(self, option: str) -> None:
        plan = self._draft["plan"]
        plan["option"] = option
        # Sensible starting figures per option; the investigator edits them.
        if option in (PlanOption.PTP.value, PlanOption.SETTLE.value):
            plan.update(term_months="1", monthly_rate="0")
        elif option == PlanOption.DEFER.value and plan.get("holiday_months") in ("", "0", 0):
            plan["holiday_months"] = "3"
        results = self._draft["interview"]["results"]
        if InterviewResult.PLAN_PROPOSED.value not in results:
            results.append(InterviewResult.PLAN_PROPOSED.value)
        self._changed()

    def set_steps(self, text: str) -> None:
        self.set("plan.step_payments", [p.strip() for p in text.replace("，", ",").split(",") if p.strip()])

    def add_attachment(self, data: bytes, *, kind: str, mime: str, filename: str) -> dict[str, Any]:
        meta = self._store.register_attachment(
            data, kind=kind, mime=mime or "application/octet-stream", filename=filename[:200],
            captured_at=self._clock(),
        )  # fmt: skip
        item = meta.model_dump(mode="json")
        self._draft["attachments"].append(item)
        if kind == "agreement" and not self.get("plan.agreement_attachment", None):
            self._draft["plan"]["agreement_attachment"] = item["sha256"]
        self._changed()
        return item

    def remove_attachment(self, index: int) -> None:
        items = self._draft["attachments"]
        if 0 <= index < len(items):
            gone = items.pop(index)
            if self._draft["plan"].get("agreement_attachment") == gone.get("sha256"):
                self._draft["plan"]["agreement_attachment"] = None
            self._changed()

    def goto(self, section: str, field: str | None = None) -> None:
        self.section = section if section in self.sections() else "review"
        self.focus = field

    def submit(self) -> Any:
        """Builds the VisitReport and hands it to the store (report + outbox row in one transaction).

        Returns the outbox entry, or None when problems remain (the screen then shows the first one)."""
        report, problems = self.validation()
        if problems or report is None:
            if problems:
                self.goto(problems[0].section, problems[0].field)
            return None
        try:
            self.submitted = self._store.submit_report(report)
        except Exception:
            log.exception("report %s could not be submitted", self.report_id)
            self.submit_failed = True
            return None
        self.submit_failed = False
        return self.submitted

    # ---------------------------------------------------------------- what the screens show
    def _cached(self, name: str, fn: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = fn()
        return self._cache[name]

    @property
    def outcome(self) -> str | None:
        return self._draft.get("outcome")

    @property
    def third_party_mode(self) -> bool:
        """R-12 / D-7: a family member or third party is present, so nothing about the debt is shown."""
        return self.outcome in {o.value for o in THIRD_PARTY_OUTCOMES}

    @property
    def borrower_met(self) -> bool:
        return self.outcome == ContactOutcome.MET_BORROWER.value

    @property
    def interview_locked(self) -> bool:
        """R-3: the interview opens only once identification has been shown."""
        return not self._draft["compliance"].get("id_shown")

    def sections(self) -> list[str]:
        return [s for s in SECTIONS if s not in _BORROWER_SECTIONS or self.borrower_met]

    @property
    def timezone(self) -> str:
        borrower = getattr(self.visit, "borrower", None)
        return getattr(borrower, "timezone", None) or DEFAULT_TZ

    def _ts(self, path: str) -> datetime | None:
        raw = self.get(path, None)
        try:
            return datetime.fromisoformat(raw) if raw else None
        except ValueError:
            return None

    def local_time_text(self, path: str) -> str:
        ts = self._ts(path)
        return local_time(ts, self.timezone).strftime("%Y-%m-%d %H:%M") if ts else ""

    @property
    def within_hours(self) -> bool | None:
        """R-1 for the check-in time in the borrower's time zone; None before check-in."""
        if self._ts("checkin.at") is None:
            return None
        return not self.evaluation().has("checkin_outside_hours")

    def collector_options(self) -> list[str]:
        assigned = list(getattr(self.visit, "investigator_ids", []) or [])
        chosen = [c for c in self.get("compliance.collector_ids", []) if c not in assigned]
        return assigned + chosen

    def collector_name(self, user_id: str) -> str:
        """A collector's name as the server sent it with the visit ("" when it sent none)."""
        for c in getattr(self.visit, "collectors", None) or []:
            if c.id == user_id and c.name:
                return str(c.name)
        return ""

    def header(self) -> dict[str, str]:
        """The case header; in third-party mode only the address (no amount, product or status)."""
        v = self.visit
        if v is None:
            return {}
        if self.third_party_mode:
            return {"address": v.borrower.address}
        return {
            "name": mask_name(v.borrower.name),
            "address": v.borrower.address,
            "product": v.loan.product_type.value,
            "bucket": f"M{v.loan.bucket}",
            "dpd": str(v.loan.dpd),
            "overdue": amount_text(v.loan.overdue_amount),
            "outstanding": amount_text(v.loan.outstanding_principal),
        }

    @property
    def product_max_term(self) -> int:
        return DEFAULT_SETTINGS.product_max_term(
            self._draft["plan"].get("product_type") or ProductType.CASH_LOAN
        )

    def case(self) -> CaseContext:
        """What the rule book knows of this visit's case: the loan, the borrower's time zone, the collectors."""

        def build() -> CaseContext:
            v = self.visit
            loan = getattr(v, "loan", None)
            assigned = tuple(getattr(v, "investigator_ids", None) or ())
            return CaseContext(
                product_type=loan.product_type if loan else None,
                outstanding_principal=loan.outstanding_principal if loan else None,
                contractual_monthly_rate=getattr(loan, "monthly_rate", None),
                timezone=self.timezone,
                planned_date=getattr(v, "planned_date", None),
                assigned=assigned or None,
            )

        if "case" not in self._case_cache:
            self._case_cache["case"] = build()
        return self._case_cache["case"]

    def household(self) -> Assessment | None:
        """The household lines that are valid so far (live totals skip a line while it is being typed)."""

        def build() -> Assessment | None:
            inp = self.assessment_input()
            if inp is None:
                return None
            debts = []
            for raw in self._draft["assessment"]["other_debts"]:
                try:
                    debts.append(OtherDebt.model_validate(_typed(_prune(raw))))
                except ValidationError:
                    pass
            return Assessment.model_construct(
                incomes=inp.incomes,
                expenses=inp.expenses,
                other_debts=debts,
                buffer=inp.buffer,
                dsr_limit=inp.dsr_limit,
            )

        return self._cached("household", build)

    def assessment_input(self) -> AssessmentInput | None:
        """The lines that are valid so far (live totals skip a line while it is being typed)."""

        def build() -> AssessmentInput | None:
            a = self._draft["assessment"]
            incomes, expenses = [], []
            for raw in a["incomes"]:
                try:
                    incomes.append(IncomeLine.model_validate(_typed(_prune(raw))))
                except ValidationError:
                    pass
            for raw in a["expenses"]:
                try:
                    expenses.append(ExpenseLine.model_validate(_typed(_prune(raw))))
                except ValidationError:
                    pass
            if not incomes and not expenses:
                return None
            try:
                return AssessmentInput.model_validate(
                    _typed({"incomes": incomes, "expenses": expenses, "buffer": a.get("buffer") or "0.80",
                            "dsr_limit": a.get("dsr_limit") or "0.50", "max_term": min(60, self.product_max_term)})
                )  # fmt: skip
            except ValidationError:
                return None

        return self._cached("assessment", build)

    def _preview_request(self) -> dict[str, Any]:
        p, option = self._draft["plan"], self._draft["plan"].get("option")
        req = {
            "method": p.get("method") or "annuity",
            "principal": p.get("principal"),
            "term_months": p.get("term_months"),
            "monthly_rate": p.get("monthly_rate") or "0",
            "upfront_fee": p.get("upfront_fee"),
            "first_due_date": p.get("first_due_date"),
        }
        if option == PlanOption.DEFER.value:
            req.update(holiday_months=p.get("holiday_months"), holiday_mode=p.get("holiday_mode"))
        if option in (PlanOption.STEP.value, PlanOption.TOKEN.value):
            req["step_payments"] = p.get("step_payments") or []
        return _prune(_typed(req))

    def _preview(self) -> tuple[PlanPreview | None, dict[str, str]]:
        if not self.borrower_met or not self._draft["plan"].get("option"):
            return None, {}
        try:
            req = PlanPreviewRequest.model_validate(self._preview_request())
            prev = preview_plan(req, today=self.today)
            household = self.household()
            if household is not None:
                prev.affordability = household_assessment(
                    household,
                    instalment=regular_instalment(prev, req.holiday_months),
                    principal=req.principal,
                    monthly_rate=req.monthly_rate,
                    term_months=req.holiday_months + req.term_months,
                    max_term=self.product_max_term,
                )
            return prev, {}
        except ValidationError as exc:
            errors: dict[str, str] = {}
            for e in exc.errors():
                loc = [str(x) for x in e["loc"][:1]] or ["principal"]
                errors.setdefault(f"plan.{loc[0]}", e["type"])
            return None, errors
        except (ValueError, ArithmeticError):
            return None, {"plan.principal": "visit.err.plan_invalid"}

    def preview(self) -> PlanPreview | None:
        """The schedule, APR and affordability of the plan as entered (models.finance.preview_plan)."""
        return self._cached("preview", self._preview)[0]

    def totals(self) -> Affordability | None:
        """Live §4 totals (net income … DSR with the plan's instalment); None in third-party mode."""
        if not self.borrower_met:
            return None
        prev = self.preview()
        if prev is not None and prev.affordability is not None:
            return prev.affordability
        household = self.household()
        if household is None:
            return None
        return household_assessment(household, instalment=ZERO, max_term=self.product_max_term)

    @property
    def needs_override(self) -> bool:
        """P-3: the instalment exceeds the household's capacity, so a supervisor's reason is required."""
        return self.evaluation().has("over_capacity")

    def budget(self) -> list[tuple[str, Decimal]]:
        """Income against each expense category, for the household budget chart; DEBT is every debt service,
        the itemised other debts' payments included (A-4), as the totals count it."""
        household = self.household()
        if household is None or not self.borrower_met:
            return []
        inp = household.as_input()
        totals = self.totals()
        out = [("income", totals.net_income if totals else ZERO)]
        for cat in ExpenseCategory:
            if cat is ExpenseCategory.DEBT:
                amount = debt_service(inp)
            else:
                amount = sum((x.amount for x in inp.expenses if x.category is cat), ZERO)
            if amount > 0:
                out.append((cat.value, amount))
        return out

    def waiver_total(self) -> tuple[Decimal, Decimal] | None:
        """F-8 for a settlement: (waived amount, share of the total due)."""
        try:
            due = Decimal(str(typed_input(self.get("plan.total_due") or "x", "money")))
            paid = Decimal(str(typed_input(self.get("plan.settlement_amount") or "x", "money")))
        except InvalidOperation:
            return None
        if due <= 0 or paid > due:
            return None
        return q2(due - paid), waiver_share(due - paid, due)

    # ---------------------------------------------------------------- validation and the report
    def report_data(self) -> tuple[dict[str, Any], dict[str, list[int]]]:
        """The draft as a VisitReport dict: only the sections this outcome allows, blank inputs left out.

        Also returns, per assessment list, the draft index of each kept line (for error paths)."""
        d = copy.deepcopy(self._draft)
        maps: dict[str, list[int]] = {}
        if self.borrower_met:
            iv = d["interview"]
            if InterviewResult.PTP.value not in iv["results"]:
                iv.pop("promise", None)
            if InterviewResult.DISPUTE.value not in iv["results"]:
                iv.pop("dispute", None)
            a = d["assessment"]
            for name in _LINES:
                # A line whose amounts are all blank has not been filled in (the expense list starts
                # with one empty line per category).
                keep = [i for i, line in enumerate(a[name]) if not all(_blank(line.get(k)) for k in _AMOUNTS)]
                maps[name] = keep
                a[name] = [a[name][i] for i in keep]
            if not any(a[n] for n in _LINES):
                d["assessment"] = None
            d["plan"] = self._plan_data(d["plan"], iv["results"])
        else:
            d["interview"] = d["assessment"] = d["plan"] = None
        if not self.third_party_mode:
            d["third_party"] = None
        for which in ("checkin", "checkout"):
            pos = (d.get(which) or {}).get("position")
            if pos and _blank(pos.get("lat")) and _blank(pos.get("lon")):
                d[which]["position"] = None
        return _prune(_typed(d)), maps

    def _plan_data(self, p: dict[str, Any], results: list[str]) -> dict[str, Any] | None:
        option = p.get("option")
        if not option or InterviewResult.PLAN_PROPOSED.value not in results:
            return None
        if option not in (PlanOption.WAIVE.value, PlanOption.SETTLE.value):
            p.pop("waiver", None)
        if option != PlanOption.SETTLE.value:
            p.pop("total_due", None)
            p.pop("settlement_amount", None)
        if option != PlanOption.DEFER.value:
            p.pop("holiday_months", None)
            p.pop("holiday_mode", None)
        if option not in (PlanOption.STEP.value, PlanOption.TOKEN.value):
            p["step_payments"] = []
        p["restructured"] = option != PlanOption.PTP.value  # P-7; a promise to pay is not a restructure
        prev = self.preview()
        if prev is not None:
            p.update(
                instalment=str(prev.instalment), total_payment=str(prev.total_payment),
                apr_simple=str(prev.apr_simple), apr_compound=str(prev.apr_compound),
                first_due_date=prev.schedule[0].due_date.isoformat(),
            )  # fmt: skip
        return p

    def _errors(self, exc: ValidationError, maps: dict[str, list[int]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for e in exc.errors():
            parts = list(e["loc"])
            if (
                len(parts) >= 3
                and parts[0] == "assessment"
                and parts[1] in maps
                and isinstance(parts[2], int)
            ):
                parts[2] = maps[str(parts[1])][parts[2]]
            if parts[:2] == ["plan", "step_payments"]:
                parts = parts[:2]
            path = _RULE_FIELDS.get(e["type"]) or ".".join(str(p) for p in parts) or "outcome"
            out.setdefault(path, e["type"])
        return out

    def _validate(self) -> tuple[VisitReport | None, dict[str, str], list[FormProblem]]:
        data, maps = self.report_data()
        model_errors: dict[str, str] = {}
        report: VisitReport | None = None
        try:
            report = VisitReport.model_validate(data)
        except ValidationError as exc:
            model_errors = self._errors(exc, maps)
        errors = dict(model_errors)
        plan_included = isinstance(data.get("plan"), dict)
        for path, code in self._cached("preview", self._preview)[1].items():
            if plan_included:
                errors.setdefault(path, code)
        # The rule book needs a parsed report: sections with format errors are left out of it, and what it
        # would then say about those sections is already said by their errors.
        bad = {p.split(".")[0] for p in model_errors}
        lenient = report
        if lenient is None:
            try:
                lenient = VisitReport.model_validate({k: v for k, v in data.items() if k not in bad})
            except ValidationError:
                lenient = None
        evaluation = self._evaluate(lenient)
        self._cache["evaluation"] = evaluation
        problems = [FormProblem(self._tab(p), p, c) for p, c in errors.items()]
        for p in evaluation.blocking:
            if p.field.split(".")[0] in bad or any(
                e == p.field or e.startswith(p.field + ".") for e in errors
            ):
                continue
            if p.code in _SHOWN_AT_FIELD:
                errors[p.field] = p.message
            problems.append(FormProblem(p.section, p.field, p.message))
        order = {s: i for i, s in enumerate(SECTIONS)}
        problems.sort(key=lambda x: order.get(x.section, 99))
        return (report if not errors else None), errors, problems

    def _evaluate(self, report: VisitReport | None) -> Evaluation:
        if report is None:
            return Evaluation()
        return evaluate(report, self.case(), DEFAULT_SETTINGS, today=self.today)

    def evaluation(self) -> Evaluation:
        """What the rule book says of the report as entered (empty while nothing parses)."""
        self._cached("validation", self._validate)
        return self._cache.get("evaluation") or Evaluation()

    def notices(self) -> list[FormProblem]:
        """The book's problems that do not stop submission: a supervisor's sign-off, or a note."""
        return [
            FormProblem(p.section, p.field, p.message)
            for p in self.evaluation().problems
            if p.severity is not Severity.BLOCK
        ]

    def p4(self) -> P4Check | None:
        """P-4 for the plan as entered: its total repayable (fees included) against the current outstanding
        plus the contract's interest over the new term. None for a promise to pay or a settlement (not
        restructures) or a loan whose contractual rate the case does not carry. Above it the supervisor's
        sign-off is needed (the ceiling is a house rule, domain [C])."""
        return self.evaluation().p4

    @property
    def within_charge_cap(self) -> bool:
        """P-5: the plan's simple annual rate by IRR stays within 24% (True when there is no plan yet)."""
        return not self.evaluation().has("above_charge_cap")

    def _tab(self, path: str) -> str:
        head = path.split(".")[0]
        tab = _TAB_OF.get(head, head)
        return tab if tab in SECTIONS else "review"

    def validation(self) -> tuple[VisitReport | None, list[FormProblem]]:
        """(the report when it is valid, every problem left); both in tab order."""
        report, _errors, problems = self._cached("validation", self._validate)
        return report, problems

    def problems(self) -> list[FormProblem]:
        return self.validation()[1]

    def error(self, path: str) -> str | None:
        """The message code for one field, shown inline under it (None when the field is fine)."""
        errors = self._cached("validation", self._validate)[1]
        if path in errors:
            return errors[path]
        return self._cached("preview", self._preview)[1].get(path)

    @property
    def first_due_default(self) -> date:
        prev = self.preview()
        return prev.schedule[0].due_date if prev else self.today
