"""One visit from dispatch to approval as the people do it, by what they see: the investigator's phone at
360×740 (the server on SQLite) and at 390×844 (the server on PostgreSQL), the supervisor's desk at 1440×900 (headless Debian chromium, every non-loopback
request aborted). Controls are found by their role and visible text (labels from the app's catalogue and the
desk's), never by an internal key.

The investigator signs in, opens the case, checks in (both collectors named), records the outcome, the
interview, the household's income and expenses and a plan taken from the loan, checks out and submits; the
queue card says the visit took place. The supervisor returns the report with a comment about the monthly
rate; the app lists it on the sync screen, opens it at that field, and the investigator resubmits. The
supervisor approves (a clean report needs no sign-off) and the card says so. Every step leaves a screenshot
under tests/artifacts/screenshots/journey-<size>-NN-<step>.png; no font or other file is missing on the way.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.app.journey_helpers import (
    DESKTOP,
    SHOTS,
    AppServer,
    Central,
    focused_in,
    have_browser,
    keep_to_loopback,
    launch,
    local_instant,
    until,
    yesterday_shanghai,
)
from tests.helpers.pg_fixtures import pg_cluster  # noqa: F401 - the PostgreSQL run's fixture

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

if not have_browser():
    pytest.skip("needs /usr/bin/chromium, playwright and the fieldvisit CLI", allow_module_level=True)

from playwright.sync_api import Error as PlaywrightError  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from app.i18n import catalogue, label  # noqa: E402
from models.entities import _IMPORT_EXAMPLE  # noqa: E402

PASSWORD = "journey-text-1"
DAY = yesterday_shanghai()
ACCOUNT = "LN-7700001"
COMMENT = "月利率与合同不一致，请核对后重新提交"
# A pay-later loan whose balance and contractual rate are the plan the form starts from (12 × 1,100.16 at
# 1.5%), so the plan keeps P-1 and P-4 and the household below carries it: a clean report.
LOAN = dict(_IMPORT_EXAMPLE, external_id=ACCOUNT, borrower_name="王建国", product_type="consumer_instalment",
            outstanding_principal="12000.00", monthly_rate="0.015", contractual_instalment="1100.16")  # fmt: skip
EXPENSES = {"HOUS": "2500", "UTIL": "300", "FOOD": "1800", "TRAN": "400", "EDUC": "600", "MEDI": "300",
            "DEBT": "800"}  # fmt: skip


def tr(key: str, **kw: Any) -> str:
    text = catalogue()["zh-CN"][key]
    return text.format(**kw) if kw else text


class Phone:
    """The app in a phone-sized page, driven by roles and visible text."""

    def __init__(self, page: Any, size: tuple[int, int], prefix: str) -> None:
        self.page, self.size, self.prefix = page, size, prefix
        self.step = 0

    # -- looking
    def shot(self, name: str) -> None:
        self.step += 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        time.sleep(1.2)  # the canvas paints after the semantics tree updates
        self.page.screenshot(path=str(SHOTS / f"{self.prefix}-{self.step:02d}-{name}.png"))
        self.assert_fits()

    def assert_fits(self) -> None:
        """Nothing a person reads runs past the screen's right edge (the tab strip scrolls sideways)."""
        wide = self.page.evaluate(
            """(w) => [...document.querySelectorAll('flt-semantics')].filter(e => {
                const r = e.getBoundingClientRect();
                if (r.width === 0 || r.right <= w + 1) return false;
                if (e.closest('[role=tablist]') || e.closest('[role=tab]')) return false;
                return (e.getAttribute('aria-label') || e.textContent || '').trim() !== '';
            }).map(e => (e.getAttribute('aria-label') || e.textContent).trim().slice(0, 40) + ' → ' +
                        Math.round(e.getBoundingClientRect().right))""",
            self.size[0],
        )
        assert not wide, f"cut off at {self.size[0]} px: {wide}"

    def text(self) -> str:
        """Every string the semantics tree exposes (labels, text, field values)."""
        return str(
            self.page.evaluate("""() => {
            const out = [];
            for (const el of document.querySelectorAll('flt-semantics, flt-semantics *')) {
                const v = el.getAttribute && el.getAttribute('aria-label'); if (v) out.push(v);
                if (el.value) out.push(String(el.value));
                for (const n of el.childNodes) if (n.nodeType === 3 && n.textContent.trim()) out.push(n.textContent);
            }
            return out.join('\\n');
        }""")
        )

    def sees(self, text: str, timeout: float = 30) -> None:
        try:
            until(lambda: text in self.text(), timeout, 0.3, f"{text!r} on screen")
        except AssertionError as exc:
            self.page.screenshot(path=str(SHOTS / f"{self.prefix}-failure.png"))
            raise AssertionError(f"{exc}; on screen:\n{self.text()[-2500:]}") from None

    # -- reaching: Flutter only puts what is near the viewport into the semantics tree
    def reveal(self, make: Callable[[], Any], what: str, timeout: float = 40) -> Any:
        w, h = self.size
        deadline = time.monotonic() + timeout
        direction, still = 1, 0
        while time.monotonic() < deadline:
            loc = make()
            if loc.count():
                box = loc.first.bounding_box()
                if (
                    box
                    and box["height"] > 0
                    and 56 <= box["y"]
                    and box["y"] + min(box["height"], 48) <= h - 8
                ):
                    return loc.first
                if box:
                    step = box["y"] + min(box["height"], 48) / 2 - h / 2
                    self.page.mouse.move(w / 2, h * 0.6)
                    self.page.mouse.wheel(0, max(-h * 0.6, min(h * 0.6, step)))
                    time.sleep(0.4)
                    continue
            before = self.text()
            self.page.mouse.move(w / 2, h * 0.6)
            self.page.mouse.wheel(0, direction * h * 0.5)
            time.sleep(0.4)
            if self.text() == before:
                still += 1
                if still >= 2:
                    direction, still = -direction, 0
        self.page.screenshot(path=str(SHOTS / f"{self.prefix}-failure.png"))
        raise AssertionError(f"{what} never came on screen:\n{self.text()[-1500:]}")

    def button(self, name: str | re.Pattern[str], exact: bool = True) -> Any:
        kw = {"exact": exact} if isinstance(name, str) else {}
        return self.reveal(lambda: self.page.get_by_role("button", name=name, **kw), f"button {name!r}")

    def tap(self, name: str | re.Pattern[str], exact: bool = True) -> None:
        self._click(lambda: self.button(name, exact), str(name))

    def _click(self, find: Callable[[], Any], what: str) -> None:
        for attempt in range(4):
            loc = find()
            box = loc.bounding_box()
            time.sleep(0.25)
            if box != loc.bounding_box() and attempt < 3:
                continue  # the layout is still moving
            loc.click(timeout=5_000)
            return

    def tab(self, name: str, shows: str) -> None:
        """Opens a form tab by its title and waits for its content (`shows`); taps again if the first tap
        landed while the tab strip was still moving."""
        w = self.size[0]
        for attempt in range(3):
            loc = self.page.get_by_role("tab", name=name, exact=True).first
            loc.wait_for(state="attached", timeout=30_000)
            box = loc.bounding_box()
            if box and box["x"] >= 0 and box["x"] + box["width"] <= w:
                loc.click(timeout=5_000)
            else:  # scrolled off the strip's edge: the tab's own tap action
                target = loc.locator("[flt-tappable]")
                (target.first if target.count() else loc).dispatch_event("click")
            try:
                until(lambda: shows in self.text(), 10, 0.3, f"tab {name} showing {shows!r}")
                time.sleep(0.5)
                return
            except AssertionError:
                if attempt == 2:
                    raise

    def choose(self, role: str, name: str) -> None:
        """Ticks a checkbox or chooses a chip (left as it is when already chosen)."""
        loc = self.reveal(lambda: self.page.get_by_role(role, name=name, exact=True), f"{role} {name!r}")
        if not self.is_on(loc):
            self._click(
                lambda: self.reveal(lambda: self.page.get_by_role(role, name=name, exact=True), name), name
            )
        until(
            lambda: self.is_on(self.page.get_by_role(role, name=name, exact=True).first),
            15,
            0.3,
            f"{name} on",
        )

    @staticmethod
    def is_on(loc: Any) -> bool:
        return "true" in (loc.get_attribute("aria-checked"), loc.get_attribute("aria-selected"))

    def field(self, name: str, nth: int = 0) -> Any:
        return self.reveal(
            lambda: self.page.get_by_role("textbox", name=name, exact=True).nth(nth), f"field {name!r} #{nth}"
        )

    def editing(self) -> str | None:
        return self.page.evaluate(
            "() => { const e = document.activeElement; return e && (e.tagName === 'INPUT' || "
            "e.tagName === 'TEXTAREA') ? e.value : null; }"
        )

    def type_into(self, name: str, value: str, *, clear: bool = True, nth: int = 0) -> None:
        """Focus the field as a thumb would and type; `clear` first selects and deletes what is there."""
        for _ in range(4):
            self._click(lambda: self.field(name, nth), name)
            target = self.field(name, nth)
            try:
                # The layout may move under the pointer: the tap must have focused this field, not another.
                until(lambda target=target: focused_in(self.page, target), 3, 0.05, f"focus on {name}")
            except AssertionError:
                time.sleep(0.5)
                continue
            if clear:
                self.page.keyboard.press("Control+a")
                self.page.keyboard.press("Backspace")
            self.page.keyboard.type(value, delay=30)
            try:
                until(lambda: self.editing() == value, 10, 0.05, f"{name} = {value!r}")
            except AssertionError:
                continue
            time.sleep(0.3)
            return
        raise AssertionError(f"could not type {value!r} into {name}: {self.editing()!r}")

    def pick(self, field: str, option: str) -> None:
        """A dropdown, named by its field, then the option by its text."""
        # The dropdown still without a value is the one named by its field alone.
        self._click(lambda: self.button(field), field)
        opt = self.page.get_by_role("menuitem", name=option, exact=True).or_(
            self.page.get_by_role("button", name=option, exact=True)
        )
        opt.last.wait_for(state="attached", timeout=10_000)
        opt.last.click()
        until(lambda: f"{field} {option}" in self.text(), 10, 0.3, f"{field} = {option}")

    def nav(self, name: str) -> None:
        self.page.get_by_role("tab", name=name, exact=True).first.click()
        time.sleep(0.8)


