"""VisitFormState without any page: autosave, R-1/R-2/R-4, third-party mode, E-1/E-11 figures, submit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.state.visit_form import VisitFormState, amount_text
from models.entities import Visit
from models.messages import message_for
from storage.store import DeviceStore

VISIT_ID = "3f2b8c1d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
# 10:15 in Shanghai (UTC+8).
DAYTIME = datetime(2026, 11, 20, 2, 15, tzinfo=UTC)


def make_visit(**loan: object) -> Visit:
    return Visit.model_validate(
        {
            "visit_id": VISIT_ID,
            "external_id": "LN-0000001",
            "team": "hz-a",
            "borrower": {
                "name": "王建国",
                "phone": "13812345678",
                "id_number": "330106198507120017",
                "address": "杭州市西湖区文三路 100 号 2 幢 301 室",
                "district": "西湖区",
            },
            "loan": {
                "external_id": "LN-0000001",
                "product_type": "cash_loan",
                "outstanding_principal": "20000.00",
                "overdue_amount": "3300.48",
                "dpd": 75,
                "bucket": 3,
                "monthly_rate": "0.015",
                **loan,
            },
            "investigator_ids": ["inv-a1", "inv-a2"],
        }
    )


class Clock:
    def __init__(self, now: datetime = DAYTIME) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store() -> DeviceStore:
    s = DeviceStore(None)
    s.upsert_visits([make_visit()])
    return s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def form(store: DeviceStore, clock: Clock) -> VisitFormState:
    return VisitFormState(store, VISIT_ID, user_id="inv-a1", clock=clock)


def codes(form: VisitFormState) -> set[str]:
    return {p.code for p in form.problems()}


def fill_e11(form: VisitFormState) -> None:
    """Domain E-11: NI 6,000 + 3,000; expenses 5,900 essential + 800 debt service."""
    form.set_outcome("MET_BORROWER")
    i = form.add_line("incomes", source="salary", evidence="payslip")
    form.set(f"assessment.incomes.{i}.amount", "6000")
    i = form.add_line("incomes", source="spouse", evidence="payslip")
    form.set(f"assessment.incomes.{i}.amount", "3000")
    for cat, amount in [("HOUS", "2500"), ("FOOD", "1800"), ("EDUC", "600"), ("MEDI", "300"),
                        ("TRAN", "400"), ("UTIL", "300"), ("DEBT", "800")]:  # fmt: skip
        form.set(f"assessment.expenses.{form.expense_index(cat)}.amount", amount)


def fill_complete_borrower_visit(form: VisitFormState) -> None:
    form.check_in()
    form.set_position("checkin", 30.2741, 120.1551, 12.0)
    form.toggle_collector("inv-a2")
    form.set("compliance.id_shown", True)
    form.set("compliance.recording_on", True)
    form.set("compliance.consent_to_enter", True)
    fill_e11(form)
    form.toggle_reason("INCOME_REDUCTION")
    form.set("interview.willingness", "cooperative")
    form.set_plan_option("P-INSTAL")
    form.set("plan.principal", "12000")
    form.set("plan.term_months", "12")
    form.set("plan.monthly_rate", "0.015")
    form.set("plan.agreement", "recorded_verbal")
    form.check_out()


# ------------------------------------------------------------------ drafts and autosave


def test_open_creates_and_saves_draft_when_visit_has_none(form: VisitFormState, store: DeviceStore) -> None:
    drafts = store.drafts(VISIT_ID)
    assert [d.report_id for d in drafts] == [form.report_id]
    data = drafts[0].data
    assert data["visit_id"] == VISIT_ID
    assert data["investigator_id"] == "inv-a1"
    assert data["compliance"]["collector_ids"] == ["inv-a1"]


def test_every_keystroke_is_saved_when_typing(form: VisitFormState, store: DeviceStore) -> None:
    form.set_outcome("MET_BORROWER")
    i = form.add_line("incomes", evidence="payslip")
    for typed in ("6", "60", "600", "6000"):
        form.set(f"assessment.incomes.{i}.amount", typed)
        assert store.get_draft(form.report_id)["assessment"]["incomes"][i]["amount"] == typed


def test_reopen_resumes_the_same_draft_when_app_was_killed(store: DeviceStore, clock: Clock) -> None:
    first = VisitFormState(store, VISIT_ID, user_id="inv-a1", clock=clock)
    first.set("interview.notes", "借款人配合")
    again = VisitFormState(store, VISIT_ID, user_id="inv-a1", clock=clock)
    assert again.report_id == first.report_id
    assert again.get("interview.notes") == "借款人配合"


def test_unchanged_value_does_not_bump_revision(form: VisitFormState) -> None:
    form.set("notes", "x")
    before = form.revision
    form.set("notes", "x")
    assert form.revision == before


# ------------------------------------------------------------------ check-in rules


def test_checkin_at_2130_local_passes_r1(form: VisitFormState, clock: Clock) -> None:
    clock.now = datetime(2026, 11, 20, 13, 30, tzinfo=UTC)  # 21:30 Asia/Shanghai
    form.check_in()
    assert form.within_hours is True
    assert "fv.outside_hours_consent" not in codes(form)


def test_checkin_at_2230_local_needs_recorded_consent(form: VisitFormState, clock: Clock) -> None:
    clock.now = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)  # 22:30 Asia/Shanghai
    form.check_in()
    assert form.within_hours is False
    assert "fv.outside_hours_consent" in codes(form)
    form.set("compliance.outside_hours_consent", True)
    assert "fv.outside_hours_consent" not in codes(form)


def test_checkin_time_is_kept_when_checked_in_twice(form: VisitFormState, clock: Clock) -> None:
    form.check_in()
    first = form.get("checkin.at")
    clock.now = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    form.check_in()
    assert form.get("checkin.at") == first
    assert form.local_time_text("checkin.at") == "2026-11-20 10:15"


def test_second_collector_required_and_must_be_assigned(form: VisitFormState) -> None:
    assert "fv.collectors_too_few" in codes(form)
    form.toggle_collector("inv-a2")
    assert "fv.collectors_too_few" not in codes(form)
    form.toggle_collector("stranger")
    assert form.error("compliance.collector_ids") == "fv.collectors_not_assigned"


def test_no_consent_to_enter_moves_interview_to_doorstep(form: VisitFormState) -> None:
    form.set("compliance.consent_to_enter", False)
    assert form.get("compliance.location_kind") == "doorstep"
    form.set("compliance.consent_to_enter", True)
    assert form.get("compliance.location_kind") == "inside_home"


def test_gps_position_is_stored_as_decimal_strings(form: VisitFormState) -> None:
    form.check_in()
    form.set_position("checkin", 30.2741, 120.1551, 12.5)
    assert form.get("checkin.position") == {
        "lat": "30.2741",
        "lon": "120.1551",
        "accuracy_m": "12.5",
        "source": "gps",
    }


def test_manual_latitude_out_of_range_is_an_inline_error(form: VisitFormState) -> None:
    form.check_in()
    form.set("checkin.position.lat", "95")
    form.set("checkin.position.lon", "120")
    form.set("checkin.position.source", "manual")
    assert form.error("checkin.position") == "fv.coordinate_range"


# ------------------------------------------------------------------ third-party mode (R-12, D-7)


@pytest.mark.parametrize("outcome", ["MET_FAMILY", "MET_THIRD_PARTY"])
def test_third_party_mode_exposes_no_amount_product_or_status(form: VisitFormState, outcome: str) -> None:
    fill_e11(form)
    form.set_plan_option("P-INSTAL")
    assert form.totals() is not None and form.preview() is not None  # shown while the borrower is met
    form.set_outcome(outcome)
    assert form.third_party_mode
    exposed = json.dumps(
        {
            "header": form.header(),
            "sections": form.sections(),
            "totals": str(form.totals()),
            "preview": str(form.preview()),
            "budget": str(form.budget()),
            "problems": [p.code for p in form.problems()],
        },
        ensure_ascii=False,
    )
    for secret in ("3300.48", "3,300.48", "20000", "20,000.00", "cash_loan", "M3", "75", "9,000", "9000"):
        assert secret not in exposed
    assert form.sections() == ["checkin", "outcome", "attachments", "review"]
    assert form.header() == {"address": "杭州市西湖区文三路 100 号 2 幢 301 室"}


def test_third_party_report_carries_no_debt_sections(form: VisitFormState) -> None:
    fill_e11(form)
    form.set_outcome("MET_FAMILY")
    form.set("third_party.relation", "family")
    data, _ = form.report_data()
    assert not {"interview", "assessment", "plan"} & {k for k, v in data.items() if v is not None}
    assert {"fv.no_disclosure", "fv.third_party_disclosure"} & codes(form) == {"fv.no_disclosure"}
    form.set("compliance.no_disclosure_attested", True)
    assert "fv.no_disclosure" not in codes(form)


# ------------------------------------------------------------------ affordability and plan


def test_itemised_debts_count_toward_debt_service_when_e13(form: VisitFormState) -> None:
    fill_e11(form)
    debt = form.expense_index("DEBT")
    form.set(f"assessment.expenses.{debt}.amount", "")
    for lender, monthly in (("花呗", "500"), ("信用卡", "300")):
        i = form.add_line("other_debts")
        form.set(f"assessment.other_debts.{i}.lender", lender)
        form.set(f"assessment.other_debts.{i}.monthly_payment", monthly)
    totals = form.totals()
    assert totals is not None
    assert (totals.debt_service, totals.disposable_income, totals.capacity) == (
        Decimal("800.00"), Decimal("2300.00"), Decimal("1840.00"))  # fmt: skip
    assert dict(form.budget())["DEBT"] == Decimal("800.00")  # the chart's DEBT bar is the same debt service
    i = form.add_line("other_debts")
    form.set(f"assessment.other_debts.{i}.monthly_payment", "2000")
    form.set_plan_option("P-INSTAL")
    form.set("plan.principal", "14000")
    form.set("plan.term_months", "12")
    form.set("plan.monthly_rate", "0")
    totals = form.totals()
    assert totals is not None
    assert (totals.debt_service, totals.capacity, totals.dsr_after) == (
        Decimal("2800.00"), Decimal("240.00"), Decimal("0.4407"))  # fmt: skip
    assert form.needs_override and form.error("plan.override_reason") == "fv.capacity_override"


def test_e11_totals_and_twelve_month_zero_rate_plan(form: VisitFormState) -> None:
    fill_e11(form)
    totals = form.totals()
    assert totals is not None
    assert (totals.net_income, totals.essential_expenses, totals.debt_service) == (
        Decimal("9000.00"), Decimal("5900.00"), Decimal("800.00"))  # fmt: skip
    assert totals.disposable_income == Decimal("2300.00")
    assert amount_text(totals.capacity) == "1,840.00"
    form.set_plan_option("P-INSTAL")
    form.set("plan.principal", "14000")
    form.set("plan.term_months", "12")
    form.set("plan.monthly_rate", "0")
    prev = form.preview()
    assert prev is not None and prev.instalment == Decimal("1166.67")
    aff = form.totals()
    assert aff.dsr_after == Decimal("0.2185") and aff.verdict == "pass"
    assert aff.min_term_months == 8
    assert not form.needs_override


def test_e1_schedule_apr_and_totals_in_plan(form: VisitFormState) -> None:
    form.set_outcome("MET_BORROWER")
    form.set_plan_option("P-INSTAL")
    form.set("plan.principal", "12000")
    form.set("plan.term_months", "12")
    form.set("plan.monthly_rate", "0.015")
    prev = form.preview()
    assert prev is not None
    assert prev.instalment == Decimal("1100.16")
    assert prev.schedule[-1].payment == Decimal("1100.19")
    assert prev.total_interest == Decimal("1201.95")
    assert (prev.apr_simple, prev.apr_compound) == (Decimal("0.1800"), Decimal("0.1956"))
    plan = form.report_data()[0]["plan"]
    assert plan["instalment"] == "1100.16" and plan["apr_compound"] == "0.1956"
    assert plan["first_due_date"] == "2026-12-20"


def test_override_reason_demanded_when_instalment_exceeds_capacity(form: VisitFormState) -> None:
    fill_e11(form)  # capacity 1,840.00
    form.set_plan_option("P-INSTAL")
    form.set("plan.principal", "20000")
    form.set("plan.term_months", "6")
    form.set("plan.monthly_rate", "0")
    assert form.needs_override
    assert form.error("plan.override_reason") == "fv.capacity_override"
    assert "fv.capacity_override" in codes(form)
    form.set("plan.override_reason", "主管已电话批准")
    assert form.error("plan.override_reason") is None
    assert "fv.capacity_override" not in codes(form)


def test_term_beyond_product_maximum_is_refused(form: VisitFormState) -> None:
    form.set_outcome("MET_BORROWER")
    form.set_plan_option("P-INSTAL")
    form.set("plan.term_months", "48")  # cash loan: at most 36 (P-1)
    assert form.product_max_term == 36
    assert form.error("plan.term_months") == "fv.term_beyond_product"


@pytest.mark.parametrize(
    ("typed", "code"),
    [("12.345", "fv.money_places"), ("-5", "fv.money_negative"), ("abc", "fv.not_a_number")],
)
def test_bad_income_amount_is_an_inline_error_in_both_languages(
    form: VisitFormState, typed: str, code: str
) -> None:
    form.set_outcome("MET_BORROWER")
    i = form.add_line("incomes", evidence="payslip")
    form.set(f"assessment.incomes.{i}.amount", typed)
    assert form.error(f"assessment.incomes.{i}.amount") == code
    assert message_for(code, "zh") != message_for(code, "en")


def test_inline_error_points_at_the_draft_line_when_blank_lines_precede_it(form: VisitFormState) -> None:
    form.set_outcome("MET_BORROWER")
    idx = form.expense_index("MEDI")  # after four blank category lines
    form.set(f"assessment.expenses.{idx}.amount", "1.001")
    assert form.error(f"assessment.expenses.{idx}.amount") == "fv.money_places"


@pytest.mark.parametrize("typed", ["1,840", "1840", " 1,840.00 ", "１８４０", "1,840.0"])
def test_typed_income_becomes_a_canonical_amount_in_the_report_when_written_as_people_write(
    form: VisitFormState, typed: str
) -> None:
    form.set_outcome("MET_BORROWER")
    i = form.add_line("incomes", source="salary", evidence="payslip")
    form.set(f"assessment.incomes.{i}.amount", typed)
    assert form.report_data()[0]["assessment"]["incomes"][0]["amount"] == "1840.00"
    assert form.error(f"assessment.incomes.{i}.amount") is None
    inp = form.assessment_input()
    assert inp is not None and inp.incomes[0].amount == Decimal("1840.00")
    assert form.get(f"assessment.incomes.{i}.amount") == typed  # the draft keeps what was typed


def test_typed_plan_figures_become_wire_values_in_preview_and_report_when_grouped_or_full_width(
    form: VisitFormState,
) -> None:
    fill_e11(form)
    form.set_plan_option("P-INSTAL")
    form.set("plan.principal", "12,000")
    form.set("plan.term_months", "１２")
    form.set("plan.monthly_rate", " 0.015 ")
    prev = form.preview()
    assert prev is not None and prev.instalment == Decimal("1100.16")
    plan = form.report_data()[0]["plan"]
    assert (plan["principal"], plan["term_months"], plan["monthly_rate"]) == ("12000.00", 12, "0.015")


def test_typed_term_is_an_inline_error_when_it_is_not_a_whole_number(form: VisitFormState) -> None:
    form.set_outcome("MET_BORROWER")
    form.set_plan_option("P-INSTAL")
    form.set("plan.term_months", "12.5")
    assert form.error("plan.term_months") == "int_type"


def test_primary_reason_follows_the_selected_reasons(form: VisitFormState) -> None:
    form.set_outcome("MET_BORROWER")
    form.toggle_reason("ILLNESS_INJURY")
    form.toggle_reason("UNEMPLOYMENT")
    assert form.get("interview.primary_reason") == "ILLNESS_INJURY"
    form.set_primary_reason("UNEMPLOYMENT")
    form.toggle_reason("UNEMPLOYMENT")
    assert form.get("interview.primary_reason") == "ILLNESS_INJURY"


# ------------------------------------------------------------------ submit


def test_submit_writes_report_and_outbox_and_removes_draft(form: VisitFormState, store: DeviceStore) -> None:
    fill_complete_borrower_visit(form)
    assert form.problems() == []
    entry = form.submit()
    assert entry is not None and entry.report_id == form.report_id
    assert [e.report_id for e in store.outbox()] == [form.report_id]
    assert store.get_draft(form.report_id) is None
    report = entry.mutation.report
    assert report["plan"]["instalment"] == "1100.16"
    assert report["collector_ids"] == ["inv-a1", "inv-a2"]
    assert report["checkin"]["position"]["lat"] == "30.2741"


def test_submit_refused_and_first_problem_opened_when_incomplete(
    form: VisitFormState, store: DeviceStore
) -> None:
    form.check_in()
    form.section = "review"
    assert form.submit() is None
    assert store.outbox() == []
    assert form.section == "checkin" and form.focus is not None


def test_attachment_is_registered_and_submitted_with_the_report(
    form: VisitFormState, store: DeviceStore
) -> None:
    fill_complete_borrower_visit(form)
    item = form.add_attachment(
        b"%PDF-1.4 agreement", kind="agreement", mime="application/pdf", filename="a.pdf"
    )
    assert form.get("plan.agreement_attachment") == item["sha256"]
    assert store.blob_bytes(item["sha256"]) == b"%PDF-1.4 agreement"
    entry = form.submit()
    assert entry is not None and entry.mutation.blobs == [item["sha256"]]


def return_report(store: DeviceStore, report_id: str, comment: str) -> None:
    from models.wire import Change, MutationResult, PullResponse, PushResponse

    ack = MutationResult(mutation_id=1, status="applied", server_version=1)
    store.apply_push_response(PushResponse(last_mutation_id=1, server_epoch="e", results=[ack]))
    review = {"server_version": 2, "status": "returned", "comments": [{"comment": comment}]}
    change = Change(seq=1, type="report_review", op="put", id=report_id, data=review)
    store.apply_pull_page(
        PullResponse(cursor="1", has_more=False, last_mutation_id=1, server_epoch="e", changes=[change])
    )


def test_returned_report_reopens_with_its_content_and_resubmits(store: DeviceStore, clock: Clock) -> None:
    form = VisitFormState(store, VISIT_ID, user_id="inv-a1", clock=clock)
    fill_complete_borrower_visit(form)
    assert form.submit() is not None
    return_report(store, form.report_id, "请补充收入证明")
    fixing = VisitFormState(store, VISIT_ID, user_id="inv-a1", clock=clock, report_id=form.report_id)
    assert fixing.report_id == form.report_id
    assert fixing.review_comments == ["请补充收入证明"]
    assert (
        fixing.get("plan.principal") == "12000.00"
        and fixing.get("interview.primary_reason") == "INCOME_REDUCTION"
    )
    fixing.add_attachment(b"payslip", kind="payslip", mime="image/jpeg", filename="p.jpg")
    assert store.get_draft(form.report_id) is not None  # the fix is saved as a draft of the same report
    entry = fixing.submit()
    assert entry is not None and entry.kind == "resubmit_report"
    assert entry.mutation.base_version == 2


def test_compliance_reminder_does_not_hide_what_was_attested(form: VisitFormState) -> None:
    form.check_in()
    form.set("compliance.id_shown", True)
    form.set_outcome("MET_FAMILY")  # third-party form still empty, recording notice not yet confirmed
    found = codes(form)
    assert "fv.recording_off" in found and "missing" in found
    assert "fv.id_not_shown" not in found
    assert "fv.third_party_missing" not in found  # its field error ("relation required") says it already


def test_plan_blocked_by_p5_when_charges_exceed_24_percent_a_year(form: VisitFormState) -> None:
    form.set_outcome("MET_BORROWER")
    form.set_plan_option("P-INSTAL")
    form.set("plan.principal", "12000")
    form.set("plan.term_months", "12")
    form.set("plan.monthly_rate", "0.015")  # E-1: interest 1,201.95 a year on 12,000 ≈ 10%
    assert form.within_charge_cap
    assert form.error("plan.monthly_rate") is None
    form.set("plan.monthly_rate", "0.045")  # about 26% a year of simple charges
    assert not form.within_charge_cap
    assert form.error("plan.monthly_rate") == "fv.p5_charges_cap"
    assert any(p.code == "fv.p5_charges_cap" for p in form.problems())


def test_plan_above_the_p4_ceiling_is_flagged_for_sign_off_not_blocked(form: VisitFormState) -> None:
    form.set_outcome("MET_BORROWER")
    form.set_plan_option("P-INSTAL")
    form.set("plan.principal", "12000")
    form.set("plan.term_months", "12")
    form.set("plan.monthly_rate", "0.015")  # the case: 20,000 outstanding at 1.5% a month
    check = form.p4()
    assert check is not None and check.within
    assert check.total_repayable == Decimal("13201.95")
    form.set("plan.principal", "25000")  # more than is owed
    check = form.p4()
    assert check is not None and not check.within
    assert not any("p4" in p.code for p in form.problems())  # a warning for the supervisor, not a block
    form.set_plan_option("P-PTP")  # a promise to pay is not a restructure
    assert form.p4() is None


def test_settlement_waiver_is_shown_when_amounts_are_typed_with_separators(form: VisitFormState) -> None:
    form.set_outcome("MET_BORROWER")
    form.set_plan_option("P-SETTLE")
    form.set("plan.total_due", "11,450")
    form.set("plan.settlement_amount", "８８００")  # full-width digits, as some keyboards type them
    assert form.waiver_total() == (Decimal("2650.00"), Decimal("0.2314"))  # E-10


def test_settlement_waiver_share_rounds_half_up_when_on_the_half(form: VisitFormState) -> None:
    form.set_outcome("MET_BORROWER")
    form.set_plan_option("P-SETTLE")
    form.set("plan.total_due", "1000.00")
    form.set("plan.settlement_amount", "876.55")  # 123.45 waived: 12.345% is 12.35% half-up (F-3), not 12.34%
    assert form.waiver_total() == (Decimal("123.45"), Decimal("0.1235"))
