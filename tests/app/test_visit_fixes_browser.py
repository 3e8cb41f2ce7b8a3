"""The visit forms at the smallest phone (360×740) in headless chromium, against a real central server and
`fieldvisit app`: nothing is requested outside loopback, a chosen chip stays chosen, dropdowns carry their
field's name, Flutter's own words follow the language, a submitted visit's card says it was visited and the
DSR with the plan waits for a plan."""

from __future__ import annotations

import time

import pytest

from tests.app.journey_helpers import (
    AppServer,
    Central,
    have_browser,
    launch,
    local_instant,
    open_app,
    sign_in,
    until,
    yesterday_shanghai,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

if not have_browser():
    pytest.skip("needs /usr/bin/chromium, playwright and the fieldvisit CLI", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

from models.demo_data import generate_import_records  # noqa: E402

PASSWORD = "fixes-pass-1"
DAY = yesterday_shanghai()
SMALL_PHONE = (360, 740)


@pytest.fixture(scope="module")
def central(tmp_path_factory):
    c = Central(tmp_path_factory.mktemp("central"), PASSWORD)
    c.add_user("sup.a", "supervisor", "hz-a", "沈丽萍")
    c.add_user("inv.a1", "investigator", "hz-a", "陈志刚")
    c.add_user("inv.a2", "investigator", "hz-a", "王婷")
    c.import_records(generate_import_records(4, seed=2026, team="hz-a"))
    c.start()
    api = c.api("sup.a")
    visits = sorted(api.visits(), key=lambda v: (-float(v["priority"]), v["external_id"]))
    api.assign([v["visit_id"] for v in visits], [c.users["inv.a1"], c.users["inv.a2"]], DAY)
    c.visits = visits  # type: ignore[attr-defined]
    try:
        yield c
    finally:
        api.close()
        c.stop()


@pytest.fixture(scope="module")
def app(central, tmp_path_factory):
    folder = tmp_path_factory.mktemp("app")
    a = AppServer(folder, central.url, clock_file=folder / "clock.txt")
    a.set_clock(local_instant(DAY, 10, 0))
    a.start()
    try:
        yield a
    finally:
        a.stop()


@pytest.fixture(scope="module")
def phone(app, central):
    with sync_playwright() as p:
        browser = launch(p)
        ctx, s = open_app(browser, app.url, SMALL_PHONE)
        s.wait("signin-submit", timeout=60_000)
        sign_in(s, central.url, "inv.a1", PASSWORD)
        yield s
        ctx.close()
        browser.close()


def test_load_requests_nothing_outside_loopback_when_the_app_starts(phone):
    time.sleep(2.0)  # start-up scripts (the web client's plugins) have run
    assert phone.outside == []


def test_dropdowns_and_filters_carry_their_names_when_read_by_a_screen_reader(phone):
    for name in ("逾期阶段", "状态", "区域"):
        assert phone.page.get_by_role("button", name=name).count() == 1, name


def open_form(s, visit_id: str) -> None:
    s.tap(f"visit-card-{visit_id}")
    s.wait("start-visit")
    s.tap("start-visit")
    s.wait("tab-checkin")


def test_back_button_speaks_chinese_when_the_app_is_in_chinese(phone, central):
    s = phone
    s.tap(f"visit-card-{central.visits[0]['visit_id']}")
    s.wait("start-visit")
    back = s.page.get_by_role("button", name="返回")
    until(lambda: back.count() > 0, 15, what="a back button named 返回")
    assert s.page.get_by_role("button", name="Back").count() == 0


def test_tapping_the_chosen_chip_keeps_it_checked_when_it_was_already_selected(phone, app):
    s = phone
    s.tap("start-visit")
    s.wait("checkin-btn")
    s.shot("small-checkin-start")
    s.tap("checkin-btn")
    s.wait("checkin-time")
    s.tap("id-shown")
    until(lambda: s.checked("id-shown"), 10, what="ID shown")
    s.tap("tab-outcome")
    s.tap("outcome-MET_BORROWER")
    s.wait("tab-interview")
    s.tap("tab-interview")
    s.tap("reason-INCOME_REDUCTION")
    until(lambda: s.checked("primary-INCOME_REDUCTION"), 10, what="the app chose the primary reason")
    s.tap("primary-INCOME_REDUCTION")
    time.sleep(1.5)
    assert s.checked("primary-INCOME_REDUCTION")
    s.tap("willingness-cooperative")
    until(lambda: s.checked("willingness-cooperative"), 10, what="willingness chosen")
    s.tap("willingness-cooperative")
    time.sleep(1.5)
    assert s.checked("willingness-cooperative")
    s.shot("small-interview-chips")


def test_dsr_with_the_plan_shows_nothing_when_there_is_no_plan(phone):
    s = phone
    s.tap("tab-assessment")
    s.tap("income-add")
    s.fill("income-amount-0", "6000")
    s.fill("expense-amount-0", "2500")
    s.wait_text("totals-ni", "")
    assert s.wait_text("totals-dsr", "—") == "—"
    s.shot("small-assessment-no-plan")
