"""Plans, promises and contact rules on a real central server process with a movable clock (protocol.md
v1.1 "Repayments, plans and promises tracked"): an approved plan followed through repayments to its lapse,
the feed event and the case back in dispatch; promises broken and the legal-escalation recommendation after
the second; the R-13, R-11 and R-14 refusals with their reasons; the day's route for fixed coordinates."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.route import distance_km
from tests.server.tracking_live import Live, absent_report, promise_report, report_on

FACT_KEYS = {
    "reasons",
    "willingness",
    "ability",
    "segment",
    "assessment",
    "promise",
    "recommendation",
    "flags",
}


@pytest.fixture
def live(tmp_path: Path, database_location: str) -> Iterator[Live]:
    server = Live(tmp_path, database=database_location).start(
        "2026-11-20T04:00:00+00:00"
    )  # 12:00 in Shanghai
    try:
        yield server
    finally:
        server.stop()


def test_plan_lapses_after_two_missed_instalments_when_repayments_stop(live: Live) -> None:
    vid, ext = live.import_visit()
    assert live.assign(vid, "2026-11-20").status_code == 200
    rep = report_on(vid, "2026-11-20T10:15:00+08:00")  # 12 × 1100.16 from 2026-12-20
    live.push("inv.a1", rep)
    live.approve(rep["report_id"])
    assert live.visit(vid).json()["plan_status"]["state"] == "performing"

    posted = live.api("sup.a").post(
        "/v1/repayments",
        json={
            "records": [
                {"payment_id": "P-1", "external_id": ext, "paid_on": "2026-12-19", "amount": "1100.16"}
            ]
        },
    )
    assert posted.json() == {"created": 1, "duplicates": 0, "errors": []}
    resent = live.api("sup.a").post(
        "/v1/repayments",
        content=f"payment_id,external_id,paid_on,amount\nP-1,{ext},2026-12-19,1100.16\n",
        headers={"Content-Type": "text/csv"},
    )
    assert resent.json() == {"created": 0, "duplicates": 1, "errors": []}

    live.set_clock("2027-01-24T04:00:00+00:00")  # the January instalment is 4 days late
    status = live.visit(vid).json()["plan_status"]
    assert status == {
        "report_id": rep["report_id"],
        "state": "missed_1",
        "paid": "1100.16",
        "due_to_date": "2200.32",
        "missed": 1,
        "next_due_date": "2027-01-20",
    }
    assert not [e for e in live.feed() if e["type"] == "plan_lapsed"]

    live.set_clock("2027-02-24T04:00:00+00:00")  # and February's
    lapsed = [e for e in live.feed() if e["type"] == "plan_lapsed"]
    assert len(lapsed) == 1
    event = lapsed[0]
    assert (event["report_id"], event["visit_id"], event["external_id"]) == (rep["report_id"], vid, ext)
    assert event["data"]["plan_status"]["state"] == "lapsed" and event["data"]["plan_status"]["missed"] == 2
    assert FACT_KEYS <= set(event["data"])
    assert event["data"]["reasons"] == {"primary": "INCOME_REDUCTION", "others": ["OVER_INDEBTEDNESS"]}
    assert (event["data"]["willingness"], event["data"]["ability"]) == ("cooperative", "able")
    assert event["data"]["segment"] == "willing_able"
    assert event["data"]["assessment"]["capacity"] == "1840.00"
    assert event["data"]["recommendation"] == {"escalate_legal": True, "reasons": ["plan_lapsed"]}

    # Back in dispatch: open, unassigned, gone from the collectors' scope, with the reason.
    visit = live.visit(vid).json()
    assert (visit["status"], visit["investigator_ids"]) == ("open", [])
    assert visit["reopened"]["reason"] == "plan_lapsed"
    assert live.visit(vid, as_user="inv.a1").status_code == 404
    open_ids = [
        v["visit_id"] for v in live.api("sup.a").get("/v1/visits", params={"status": "open"}).json()["items"]
    ]
    assert vid in open_ids
    # Lapsed is final: a later payment and another read write no second event.
    live.api("sup.a").post(
        "/v1/repayments",
        json={
            "records": [
                {"payment_id": "P-2", "external_id": ext, "paid_on": "2027-02-25", "amount": "2200.32"}
            ]
        },
    )
    assert live.visit(vid).json()["plan_status"]["state"] == "lapsed"
    assert len([e for e in live.feed() if e["type"] == "plan_lapsed"]) == 1

    rows = list(
        csv.DictReader(io.StringIO(live.api("sup.a").get("/v1/exports/risk.csv").text.lstrip("\ufeff")))
    )
    row = next(r for r in rows if r["event"] == "plan_lapsed")
    assert (row["segment"], row["escalate_legal"], row["recommendation_reasons"]) == (
        "willing_able",
        "true",
        "plan_lapsed",
    )
    assert (row["plan_state"], row["primary_reason"], row["capacity"]) == (
        "lapsed",
        "INCOME_REDUCTION",
        "1840.00",
    )


def test_recommendation_appears_when_the_second_promise_is_broken(live: Live) -> None:
    vid, ext = live.import_visit()
    assert live.assign(vid, "2026-11-20").status_code == 200
    first = promise_report(vid, "2026-11-20T10:15:00+08:00", "500.00", "2026-11-25")
    live.push("inv.a1", first)
    live.api("sup.a").post(
        "/v1/repayments",
        json={
            "records": [
                {"payment_id": "Q-1", "external_id": ext, "paid_on": "2026-11-26", "amount": "200.00"}
            ]
        },
    )
    assert live.visit(vid).json()["promises"] == [
        {"report_id": first["report_id"], "amount": "500.00", "date": "2026-11-25", "state": "open"}
    ]

    live.set_clock("2026-11-29T04:00:00+00:00")  # 25 November + 3 days of grace have passed
    broken = [e for e in live.feed() if e["type"] == "ptp_broken"]
    assert len(broken) == 1
    assert broken[0]["data"]["promise"] == {
        "report_id": first["report_id"], "amount": "500.00", "date": "2026-11-25", "state": "broken",
    }  # fmt: skip
    assert broken[0]["data"]["recommendation"] == {"escalate_legal": False, "reasons": []}
    assert live.visit(vid).json()["status"] == "open"

    # Dispatched again, a second promise, broken too.
    live.set_clock("2026-12-01T02:00:00+00:00")
    assert live.assign(vid, "2026-12-01").status_code == 200
    second = promise_report(vid, "2026-12-01T10:00:00+08:00", "300.00", "2026-12-05")
    live.push("inv.a1", second)
    live.set_clock("2026-12-09T04:00:00+00:00")
    broken = [e for e in live.feed() if e["type"] == "ptp_broken"]
    assert [e["report_id"] for e in broken] == [first["report_id"], second["report_id"]]
    assert broken[1]["data"]["recommendation"] == {"escalate_legal": True, "reasons": ["broken_ptp_2"]}
    visit = live.visit(vid).json()
    assert [p["state"] for p in visit["promises"]] == ["broken", "broken"]
    assert visit["recommendation"]["reasons"] == ["broken_ptp_2"]


def test_assign_refused_with_r13_when_the_debtor_was_visited_that_day_or_month(live: Live) -> None:
    vid, _ = live.import_visit()
    assert live.assign(vid, "2026-11-20").status_code == 200
    live.push("inv.a1", absent_report(vid, "2026-11-20T10:00:00+08:00"))
    again = live.assign(vid, "2026-11-20", pair=("inv.a2", "inv.a1"))
    assert again.status_code == 409 and again.json()["error"] == "contact_rule"
    assert [(d["rule"], d["code"]) for d in again.json()["details"]] == [("R-13", "visited_that_day")]
    assert "2026-11-20" in again.json()["details"][0]["msg"]

    for day in ("03", "06", "09"):
        assert live.assign(vid, f"2026-11-{day}").status_code == 200
        live.push("inv.a1", absent_report(vid, f"2026-11-{day}T10:00:00+08:00"))
    capped = live.assign(vid, "2026-11-28")
    assert capped.status_code == 409
    assert [(d["rule"], d["code"]) for d in capped.json()["details"]] == [("R-13", "monthly_cap")]
    assert "4" in capped.json()["details"][0]["msg"]
    assert live.assign(vid, "2026-12-01").status_code == 200


def test_third_party_visit_refused_with_r11_until_three_attempts_failed(live: Live) -> None:
    vid, _ = live.import_visit()
    refused = live.assign(vid, "2026-11-20", purpose="third_party")
    assert refused.status_code == 409
    assert [(d["rule"], d["code"]) for d in refused.json()["details"]] == [("R-11", "debtor_reachable")]
    assert "0 so far" in refused.json()["details"][0]["msg"]
    for day in ("02", "05", "08"):
        assert live.assign(vid, f"2026-11-{day}").status_code == 200
        live.push("inv.a1", absent_report(vid, f"2026-11-{day}T10:00:00+08:00"))
    assert live.assign(vid, "2026-11-20", purpose="third_party").status_code == 200

    invalid, _ = live.import_visit(phone_invalid=True)
    assert live.assign(invalid, "2026-11-20", purpose="third_party").status_code == 200


def test_refused_contact_stops_dispatch_with_r14_until_a_supervisor_clears_it(live: Live) -> None:
    vid, _ = live.import_visit()
    assert live.assign(vid, "2026-11-19").status_code == 200
    live.push("inv.a1", absent_report(vid, "2026-11-19T10:00:00+08:00", outcome="REFUSED_CONTACT"))
    refused = live.assign(vid, "2026-11-25")
    assert refused.status_code == 409
    assert [(d["rule"], d["code"]) for d in refused.json()["details"]] == [("R-14", "refused_contact")]
    assert live.visit(vid).json()["contact_stop"]["source"] == "refused_contact"

    stopped, _ = live.import_visit(contact_stopped=True)
    suggestion = (
        live.api("sup.a").post("/v1/dispatch/suggest", json={"date": "2026-11-25", "team": "hz-a"}).json()
    )
    reasons = {u["visit_id"]: u["reason"] for u in suggestion["unassigned"]}
    assert reasons[stopped].startswith("R-14")
    assert stopped not in [a["visit_id"] for a in suggestion["assignments"]]

    c = live.api("sup.a")
    no_comment = c.post(f"/v1/visits/{vid}/clear-contact-stop", json={"comment": " "})
    assert no_comment.status_code == 422 and no_comment.json()["details"][0]["loc"] == ["body", "comment"]
    # A collector of the visit sees it but may not lift the stop.
    assert (
        live.api("inv.a1").post(f"/v1/visits/{vid}/clear-contact-stop", json={"comment": "x"}).status_code
        == 403
    )
    live.set_clock("2026-11-20T05:00:00+00:00")
    cleared = c.post(f"/v1/visits/{vid}/clear-contact-stop", json={"comment": "borrower called back"})
    assert cleared.status_code == 200 and cleared.json()["contact_stop"] is None
    assert live.assign(vid, "2026-11-25").status_code == 200

    disputed, _ = live.import_visit()
    assert live.assign(disputed, "2026-11-19").status_code == 200
    rep = report_on(disputed, "2026-11-19T10:00:00+08:00", plan=None)
    rep["interview"]["results"] = ["DISPUTE"]
    rep["interview"]["dispute"] = {"type": "amount"}
    live.push("inv.a1", rep)
    again = live.assign(disputed, "2026-11-26")
    assert [(d["rule"], d["code"]) for d in again.json()["details"]] == [("R-14", "dispute")]


def test_routes_order_a_pairs_visits_by_distance_when_coordinates_are_fixed(live: Live) -> None:
    coords = {"c": "30.3000", "a": "30.1000", "d": "30.4000", "b": "30.2000"}
    ids = {}
    for key, lat in coords.items():
        ids[key], _ = live.import_visit(lat=lat, lon="120.0000")
        assert live.assign(ids[key], "2026-11-27", pair=("inv.a3", "inv.a4")).status_code == 200
    r = live.api("sup.a").get("/v1/dispatch/routes", params={"date": "2026-11-27"})
    assert r.status_code == 200
    (route,) = [
        x for x in r.json()["routes"] if x["investigator_ids"] == [live.users["inv.a3"], live.users["inv.a4"]]
    ]
    order = [next(k for k, v in ids.items() if v == vid) for vid in route["visit_ids"]]
    assert order in (["a", "b", "c", "d"], ["d", "c", "b", "a"])
    assert route["distance_km"] == str(round(distance_km((30.1, 120.0), (30.4, 120.0)), 1))


def test_openapi_documents_repayments_and_contact_stop_when_read(live: Live) -> None:
    spec = live.api("sup.a").get("/openapi.json").json()
    assert "example" in spec["paths"]["/v1/repayments"]["post"]["requestBody"]["content"]["application/json"]
    assert "/v1/visits/{visit_id}/clear-contact-stop" in spec["paths"]
    assert "/v1/dispatch/routes" in spec["paths"] and "/v1/tracking" in spec["paths"]
