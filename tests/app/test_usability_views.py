"""Issue 10's view points on the client-less harness: collectors by name at check-in, the expense card's
empty state and per-category lines, plan figures marked as taken from the loan, and a returned report
opening where the supervisor's comment points."""

from __future__ import annotations

from types import SimpleNamespace

import flet as ft
import pytest
from test_visit_state import VISIT_ID, Clock, fill_complete_borrower_visit, make_visit, return_report
from test_visit_views import new_form, render

from app import i18n
from app.views.visit.review import comment_target
from app.views.visit.screen import open_form
from models.entities import Visit
from storage.store import DeviceStore

SECTIONS = ["checkin", "outcome", "interview", "assessment", "plan", "attachments", "review"]


def named_visit() -> Visit:
    data = make_visit().model_dump(mode="json")
    data["collectors"] = [{"id": "inv-a1", "name": "陈志刚"}, {"id": "inv-a2", "name": "王婷"}]
    return Visit.model_validate(data)


@pytest.fixture
def store() -> DeviceStore:
    s = DeviceStore(None)
    s.upsert_visits([named_visit()])
    return s


@pytest.fixture
def language():
    yield i18n.set_language
    i18n.set_language(i18n.DEFAULT_LANGUAGE)


def chip_label(headless, ident: str) -> str:
    chip = headless.by_id(ident)
    assert isinstance(chip, ft.Chip)
    return str(chip.label.value)


async def test_checkin_lists_collectors_by_name_when_the_visit_carries_their_names(headless, store) -> None:
    await render(headless, new_form(store), "checkin")
    assert chip_label(headless, "collector-inv-a1") == "陈志刚（本人）"
    assert chip_label(headless, "collector-inv-a2") == "王婷"
    assert not [s for s in headless.texts() if "inv-a" in s]


async def test_checkin_names_an_unnamed_colleague_without_the_user_id_when_the_server_sent_no_names(
    headless,
) -> None:
    bare = DeviceStore(None)
    bare.upsert_visits([make_visit()])  # an older server: ids only
    await render(headless, new_form(bare), "checkin")
    assert chip_label(headless, "collector-inv-a1") == "本人"
    assert chip_label(headless, "collector-inv-a2") == "同事 2"


async def test_expense_card_shows_an_empty_state_and_one_line_per_category_when_nothing_is_entered(
    headless, store
) -> None:
    seed = new_form(store)
    seed.set_outcome("MET_BORROWER")
    seed.set("compliance.id_shown", True)
    await render(headless, new_form(store), "assessment")
    assert headless.has_id("expenses-empty")
    assert headless.by_id("expense-amount-0").label == "住房（元/月）"
    # The categories are labels, not nine dropdowns to skip past.
    assert not headless.ids("expense-category-")


async def test_expense_card_sums_what_was_entered_when_amounts_are_typed(headless, store) -> None:
    seed = new_form(store)
    seed.set_outcome("MET_BORROWER")
    seed.set("compliance.id_shown", True)
    await render(headless, new_form(store), "assessment")
    await headless.type_into(headless.by_id("expense-amount-0"), "2500")
    await headless.type_into(headless.by_id("expense-amount-2"), "1800")
    assert not headless.has_id("expenses-empty")
    assert headless.by_id("expenses-summary").value == "已填 2 项，合计 4,300.00 元/月"
    await headless.click(headless.by_id("expense-add"))
    assert headless.has_id("expense-category-9")  # a further line chooses its category


async def test_plan_marks_figures_from_the_loan_when_the_option_was_just_chosen(headless, store) -> None:
    seed = new_form(store)
    seed.set_outcome("MET_BORROWER")
    seed.set("compliance.id_shown", True)
    seed.set_plan_option("P-INSTAL")
    await render(headless, new_form(store), "plan")
    assert headless.has_id("plan-prefilled")
    principal = headless.by_id("plan-principal")
    assert principal.value == "20000.00" and principal.helper == "按贷款带入，请核对"
    assert headless.by_id("plan-rate").helper == "按贷款带入，请核对"
    await headless.type_into(principal, "8000")
    assert headless.by_id("plan-principal").helper is None
    assert headless.by_id("plan-principal").value == "8000"


async def test_plan_labels_fit_a_small_phone_when_shown_in_chinese(headless, store) -> None:
    seed = new_form(store)
    seed.set_outcome("MET_BORROWER")
    seed.set("compliance.id_shown", True)
    await render(headless, new_form(store), "plan")
    # Short labels, each field on its own line; the example and the format moved to the helper line.
    assert headless.by_id("plan-rate").label == "月利率"
    assert headless.by_id("plan-first-due").label == "首期还款日"
    assert headless.by_id("plan-first-due").helper == "格式 YYYY-MM-DD"


@pytest.mark.parametrize(
    ("comment", "where"),
    [
        ("月利率写错了，合同是 0.015", ("plan", "plan.monthly_rate")),
        ("请补充支出的证明", ("assessment", None)),
        ("The photos are blurred", ("attachments", None)),
        ("请重新核对后再提交", ("review", None)),
    ],
)
def test_comment_target_points_at_the_named_field_or_tab_when_the_comment_names_one(
    comment: str, where: tuple[str, str | None]
) -> None:
    assert comment_target([comment], SECTIONS) == where


def test_returned_report_opens_at_the_field_the_comment_names_when_reopened_from_sync(store) -> None:
    form = new_form(store)
    fill_complete_borrower_visit(form)
    assert form.submit() is not None
    return_report(store, form.report_id, "本金与贷款余额不一致，请核对")
    session = SimpleNamespace(user=SimpleNamespace(id="inv-a1"), config=SimpleNamespace(clock=Clock()))
    fixing = open_form(store, VISIT_ID, session, form.report_id)
    assert fixing is not None
    assert (fixing.section, fixing.focus) == ("plan", "plan.principal")


def test_returned_report_opens_at_review_when_the_comment_names_no_field(store) -> None:
    form = new_form(store)
    fill_complete_borrower_visit(form)
    assert form.submit() is not None
    return_report(store, form.report_id, "请重新核对后再提交")
    session = SimpleNamespace(user=SimpleNamespace(id="inv-a1"), config=SimpleNamespace(clock=Clock()))
    fixing = open_form(store, VISIT_ID, session, form.report_id)
    assert fixing is not None and fixing.section == "review"


async def test_recording_box_is_not_red_before_the_check_in_when_still_unticked(headless, store) -> None:
    form = new_form(store)
    await render(headless, form, "checkin")
    box = headless.by_id("recording-on").content
    assert isinstance(box, ft.Checkbox) and box.value is False and box.error is False
    await headless.click(headless.by_id("checkin-btn"))
    # Checked in without telling the occupant about the recording: now the box is marked.
    assert headless.by_id("recording-on").content.error is True
