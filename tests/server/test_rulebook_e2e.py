"""The rule book on a real central server (`fieldvisit serve` on a temporary SQLite file or a fresh PostgreSQL
database, over HTTP): every flag of protocol.md v1 and v1.1 raised by a pushed report and stored (field truth
is recorded, not refused), the server's own thresholds over a device's, and approval gated by the flags
(sign-off reason, charge cap)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from models.demo_data import generate_import_records
from models.finance import PlanPreviewRequest, preview_plan
from tests.app.journey_helpers import FIELDVISIT, Central, local_instant, yesterday_shanghai
from tests.helpers.pg_fixtures import BACKENDS
from tests.helpers.postgres import PgCluster

from .conftest import example_report, mutation

if not FIELDVISIT.exists():
    pytest.skip("the fieldvisit CLI is not installed", allow_module_level=True)

PASSWORD = "rulebook-e2e-pw"
TEAM = "hz-a"
DAY = yesterday_shanghai()  # the visits' planned date: its office hours are already past
Change = Callable[[dict[str, Any]], None]


# ---------------------------------------------------------------------------------------------------
# Report shapes (each case changes the example report, a clean one on the example loan)


def priced(**terms: Any) -> Change:
    """The plan on other terms, with the figures a device computes for them (so they agree with the
    server's recomputation)."""

    def change(rep: dict[str, Any]) -> None:
        plan = rep["plan"]
        plan.update(terms)
        keys = ("method", "principal", "term_months", "monthly_rate", "upfront_fee", "holiday_months")
        out = preview_plan(PlanPreviewRequest.model_validate({k: plan[k] for k in keys if k in plan}))
        plan.update(
            instalment=str(out.instalment),
            total_payment=str(out.total_payment),
            apr_simple=str(out.apr_simple),
            apr_compound=str(out.apr_compound),
        )

    return change


def unpriced(**terms: Any) -> Change:
    """The plan on other terms without the device's figures: the server computes them itself."""

    def change(rep: dict[str, Any]) -> None:
        for k in ("instalment", "total_payment", "apr_simple", "apr_compound"):
            rep["plan"].pop(k, None)
        rep["plan"].update(terms)

    return change


def both(*changes: Change) -> Change:
    def change(rep: dict[str, Any]) -> None:
        for c in changes:
            c(rep)

    return change


def household(**values: Any) -> Change:
    return lambda rep: rep["assessment"].update(values)


def checked_in(day: date, hh: int, mm: int) -> Change:
    def change(rep: dict[str, Any]) -> None:
        rep["checkin"]["at"] = local_instant(day, hh, mm).isoformat()
        rep["checkout"]["at"] = local_instant(day, hh, mm + 30).isoformat()

    return change


def met_family_unattested(rep: dict[str, Any]) -> None:
    # R-12: a family member met carries no interview, plan or household figures.
    rep["outcome"] = "MET_FAMILY"
    for k in ("interview", "plan", "assessment"):
        rep.pop(k)
    rep["compliance"].update(no_disclosure_attested=False, location_kind="doorstep")
    rep["third_party"] = {"relation": "family", "message_passed": True}


def no_assessment(rep: dict[str, Any]) -> None:
    rep.pop("assessment")
    rep["interview"]["results"] = ["FOLLOW_UP_NEEDED"]


def hardship(rep: dict[str, Any]) -> None:
    # DI = 2,000 − 2,000 = 0: no instalment is affordable, and none was proposed.
    rep.pop("plan")
    rep["interview"]["results"] = ["HARDSHIP_CLAIMED"]
    rep["assessment"].update(
        incomes=[{"amount": "2000.00", "source": "salary", "evidence": "payslip"}],
        expenses=[{"amount": "2000.00", "category": "HOUS"}],
    )


SPOUSE_1000 = [
    {"amount": "6000.00", "source": "salary", "evidence": "payslip"},
    {"amount": "1000.00", "source": "spouse", "evidence": "payslip"},
]  # NI 7,000, DI 300, capacity 240.00
HIGH_DEBT = [{"amount": "2500.00", "category": "HOUS"}, {"amount": "3600.00", "category": "DEBT"}]
SEVERE_DEBT = [{"amount": "2500.00", "category": "HOUS"}, {"amount": "5300.00", "category": "DEBT"}]
# The device kept back only 1% and allowed a DSR of 95%: the server's 0.80 and 50% decide.
DEVICE_THRESHOLDS = household(buffer="0.99", dsr_limit="0.95")
# 12,000.00 at 0% over 6 months is 2,000.00 a month: within 2,300 × 0.99 = 2,277.00, above 1,840.00.
OVER_BY_SERVER_BUFFER = both(DEVICE_THRESHOLDS, priced(monthly_rate="0", term_months=6))


@dataclass(frozen=True)
class Case:
    change: Change | None
    flags: set[str]
    loan: dict[str, Any] = field(default_factory=dict)


CASES: dict[str, Case] = {
    "clean": Case(None, set()),
    # v1 flags
    "collectors_differ": Case(None, {"collectors_differ"}),  # a stranger stands in for the partner (below)
    "checkin_outside_hours": Case(checked_in(DAY, 7, 20), {"checkin_outside_hours"}),
    "checkin_outside_planned_date": Case(
        checked_in(DAY - timedelta(days=1), 10, 15), {"checkin_outside_planned_date"}
    ),
    "plan_mismatch": Case(lambda r: r["plan"].update(instalment="1100.00"), {"plan_mismatch"}),
    # v1.1 flags
    "checkin_missing": Case(lambda r: r.update(checkin=None), {"checkin_missing"}),
    "id_not_shown": Case(lambda r: r["compliance"].update(id_shown=False), {"id_not_shown"}),
    "entry_without_consent": Case(
        lambda r: r["compliance"].update(consent_to_enter=False), {"entry_without_consent"}
    ),
    "third_party_attestation_missing": Case(met_family_unattested, {"third_party_attestation_missing"}),
    # A pay-later line allows 60 months; 12 holiday months before 60 instalments make 72.
    "term_beyond_max": Case(unpriced(term_months=60, holiday_months=12), {"term_beyond_max"}),
    "product_mismatch": Case(lambda r: r["plan"].update(product_type="cash_loan"), {"product_mismatch"}),
    "over_capacity": Case(OVER_BY_SERVER_BUFFER, {"over_capacity"}),
    "over_capacity_without_instalment": Case(
        both(household(incomes=SPOUSE_1000), unpriced()), {"over_capacity"}
    ),
    "over_capacity_without_assessment": Case(no_assessment, {"over_capacity"}),
    # 11 token payments of 10.00 leave the whole balance (11,890.00) to month 12: the plan's instalment.
    "over_capacity_balloon": Case(
        unpriced(monthly_rate="0", term_months=12, step_payments=["10.00"] * 11),
        {"over_capacity", "dsr_severe"},
    ),
    # DSR_after = (3,600 + 1,100.16) / 9,000 = 52.22%, above the server's 50% though below the device's 95%.
    "dsr_high": Case(both(household(expenses=HIGH_DEBT), DEVICE_THRESHOLDS), {"dsr_high"}),
    # DSR_after = (5,300 + 1,100.16) / 9,000 = 71.11%; capacity 960.00 is below the instalment too.
    "dsr_severe": Case(household(expenses=SEVERE_DEBT), {"dsr_severe", "over_capacity"}),
    "hardship": Case(hardship, {"hardship"}),
    # 2.5% a month is 30.00% a year (P-5), and dearer than the contract's 1.5% (P-4).
    "above_charge_cap": Case(priced(monthly_rate="0.025"), {"above_charge_cap", "p4_ceiling_exceeded"}),
    # 1.8% a month keeps to 24% a year but costs more than the same plan at the contract's 1.5%.
    "p4_ceiling_exceeded": Case(priced(monthly_rate="0.018"), {"p4_ceiling_exceeded"}),
    # E-11: 14,000.00 at 0% over 12 months is 1,166.67 a month.
    "e11": Case(
        priced(principal="14000.00", monthly_rate="0", term_months=12),
        set(),
        loan={"outstanding_principal": "14000.00"},
    ),
    # Reports the approval tests review (so the flag tests read untouched ones).
    "approve_over_capacity": Case(OVER_BY_SERVER_BUFFER, {"over_capacity"}),
    "approve_charge_cap": Case(priced(monthly_rate="0.025"), {"above_charge_cap", "p4_ceiling_exceeded"}),
}
FLAG_CASES = [name for name in CASES if not name.startswith("approve_") and name not in ("clean", "e11")]
V1_FLAGS = {"collectors_differ", "checkin_outside_hours", "checkin_outside_planned_date", "plan_mismatch"}
V11_FLAGS = {
    "checkin_missing",
    "id_not_shown",
    "entry_without_consent",
    "third_party_attestation_missing",
    "term_beyond_max",
    "product_mismatch",
    "over_capacity",
    "dsr_high",
    "dsr_severe",
    "hardship",
    "above_charge_cap",
    "p4_ceiling_exceeded",
}


# ---------------------------------------------------------------------------------------------------
# The server and one push of every case


@dataclass
class Pushed:
    central: Central
    http: httpx.Client
    sup: dict[str, str]
    reports: dict[str, dict[str, Any]]  # case → the report pushed
    results: dict[str, dict[str, Any]]  # case → its push result

    def detail(self, case: str) -> httpx.Response:
        return self.http.get(f"/v1/reports/{self.reports[case]['report_id']}", headers=self.sup)

    def review(self, case: str, **body: Any) -> httpx.Response:
        etag = self.detail(case).headers["ETag"]
        return self.http.post(
            f"/v1/reports/{self.reports[case]['report_id']}/review",
            headers={**self.sup, "If-Match": etag},
            json=body,
        )


def _login(http: httpx.Client, username: str) -> dict[str, Any]:
    r = http.post(
        "/v1/auth/login", json={"username": username, "password": PASSWORD, "device_name": f"e2e-{username}"}
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture(scope="module", params=BACKENDS)
def pushed(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Pushed]:
    """Every case pushed to a server on a SQLite file or on a fresh PostgreSQL database."""
    cluster: PgCluster | None = None
    database_url = None
    if request.param == "postgres":
        cluster = request.getfixturevalue("pg_cluster")
        database_url = cluster.new_database()
    folder = Path(tmp_path_factory.mktemp("rulebook-e2e"))
    try:
        yield from _pushed(Central(folder=folder, password=PASSWORD, database_url=database_url))
    finally:
        if cluster is not None and database_url is not None:
            cluster.drop_database(database_url)


def _pushed(central: Central) -> Iterator[Pushed]:
    central.add_user("sup.a", "supervisor", TEAM, "Supervisor A")
    lead = central.add_user("inv.a1", "investigator", TEAM, "Investigator A1")
    partner = central.add_user("inv.a2", "investigator", TEAM, "Investigator A2")

    # One visit per case, on the loan the example report's plan restructures unless the case says otherwise.
    records: dict[str, dict[str, Any]] = {}
    for i, (name, case) in enumerate(CASES.items()):
        rec = generate_import_records(1, seed=41, team=TEAM, start=1 + i)[0]
        rec.update(
            external_id=f"{TEAM}-RB-{uuid.uuid4().hex[:10]}",
            product_type="consumer_instalment",
            outstanding_principal="12000.00",
            monthly_rate="0.015",
        )
        rec.update(case.loan)
        records[name] = rec
    central.import_records(list(records.values()))
    central.start()
    try:
        with httpx.Client(base_url=central.url, timeout=30) as http:
            sup = {"Authorization": f"Bearer {_login(http, 'sup.a')['access_token']}"}
            by_external = {
                v["external_id"]: v["visit_id"]
                for v in http.get("/v1/visits", params={"limit": 1000}, headers=sup).json()["items"]
            }
            reports: dict[str, dict[str, Any]] = {}
            for name, case in CASES.items():
                vid = by_external[records[name]["external_id"]]
                r = http.post(
                    f"/v1/visits/{vid}/assign",
                    headers=sup,
                    json={"investigator_ids": [lead, partner], "planned_date": DAY.isoformat()},
                )
                assert r.status_code == 200, r.text
                rep = example_report(vid)
                # Both assigned collectors present, checked in on the planned date within office hours.
                rep["compliance"]["collector_ids"] = [lead, partner]
                checked_in(DAY, 10, 15)(rep)
                if name == "collectors_differ":
                    rep["compliance"]["collector_ids"] = [lead, str(uuid.uuid4())]
                if case.change is not None:
                    case.change(rep)
                reports[name] = copy.deepcopy(rep)

            device = _login(http, "inv.a1")
            inv = {"Authorization": f"Bearer {device['access_token']}"}
            names = list(reports)
            r = http.post(
                "/v1/sync/push",
                headers=inv,
                json={
                    "device_id": device["device_id"],
                    "server_epoch": device["server_epoch"],
                    "mutations": [mutation(i + 1, reports[n]) for i, n in enumerate(names)],
                },
            )
            assert r.status_code == 200, r.text
            results = dict(zip(names, r.json()["results"], strict=True))
            yield Pushed(central, http, sup, reports, results)
    finally:
        central.stop()


# ---------------------------------------------------------------------------------------------------
# Flags on push


def test_cases_raise_every_flag_of_protocol_v1_and_v1_1() -> None:
    raised = set().union(*(CASES[name].flags for name in FLAG_CASES))
    assert raised >= V1_FLAGS | V11_FLAGS


def test_push_applies_clean_report_without_flags_when_it_keeps_every_rule(pushed: Pushed) -> None:
    res = pushed.results["clean"]
    assert res["status"] == "applied" and res["error"] is None, res
    assert res["flags"] == []
    detail = pushed.detail("clean").json()
    assert detail["flags"] == [] and detail["status"] == "submitted"
    assert detail["sign_off"] == {"required": [], "blocked": []}


@pytest.mark.parametrize("case", FLAG_CASES)
def test_push_records_and_flags_report_when_it_breaks_a_rule(pushed: Pushed, case: str) -> None:
    expected = CASES[case].flags
    res = pushed.results[case]
    # Field truth is recorded, not refused: a broken rule is never a rejection.
    assert res["status"] == "applied" and res["error"] is None, res
    assert set(res["flags"]) == expected, res["flags"]
    r = pushed.detail(case)
    assert r.status_code == 200 and r.headers["ETag"] == '"v1"'
    detail = r.json()
    assert detail["status"] == "submitted"
    assert set(detail["flags"]) == expected
    assert detail["report"] == pushed.reports[case]
    # The rule book's problems name the same flags.
    assert expected <= {p["flag"] for p in detail["rules"]}


def test_server_ignores_device_thresholds_when_report_sends_buffer_0_99(pushed: Pushed) -> None:
    detail = pushed.detail("over_capacity").json()
    assert detail["server_assessment"]["capacity"] == "1840.00"
    assert detail["server_assessment"]["verdict"] == "fail"
    # What the device showed the borrower is kept beside it.
    assert detail["device_assessment"]["capacity"] == "2277.00"
    assert detail["sign_off"] == {"required": ["over_capacity"], "blocked": []}


def test_server_flags_dsr_high_when_device_sends_dsr_limit_0_95(pushed: Pushed) -> None:
    detail = pushed.detail("dsr_high").json()
    assert detail["server_assessment"]["dsr_after"] == "0.5222"
    assert "dsr_high" in detail["flags"]


def test_server_assessment_is_e11_when_12_month_plan_on_14000_at_zero_percent(pushed: Pushed) -> None:
    assert pushed.results["e11"]["status"] == "applied" and pushed.results["e11"]["flags"] == []
    assert pushed.reports["e11"]["plan"]["instalment"] == "1166.67"
    detail = pushed.detail("e11").json()
    assert detail["server_assessment"] == {
        "net_income": "9000.00",
        "essential_expenses": "5900.00",
        "debt_service": "800.00",
        "disposable_income": "2300.00",
        "capacity": "1840.00",
        "dsr_after": "0.2185",
        "verdict": "pass",
    }


def test_server_assessment_is_null_when_report_has_no_assessment(pushed: Pushed) -> None:
    detail = pushed.detail("over_capacity_without_assessment").json()
    assert detail["server_assessment"] is None and "over_capacity" in detail["flags"]


# ---------------------------------------------------------------------------------------------------
# Approval gated by the flags


def test_approve_needs_sign_off_reason_when_report_is_over_capacity(pushed: Pushed) -> None:
    r = pushed.review("approve_over_capacity", action="approve", comment="同意")
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "sign_off_required" and r.json()["details"] == ["over_capacity"]
    assert pushed.detail("approve_over_capacity").json()["status"] == "submitted"

    reason = "配偶下月复工，收入恢复后月供可负担"
    r = pushed.review("approve_over_capacity", action="approve", comment="同意", sign_off_reason=reason)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved" and r.headers["ETag"] == '"v2"'

    detail = pushed.detail("approve_over_capacity").json()
    assert detail["status"] == "approved"
    assert [(c["action"], c["sign_off_reason"]) for c in detail["comments"]] == [("approve", reason)]

    rid = pushed.reports["approve_over_capacity"]["report_id"]
    feed = pushed.http.get("/v1/feed", params={"since": "0"}, headers=pushed.sup)
    assert feed.status_code == 200, feed.text
    events = [e for e in feed.json()["events"] if e["report_id"] == rid]
    assert [e["type"] for e in events] == ["report_approved"]
    assert events[0]["data"]["flags"] == ["over_capacity"]
    assert events[0]["data"]["sign_off_reason"] == reason


def test_approve_is_refused_with_charge_cap_when_plan_is_above_24_percent(pushed: Pushed) -> None:
    r = pushed.review("approve_charge_cap", action="approve", comment="同意", sign_off_reason="借款人同意")
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "charge_cap" and r.json()["details"] == ["above_charge_cap"]
    assert pushed.detail("approve_charge_cap").json()["sign_off"]["blocked"] == ["above_charge_cap"]

    # Returning it for a plan within the cap stays open.
    r = pushed.review("approve_charge_cap", action="return", comment="月利率超过年化24%，请重新制定方案")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "returned"
    assert pushed.detail("approve_charge_cap").json()["status"] == "returned"
