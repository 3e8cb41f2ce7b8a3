"""The visit report screen on the client-less harness: every tab in zh-CN and en, third-party mode without
amounts, live totals, P-2 APR prominence, the file picker and submit back to the queue."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import flet as ft
import pytest
from conftest import GOOD_PASSWORD, USER
from test_visit_state import (
    VISIT_ID,
    Clock,
    fill_complete_borrower_visit,
    fill_e11,
    make_visit,
    return_report,
)

from app import i18n
from app.contexts import SessionCtx, SyncCtx
from app.runtime import AppModel
from app.state.visit_form import VisitFormState
from app.views.app import App
from app.views.visit import VisitReportScreen
from app.views.visit.plan import MONTHLY_RATE_SIZE
from storage.store import DeviceStore

SECTION_IDS = {
    "checkin": "checkin-time",
    "outcome": "outcome-MET_BORROWER",
    "interview": "result-PTP",
    "assessment": "totals-capacity",
    "plan": "apr-compound",
    "attachments": "attachment-pick",
    "review": "submit-btn",
}
AMOUNT = re.compile(r"\d[\d,]*\.\d{2}")


@pytest.fixture
def store() -> DeviceStore:
    s = DeviceStore(None)
    s.upsert_visits([make_visit()])
    return s


@pytest.fixture
def language():
    """Sets the language for the test and puts the default back afterwards."""
    yield i18n.set_language
    i18n.set_language(i18n.DEFAULT_LANGUAGE)


def new_form(store: DeviceStore) -> VisitFormState:
    # One state per rendered session: a state's subscribers belong to the page that rendered it.
    return VisitFormState(store, VISIT_ID, user_id="inv-a1", clock=Clock())


class FakeSync:
    def __init__(self) -> None:
        self.calls: list[Any] = []

    def sync_now(self, engine: Any) -> bool:
        self.calls.append(engine)
        return True


@ft.component
def Providers(form: VisitFormState, session: Any, sync: Any) -> Any:
    return SessionCtx(session, lambda: SyncCtx(sync, lambda: VisitReportScreen(form.visit_id, form)))


async def render(headless, form: VisitFormState, section: str | None = None, **ctx: Any):
    if section:
        form.section = section
    if ctx:
        await headless.start(component=Providers, views=True, args=(form, ctx["session"], ctx["sync"]), width=390,
                             route=f"/visit/{VISIT_ID}/report")  # fmt: skip
    else:
        await headless.start(component=VisitReportScreen, views=True, args=(VISIT_ID, form), width=390,
                             route=f"/visit/{VISIT_ID}/report")  # fmt: skip
    assert headless.crashes() == []
    return headless


def all_strings(headless) -> list[str]:
    """Every piece of text a person could read on the screen (texts, field values, labels, hints)."""
    out = []
    for c in headless.walk():
        for attr in ("value", "label", "hint_text", "text", "error", "tooltip"):
            v = getattr(c, attr, None)
            if isinstance(v, str):
                out.append(v)
    return out


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("section", list(SECTION_IDS))
async def test_each_section_renders_in_both_languages(
    headless, store, language, lang: str, section: str
) -> None:
    fill_complete_borrower_visit(new_form(store))
    form = new_form(store)
    form.toggle_result("PTP")
    form.toggle_result("DISPUTE")
    language(lang)
    await render(headless, form, section)
    assert headless.has_id(SECTION_IDS[section])
    assert headless.top_route() == f"/visit/{VISIT_ID}/report"
    texts = headless.texts()
    assert i18n.t(f"visit.tab.{section}", lang) in texts
    assert i18n.t("visit.title", lang) in texts
    # Nothing fell through to a raw catalogue key.
    assert not [s for s in all_strings(headless) if s.startswith("visit.")]


@pytest.mark.parametrize("outcome", ["MET_FAMILY", "MET_THIRD_PARTY"])
@pytest.mark.parametrize("section", ["checkin", "outcome", "attachments", "review"])
async def test_third_party_mode_renders_no_amount_text(headless, store, outcome: str, section: str) -> None:
    seed = new_form(store)
    fill_e11(seed)
    seed.set_plan_option("P-INSTAL")
    seed.set_outcome(outcome)
    await render(headless, new_form(store), section)
    strings = all_strings(headless)
    assert headless.has_id("third-party-banner")
    assert not [s for s in strings if AMOUNT.search(s)]
    for secret in ("M3", i18n.t("visit.header.product.cash_loan"), "王*国"):
        assert not [s for s in strings if secret in s]
    assert not {"tab-interview", "tab-assessment", "tab-plan"} & set(headless.ids("tab-"))


async def test_checkin_then_met_borrower_opens_interview_tabs(headless, store) -> None:
    form = new_form(store)
    await render(headless, form, "checkin")
    await headless.click(headless.by_id("checkin-btn"))
    assert headless.has_id("checkin-time")
    tabs = headless.one(ft.Tabs)
    await headless.session.dispatch_event(tabs._i, "change", 1)
    await headless.settle()
    assert form.section == "outcome"
    await headless.click(headless.by_id("outcome-MET_BORROWER"))
    assert {"tab-interview", "tab-assessment", "tab-plan"} <= set(headless.ids("tab-"))
    assert store.get_draft(form.report_id)["outcome"] == "MET_BORROWER"


async def test_typing_income_updates_totals_and_shows_inline_error(headless, store) -> None:
    seed = new_form(store)
    seed.set_outcome("MET_BORROWER")
    seed.set("compliance.id_shown", True)
    seed.add_line("incomes", evidence="payslip")
    form = new_form(store)
    await render(headless, form, "assessment")
    await headless.type_into(headless.by_id("income-amount-0"), "9000")
    assert headless.by_id("totals-ni").value == "9,000.00"
    assert headless.by_id("totals-capacity").value == "7,200.00"
    assert headless.has_id("budget-chart")
    await headless.type_into(headless.by_id("income-amount-0"), "12.345")
    assert headless.by_id("income-amount-0").error == "金额最多两位小数"


async def test_plan_shows_e1_schedule_and_apr_at_least_as_large_as_monthly_rate(headless, store) -> None:
    fill_complete_borrower_visit(new_form(store))
    await render(headless, new_form(store), "plan")
    apr = headless.by_id("apr-compound")
    assert apr.value == "19.56%"
    assert headless.by_id("apr-simple").value == "18.00%"
    assert "单利" in headless.texts()[headless.texts().index(i18n.t("visit.plan.apr_simple"))]
    monthly = headless.by_id("monthly-rate")
    assert monthly.value == "月利率 1.50%"
    assert apr.size >= monthly.size and apr.size >= headless.by_id("plan-rate").text_size == MONTHLY_RATE_SIZE
    assert "每期还款 1,100.16 元" == headless.by_id("plan-instalment").value
    assert "1,100.19" in headless.texts()  # the last instalment absorbs the rounding
    assert headless.by_id("plan-interest").value == "利息合计 1,201.95 元"
    assert headless.by_id("plan-verdict").value == "可负担：通过"
    assert headless.by_id("plan-p4").value == "上限 22,003.21 元（未偿本金加合同利息，P-4）"


async def test_plan_above_the_p4_ceiling_shows_a_warning(headless, store) -> None:
    seed = new_form(store)
    fill_complete_borrower_visit(seed)
    seed.set("plan.principal", "25000")  # the case owes 20,000
    await render(headless, new_form(store), "plan")
    assert "高于上限" in " ".join(headless.texts())
    assert headless.has_id("plan-p4")


async def test_review_lists_sign_off_notices_and_still_submits_when_plan_is_above_p4(headless, store) -> None:
    seed = new_form(store)
    fill_complete_borrower_visit(seed)
    seed.set("plan.principal", "25000")  # the case owes 20,000: P-4 needs the supervisor's sign-off
    seed.set("plan.override_reason", "家属承诺协助还款")  # and P-3 is above capacity, with a reason
    await render(headless, new_form(store), "review")
    texts = " ".join(headless.texts())
    assert headless.has_id("review-notices") and headless.has_id("notice-0")
    assert i18n.message("fv.p4_ceiling_exceeded") in texts
    assert not headless.by_id("submit-btn").disabled


async def test_override_field_appears_when_instalment_exceeds_capacity(headless, store) -> None:
    seed = new_form(store)
    fill_e11(seed)
    seed.set("compliance.id_shown", True)
    seed.set_plan_option("P-INSTAL")
    seed.set("plan.principal", "20000")
    seed.set("plan.term_months", "6")
    seed.set("plan.monthly_rate", "0")
    await render(headless, new_form(store), "plan")
    assert headless.has_id("plan-over-capacity")
    assert headless.by_id("plan-min-term").value == "最短可负担期数 11 个月"
    assert headless.by_id("plan-override").error == i18n.message("fv.capacity_override")
    await headless.type_into(headless.by_id("plan-override"), "主管批准")
    assert headless.by_id("plan-override").error is None


async def test_problem_tap_opens_its_section(headless, store) -> None:
    form = new_form(store)
    await render(headless, form, "review")
    assert headless.by_id("submit-btn").disabled
    await headless.click(headless.by_id("problem-0"))
    assert form.section == "checkin"
    assert headless.has_id("checkin-btn")


async def test_picked_file_is_stored_and_listed(headless, store) -> None:
    form = new_form(store)
    headless.client.method_handlers[("FilePicker", "pick_files")] = lambda a: [
        {"id": 0, "name": "door.jpg", "size": 4, "path": None, "bytes": b"\xff\xd8\xff\xe0"}
    ]
    await render(headless, form, "attachments")
    await headless.click(headless.by_id("attachment-pick"))
    await headless.settle(20)
    items = form.get("attachments")
    assert [(a["filename"], a["kind"], a["mime"]) for a in items] == [
        ("door.jpg", "visit_photo", "image/jpeg")
    ]
    assert store.blob_bytes(items[0]["sha256"]) == b"\xff\xd8\xff\xe0"
    assert headless.has_id("attachment-0")


async def test_submit_writes_outbox_asks_for_sync_and_returns_to_queue(headless, store) -> None:
    fill_complete_borrower_visit(new_form(store))
    form = new_form(store)
    session = SimpleNamespace(user=SimpleNamespace(id="inv-a1"), data_version=0, engine="engine-1")
    sync = FakeSync()
    await render(headless, form, "review", session=session, sync=sync)
    assert headless.has_id("review-ready")
    await headless.click(headless.by_id("submit-btn"))
    await headless.settle(20)
    assert [e.report_id for e in store.outbox()] == [form.report_id]
    assert sync.calls == ["engine-1"]
    assert session.data_version == 1
    assert headless.page.route == "/"


async def test_shell_route_opens_the_form_for_the_signed_in_user(
    headless, app_config, stub_backend, demo_visits
):
    v = demo_visits[0]
    model = AppModel.create(app_config, stub_backend)
    model.viewport.width = 390
    await headless.start(
        component=App, views=True, args=(model,), width=390, route=f"/visit/{v.visit_id}/report"
    )
    assert await model.session.sign_in("http://127.0.0.1:9", USER.username, GOOD_PASSWORD)
    await headless.settle(30)
    assert headless.top_route() == f"/visit/{v.visit_id}/report"
    await headless.click(headless.by_id("checkin-btn"))
    drafts = model.session.store.drafts(v.visit_id)
    assert len(drafts) == 1 and drafts[0].data["investigator_id"] == USER.id
    assert drafts[0].data["checkin"]["at"]
    assert {"collector-u-inv-a1", "collector-u-inv-a2"} <= set(headless.ids("collector-"))
    assert headless.crashes() == []


async def test_fix_link_reopens_returned_report_with_supervisor_comment(
    headless, app_config, stub_backend, demo_visits
):
    v = demo_visits[0]
    model = AppModel.create(app_config, stub_backend)
    await headless.start(component=App, views=True, args=(model,), width=390, route="/")
    assert await model.session.sign_in("http://127.0.0.1:9", USER.username, GOOD_PASSWORD)
    await headless.settle(30)
    store = model.session.store
    first = VisitFormState(store, v.visit_id, user_id=USER.id, clock=Clock())
    first.set_outcome("NO_ONE_HOME")
    report, _ = first.report_data()
    from models.report import VisitReport

    store.submit_report(VisitReport.model_validate(report))
    return_report(store, first.report_id, "请补充照片")
    await headless.navigate(f"/visit/{v.visit_id}/report?report_id={first.report_id}")
    await headless.settle(30)
    assert "请补充照片" in headless.by_id("review-comments").content.controls[1].value
    assert store.get_draft(first.report_id)["outcome"] == "NO_ONE_HOME"


def test_problem_text_names_the_field_when_the_message_is_generic(language) -> None:
    from app.views.visit.review import problem_text

    assert (
        problem_text("assessment", "assessment.incomes.3.amount", "missing") == "收支 · 金额（元/月）：必填"
    )
    language("en")
    assert problem_text("review", "checkout.at", "fv.checkout_missing") == "Review & submit: check out"
