"""The supervisor desk in a real browser against the real central server (issue 5's acceptance).

The central server runs as its own process (`fieldvisit serve`) on a temporary database; users are created
with `fieldvisit users add` and cases with `fieldvisit import` or the desk's import form. Investigators push
their reports over HTTP through the sync protocol, as their devices do. Headless Debian chromium at
1440×900 aborts every request that leaves the loopback interface, so the desk is shown to work offline
(its CJK font included).

Journeys: review (counts, filters, return with a comment, resubmission, approval, a stale second session
getting the 412 message, team scope), the risk CSV and the report PDF, dispatch (a 500-row CSV with five bad
rows through the import form, the suggestion applied, the collectors' devices receiving their visits), the
screenshots in docs/screenshots/desk-*.png, and the rule book's gate on approval (each flag explained, the
device's figures beside the server's, a sign-off reason asked for and kept, the 24% cap refusing approval).
Every journey runs on both server backends: a SQLite file, then a database on the session's private
PostgreSQL (the screenshots in docs/ are taken on the first).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from models.demo_data import DEMO_PASSWORD, demo_users, generate_import_records, to_csv_rows
from models.finance import PlanPreviewRequest, preview_plan
from models.labels import label
from models.money import percent_text
from tests.app.journey_helpers import keep_to_loopback
from tests.helpers.pg_fixtures import BACKENDS
from tests.server.conftest import example_report, mutation

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
FIELDVISIT = Path(sys.executable).with_name("fieldvisit")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip
LOOPBACK = ("http://127.0.0.1", "blob:", "data:")
VIEWPORT = {"width": 1440, "height": 900}
PLANNED = "2026-11-20"  # the check-in date of the protocol's example report

if not os.path.exists(CHROMIUM):
    pytest.skip("no /usr/bin/chromium", allow_module_level=True)
if not FIELDVISIT.exists():
    pytest.skip("the fieldvisit CLI is not installed", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")
pypdf = pytest.importorskip("pypdf")
expect = playwright.expect


# ----------------------------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> str:
    return subprocess.run([str(FIELDVISIT), *args], check=True, capture_output=True, text=True).stdout


@dataclass
class Device:
    """An investigator's device speaking the protocol over HTTP (login, push with a mutation counter, pull)."""

    http: httpx.Client
    username: str
    session: dict[str, Any] = field(default_factory=dict)
    next_mid: int = 1
    cursor: str | None = None

    def login(self) -> Device:
        r = self.http.post(
            "/v1/auth/login",
            json={
                "username": self.username,
                "password": DEMO_PASSWORD,
                "device_name": f"{self.username}-phone",
            },
        )
        assert r.status_code == 200, r.text
        self.session = r.json()
        return self

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session['access_token']}"}

    def push(
        self, report: dict[str, Any], *, base_version: int = 0, kind: str = "submit_report"
    ) -> dict[str, Any]:
        m = mutation(self.next_mid, report, base_version=base_version, kind=kind)
        self.next_mid += 1
        r = self.http.post(
            "/v1/sync/push",
            headers=self.headers,
            json={
                "device_id": self.session["device_id"],
                "server_epoch": self.session["server_epoch"],
                "mutations": [m],
            },
        )
        assert r.status_code == 200, r.text
        res = r.json()["results"][0]
        assert res["status"] == "applied", res
        return res

    def pull(self) -> list[dict[str, Any]]:
        """Every change up to now from the stored cursor (a snapshot the first time)."""
        changes: list[dict[str, Any]] = []
        while True:
            r = self.http.post(
                "/v1/sync/pull",
                headers=self.headers,
                json={
                    "device_id": self.session["device_id"],
                    "server_epoch": self.session["server_epoch"],
                    "cursor": self.cursor,
                    "limit": 500,
                },
            )
            assert r.status_code == 200, r.text
            page = r.json()
            changes += page["changes"]
            self.cursor = page["cursor"]
            if not page["has_more"]:
                return changes


@dataclass
class Central:
    url: str
    db: str  # a SQLite file or a postgresql:// URL
    backend: str
    ids: dict[str, str]  # username -> user id
    districts: dict[str, list[str]]  # user id -> districts
    http: httpx.Client
    devices: dict[str, Device] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    def device(self, username: str) -> Device:
        if username not in self.devices:
            self.devices[username] = Device(self.http, username).login()
        return self.devices[username]

    def h(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            r = self.http.post(
                "/v1/auth/login",
                json={"username": username, "password": DEMO_PASSWORD, "device_name": "test-api"},
            )
            assert r.status_code == 200, r.text
            self.tokens[username] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}


def _wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"fieldvisit serve exited with {proc.returncode}")
        try:
            if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the central server did not come up")