class Desk:
    """The supervisor desk by labels, button names and visible text."""

    def __init__(self, page: Any, url: str, prefix: str) -> None:
        self.page, self.url, self.prefix = page, url, prefix

    def shot(self, step: int, name: str) -> None:
        time.sleep(0.6)
        self.page.screenshot(path=str(SHOTS / f"{self.prefix}-{step:02d}-{name}.png"))

    def sign_in(self) -> None:
        self.page.goto(self.url + "/desk/")
        self.page.get_by_label("用户名").fill("sup.a")
        self.page.get_by_label("密码").fill(PASSWORD)
        self.page.get_by_role("button", name="登录").click()
        self.page.get_by_role("cell", name=ACCOUNT).or_(self.page.get_by_text(ACCOUNT)).first.wait_for()

    def open_report(self) -> None:
        """From the inbox, the report's row; done once its "批准" button shows. The row is clicked only
        while the inbox is shown (its bulk buttons, also named "批准…", are there), so a click cannot land
        on the page the desk showed before."""
        self.page.goto(self.url + "/desk/#/inbox")
        inbox = self.page.get_by_role("button", name="批准全部筛选结果", exact=True)
        row = self.page.get_by_role("cell", name=ACCOUNT)

        def opened() -> bool:
            if self.approve.count() > 0 and self.approve.first.is_visible():
                return True
            if inbox.count() > 0 and row.count() > 0:
                with contextlib.suppress(PlaywrightError):
                    row.first.click(timeout=2_000)
            return False

        until(opened, 30, 0.5, "the report opened from the inbox")

    @property
    def approve(self) -> Any:
        return self.page.get_by_role("button", name="批准", exact=True)

    def status_is(self, text: str) -> None:
        """The report detail (reloaded after an action) shows its status as `text` (the toast's words are
        longer: "已更新为：…")."""
        status = self.page.get_by_text(text, exact=True)
        until(lambda: status.count() > 0 and status.first.is_visible(), 30, 0.3, f"desk says {text}")
        until(lambda: "加载中" not in self.page.locator("body").inner_text(), 30, 0.3, "desk loaded")


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


