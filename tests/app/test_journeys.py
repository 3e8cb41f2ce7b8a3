"""Issue 4's acceptance as real browser journeys: headless Debian chromium at 390×844 (desktop shots at
1440×900), every non-loopback request aborted, the central server (`fieldvisit serve`) and the app
(`fieldvisit app`) each in its own process. The app's visit clock is fixed through FIELDVISIT_NOW (a file the
test rewrites) to an evening in Asia/Shanghai.

The tests run in file order and share one investigator's device:
1. sign-in, the queue by priority with masked phones;
2. check-in at 21:30 (no consent asked) and, later, at 22:30 (R-1 consent asked);
3. the E-1/E-11 visit: interview, incomes and expenses with their totals, the E-1 plan and schedule, a photo,
   check-out, submit, synced;
4. server process stopped: a whole second visit waits (pending 1, offline); server started again on the same
   database and port: the app uploads without a tap; the server holds both reports once;
5. the supervisor returns a report (API); the app shows it with the comment; fixed and resubmitted;
6. a MET_FAMILY visit: nothing about the debt in the semantics text;
7. the journey in English on a second app process (another investigator);
plus screenshots of every main screen under tests/artifacts/screenshots/.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest

from tests.app.journey_helpers import (
    DESKTOP,
    MONEY_RE,
    PHONE,
    AppServer,
    Central,
    Screen,
    have_browser,
    launch,
    local_instant,
    open_app,
    png,
    sign_in,
    until,
    yesterday_shanghai,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

if not have_browser():
    pytest.skip("needs /usr/bin/chromium, playwright and the fieldvisit CLI", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

from app.i18n import catalogue  # noqa: E402
from models.demo_data import generate_import_records  # noqa: E402
from models.messages import message_for  # noqa: E402

PASSWORD = "journey-pass-1"
DAY = yesterday_shanghai()
PHONE_RE = re.compile(r"^1\d\d\*{4}\d{4}$")
# E-11 household, in the order the form lists expense categories (HOUS, UTIL, FOOD, TRAN, EDUC, MEDI, DEPN, DEBT).
EXPENSES = {0: "2500", 1: "300", 2: "1800", 3: "400", 4: "600", 5: "300", 7: "800"}


def tr(lang: str, key: str, **kw: Any) -> str:
    text = catalogue()[lang][key]
    return text.format(**kw) if kw else text


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def central(tmp_path_factory):
    c = Central(tmp_path_factory.mktemp("central"), PASSWORD)
    c.add_user("sup.a", "supervisor", "hz-a", "沈丽萍")
    c.add_user("inv.a1", "investigator", "hz-a", "陈志刚")
    c.add_user("inv.a2", "investigator", "hz-a", "王婷")
    c.add_user("inv.b1", "investigator", "hz-a", "Li Wei")
    c.import_records(generate_import_records(36, seed=2026, team="hz-a"))
    c.start()
    api = c.api("sup.a")
    visits = api.visits()
    # 30 visits for inv.a1 (with inv.a2), 6 for inv.b1 (with inv.a2), all planned for the fixed day.
    ordered = sorted(visits, key=lambda v: v["external_id"])
    a_visits, b_visits = ordered[:30], ordered[30:]
    api.assign([v["visit_id"] for v in a_visits], [c.users["inv.a1"], c.users["inv.a2"]], DAY)
    api.assign([v["visit_id"] for v in b_visits], [c.users["inv.b1"], c.users["inv.a2"]], DAY)
    # The queue's order: priority, highest first, equal priorities by account (`ordered` is by account).
    c.a_visits = sorted(a_visits, key=lambda v: -float(v["priority"]))  # type: ignore[attr-defined]
    c.b_visits = sorted(b_visits, key=lambda v: -float(v["priority"]))  # type: ignore[attr-defined]
    c.sup = api  # type: ignore[attr-defined]
    try:
        yield c
    finally:
        api.close()
        c.stop()


@pytest.fixture(scope="module")
def app1(central, tmp_path_factory):
    folder = tmp_path_factory.mktemp("app1")
    app = AppServer(folder, central.url, clock_file=folder / "clock.txt")
    app.set_clock(local_instant(DAY, 21, 30))
    app.start()
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def phone(browser, app1):
    """One phone-sized page for the Chinese journey (tests 1–6 continue on it)."""
    ctx, screen = open_app(browser, app1.url, PHONE)
    yield screen
    ctx.close()


@pytest.fixture(scope="module")
def journey() -> dict[str, Any]:
    """What earlier steps learnt (report ids…), for the later ones."""
    return {}


def shot(s: Screen, name: str) -> None:
    s.shot(name)


def nav(s: Screen, lang: str, tab: str) -> None:
    """A bottom navigation destination (queue, sync, settings) by its label."""
    name = tr(lang, f"nav.{tab}")
    # The phone's NavigationBar exposes tabs; the desktop's NavigationRail buttons read "同步\n第 2 个标签，共 3 个"
    # (Flutter's own words follow the app's language: "Sync\nTab 2 of 3" in English).
    rail = s.page.get_by_role(
        "button", name=re.compile(rf"^{re.escape(name)}\s+(Tab \d of \d|第 \d 个标签，共 \d 个)$")
    )
    target = s.page.get_by_role("tab", name=name).or_(s.page.get_by_text(name, exact=True)).or_(rail).first
    try:
        target.wait_for(state="attached", timeout=30_000)
    except Exception as exc:
        raise AssertionError(f"no {name!r} tab; on screen: {s.debug_ids()}") from exc
    target.click()


def open_visit(s: Screen, visit_id: str) -> None:
    s.tap(f"visit-card-{visit_id}")
    s.wait("start-visit")
    s.tap("start-visit")
    s.wait("tab-checkin")


def back_to_queue(s: Screen) -> None:
    for _ in range(3):
        if s.ids("visit-card-").count():
            return
        s.page.go_back()
        time.sleep(0.8)
    s.ids("visit-card-").first.wait_for(state="attached", timeout=15_000)


def checkin_basics(s: Screen, partner_id: str, *, consent_to_enter: bool = True) -> None:
    """R-2 both collectors, R-3 ID shown, R-4 entry, R-7 recording, a typed position."""
    if not s.checked(f"collector-{partner_id}"):
        s.tap(f"collector-{partner_id}")
    for ident in (
        "id-shown",
        "consent-enter-yes" if consent_to_enter else "consent-enter-no",
        "recording-on",
    ):
        if not s.checked(ident):
            s.tap(ident)
    until(
        lambda: s.checked("recording-on") and s.checked(f"collector-{partner_id}"), 10, what="check-in ticks"
    )
    s.fill("checkin-lat", "30.2741")
    s.fill("checkin-lon", "120.1551")
    s.fill("checkin-accuracy", "15")


def check_in(s: Screen, expect_time: str) -> None:
    s.tap("checkin-btn")
    s.wait_text("checkin-time", expect_time)


def check_out_and_submit(s: Screen, notes: str | None = None) -> None:
    s.tap("tab-review")
    until(lambda: s.present("checkout-btn") or s.present("checkout-time"), 15, 0.2, what="review tab")
    if s.present("checkout-btn"):
        s.tap("checkout-btn")
        s.wait("checkout-time")
    if notes:
        s.fill("report-notes", notes)
    s.wait("review-ready", timeout=15_000)


def submit(s: Screen) -> None:
    """Submit hands the report to the outbox and goes back to the queue."""
    s.tap("submit-btn")
    try:
        s.ids("visit-card-").first.wait_for(state="attached", timeout=30_000)
    except Exception as exc:
        raise AssertionError(f"submit did not return to the queue; on screen: {s.debug_ids()}") from exc


def e1_visit(s: Screen, lang: str, partner_id: str, shots: str) -> None:
    """Step 3 on an opened, checked-in visit form: MET_BORROWER → interview → E-11 budget → E-1 plan →
    photo → check-out (left on the review tab, ready to submit)."""

    def shot(name: str, _ready: str) -> None:
        s.shot(f"{shots}{name}")

    checkin_basics(s, partner_id)
    s.tap("tab-outcome")
    s.tap("outcome-MET_BORROWER")
    s.wait("tab-interview")

    s.tap("tab-interview")
    s.tap("result-PLAN_PROPOSED")
    s.tap("reason-INCOME_REDUCTION")
    s.tap("reason-OVER_INDEBTEDNESS")
    s.tap("primary-OVER_INDEBTEDNESS")
    s.tap("willingness-cooperative")
    until(lambda: s.checked("primary-OVER_INDEBTEDNESS") and s.checked("willingness-cooperative")
          and s.checked("result-PLAN_PROPOSED"), 10, what="interview choices")  # fmt: skip
    assert not s.checked("primary-INCOME_REDUCTION")
    shot("interview", "willingness-cooperative")

    s.tap("tab-assessment")
    s.tap("income-add")
    s.wait("income-amount-0")
    s.fill("income-amount-0", "6000")
    s.pick("income-evidence-0", tr(lang, "visit.as.evidence.payslip"))
    s.tap("income-add")
    s.wait("income-amount-1")
    s.fill("income-amount-1", "3000")
    s.pick("income-source-1", tr(lang, "visit.as.source.spouse"))
    s.pick("income-evidence-1", tr(lang, "visit.as.evidence.bank_statement"))
    for i, amount in EXPENSES.items():
        s.fill(f"expense-amount-{i}", amount)
    expected = {
        "ni": "9,000.00",
        "ee": "5,900.00",
        "debt": "800.00",
        "di": "2,300.00",
        "capacity": "1,840.00",
    }
    for key, value in expected.items():
        assert s.wait_text(f"totals-{key}", value) == value, key
    s.reveal("budget-chart")
    shot("assessment", "tab-assessment")

    s.tap("tab-plan")
    s.wait("plan-principal")
    assert s.checked("plan-option-P-INSTAL"), "PLAN_PROPOSED starts an instalment plan"
    s.fill("plan-principal", "12000")
    s.fill("plan-term", "12")
    s.fill("plan-rate", "0.015")
    s.wait_text("plan-instalment", "1,100.16")
    assert s.text("apr-compound") == "19.56%"
    assert s.text("apr-simple") == "18.00%"
    assert "1.50%" in s.text("monthly-rate")
    assert "13,201.95" in s.text("plan-total")
    assert "1,201.95" in s.text("plan-interest")
    assert s.text("plan-verdict") == tr(lang, "visit.plan.verdict.pass"), "1,100.16 ≤ capacity 1,840.00"
    s.reveal("apr-compound")  # the APR first (P-2), then the instalments, totals and verdict
    shot("plan", "apr-compound")
    s.reveal("plan-schedule")

    def has(rows: list[str], seq: list[str]) -> bool:
        # Each instalment reads "n date payment / 本金 p 利息 i 余额 b": compare the figures only.
        rows = [r for r in rows if any(ch.isdigit() for ch in r)]
        return any(rows[i : i + len(seq)] == seq for i in range(len(rows)))

    # Period 1: 1,100.16 = 920.16 principal + 180.00 interest → 11,079.84; period 2 → 10,145.88;
    # period 12 (last): 1,100.19 = 1,083.93 + 16.26 → 0.00.
    first = s.text("plan-schedule").split()
    assert has(first, ["1,100.16", "920.16", "180.00", "11,079.84"]), first
    assert has(first, ["1,100.16", "933.96", "166.20", "10,145.88"]), first
    last = s.scroll_until(
        lambda: (r := s.text("plan-schedule").split()) and "1,100.19" in r and r, "schedule end"
    )
    assert has(last, ["1,100.19", "1,083.93", "16.26", "0.00"]), last
    s.tap("plan-agreement-written")
    until(lambda: s.checked("plan-agreement-written"), 10, what="agreement chosen")

    s.tap("tab-attachments")
    path = _photo_file()
    with s.page.expect_file_chooser(timeout=20_000) as chooser:
        s.tap("attachment-pick")
    chooser.value.set_files(str(path))
    s.wait("attachment-0", timeout=20_000)
    # Photos are re-encoded for the mobile link when attached: the PNG is kept as a JPEG of the same name.
    assert f"{path.stem}.jpg" in s.text("attachment-0")

    check_out_and_submit(s)
    shot("review", "review-ready")


_PHOTO: dict[str, Any] = {}


def _photo_file():
    if "path" not in _PHOTO:
        import tempfile
        from pathlib import Path

        path = Path(tempfile.mkdtemp()) / "visit-photo.png"
        path.write_bytes(png())
        _PHOTO["path"] = path
    return _PHOTO["path"]


def pending_is(s: Screen, n: int, timeout: float) -> None:
    s.wait_text("sync-pending", re.compile(rf"^{n}$"), timeout=timeout)


def server_reports(central: Central, investigator: str) -> list[dict[str, Any]]:
    return central.sup.reports(investigator_id=central.users[investigator])  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- 1
def test_1_sign_in_queue_by_priority_with_masked_phones(phone, central, app1):
    s = phone
    s.wait("signin-submit", timeout=60_000)
    shot(s, "phone-signin")
    sign_in(s, central.url, "inv.a1", PASSWORD)
    visits = central.a_visits
    s.wait_text("queue-count", tr("zh-CN", "queue.count", shown=len(visits), total=len(visits)))
    cards = [c.get_attribute("flt-semantics-identifier").removeprefix("visit-card-")
             for c in s.ids("visit-card-").all()]  # fmt: skip
    assert len(cards) >= 4
    priority = {v["visit_id"]: float(v["priority"]) for v in visits}
    assert cards[0] == visits[0]["visit_id"]  # the highest first; equal priorities in account order
    assert [priority[c] for c in cards] == sorted((priority[c] for c in cards), reverse=True)
    assert cards == [v["visit_id"] for v in visits[: len(cards)]]  # the server's order, ties included
    phones = [p.inner_text().strip() for p in s.ids("phone-").all()]
    assert phones and all(PHONE_RE.match(p) for p in phones), phones
    shot(s, "phone-queue")
    assert not [u for u in s.outside if "font" in u or "canvaskit" in u], s.outside

    s.tap(f"visit-card-{visits[0]['visit_id']}")
    s.wait("detail-phone")
    assert PHONE_RE.match(s.text("detail-phone"))
    shot(s, "phone-detail")


# ---------------------------------------------------------------------------------------------- 2 + 3
def test_2_3_checkin_at_2130_needs_no_consent_then_the_e1_visit(phone, central, app1, journey):
    s = phone
    visit = central.a_visits[0]
    if not s.present("start-visit"):
        back_to_queue(s)
        s.tap(f"visit-card-{visit['visit_id']}")
    s.tap("start-visit")
    s.wait("checkin-btn")
    app1.set_clock(local_instant(DAY, 21, 30))
    check_in(s, f"{DAY.isoformat()} 21:30")
    time.sleep(1.0)
    assert not s.present("outside-hours-warning") and not s.present("outside-hours-consent")
    shot(s, "phone-checkin")

    e1_visit(s, "zh-CN", central.users["inv.a2"], shots="phone-")
    submit(s)
    nav(s, "zh-CN", "sync")
    pending_is(s, 0, timeout=60)
    reports = until(lambda: [r for r in server_reports(central, "inv.a1") if r["visit_id"] == visit["visit_id"]],
                    30, what="report A on the server")  # fmt: skip
    assert len(reports) == 1
    body, _etag = central.sup.report(reports[0]["report_id"])  # type: ignore[attr-defined]
    plan = body["report"]["plan"]
    assert (plan["instalment"], plan["apr_compound"][:6], plan["term_months"]) == ("1100.16", "0.1956", 12)
    assert body["report"]["assessment"]["incomes"][1]["source"] == "spouse"
    assert len(body["report"]["attachments"]) == 1 and body["missing_blobs"] == []
    assert "checkin_outside_hours" not in body["flags"]
    journey["report_a"] = reports[0]["report_id"]
    nav(s, "zh-CN", "queue")


# ---------------------------------------------------------------------------------------------- 4
def test_4_server_down_a_whole_visit_waits_then_uploads_without_a_tap(phone, central, app1, journey):
    s = phone
    visit = central.a_visits[1]
    central.stop()
    try:
        app1.set_clock(local_instant(DAY, 22, 30))
        back_to_queue(s)
        open_visit(s, visit["visit_id"])
        check_in(s, f"{DAY.isoformat()} 22:30")
        # after 22:00 the consent is demanded before anything else.
        s.wait("outside-hours-warning")
        s.wait("outside-hours-consent")
        s.shot("phone-checkin-outside-hours")
        s.tap("tab-review")
        s.wait("review-problems")
        assert message_for("fv.outside_hours_consent", "zh") in s.all_text()
        s.tap("tab-checkin")
        s.tap("outside-hours-consent")
        s.fill("outside-hours-note", "债务人电话约定晚间上门")
        checkin_basics(s, central.users["inv.a2"], consent_to_enter=False)
        s.tap("tab-outcome")
        s.tap("outcome-NO_ONE_HOME")
        check_out_and_submit(s, notes="无人应门，已留联系卡")
        submit(s)

        # Waiting: the banner and the sync screen say offline with one report pending.
        s.wait("offline-banner", timeout=30_000)
        assert "1" in s.text("offline-banner")
        nav(s, "zh-CN", "sync")
        pending_is(s, 1, timeout=30)
        s.wait_text("sync-connection", tr("zh-CN", "sync.offline"))
        shot(s, "phone-sync-offline")
    finally:
        central.start()  # same database, same port
    t0 = time.monotonic()
    pending_is(s, 0, timeout=75)  # no tap: the engine's retry (backoff capped at 30 s) finds the server
    journey["resync_s"] = round(time.monotonic() - t0, 1)
    print(f"uploaded {journey['resync_s']} s after the server came back, without a tap")
    s.wait_text("sync-connection", tr("zh-CN", "sync.online"))
    shot(s, "phone-sync")

    reports = server_reports(central, "inv.a1")
    by_visit: dict[str, list[str]] = {}
    for r in reports:
        by_visit.setdefault(r["visit_id"], []).append(r["report_id"])
    assert len(reports) == 2, reports
    assert [len(by_visit.get(v["visit_id"], [])) for v in central.a_visits[:2]] == [1, 1]
    for rid in (r["report_id"] for r in reports):
        body, _ = central.sup.report(rid)  # type: ignore[attr-defined]
        assert len(body["history"]) == 1 and not body["conflicts"]
    late = next(r for r in reports if r["visit_id"] == visit["visit_id"])
    body, _ = central.sup.report(late["report_id"])  # type: ignore[attr-defined]
    assert body["report"]["compliance"]["outside_hours_consent"] is True
    assert "checkin_outside_hours" in body["flags"]


# ---------------------------------------------------------------------------------------------- 5
def test_5_returned_report_shows_the_comment_and_is_resubmitted(phone, central, app1, journey):
    s = phone
    rid = journey.get("report_a")
    if not rid:
        pytest.skip("the E-1 report was not submitted")
    comment = "请补充配偶收入的银行流水照片"
    assert central.sup.review(rid, "return", comment)["status"] == "returned"  # type: ignore[attr-defined]
    nav(s, "zh-CN", "sync")
    s.tap("sync-now")  # the pull brings the review (the periodic sync would, later)
    s.wait_text("sync-returned", comment, timeout=60)
    s.reveal(f"fix-{rid}")
    s.shot("phone-sync-returned")
    s.tap(f"fix-{rid}")
    s.wait_text("review-comments", comment)
    s.tap("tab-attachments")
    path = _photo_file()
    s.tap("attachment-kind-bank_statement")
    with s.page.expect_file_chooser(timeout=20_000) as chooser:
        s.tap("attachment-pick")
    statement = path.with_name("bank-statement.png")
    statement.write_bytes(png(rgb=(200, 200, 200)))
    chooser.value.set_files(str(statement))
    s.wait("attachment-1", timeout=20_000)
    check_out_and_submit(s, notes="已补充配偶收入银行流水")
    submit(s)
    nav(s, "zh-CN", "sync")
    pending_is(s, 0, timeout=60)

    def resubmitted() -> bool:
        body, _ = central.sup.report(rid)  # type: ignore[attr-defined]
        return body["status"] == "resubmitted" and len(body["report"]["attachments"]) == 2

    until(resubmitted, 30, what="resubmitted on the server")
    s.wait_text("sync-returned", tr("zh-CN", "sync.none"), timeout=30)


# ---------------------------------------------------------------------------------------------- 6
# R-12 / D-7: what would tell a third party about the debt (amounts, the product, the delinquency status).
LEAKS = {
    "zh-CN": [r"\d\s*元", r"逾期\s*\d+\s*天", "逾期金额", "剩余本金", "每期还款", "消费分期", "现金贷"],
    "en": [
        r"\d+\s*CNY",
        r"\d+ days past due",
        r"\d+ DPD",
        "Overdue",
        "Outstanding",
        "Pay-later",
        "Cash loan",
    ],
}


def _no_disclosure(s: Screen, lang: str, where: str) -> None:
    text = s.all_text()
    leaks = MONEY_RE.findall(text) + re.findall(r"\bM[1-7]\b", text)
    for pattern in LEAKS[lang]:
        leaks += re.findall(pattern, text)
    assert not leaks, f"{where}: {leaks}\n{text}"


def test_6_family_member_met_no_amount_anywhere(phone, central, app1, journey):
    s = phone
    visit = central.a_visits[2]
    app1.set_clock(local_instant(DAY, 19, 45))
    back_to_queue(s)
    s.tap(f"visit-card-{visit['visit_id']}")
    s.wait("third-party-shield")
    s.tap("third-party-shield")  # the case detail's shield, before the form
    time.sleep(1.0)
    _no_disclosure(s, "zh-CN", "detail with shield")
    s.tap("third-party-shield")
    s.tap("start-visit")
    check_in(s, f"{DAY.isoformat()} 19:45")
    s.tap("tab-outcome")
    s.tap("outcome-MET_FAMILY")
    s.wait("third-party-banner")
    for tab in ("outcome", "checkin", "attachments", "review"):
        s.tap(f"tab-{tab}")
        time.sleep(1.0)
        s.wait("third-party-banner")
        _no_disclosure(s, "zh-CN", f"tab {tab}")
    assert not s.present("visit-overdue") and not s.present("tab-plan") and not s.present("tab-interview")
    s.tap("tab-outcome")
    s.tap("tp-relation-family")
    s.fill("tp-contact", "家属称借款人在外地，新号码 139****0000 待核实")
    s.tap("tp-message")
    s.tap("tp-attest")
    s.shot("phone-third-party")
    s.tap("tab-checkin")
    checkin_basics(s, central.users["inv.a2"], consent_to_enter=False)
    check_out_and_submit(s)
    _no_disclosure(s, "zh-CN", "review ready")
    submit(s)
    nav(s, "zh-CN", "sync")
    pending_is(s, 0, timeout=60)
    reports = [r for r in server_reports(central, "inv.a1") if r["visit_id"] == visit["visit_id"]]
    assert len(reports) == 1 and reports[0]["outcome"] == "MET_FAMILY"


# ---------------------------------------------------------------------------------------------- 7
def test_7_english_sign_in_queue_and_e1_visit(browser, central, tmp_path_factory):
    folder = tmp_path_factory.mktemp("app2")
    app = AppServer(folder, central.url, clock_file=folder / "clock.txt")
    app.set_clock(local_instant(DAY, 21, 30) + timedelta(minutes=5))
    app.start()
    ctx, s = open_app(browser, app.url, PHONE)
    try:
        s.wait("lang-toggle", timeout=60_000)
        s.tap("lang-toggle")
        s.page.get_by_role("button", name=tr("en", "signin.submit")).first.wait_for(timeout=15_000)
        s.shot("phone-en-signin")
        sign_in(s, central.url, "inv.b1", PASSWORD)
        visits = central.b_visits
        s.wait_text("queue-count", tr("en", "queue.count", shown=len(visits), total=len(visits)))
        cards = [c.get_attribute("flt-semantics-identifier").removeprefix("visit-card-")
                 for c in s.ids("visit-card-").all()]  # fmt: skip
        assert cards[0] == visits[0]["visit_id"]  # the highest first; equal priorities in account order
        assert all(PHONE_RE.match(p.inner_text().strip()) for p in s.ids("phone-").all())
        shot(s, "phone-en-queue")
        open_visit(s, visits[0]["visit_id"])
        check_in(s, f"{DAY.isoformat()} 21:35")
        time.sleep(1.0)
        assert not s.present("outside-hours-warning")
        assert tr("en", "visit.tab.checkin") in s.all_text()
        e1_visit(s, "en", central.users["inv.a2"], shots="phone-en-")
        submit(s)
        nav(s, "en", "sync")
        pending_is(s, 0, timeout=60)
        s.shot("phone-en-sync")
        reports = until(lambda: server_reports(central, "inv.b1"), 30, what="English report on the server")
        assert len(reports) == 1 and reports[0]["verdict"] == "pass"
    finally:
        ctx.close()
        app.stop()


# ---------------------------------------------------------------------------------------------- 8
def test_8_desktop_layout_for_supervisors_and_tablets(browser, central, app1, phone):
    """The same app at 1440×900 (a new session on the same device: lock screen, unlock), through a whole
    visit for the desktop screenshots; the layout switches to the navigation rail."""
    ctx, s = open_app(browser, app1.url, DESKTOP)
    try:
        s.wait("lock-unlock", timeout=60_000)
        s.shot("desktop-signin")
        s.fill("lock-password", PASSWORD)
        s.tap("lock-unlock")
        s.ids("visit-card-").first.wait_for(state="attached", timeout=60_000)
        s.shot("desktop-queue")
        visit = central.a_visits[3]
        s.tap(f"visit-card-{visit['visit_id']}")
        s.wait("detail-phone")
        s.shot("desktop-detail")
        app1.set_clock(local_instant(DAY, 21, 30))
        s.tap("start-visit")
        check_in(s, f"{DAY.isoformat()} 21:30")
        s.shot("desktop-checkin")
        e1_visit(s, "zh-CN", central.users["inv.a2"], shots="desktop-")
        submit(s)
        nav(s, "zh-CN", "sync")
        pending_is(s, 0, timeout=60)
        s.shot("desktop-sync")
        reports = [r for r in server_reports(central, "inv.a1") if r["visit_id"] == visit["visit_id"]]
        assert len(reports) == 1 and reports[0]["verdict"] == "pass"
    finally:
        ctx.close()