@pytest.fixture(scope="module", params=BACKENDS)
def central(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Central]:
    """`fieldvisit serve` on a fresh database with the demo users of both teams and a few cases each."""
    tmp = tmp_path_factory.mktemp("desk-central")
    env = dict(os.environ)
    cluster = request.getfixturevalue("pg_cluster") if request.param == "postgres" else None
    if cluster is not None:
        db = cluster.new_database()
        where = ["--database-url", db]
        env["FIELDVISIT_BLOB_URL"] = (tmp / "blobs").as_uri()
    else:
        db = str(tmp / "server.db")
        where = ["--db", db]
    ids: dict[str, str] = {}
    districts: dict[str, list[str]] = {}
    for u in demo_users():
        args = ["users", "add", u["username"], "--password", u["password"], "--role", u["role"],
                "--team", u["team"], "--name", u["name"], *where,
                "--experience-years", str(u["experience_years"])]  # fmt: skip
        if u["districts"]:
            args += ["--district", ",".join(u["districts"])]
        out = _cli(*args)
        ids[u["username"]] = out.strip().rsplit(":", 1)[-1].strip()
        districts[ids[u["username"]]] = list(u["districts"])
    records = generate_import_records(10, seed=505, team="hz-a") + generate_import_records(
        3, seed=506, team="hz-b"
    )
    (tmp / "cases.json").write_text(json.dumps({"records": records}, ensure_ascii=False), encoding="utf-8")
    assert "errors 0" in _cli("import", str(tmp / "cases.json"), *where)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # A day's capacity large enough that the 495 dispatched cases all fit on one planned date.
    env["FIELDVISIT_DISPATCH_CAPACITY"] = "400"
    log = open(tmp / "serve.log", "wb")
    proc = subprocess.Popen(
        [str(FIELDVISIT), "serve", "--host", "127.0.0.1", "--port", str(port), *where],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        _wait_up(url, proc)
        with httpx.Client(base_url=url, timeout=60) as http:
            c = Central(url=url, db=db, backend=request.param, ids=ids, districts=districts, http=http)
            # Assign each team's cases to a pair of its investigators for the planned date.
            for sup, pair in (("sup.a", ("inv.a1", "inv.a2")), ("sup.b", ("inv.b1", "inv.b2"))):
                for v in http.get("/v1/visits", params={"limit": 1000}, headers=c.h(sup)).json()["items"]:
                    r = http.post(
                        f"/v1/visits/{v['visit_id']}/assign",
                        headers=c.h(sup),
                        json={"investigator_ids": [ids[pair[0]], ids[pair[1]]], "planned_date": PLANNED},
                    )
                    assert r.status_code == 200, r.text
            yield c
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
        if cluster is not None:
            cluster.drop_database(db)


# ---------------------------------------------------------------------------------------------- reports


def _assigned_visits(c: Central, username: str) -> dict[str, dict[str, Any]]:
    """The visits a device holds after a pull: visit id -> visit data."""
    return {
        ch["id"]: ch["data"]
        for ch in c.device(username).pull()
        if ch["type"] == "visit" and ch["op"] == "put"
    }


def _at_the_door(rep: dict[str, Any], visit: dict[str, Any], pair: list[str]) -> dict[str, Any]:
    """What a device records on site: both collectors present, the position at the borrower's address."""
    b = visit.get("borrower") or {}
    if b.get("lat") and b.get("lon") and rep.get("checkin"):
        rep["checkin"] = dict(
            rep["checkin"], position={"lat": b["lat"], "lon": b["lon"], "accuracy_m": "9", "source": "gps"}
        )
    rep["collector_ids"] = list(pair)
    rep["compliance"] = dict(rep["compliance"], collector_ids=list(pair))
    return rep


def _example_plan_is_clean(visit: dict[str, Any]) -> bool:
    """Whether the example plan (12,000.00 over 12 months at 1.5%, pay-later) keeps P-1 and P-4 on this loan:
    the same product, and the same plan on the loan's balance at its contractual rate repays at least as much."""
    loan = visit.get("loan") or {}
    if loan.get("product_type") != "consumer_instalment" or not loan.get("monthly_rate"):
        return False
    fields = {"method": "annuity", "principal": loan["outstanding_principal"], "term_months": 12,
              "monthly_rate": loan["monthly_rate"]}  # fmt: skip
    ceiling = preview_plan(PlanPreviewRequest.model_validate(fields)).total_payment
    return ceiling >= Decimal("13201.95")


def _variants(visit_ids: list[str]) -> list[dict[str, Any]]:
    """Realistic reports beyond the main one: other outcomes, days, a promise to pay, other plans."""
    out: list[dict[str, Any]] = []
    for i, vid in enumerate(visit_ids):
        day = 16 + i % 5
        at = f"2026-11-{day:02d}T{9 + i % 8:02d}:20:00+08:00"
        end = f"2026-11-{day:02d}T{10 + i % 8:02d}:05:00+08:00"
        rep = example_report(vid)
        rep["checkin"] = {
            "at": at,
            "position": {"lat": "30.2741", "lon": "120.1551", "accuracy_m": "15", "source": "gps"},
        }
        rep["checkout"] = {"at": end, "position": None}
        kind = i % 4
        if kind == 1:  # nobody at home: no interview, no money talk
            rep.update(
                outcome="NO_ONE_HOME",
                notes="敲门无人应答，已留联系卡",
                interview=None,
                assessment=None,
                plan=None,
            )
        elif kind == 2:  # a family member: contact details only
            rep.update(
                outcome="MET_FAMILY",
                notes="借款人母亲在家，已转告回电",
                interview=None,
                assessment=None,
                plan=None,
                third_party={"relation": "family", "contact_details": "请借款人回电", "message_passed": True},
            )
            rep["compliance"]["no_disclosure_attested"] = True
        elif kind == 3:  # a promise to pay instead of a plan
            rep["interview"] = {
                "results": ["PTP"],
                "reasons": ["ILLNESS_INJURY"],
                "primary_reason": "ILLNESS_INJURY",
                "willingness": "hesitant",
                "hardship": True,
                "promise": {"amount": "3000.00", "date": "2026-12-05"},
            }
            rep.update(plan=None, assessment=None, notes="借款人住院后收入中断，承诺月初还款")
        out.append(rep)
    return out


def test_desk_review_journey(central: Central, browser: Any) -> None:
    c = central
    a_docs = _assigned_visits(c, "inv.a1")
    b_docs = _assigned_visits(c, "inv.b1")
    a_visits, b_visits = sorted(a_docs), sorted(b_docs)
    assert len(a_visits) == 10 and len(b_visits) == 3
    inv, partner, inv_b = c.device("inv.a1"), c.device("inv.a2"), c.device("inv.b1")
    pair_a, pair_b = [c.ids["inv.a1"], c.ids["inv.a2"]], [c.ids["inv.b1"], c.ids["inv.b2"]]
    # The main report (the protocol's example: met the borrower, 12 × 1100.16) and a few others, some of
    # them sent by the partner's device.
    # The main report is the protocol's example on a loan it keeps every rule for, so it approves without a
    # sign-off; the others are on the remaining visits.
    main_vid = next(v for v in a_visits if _example_plan_is_clean(a_docs[v]))
    others = [v for v in a_visits if v != main_vid]
    main = _at_the_door(example_report(main_vid), a_docs[main_vid], pair_a)
    assert inv.push(main)["server_version"] == 1
    for i, rep in enumerate(_variants(others[:7])):
        (partner if i % 3 == 2 else inv).push(_at_the_door(rep, a_docs[rep["visit_id"]], pair_a))
    for rep in _variants(b_visits[:2]):
        inv_b.push(_at_the_door(rep, b_docs[rep["visit_id"]], pair_b))
    rid = main["report_id"]
    c.state["report_id"] = rid
    c.state["spare_visits"] = [(vid, a_docs[vid]) for vid in others[7:]]  # left for the sign-off journey

    ctx, page = _open(browser)
    try:
        _sign_in(page, "sup.a")
        # Counts per state over the team's scope: eight reports of team A, all waiting for review.
        expect(page.get_by_test_id("count-submitted")).to_contain_text("8")
        expect(page.get_by_test_id("count-all")).to_contain_text("8")
        expect(page.locator("#inbox-table tbody tr")).to_have_count(8)
        # Filter by outcome: the two "no one home" reports.
        page.locator("#filters select[name=outcome]").select_option("NO_ONE_HOME")
        page.locator("#filters button[type=submit]").click()
        expect(page.locator("#inbox-table tbody tr")).to_have_count(2)
        expect(page.get_by_test_id("count-submitted")).to_contain_text("2")
        expect(page.locator("#inbox-table tbody")).to_contain_text("无人在家")
        # Filter by bucket too: the rows shown all carry that bucket.
        page.locator("#filters select[name=outcome]").select_option("")
        bucket = page.locator(f'#inbox-table tr[data-id="{rid}"]')
        page.locator("#filters button[type=submit]").click()
        expect(page.locator("#inbox-table tbody tr")).to_have_count(8)
        b = page.locator(f'#inbox-table tr[data-id="{rid}"] [data-col=bucket]').inner_text().strip()
        page.locator("#filters select[name=bucket]").select_option(b.lstrip("M").rstrip("+"))
        page.locator("#filters button[type=submit]").click()
        # The main report's row is shown before the filter applies too: wait for the filtered table, then
        # look for the row in it.
        page.wait_for_function(
            """(b) => {
                const cells = [...document.querySelectorAll('#inbox-table tbody [data-col=bucket]')];
                return cells.length > 0 && cells.every((c) => c.innerText.trim() === b);
            }""",
            arg=b,
            timeout=15_000,
        )
        expect(bucket).to_be_visible()
        cells = page.locator("#inbox-table tbody [data-col=bucket]").all_inner_texts()
        assert cells and {x.strip() for x in cells} == {b}, cells
        page.locator("#filters select[name=bucket]").select_option("")
        page.locator("#filters button[type=submit]").click()
        expect(page.locator("#inbox-table tbody tr")).to_have_count(8)

        # Open the synced report and return it with a comment.
        page.locator(f'#inbox-table tr[data-id="{rid}"] td[data-col=visit]').click()
        expect(page.get_by_test_id("report-status")).to_have_text("待审核")
        expect(page.get_by_test_id("section-plan")).to_contain_text("1,100.16")
        expect(page.get_by_test_id("apr")).to_contain_text("19.56%")
        expect(page.get_by_test_id("p4")).to_contain_text("P-4")  # the plan against the case's loan
        expect(page.get_by_test_id("p4")).to_contain_text("13,201.95")
        expect(page.get_by_test_id("section-interview")).to_contain_text("收入下降")
        page.locator("#review-comment").fill("请补充配偶收入证明")
        page.get_by_role("button", name="退回修改").click()
        expect(page.get_by_test_id("report-status")).to_have_text("已退回")
        expect(page.get_by_test_id("history")).to_contain_text("请补充配偶收入证明")

        # The investigator's device learns of the return on its next pull and resubmits on top of it.
        review = [ch for ch in inv.pull() if ch["type"] == "report_review" and ch["id"] == rid][-1]["data"]
        assert review["status"] == "returned" and review["server_version"] == 2
        assert review["comments"][-1]["comment"] == "请补充配偶收入证明"
        resub = dict(main, notes="已补充配偶收入证明（工资条）")
        resub["assessment"] = dict(main["assessment"])
        resub["assessment"]["incomes"] = [*main["assessment"]["incomes"][:1],
                                          {"amount": "3200.00", "source": "spouse", "evidence": "payslip"}]  # fmt: skip
        res = inv.push(resub, base_version=review["server_version"], kind="resubmit_report")
        assert res["server_version"] == 3

        # The supervisor sees it come back as resubmitted, with the diff against the first version.
        page.goto(c.url + "/desk/#/inbox")
        expect(page.get_by_test_id("count-resubmitted")).to_contain_text("1")
        page.get_by_test_id("count-resubmitted").click()
        expect(page.locator("#inbox-table tbody tr")).to_have_count(1)
        page.locator(f'#inbox-table tr[data-id="{rid}"] td[data-col=visit]').click()
        expect(page.get_by_test_id("report-status")).to_have_text("已重新提交")
        expect(page.get_by_test_id("history")).to_contain_text("3,200.00")
        expect(page.get_by_test_id("history")).to_contain_text("请补充配偶收入证明")
        assert page.locator("[data-testid=report-flags]").count() == 0  # a clean report carries no flags
        _shot(page, "desk-report")

        # A second supervisor session opens the same version and keeps it on screen.
        ctx2, page2 = _open(browser)
        try:
            _sign_in(page2, "admin")
            page2.goto(f"{c.url}/desk/#/report/{rid}")
            expect(page2.get_by_test_id("report-status")).to_have_text("已重新提交")

            page.get_by_role("button", name="批准").click()
            expect(page.get_by_test_id("report-status")).to_have_text("已批准")

            # The stale session tries to approve: the clear 412 message, and the fresh state loaded.
            page2.get_by_role("button", name="批准").click()
            notice = page2.get_by_test_id("review-notice")
            expect(notice).to_contain_text("该报告已被他人更新")
            expect(page2.get_by_test_id("report-status")).to_have_text("已批准")
            _shot(page2, "desk-stale-412", docs=False)
        finally:
            ctx2.close()

        # The risk CSV contains the approved plan.
        page.goto(c.url + "/desk/#/feedback")
        with page.expect_download() as dl:
            page.locator("#csv-btn").click()
        text = Path(dl.value.path()).read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["report_id"] for r in rows] == [rid]
        assert rows[0]["event"] == "report_approved" and rows[0]["instalment"] == "1100.16"
        assert rows[0]["apr_compound"] == "0.1956" and rows[0]["principal"] == "12000.00"
        expect(page.locator("#feed")).to_contain_text("1,100.16")

        # The PDF of the report: Chinese text and the plan survive text extraction.
        page.goto(f"{c.url}/desk/#/report/{rid}")
        expect(page.get_by_test_id("report-status")).to_have_text("已批准")
        with page.expect_download() as dl:
            page.locator("#pdf-btn").click()
        pdf = Path(dl.value.path()).read_bytes()
        assert pdf.startswith(b"%PDF")
        flat = re.sub(r"\s+", "", "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages))
        assert "还款方案" in flat and "1,100.16" in flat and "19.56%" in flat
        assert "请补充配偶收入证明" in flat and "已补充配偶收入证明" in flat

        # The device learns of the approval too.
        final = [ch for ch in inv.pull() if ch["type"] == "report_review" and ch["id"] == rid][-1]["data"]
        assert final["status"] == "approved" and final["server_version"] == 4
    finally:
        ctx.close()

    # Team B's supervisor: not in the list, and the URL says not found.
    ctx3, page3 = _open(browser)
    try:
        _sign_in(page3, "sup.b")
        expect(page3.get_by_test_id("count-all")).to_contain_text("2")
        expect(page3.locator("#inbox-table tbody tr")).to_have_count(2)
        assert page3.locator(f'#inbox-table tr[data-id="{rid}"]').count() == 0
        page3.goto(f"{c.url}/desk/#/report/{rid}")
        expect(page3.get_by_test_id("load-error")).to_contain_text("未找到或无权查看")
        expect(page3.locator("#main")).not_to_contain_text("1,100.16")
    finally:
        ctx3.close()


# ------------------------------------------------------------------------------------------- in words

MONEY = re.compile(r"-?\d{1,3}(,\d{3})*\.\d{2}")


def test_desk_speaks_the_desks_language_when_showing_versions_attestations_and_money(
    central: Central, browser: Any
) -> None:
    c = central
    rid = c.state.get("report_id")
    if not rid:
        pytest.skip("needs the review journey's report")
    # The journey's report: version 1, returned, version 2 (the spouse's income 3,000 → 3,200), approved;
    # the server's counter stands at 4 because review steps move it too.
    detail = c.http.get(f"/v1/reports/{rid}", headers=c.h("sup.a")).json()
    assert detail["server_version"] == 4 and len(detail["history"]) == 2
    family = c.http.get("/v1/reports", params={"outcome": "MET_FAMILY"}, headers=c.h("sup.a")).json()["items"]
    assert family, "the journey pushes reports where a family member was met"

    ctx, page = _open(browser)
    try:
        _sign_in(page, "sup.a")
        # Rates read as the app and the PDF write them: two places, half-up on the decimal digits.
        rates = ["0.01225", "0.01235", "0.2314", "1", "-0.01225", "0.00005", "0", ".5", "", None]
        assert page.evaluate("(rates) => rates.map(pct)", rates) == [percent_text(r) for r in rates]
        # Point 13: the header names the report's version, the timeline shows versions and review steps.
        page.goto(f"{c.url}/desk/#/report/{rid}")
        expect(page.get_by_test_id("report-status")).to_have_text("已批准")
        expect(page.get_by_test_id("report-version")).to_have_text("第 2 版")
        history = page.get_by_test_id("history")
        expect(history.locator("[data-testid^=version-]")).to_have_count(2)
        expect(history.get_by_test_id("review-step")).to_have_count(2)
        steps = history.locator("[data-testid^=version-], [data-testid=review-step]").all_inner_texts()
        assert [s.split("·")[0].strip().split()[0] for s in steps] == ["第", "退回", "第", "批准"], steps
        assert not re.search(r"\bv\d", page.locator("#main").inner_text()), (
            "a server counter shown as a version"
        )

        # Point 12: the diff names the field with the form's labels and shows values as the form does.
        row = history.locator('tr[data-field="assessment.incomes.1.amount"]')
        expect(row.locator("td").nth(0)).to_have_text("收支评估 › 收入 #2（配偶收入） › 金额")
        expect(row.locator("td").nth(1)).to_have_text("3,000.00")
        expect(row.locator("td").nth(2)).to_have_text("3,200.00")
        expect(history.locator("table.diff")).not_to_contain_text("incomes")
        expect(history.locator("table.diff")).not_to_contain_text("notes")

        # Point 11: the borrower was met, so nothing is said of third parties; attestations read as facts.
        checkin = page.get_by_test_id("section-checkin")
        expect(checkin).not_to_contain_text("R-12")
        expect(page.get_by_test_id("attest-id_shown")).to_have_text(label("attest", "id_shown.yes"))
        expect(checkin).not_to_contain_text("：否")
        expect(page.get_by_test_id("attest-no_disclosure_attested")).to_have_count(0)
        expect(page.get_by_test_id("attest-outside_hours_consent")).to_have_count(0)

        # Point 14: one money format, no currency sign on one screen and a bare figure on another.
        expect(page.get_by_test_id("section-plan")).to_contain_text("1,100.16")
        expect(page.get_by_test_id("section-plan")).to_contain_text("13,201.95")  # schedule and P-4 too
        expect(page.locator("#main")).not_to_contain_text("¥")
        _shot(page, "desk-report-timeline", docs=False)

        # A family member was met: R-12 applies and says what happened.
        page.goto(f"{c.url}/desk/#/report/{family[0]['report_id']}")
        attest = page.get_by_test_id("attest-no_disclosure_attested")
        expect(attest).to_have_text(label("attest", "no_disclosure_attested.yes"))
        expect(page.get_by_test_id("attest-message_passed")).to_have_text(
            label("attest", "message_passed.yes")
        )
        _shot(page, "desk-report-family", docs=False)

        # The same in English.
        page.locator("#lang-btn").click()
        expect(attest).to_have_text(label("attest", "no_disclosure_attested.yes", "en"))
        page.goto(f"{c.url}/desk/#/report/{rid}")
        expect(page.get_by_test_id("report-version")).to_have_text("Version 2")
        expect(row.locator("td").nth(0)).to_have_text(
            "Income and expenses › Income #2 (Spouse or partner) › Amount"
        )
        expect(row.locator("td").nth(2)).to_have_text("3,200.00")
        expect(page.get_by_test_id("section-plan")).to_contain_text("1,100.16")
        _shot(page, "desk-report-timeline-en", docs=False)
        page.locator('header nav a[data-nav="dashboard"]').click()
        expect(page.get_by_test_id("dash-plans")).to_contain_text("12,000.00")
        page.locator('header nav a[data-nav="feedback"]').click()
        expect(page.locator("#feed")).to_contain_text("1,100.16")
        page.locator("#lang-btn").click()
        expect(page.locator("#feed")).to_contain_text("1,100.16")
        expect(page.locator("#main")).not_to_contain_text("¥")
    finally:
        ctx.close()


# --------------------------------------------------------------------------------------------- dispatch

BAD_ROWS = {  # data row number (from 1) -> (field, how the row is broken)
    17: "phone",
    88: "id_number",
    150: "overdue_amount",
    301: "product_type",
    444: "district",
}


def _bad_csv(path: Path) -> tuple[list[dict[str, Any]], Path]:
    records = generate_import_records(500, seed=909, team="hz-a", start=5001)
    for row, fld in BAD_ROWS.items():
        rec = records[row - 1]
        if fld == "phone":
            rec["phone"] = "1381234567"  # ten digits
        elif fld == "id_number":
            last = rec["id_number"][-1]
            rec["id_number"] = rec["id_number"][:-1] + ("0" if last != "0" else "1")
        elif fld == "overdue_amount":
            rec["overdue_amount"] = "1234.567"
        elif fld == "product_type":
            rec["product_type"] = "mortgage"
        elif fld == "district":
            rec["district"] = ""
    header, rows = to_csv_rows(records)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return records, path


# Import fields that keep a case out of the dispatch suggestion (domain §6.3, R-14).
_HELD_BY_IMPORT = ("active_plan_current", "contact_stopped", "deceased", "legal_hold")


def test_dispatch_import_suggest_apply_and_devices_receive(
    central: Central, browser: Any, tmp_path: Path
) -> None:
    c = central
    records, path = _bad_csv(tmp_path / "accounts-500.csv")
    good = {r["external_id"]: r for i, r in enumerate(records, 1) if i not in BAD_ROWS}
    # What the loan system marks as kept out of dispatch (domain §6.3: a current plan being kept, and the
    # contact rules' stops) stays unassigned with its reason; the rest is suggested.
    held = {ext for ext, r in good.items() if any(r.get(k) for k in _HELD_BY_IMPORT)}
    assert 0 < len(held) < len(good), "the generated file should have both kinds"
    dispatched = len(good) - len(held)
    # The collectors' devices are already in sync before the cases arrive.
    team_a = [f"inv.a{i}" for i in range(1, 7)]
    for u in team_a:
        c.device(u).pull()

    ctx, page = _open(browser)
    try:
        _sign_in(page, "sup.a")
        page.locator('header nav a[data-nav="dispatch"]').click()
        page.locator("#import-file").set_input_files(str(path))
        page.locator("#import-btn").click()
        summary = page.get_by_test_id("import-summary")
        expect(summary).to_contain_text("新增 495", timeout=60_000)
        expect(summary).to_contain_text("错误 5")
        errors = page.locator("[data-testid=import-errors] tbody tr")
        expect(errors).to_have_count(5)
        got = [(int(r.locator("td").nth(0).inner_text()), r.locator("td").nth(1).get_attribute("data-field"))
               for r in errors.all()]  # fmt: skip
        assert got == sorted(BAD_ROWS.items()), got
        # Each column named as the desk speaks, not by its file header.
        names = [r.locator("td").nth(1).inner_text().strip() for r in errors.all()]
        assert names == [label("column", f) for _row, f in sorted(BAD_ROWS.items())], names
        expect(page.get_by_test_id("open-count")).to_contain_text("495")
        # Balances read as on the investigators' screens: thousands separators, two decimals.
        principals = page.locator("#open-visits td.num:nth-child(6)").all_text_contents()
        assert len(principals) == 495 and all(MONEY.fullmatch(p.strip()) for p in principals), principals[:5]
        assert any("," in p for p in principals), principals[:5]

        page.locator("#suggest-btn").click()
        expect(page.get_by_test_id("suggest-row").first).to_be_visible(timeout=30_000)
        _shot(page, "desk-dispatch")
        expect(page.get_by_test_id("suggest-count")).to_contain_text(str(dispatched))
        unassigned = page.get_by_test_id("suggest-unassigned")
        expect(unassigned).to_have_count(len(held))
        shown = {
            r.locator("td").nth(0).inner_text().strip(): r.locator("td").nth(1).inner_text()
            for r in unassigned.all()
        }
        assert set(shown) == held, set(shown) ^ held
        assert all("§6.3" in why or "R-14" in why for why in shown.values()), shown
        page.locator("#apply-btn").click()
        expect(page.locator("#toast")).to_contain_text(f"已派单 {dispatched} 个案件", timeout=120_000)
        still_open = c.http.get("/v1/visits", params={"status": "open", "limit": 1000}, headers=c.h("sup.a"))
        assert held <= {v["external_id"] for v in still_open.json()["items"]}
        expect(page.get_by_test_id("open-count")).to_contain_text(str(still_open.json()["total"]))
    finally:
        ctx.close()

    # Every imported case dispatched now has two distinct collectors, both covering its district; the held
    # ones are still open and unassigned.
    visits: list[dict[str, Any]] = []
    while True:
        r = c.http.get("/v1/visits", params={"limit": 1000, "offset": len(visits)}, headers=c.h("sup.a"))
        page_ = r.json()
        visits += page_["items"]
        if len(visits) >= page_["total"]:
            break
    mine = [v for v in visits if v["external_id"] in good and v["external_id"] not in held]
    assert len(mine) == dispatched
    kept_out = [v for v in visits if v["external_id"] in held]
    assert [(v["status"], v["investigator_ids"]) for v in kept_out] == [("open", [])] * len(held)
    expected: dict[str, set[str]] = {}
    for v in mine:
        pair = v["investigator_ids"]
        assert v["status"] == "assigned" and len(set(pair)) == 2, v
        for uid in pair:
            assert v["district"] in c.districts[uid], (v, uid)
            expected.setdefault(uid, set()).add(v["visit_id"])
    # The collectors' devices receive exactly their new cases on the next pull.
    by_id = {c.ids[u]: u for u in team_a}
    for uid, vids in expected.items():
        got = {ch["id"] for ch in c.device(by_id[uid]).pull() if ch["type"] == "visit" and ch["op"] == "put"}
        assert vids <= got, (by_id[uid], len(vids - got))
        assert not (got - vids - {v["visit_id"] for v in visits}), "a visit outside the team reached a device"


# ------------------------------------------------------------------------------------------ screenshots


def test_screenshots_and_english_switch(central: Central, browser: Any) -> None:
    c = central
    rid = c.state.get("report_id")
    if not rid:
        pytest.skip("needs the review journey's report")
    ctx, page = _open(browser)
    try:
        _sign_in(page, "sup.a")
        expect(page.locator("#inbox-table tbody tr")).to_have_count(8)
        _shot(page, "desk-inbox")
        page.goto(f"{c.url}/desk/#/report/{rid}")
        expect(page.get_by_test_id("section-plan")).to_contain_text("1,100.16")
        _shot(page, "desk-report-approved", docs=False)
        page.locator('header nav a[data-nav="dashboard"]').click()
        expect(page.get_by_test_id("dash-outcomes")).to_contain_text("见到本人")
        expect(page.get_by_test_id("dash-plans")).to_contain_text("12,000.00")
        _shot(page, "desk-dashboard")
        page.locator('header nav a[data-nav="devices"]').click()
        expect(page.locator("#main table tbody tr").first).to_be_visible()
        expect(page.locator("#main")).to_contain_text("陈志刚")
        _shot(page, "desk-devices", docs=False)
        page.locator('header nav a[data-nav="feedback"]').click()
        expect(page.locator("#feed")).to_contain_text("方案已批准")
        _shot(page, "desk-feedback", docs=False)

        # English: the whole desk switches, and stays switched after a reload.
        page.locator("#lang-btn").click()
        expect(page.locator('header nav a[data-nav="inbox"]')).to_have_text("Review")
        expect(page.locator("#main")).to_contain_text("Feedback to risk management")
        page.goto(f"{c.url}/desk/#/report/{rid}")
        expect(page.get_by_test_id("report-status")).to_have_text("Approved")
        expect(page.get_by_test_id("section-interview")).to_contain_text("Income reduction")
        _shot(page, "desk-report-en", docs=False)
        page.reload()
        expect(page.get_by_test_id("report-status")).to_have_text("Approved")
        page.locator('header nav a[data-nav="inbox"]').click()
        expect(page.get_by_test_id("count-approved")).to_contain_text("Approved")
        expect(page.locator("#inbox-table tbody")).to_contain_text("No one home")
        _shot(page, "desk-inbox-en", docs=False)
        page.locator("#lang-btn").click()
        expect(page.get_by_test_id("count-approved")).to_contain_text("已批准")
        # Signing out leaves the sign-in form, in the chosen language.
        page.locator("#logout-btn").click()
        expect(page.locator("#login-form")).to_contain_text("主管登录")
        _shot(page, "desk-login", docs=False)
    finally:
        ctx.close()


# -------------------------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


_OUTSIDE: list[str] = []


def _open(browser: Any) -> tuple[Any, Any]:
    ctx = browser.new_context(viewport=VIEWPORT, accept_downloads=True, locale="zh-CN")
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    keep_to_loopback(page, _OUTSIDE, LOOPBACK)  # the desk needs no websocket
    return ctx, page


def _sign_in(page: Any, username: str) -> None:
    url = re.sub(r"/desk/.*$", "", page.url) if "/desk/" in page.url else None
    base = url or _BASE[0]
    with page.expect_response(lambda r: r.url.endswith("/desk/font.ttf"), timeout=30_000):
        page.goto(base + "/desk/")
    page.locator("#login-form input[name=username]").fill(username)
    page.locator("#login-form input[name=password]").fill(DEMO_PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    expect(page.locator("#whoami")).to_be_visible()
    expect(page.locator("#inbox-table table, #inbox-table p")).to_be_visible()


_BASE: list[str] = []


_DOCS: list[bool] = [True]  # whether desk-*.png go to docs/screenshots/ (on the SQLite run only)


@pytest.fixture(scope="module", autouse=True)
def _base(central: Central) -> Iterator[None]:
    _BASE[:] = [central.url]
    _DOCS[:] = [central.backend == "sqlite"]
    yield
    assert not _OUTSIDE, f"the desk asked for something outside loopback: {_OUTSIDE}"


def _shot(page: Any, name: str, *, docs: bool = True) -> Path:
    """A 1440×900 screenshot once the CJK font is in; desk-*.png go to docs/screenshots/."""
    page.evaluate("document.fonts.ready")
    page.evaluate("document.getElementById('toast').hidden = true")
    time.sleep(0.3)
    artifacts = ROOT / "tests" / "artifacts" / "screenshots"
    if not _DOCS[0]:
        folder = artifacts / "postgres"
    else:
        folder = SHOTS if docs else artifacts
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path


# ------------------------------------------------------------------------------------------- sign-off


def _priced(rep: dict[str, Any], monthly_rate: str) -> dict[str, Any]:
    """The report's plan at another monthly rate, with the figures a device computes for it."""
    plan = dict(rep["plan"], monthly_rate=monthly_rate)
    fields = ("method", "principal", "term_months", "monthly_rate", "first_due_date")
    out = preview_plan(PlanPreviewRequest.model_validate({k: plan[k] for k in fields}))
    plan.update(
        instalment=str(out.instalment),
        total_payment=str(out.total_payment),
        apr_simple=str(out.apr_simple),
        apr_compound=str(out.apr_compound),
    )
    return dict(rep, plan=plan)


def test_desk_asks_for_sign_off_and_refuses_charge_cap_when_the_rule_book_flags_a_plan(
    central: Central, browser: Any
) -> None:
    c = central
    spare = c.state.get("spare_visits")
    if not spare:
        pytest.skip("needs the review journey's visits")
    (v_cap, doc_cap), (v_over, doc_over) = spare[0], spare[1]
    inv = c.device("inv.a1")
    pair = [c.ids["inv.a1"], c.ids["inv.a2"]]
    product = (doc_over.get("loan") or {}).get("product_type") or "consumer_instalment"

    # Over capacity (P-3): the spouse earns 1,000, so the server's capacity is 240.00 against an instalment
    # of 1,100.16; the device kept back only 10% (buffer 0.90) and counted 270.00.
    over = example_report(v_over)
    over["assessment"] = dict(over["assessment"], buffer="0.90")
    over["assessment"]["incomes"] = [over["assessment"]["incomes"][0],
                                     {"amount": "1000.00", "source": "spouse", "evidence": "payslip"}]  # fmt: skip
    over["plan"] = dict(over["plan"], product_type=product, override_reason="配偶下月复工")
    over = _at_the_door(over, doc_over, pair)
    inv.push(over)
    # Above the charge cap (P-5): 2.5% a month is 30% a year.
    cap = _at_the_door(_priced(example_report(v_cap), "0.025"), doc_cap, pair)
    inv.push(cap)

    detail = c.http.get(f"/v1/reports/{over['report_id']}", headers=c.h("sup.a")).json()
    assert "over_capacity" in detail["flags"], detail["flags"]
    assert "over_capacity" in detail["sign_off"]["required"] and not detail["sign_off"]["blocked"]
    assert detail["server_assessment"]["capacity"] == "240.00"

    ctx, page = _open(browser)
    try:
        _sign_in(page, "sup.a")
        page.goto(f"{c.url}/desk/#/report/{over['report_id']}")
        expect(page.get_by_test_id("report-status")).to_have_text("待审核")
        # Each flag with its label and the sentence naming its rule.
        flag = page.get_by_test_id("flag-over_capacity")
        expect(flag).to_contain_text(label("flag", "over_capacity"))
        expect(flag).to_contain_text(label("flag_help", "over_capacity"))
        # The device's figures beside the server's, the capacity highlighted as different.
        cmp_capacity = page.get_by_test_id("cmp-capacity")
        expect(cmp_capacity).to_contain_text("270.00")
        expect(cmp_capacity).to_contain_text("240.00")
        expect(cmp_capacity).to_have_attribute("data-differs", "true")
        expect(page.get_by_test_id("cmp-net_income")).not_to_have_attribute("data-differs", "true")

        # The desk that did not know of the gate (its detail without `sign_off`): the server's 409 is told
        # in words, and the sign-off reason is then asked for.
        def without_gate(route: Any) -> None:
            response = route.fetch()
            body = response.json()
            body.pop("sign_off", None)
            route.fulfill(response=response, json=body)

        detail_url = f"{c.url}/v1/reports/{over['report_id']}"
        page.route(detail_url, without_gate)
        page.reload()
        expect(page.get_by_test_id("report-status")).to_have_text("待审核")
        expect(page.get_by_test_id("sign-off")).to_have_count(0)
        page.locator("#review-comment").fill("同意分期")
        page.get_by_role("button", name="批准").click()
        notice = page.get_by_test_id("review-notice")
        expect(notice).to_contain_text("须填写审批理由")
        expect(notice).to_contain_text(label("flag", "over_capacity"))
        expect(notice).not_to_contain_text("sign_off_required")
        page.unroute(detail_url, without_gate)

        # The gate as the server states it: the reason is required before the approval goes out.
        page.reload()
        gate = page.get_by_test_id("sign-off")
        expect(gate).to_contain_text(label("flag", "over_capacity"))
        page.get_by_role("button", name="批准").click()
        expect(page.locator("#review-error")).to_contain_text("请先填写审批理由")
        expect(page.get_by_test_id("report-status")).to_have_text("待审核")
        page.locator("#sign-off-reason").fill("配偶下月复工，收入恢复后月供可负担")
        _shot(page, "desk-sign-off", docs=False)
        page.get_by_role("button", name="批准").click()
        expect(page.get_by_test_id("report-status")).to_have_text("已批准")
        expect(page.get_by_test_id("comment-sign-off")).to_contain_text("配偶下月复工，收入恢复后月供可负担")

        # The PDF lists the flag by its label and carries the sign-off reason.
        with page.expect_download() as dl:
            page.locator("#pdf-btn").click()
        pdf = Path(dl.value.path()).read_bytes()
        flat = re.sub(r"\s+", "", "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages))
        assert re.sub(r"\s+", "", label("flag", "over_capacity")) in flat
        assert "配偶下月复工，收入恢复后月供可负担" in flat

        # Above the charge cap: approval is disabled with the reason shown; returning stays open.
        page.goto(f"{c.url}/desk/#/report/{cap['report_id']}")
        blocked = page.get_by_test_id("approve-blocked")
        expect(blocked).to_contain_text("不能批准")
        expect(blocked).to_contain_text(label("flag", "above_charge_cap"))
        expect(page.get_by_role("button", name="批准")).to_be_disabled()
        expect(page.get_by_test_id("flag-above_charge_cap")).to_contain_text(
            label("flag_help", "above_charge_cap")
        )
        _shot(page, "desk-charge-cap", docs=False)
        # The server refuses the approval too, whatever a client sends.
        refused = c.http.post(
            f"/v1/reports/{cap['report_id']}/review",
            headers={**c.h("sup.a"), "If-Match": '"v1"'},
            json={"action": "approve", "comment": "", "sign_off_reason": "试图批准"},
        )
        assert refused.status_code == 409 and refused.json()["error"] == "charge_cap", refused.text
        page.locator("#lang-btn").click()
        expect(page.get_by_test_id("approve-blocked")).to_contain_text(
            label("flag", "above_charge_cap", "en")
        )
        expect(page.get_by_role("button", name="Approve")).to_be_disabled()
        page.locator("#lang-btn").click()
        page.locator("#review-comment").fill("费率超过 24%，请按合同利率重新测算")
        page.get_by_role("button", name="退回修改").click()
        expect(page.get_by_test_id("report-status")).to_have_text("已退回")
    finally:
        ctx.close()