# The smaller phone against a server on SQLite, the common one against a server on PostgreSQL.
@pytest.mark.parametrize(
    ("size", "backend"),
    [((360, 740), "sqlite"), ((390, 844), "postgres")],
    ids=["360x740-sqlite", "390x844-postgres"],
)
def test_visit_is_returned_resubmitted_and_approved_when_done_by_visible_text(
    browser, tmp_path_factory, request: pytest.FixtureRequest, size: tuple[int, int], backend: str
) -> None:
    folder = tmp_path_factory.mktemp(f"journey-{size[0]}")
    database_url = None
    if backend == "postgres":
        cluster = request.getfixturevalue("pg_cluster")
        database_url = url = cluster.new_database(migrated=True)
        request.addfinalizer(lambda: cluster.drop_database(url))
    central = Central(folder, PASSWORD, database_url=database_url)
    central.add_user("sup.a", "supervisor", "hz-a", "沈丽萍")
    central.add_user("inv.a1", "investigator", "hz-a", "陈志刚")
    central.add_user("inv.a2", "investigator", "hz-a", "王婷")
    central.import_records([LOAN])
    central.start()
    app = AppServer(folder, central.url, clock_file=folder / "clock.txt")
    app.set_clock(local_instant(DAY, 10, 0))
    sup = central.api("sup.a")
    try:
        sup.assign(
            [v["visit_id"] for v in sup.visits()], [central.users["inv.a1"], central.users["inv.a2"]], DAY
        )
        app.start()
        _journey(browser, central, app, size)
    finally:
        sup.close()
        app.stop()
        central.stop()


