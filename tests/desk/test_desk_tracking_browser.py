"""The supervisor desk showing the account follow-up in a real browser: a lapsed plan on the dashboard's
board and on the report, with the legal-escalation recommendation and its reasons (the decision stays the
supervisor's). The central server is its own process on a movable clock, on a SQLite file and on a database
of the session's private PostgreSQL; every non-loopback request is blocked."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.demo_data import DEMO_PASSWORD
from tests.app.journey_helpers import keep_to_loopback
from tests.helpers.pg_fixtures import BACKENDS
from tests.server.tracking_live import Live, report_on

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip("no /usr/bin/chromium", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]


@pytest.fixture
def lapsed(tmp_path: Path, database_location: str) -> Iterator[tuple[Live, str, str]]:
    live = Live(tmp_path, database=database_location).start("2026-11-20T04:00:00+00:00")
    try:
        vid, ext = live.import_visit()
        assert live.assign(vid, "2026-11-20").status_code == 200
        rep = report_on(vid, "2026-11-20T10:15:00+08:00")
        live.push("inv.a1", rep)
        live.approve(rep["report_id"])
        live.set_clock("2027-02-24T04:00:00+00:00")
        yield live, rep["report_id"], ext
    finally:
        live.stop()


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_desk_shows_lapsed_plan_and_recommendation_when_instalments_were_missed(
    lapsed: tuple[Live, str, str],
) -> None:
    live, report_id, ext = lapsed
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        outside: list[str] = []
        keep_to_loopback(page, outside)
        page.goto(f"{live.url}/desk/")
        page.fill("input[name=username]", "sup.a")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.keyboard.press("Enter")
        expect(page.locator("header nav a.active")).to_have_attribute("data-nav", "inbox")

        page.click("a[data-nav=dashboard]")
        board = page.get_by_test_id("dash-tracking")
        expect(board).to_be_visible()
        plan = board.get_by_test_id("trk-plan").filter(has_text=ext)
        expect(plan).to_have_attribute("data-state", "lapsed")
        expect(plan).to_contain_text("计划失效")
        rec = board.get_by_test_id("trk-recommendation").filter(has_text=ext)
        expect(rec.locator("[data-reason=plan_lapsed]")).to_contain_text("还款计划失效")

        page.goto(f"{live.url}/desk/#/report/{report_id}")
        account = page.get_by_test_id("account-tracking")
        expect(account.get_by_test_id("recommendation")).to_have_attribute("data-escalate", "true")
        expect(account.get_by_test_id("recommendation")).to_contain_text("建议转法务")
        expect(account.get_by_test_id("account-plan")).to_have_attribute("data-state", "lapsed")
        shots = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "desk-tracking-lapsed.png"), full_page=True)
        browser.close()
    assert outside == []
