"""Strict values on the wire (protocol v1.1): malformed numbers are refused field by field, wherever they come."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from models.demo_data import generate_import_records, to_csv_rows

from .conftest import Server, example_report, mutation, push

# (where in a report, the malformed value, the field path the server names)
MALFORMED_IN_REPORT = [
    (("plan", "principal"), "12,000.00", ["report", "plan", "principal"]),
    (("plan", "instalment"), "１１００.１６", ["report", "plan", "instalment"]),
    (("assessment", "incomes", 0, "amount"), " 100.00", ["report", "assessment", "incomes", 0, "amount"]),
    (("assessment", "expenses", 0, "amount"), "1e3", ["report", "assessment", "expenses", 0, "amount"]),
    (("plan", "monthly_rate"), "1.5e-2", ["report", "plan", "monthly_rate"]),
    (("plan", "term_months"), "12", ["report", "plan", "term_months"]),
    (("plan", "term_months"), 12.0, ["report", "plan", "term_months"]),
    (("plan", "term_months"), True, ["report", "plan", "term_months"]),
    (("plan", "principal"), 12000, ["report", "plan", "principal"]),  # a JSON number, not an amount
    # Dates YYYY-MM-DD, timestamps RFC 3339 with an offset, booleans JSON true/false: pydantic's lax mode
    # would read each of these, and the report would carry it to the feed as sent.
    (("plan", "first_due_date"), 0, ["report", "plan", "first_due_date"]),
    (("plan", "first_due_date"), "2026-12-20T00:00:00", ["report", "plan", "first_due_date"]),
    (("checkout", "at"), 1.8e9, ["report", "checkout", "at"]),
    (("checkin", "at"), 1795000000, ["report", "checkin", "at"]),
    (("checkin", "at"), "2026-11-20T10:15+08:00", ["report", "checkin", "at"]),
    (("compliance", "id_shown"), "yes", ["report", "compliance", "id_shown"]),
    (("compliance", "consent_to_enter"), 1, ["report", "compliance", "consent_to_enter"]),
    (("plan", "restructured"), "false", ["report", "plan", "restructured"]),
    (("interview", "hardship"), 0, ["report", "interview", "hardship"]),
    # At the calendar's edge: the check-in's local hour could not be computed.
    (("checkin", "at"), "0001-01-01T00:00:00+14:00", ["report", "checkin", "at"]),
    (("checkin", "at"), "9999-12-31T23:00:00-14:00", ["report", "checkin", "at"]),
]


def _put(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        obj = obj[part]
    obj[path[-1]] = value


def _report(server: Server, visit_id: str) -> dict[str, Any]:
    rep = example_report(visit_id)
    rep["compliance"]["collector_ids"] = [server.users["inv.a1"], server.users["inv.a2"]]
    return rep


@pytest.mark.parametrize(("path", "value", "loc"), MALFORMED_IN_REPORT)
def test_push_rejects_the_mutation_naming_the_field_when_a_report_value_is_malformed(
    server: Server, path: tuple[Any, ...], value: Any, loc: list[Any]
) -> None:
    vid = server.new_visit()
    bad = _report(server, vid)
    _put(bad, path, value)
    r = push(server, "inv.a1", [mutation(1, bad), mutation(2, _report(server, vid))])
    assert r.status_code == 200, r.text
    first, second = r.json()["results"]
    assert first["status"] == "rejected" and first["error"] == "validation"
    assert loc in [d["loc"] for d in first["details"]], first["details"]
    assert second["status"] == "applied"


def test_push_stores_exactly_the_canonical_values_when_the_report_is_well_formed(server: Server) -> None:
    vid = server.new_visit()
    rep = _report(server, vid)
    assert push(server, "inv.a1", [mutation(1, rep)]).json()["results"][0]["status"] == "applied"
    stored = server.client.get(f"/v1/reports/{rep['report_id']}", headers=server.h("sup.a")).json()["report"]
    assert stored["plan"]["principal"] == "12000.00" and stored["plan"]["term_months"] == 12
    assert stored["assessment"]["incomes"][0]["amount"] == "6000.00"


# (field of an import record, the malformed value)
MALFORMED_IN_IMPORT = [
    ("outstanding_principal", "12,000.00"),
    ("overdue_amount", "１１００.１６"),
    ("contractual_instalment", " 100.00"),
    ("outstanding_principal", "1e3"),
    ("monthly_rate", "0,015"),
    ("dpd", "12"),
    ("dpd", 12.0),
    ("broken_ptp_count", True),
    ("overdue_amount", 900),
    ("contact_stopped", "yes"),
    ("legal_hold", 1),
]


@pytest.mark.parametrize(("field", "value"), MALFORMED_IN_IMPORT)
def test_import_reports_a_row_error_naming_the_field_when_a_json_value_is_malformed(
    server: Server, field: str, value: Any
) -> None:
    recs = generate_import_records(3, seed=41, team="hz-a")
    recs[1][field] = value
    out = server.import_records(recs)
    assert out["created"] == 2
    assert [(e["row"], e["field"]) for e in out["errors"]] == [(2, field)]


@pytest.mark.parametrize(
    "entry",
    [
        {"due_date": 0, "amount_due": "100.00"},
        {"due_date": "2026-09-15T00:00:00", "amount_due": "100.00"},
        {"due_date": "2026-09-15", "amount_due": "100.00", "amount_paid": "100.00", "paid_on": 1789000000},
    ],
)
def test_import_reports_a_row_error_naming_the_history_when_its_date_is_not_yyyy_mm_dd(
    server: Server, entry: dict[str, Any]
) -> None:
    recs = generate_import_records(3, seed=46, team="hz-a")
    recs[1]["repayment_history"] = [entry]
    out = server.import_records(recs)
    assert out["created"] == 2
    assert [(e["row"], e["field"].split(".")[0]) for e in out["errors"]] == [(2, "repayment_history")]


def test_import_reads_yes_no_csv_cells_when_the_loan_system_writes_true_or_1(server: Server) -> None:
    recs = generate_import_records(2, seed=47, team="hz-a")
    header, rows = to_csv_rows(recs)
    header.append("contact_stopped")
    rows[0].append("true")
    rows[1].append("0")
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    r = server.client.post(
        "/v1/visits/import",
        content=buf.getvalue().encode(),
        headers={**server.h("sup.a"), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200 and r.json()["created"] == 2 and r.json()["errors"] == [], r.text
    stopped = server.client.get(
        f"/v1/visits/{r.json()['visits'][0]['visit_id']}", headers=server.h("sup.a")
    ).json()
    assert stopped["contact_stop"] is not None, stopped.get("contact_stop")


@pytest.mark.parametrize("wipe", ["yes", 1, "false"])
def test_revoke_is_422_naming_wipe_when_it_is_not_a_json_boolean(server: Server, wipe: Any) -> None:
    inv = server.login("inv.a1")
    r = server.client.post(
        f"/v1/devices/{inv['device_id']}/revoke", json={"wipe": wipe}, headers=server.h("sup.a")
    )
    assert r.status_code == 422, r.text
    assert ["body", "wipe"] in [d["loc"] for d in r.json()["details"]]
    still = server.client.post("/v1/sync/pull", headers=inv["headers"], json={"device_id": inv["device_id"]})
    assert still.status_code == 200


@pytest.mark.parametrize(
    ("field", "cell"),
    [
        ("outstanding_principal", "12,000.00"),
        ("overdue_amount", "１１００.１６"),
        ("overdue_amount", " 100.00"),
        ("outstanding_principal", "1e3"),
        ("outstanding_principal", "8000"),
        ("dpd", "12.0"),
        ("dpd", "１２"),
        ("days_since_last_contact", "1e1"),
    ],
)
def test_import_reports_a_row_error_naming_the_field_when_a_csv_cell_is_malformed(
    server: Server, field: str, cell: str
) -> None:
    recs = generate_import_records(3, seed=42, team="hz-a")
    header, rows = to_csv_rows(recs)
    rows[1][header.index(field)] = cell
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    r = server.client.post(
        "/v1/visits/import",
        content=buf.getvalue().encode(),
        headers={**server.h("sup.a"), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(2, field)]


def test_import_stores_integers_and_canonical_amounts_when_csv_cells_are_well_formed(server: Server) -> None:
    rec = generate_import_records(1, seed=43, team="hz-a")[0]
    header, rows = to_csv_rows([rec])
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    r = server.client.post(
        "/v1/visits/import",
        content=buf.getvalue().encode(),
        headers={**server.h("sup.a"), "Content-Type": "text/csv"},
    )
    assert r.json()["created"] == 1, r.text
    visit = server.client.get(
        f"/v1/visits/{r.json()['visits'][0]['visit_id']}", headers=server.h("sup.a")
    ).json()
    assert visit["loan"]["dpd"] == rec["dpd"]
    assert visit["loan"]["outstanding_principal"] == rec["outstanding_principal"]


PREVIEW = {"method": "annuity", "principal": "12000.00", "term_months": 12, "monthly_rate": "0.015"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("principal", "12,000.00"),
        ("principal", "１２０００.００"),
        ("principal", " 12000.00"),
        ("principal", "1.2e4"),
        ("monthly_rate", "1.5e-2"),
        ("term_months", "12"),
        ("term_months", 12.0),
        ("term_months", True),
        ("first_due_date", 0),
        ("first_due_date", "2027-01-15T00:00:00"),
    ],
)
def test_plan_preview_is_422_naming_the_field_when_a_value_is_malformed(
    server: Server, field: str, value: Any
) -> None:
    r = server.client.post("/v1/plans/preview", json={**PREVIEW, field: value}, headers=server.h("inv.a1"))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation"
    assert ["body", field] in [d["loc"] for d in r.json()["details"]]


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"principal": "999999999999.99", "monthly_rate": "0.049", "term_months": 60}, "principal"),
        ({"first_due_date": "9999-12-01"}, "first_due_date"),
    ],
)
def test_plan_preview_is_422_not_500_when_the_schedule_leaves_the_range_of_amounts_or_dates(
    server: Server, terms: dict[str, Any], field: str
) -> None:
    r = server.client.post("/v1/plans/preview", json={**PREVIEW, **terms}, headers=server.h("inv.a1"))
    assert r.status_code == 422, r.text
    assert ["body", field] in [d["loc"] for d in r.json()["details"]]


def test_plan_preview_answers_when_values_are_canonical(server: Server) -> None:
    r = server.client.post("/v1/plans/preview", json=PREVIEW, headers=server.h("inv.a1"))
    assert r.status_code == 200 and r.json()["instalment"] == "1100.16"


def _nested(depth: int, kind: str = "list") -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [33, 10_000])
@pytest.mark.parametrize("kind", ["list", "object"])
@pytest.mark.parametrize(
    ("path", "user", "template"),
    [
        ("/v1/visits/import", "sup.a", '{"records": [DEEP]}'),
        ("/v1/visits/import", "sup.a", "DEEP"),
        ("/v1/sync/push", "inv.a1", '{"mutations": [{"mutation_id": 1, "kind": "submit_report", '
         '"report": {"notes": DEEP}}]}'),
        ("/v1/plans/preview", "inv.a1", '{"principal": DEEP}'),
        ("/v1/dispatch/suggest", "sup.a", "DEEP"),
        ("/v1/users", "admin", '{"districts": DEEP}'),
    ],
)  # fmt: skip
def test_json_body_is_422_not_500_when_nested_deeper_than_any_schema(
    server: Server, path: str, user: str, template: str, kind: str, depth: int
) -> None:
    body = template.replace("DEEP", _nested(depth, kind))  # well-formed JSON: only its depth is wrong
    r = server.client.post(
        path, content=body.encode(), headers={**server.h(user), "content-type": "application/json"}
    )
    assert r.status_code in (400, 422), r.text
    assert r.json()["error"] in ("bad_request", "validation")


def test_import_reports_a_row_error_when_a_csv_history_cell_is_nested_without_end(server: Server) -> None:
    recs = generate_import_records(2, seed=44, team="hz-a")
    header, rows = to_csv_rows(recs)
    rows[1][header.index("repayment_history")] = _nested(10_000)
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    r = server.client.post(
        "/v1/visits/import",
        content=buf.getvalue().encode(),
        headers={**server.h("sup.a"), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(2, "repayment_history")]


def test_import_reports_a_row_error_when_a_json_history_string_is_nested_without_end(server: Server) -> None:
    recs = generate_import_records(2, seed=45, team="hz-a")
    recs[1]["repayment_history"] = _nested(10_000)  # a string holding JSON, as a CSV cell would
    out = server.import_records(recs)
    assert out["created"] == 1
    assert [(e["row"], e["field"]) for e in out["errors"]] == [(2, "repayment_history")]


def test_push_applies_the_report_when_the_body_is_as_deep_as_the_protocol(server: Server) -> None:
    vid = server.new_visit()
    rep = _report(server, vid)
    rep["plan"]["waiver"] = {"penalty": "10.00"}  # among the deepest parts of a report
    body = json.dumps({"mutations": [mutation(1, rep)]})
    r = server.client.post(
        "/v1/sync/push",
        content=body.encode(),
        headers={**server.h("inv.a1"), "content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["status"] == "applied"


def test_cli_import_reports_the_row_error_and_refuses_a_file_nested_without_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    db = str(tmp_path / "cli.db")
    recs = generate_import_records(2, seed=46, team="hz-a")
    recs[1]["dpd"] = "12"  # a string where the protocol wants a JSON integer
    good = tmp_path / "cases.json"
    good.write_text(json.dumps({"records": recs}, ensure_ascii=False), encoding="utf-8")
    assert main(["import", str(good), "--db", db]) == 0
    out = capsys.readouterr().out
    assert "created 1, updated 0, errors 1" in out and "row 2 dpd" in out
    deep = tmp_path / "deep.json"
    deep.write_text('{"records": [' + _nested(10_000) + "]}", encoding="utf-8")
    assert main(["import", str(deep), "--db", db]) == 2
    assert "not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize("day", ["20261210", "2026-W50-4", "2026-344", "2026-12-1", "２０２６-12-10"])
def test_dates_in_dispatch_bodies_and_queries_are_422_unless_yyyy_mm_dd(server: Server, day: str) -> None:
    vid = server.new_visit()
    ids = [server.users["inv.a1"], server.users["inv.a2"]]
    sup = server.h("sup.a")
    assign = server.client.post(
        f"/v1/visits/{vid}/assign", json={"investigator_ids": ids, "planned_date": day}, headers=sup
    )
    suggest = server.client.post("/v1/dispatch/suggest", json={"date": day, "team": "hz-a"}, headers=sup)
    routes = server.client.get("/v1/dispatch/routes", params={"date": day}, headers=sup)
    for r, loc in (
        (assign, ["body", "planned_date"]),
        (suggest, ["body", "date"]),
        (routes, ["query", "date"]),
    ):
        assert r.status_code == 422, r.text
        assert r.json()["details"][0]["loc"] == loc
    ok = server.client.post(
        f"/v1/visits/{vid}/assign", json={"investigator_ids": ids, "planned_date": "2026-12-10"}, headers=sup
    )
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("path", ["/v1/reports", "/v1/visits", "/v1/feed"])
def test_a_limit_of_any_size_is_capped_not_refused(server: Server, path: str) -> None:
    for limit in ("1001", "1000000001", str(10**30)):
        r = server.client.get(path, params={"limit": limit}, headers=server.h("sup.a"))
        assert r.status_code == 200, (limit, r.text)