def _journey(browser: Any, central: Central, app: AppServer, size: tuple[int, int]) -> None:
    prefix = f"journey-{size[0]}x{size[1]}"
    outside: list[str] = []
    failed: list[str] = []
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
    page = ctx.new_page()
    keep_to_loopback(page, outside)
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(app.url)
    page.wait_for_selector("#loading", state="detached", timeout=60_000)
    page.wait_for_selector("flt-semantics-placeholder", state="attached", timeout=60_000)
    page.eval_on_selector("flt-semantics-placeholder", "el => el.click()")
    s = Phone(page, size, prefix)
    desk_ctx = browser.new_context(viewport={"width": DESKTOP[0], "height": DESKTOP[1]}, locale="zh-CN")
    desk_page = desk_ctx.new_page()
    keep_to_loopback(desk_page, outside)
    desk = Desk(desk_page, central.url, f"{prefix}-desk")
    try:
        # -- sign in
        s.field(tr("signin.server"))
        s.shot("signin")
        s.type_into(tr("signin.server"), central.url)
        s.type_into(tr("signin.username"), "inv.a1")
        s.type_into(tr("signin.password"), PASSWORD)
        s.tap(tr("signin.submit"))
        card = re.compile(r"王\*国")
        s.button(card, exact=False)
        s.shot("queue")

        # -- the case and the check-in
        s.tap(card, exact=False)
        s.button(tr("detail.start_visit"))
        s.shot("detail")
        s.tap(tr("detail.start_visit"))
        s.tap(tr("visit.checkin.btn"))
        checked_in = tr("visit.checkin.at", time=f"{DAY.isoformat()} 10:00")
        s.reveal(lambda: page.get_by_text(checked_in), checked_in)
        # Both collectors by name, the signed-in one marked (point 3), and the chips fit the screen.
        s.choose("checkbox", tr("visit.checkin.me", name="陈志刚"))
        s.choose("checkbox", "王婷")
        assert "u-" not in s.text()
        s.choose("checkbox", tr("visit.checkin.id_shown"))
        s.choose("checkbox", tr("visit.yes"))
        s.choose("checkbox", tr("visit.checkin.recording"))
        s.shot("checkin")
        s.type_into(tr("visit.checkin.lat"), "30.2741")
        s.type_into(tr("visit.checkin.lon"), "120.1551")
        s.type_into(tr("visit.checkin.accuracy"), "15")
        s.shot("checkin-position")

        # -- outcome and interview
        s.tab(tr("visit.tab.outcome"), label("outcome", "MET_BORROWER"))
        s.tap(label("outcome", "MET_BORROWER"))
        s.shot("outcome")
        s.tab(tr("visit.tab.interview"), tr("visit.iv.results"))
        s.choose("checkbox", label("result", "PLAN_PROPOSED"))
        s.choose("checkbox", label("reason", "INCOME_REDUCTION"))
        s.choose("checkbox", label("willingness", "cooperative"))
        s.shot("interview")

        # -- income and expenses: the expense card starts empty and says so (point 9d)
        s.tab(tr("visit.tab.assessment"), tr("visit.as.add_income"))
        s.sees(tr("visit.as.expenses_empty"))
        s.tap(tr("visit.as.add_income"))
        s.type_into(tr("visit.as.amount"), "6000")
        s.pick(tr("visit.as.evidence"), label("evidence", "payslip"))
        s.shot("income")
        for cat, amount in EXPENSES.items():
            s.type_into(tr("visit.as.expense_line", category=tr(f"visit.as.cat.{cat}")), amount)
        s.sees(tr("visit.as.expenses_filled", n=7, amount="6,700.00"))
        s.shot("expenses")
        s.tap(tr("visit.as.add_income"))
        s.type_into(tr("visit.as.amount"), "3000", nth=1)
        s.pick(tr("visit.as.evidence"), label("evidence", "bank_statement"))
        # capacity: (9,000 − 5,900 − 800) × 0.8, below the lines on a phone: scrolled to, then read
        s.reveal(lambda: page.get_by_text("1,840.00"), "the capacity 1,840.00")
        s.shot("totals")

        # -- the plan from the loan, marked as such (point 9e)
        s.tab(tr("visit.tab.plan"), tr("visit.plan.principal"))
        s.sees(tr("visit.plan.prefilled"))
        s.sees(tr("visit.plan.from_loan"))
        s.shot("plan-prefilled")
        # Typing into the prefilled principal replaces it (never "12000.0012000").
        s.type_into(tr("visit.plan.principal"), "12000")
        s.sees("1,100.16")
        s.sees("19.56%")
        s.shot("plan")
        s.choose("checkbox", label("agreement", "written"))
        s.shot("plan-agreement")

        s.tab(tr("visit.tab.attachments"), tr("visit.att.pick"))
        s.shot("attachments")

        # -- check out and submit
        s.tab(tr("visit.tab.review"), tr("visit.rv.submit"))
        s.tap(tr("visit.rv.checkout_btn"))
        s.sees(tr("visit.rv.ready"))
        s.shot("review")
        s.tap(tr("visit.rv.submit"))
        s.button(card, exact=False)
        s.sees(tr("visit.submitted"), timeout=10)
        s.shot("submitted")
        # The notice leaves once the report is sent (point 9b), and the card says the visit took place (2).
        until(lambda: tr("visit.submitted") not in s.text(), 20, 0.5, "the submit notice gone")
        visited = f"{label('visit_status', 'visited')} · {label('report_status', 'submitted')}"
        s.sees(visited, timeout=60)
        s.shot("queue-visited")

        # -- the supervisor returns it with a comment about the rate
        desk.sign_in()
        desk.open_report()
        desk.shot(1, "report")
        desk.page.get_by_label(re.compile("意见")).fill(COMMENT)
        desk.page.get_by_role("button", name="退回修改").click()
        desk.status_is("已退回")
        desk.shot(2, "returned")

        # -- the app shows the return and opens the report at the monthly rate (point 8)
        s.nav(tr("nav.sync"))
        s.tap(tr("sync.now"))
        s.sees(COMMENT, timeout=60)
        place = f"{tr('visit.tab.plan')} · {tr('visit.plan.rate')}"
        s.sees(tr("sync.opens_at", place=place))
        s.shot("sync-returned")
        s.tap(tr("sync.open_fix"))
        until(lambda: page.get_by_role("tab", name=tr("visit.tab.plan"), exact=True).first
              .get_attribute("aria-selected") == "true", 30, 0.3, "opened at the plan tab")  # fmt: skip
        s.sees(tr("visit.returned", comments=COMMENT))
        s.field(tr("visit.plan.rate"))
        s.shot("reopened-at-rate")
        s.tab(tr("visit.tab.review"), tr("visit.rv.submit"))
        s.type_into(tr("visit.rv.notes"), "已与借款人核对合同月利率 1.5%")
        s.sees(tr("visit.rv.ready"))
        s.tap(tr("visit.rv.submit"))
        s.button(card, exact=False)
        s.sees(f"{label('visit_status', 'visited')} · {label('report_status', 'resubmitted')}", timeout=60)
        s.shot("resubmitted")

        # -- the supervisor approves the resubmitted report (clean: no sign-off asked)
        desk.open_report()
        desk.status_is("已重新提交")
        desk.approve.click()
        desk.status_is("已批准")
        desk.shot(3, "approved")

        # -- the card says approved after the next sync (point 2)
        s.nav(tr("nav.sync"))
        s.tap(tr("sync.now"))
        time.sleep(2)
        s.nav(tr("nav.queue"))
        s.sees(f"{label('visit_status', 'visited')} · {label('report_status', 'approved')}", timeout=60)
        s.shot("queue-approved")
        s.nav(tr("nav.settings"))
        s.shot("settings")
        assert outside == [] and failed == [], (outside, failed)
    except Exception:
        page.screenshot(path=str(SHOTS / f"{prefix}-failure.png"))
        print(page.locator("body").aria_snapshot()[-4000:])
        raise
    finally:
        ctx.close()
        desk_ctx.close()
