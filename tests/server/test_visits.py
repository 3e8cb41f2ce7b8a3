"""Visits and dispatch: import (JSON, CSV, row errors, team rules), list, assignment (R-2), suggestion, preview."""

from __future__ import annotations

import csv
import io

from models.demo_data import demo_users, generate_import_records, to_csv_rows
from models.entities import Visit

from .conftest import Server


def test_import_creates_then_updates_and_derives_bucket_and_priority(server: Server) -> None:
    recs = generate_import_records(3, seed=11, team="hz-a")
    first = server.import_records(recs)
    assert first["created"] == 3 and first["updated"] == 0 and first["errors"] == []
    again = server.import_records(recs[:1])
    assert again["created"] == 0 and again["updated"] == 1
    assert again["visits"][0]["visit_id"] == first["visits"][0]["visit_id"]
    items = server.client.get("/v1/visits", headers=server.h("sup.a")).json()["items"]
    by_ext = {i["external_id"]: i for i in items}
    dpd = recs[0]["dpd"]
    assert by_ext[recs[0]["external_id"]]["bucket"] == (0 if dpd == 0 else min(7, -(-dpd // 30)))
    assert float(by_ext[recs[0]["external_id"]]["priority"]) > 0


def test_import_reports_row_errors_and_keeps_good_rows(server: Server) -> None:
    recs = generate_import_records(3, seed=12, team="hz-a")
    recs[1]["phone"] = "12345"
    recs[1]["id_number"] = "330106198507120018"
    out = server.import_records([*recs, "not an object"])
    assert out["created"] == 2
    fields = {(e["row"], e["field"]) for e in out["errors"]}
    assert {(2, "phone"), (2, "id_number"), (4, "")} <= fields


def test_import_rejects_rows_of_another_team_for_a_supervisor(server: Server) -> None:
    out = server.import_records(generate_import_records(1, seed=13, team="hz-b"))
    assert out["created"] == 0 and out["errors"][0]["field"] == "team"
    b = server.import_records(generate_import_records(1, seed=14, team="hz-b"), as_user="sup.b")
    ext = generate_import_records(1, seed=14, team="hz-b")[0]
    ext["team"] = "hz-a"
    clash = server.import_records([ext])
    assert b["created"] == 1 and clash["errors"][0]["field"] == "external_id"


def test_import_accepts_csv_with_rows_counted_from_1_after_header(server: Server) -> None:
    recs = generate_import_records(2, seed=15, team="hz-a")
    recs[1]["dpd"] = "many"
    header, rows = to_csv_rows(recs)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    r = server.client.post(
        "/v1/visits/import",
        content=buf.getvalue().encode(),
        headers={**server.h("sup.a"), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200
    assert (
        r.json()["created"] == 1
        and r.json()["errors"][0]["row"] == 2
        and r.json()["errors"][0]["field"] == "dpd"
    )


def test_import_is_403_for_investigators_and_422_for_bad_body(server: Server) -> None:
    assert (
        server.client.post("/v1/visits/import", json={"records": []}, headers=server.h("inv.a1")).status_code
        == 403
    )
    assert (
        server.client.post("/v1/visits/import", json={"rows": []}, headers=server.h("sup.a")).status_code
        == 422
    )


def test_assign_is_422_with_fewer_than_two_distinct_collectors(server: Server) -> None:
    vid = server.new_visit(assign=None)
    a1 = server.users["inv.a1"]
    for ids in ([a1], [a1, a1]):
        r = server.client.post(
            f"/v1/visits/{vid}/assign", headers=server.h("sup.a"), json={"investigator_ids": ids}
        )
        assert r.status_code == 422 and r.json()["details"][0]["loc"] == ["body", "investigator_ids"]


def test_assign_is_422_for_collector_outside_visit_team(server: Server) -> None:
    vid = server.new_visit(assign=None)
    r = server.client.post(
        f"/v1/visits/{vid}/assign",
        headers=server.h("sup.a"),
        json={"investigator_ids": [server.users["inv.a1"], server.users["inv.b1"]]},
    )
    assert r.status_code == 422


def test_assign_scope_is_404_for_other_team_and_403_for_assigned_investigator(server: Server) -> None:
    vid = server.new_visit()
    body = {"investigator_ids": [server.users["inv.a3"], server.users["inv.a4"]]}
    assert (
        server.client.post(f"/v1/visits/{vid}/assign", headers=server.h("sup.b"), json=body).status_code
        == 404
    )
    assert (
        server.client.post(f"/v1/visits/{vid}/assign", headers=server.h("inv.a1"), json=body).status_code
        == 403
    )
    assert (
        server.client.post(f"/v1/visits/{vid}/assign", headers=server.h("inv.a3"), json=body).status_code
        == 404
    )


def test_visits_list_filters_unassigned_and_is_403_for_investigators(server: Server) -> None:
    open_vid = server.new_visit(assign=None)
    server.new_visit()
    body = server.client.get("/v1/visits?unassigned=true", headers=server.h("sup.a")).json()
    assert [i["visit_id"] for i in body["items"]] == [open_vid] and body["total"] == 1
    assert server.client.get("/v1/visits?status=assigned", headers=server.h("sup.a")).json()["total"] == 1
    assert server.client.get("/v1/visits", headers=server.h("inv.a1")).status_code == 403


def test_visit_detail_is_visible_to_both_collectors_only(server: Server) -> None:
    vid = server.new_visit()
    assert server.client.get(f"/v1/visits/{vid}", headers=server.h("inv.a2")).status_code == 200
    assert server.client.get(f"/v1/visits/{vid}", headers=server.h("inv.a3")).status_code == 404
    assert server.client.get(f"/v1/visits/{vid}", headers=server.h("sup.b")).status_code == 404


def test_suggest_gives_two_collectors_of_the_visit_district_with_experienced_lead_for_high_balance(
    server: Server,
) -> None:
    high = server.new_visit(assign=None, district="西湖区", outstanding_principal="45000.00", dpd=20)
    low = server.new_visit(assign=None, district="上城区", outstanding_principal="5000.00", dpd=10)
    nobody = server.new_visit(assign=None, district="滨江区")
    users = {u["id"]: u for u in server.client.get("/v1/users", headers=server.h("sup.a")).json()["items"]}
    r = server.client.post("/v1/dispatch/suggest", headers=server.h("sup.a"), json={"date": "2026-11-21"})
    assert r.status_code == 200
    body = r.json()
    by_visit = {a["visit_id"]: a for a in body["assignments"]}
    for vid, district in ((high, "西湖区"), (low, "上城区")):
        ids = by_visit[vid]["investigator_ids"]
        assert len(set(ids)) == 2 and all(district in users[i]["districts"] for i in ids)
    west = [u for u in users.values() if "西湖区" in u["districts"]]
    assert by_visit[high]["investigator_ids"][0] == max(west, key=lambda u: u["experience_years"])["id"]
    assert [u["visit_id"] for u in body["unassigned"]] == [nobody]
    assert (
        server.client.post(
            "/v1/dispatch/suggest", headers=server.h("inv.a1"), json={"date": "2026-11-21"}
        ).status_code
        == 403
    )


def test_plan_preview_reproduces_e1(server: Server) -> None:
    r = server.client.post(
        "/v1/plans/preview",
        headers=server.h("inv.a1"),
        json={
            "method": "annuity",
            "principal": "12000.00",
            "term_months": 12,
            "monthly_rate": "0.015",
            "first_due_date": "2027-01-15",
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["instalment"] == "1100.16" and body["total_payment"] == "13201.95"
    assert (
        body["total_interest"] == "1201.95"
        and body["apr_simple"] == "0.1800"
        and body["apr_compound"] == "0.1956"
    )
    assert body["schedule"][0]["interest"] == "180.00" and body["schedule"][-1]["balance"] == "0.00"
    bad = server.client.post(
        "/v1/plans/preview",
        headers=server.h("inv.a1"),
        json={"method": "annuity", "principal": "12000.00", "term_months": 0, "monthly_rate": "0.015"},
    )
    assert bad.status_code == 422 and bad.json()["details"]


def test_row_errors_and_dispatch_reasons_follow_accept_language(server: Server) -> None:
    recs = generate_import_records(2, seed=15, team="hz-a")
    recs[1]["phone"] = "12345"
    body = {"records": [*recs, "not an object"]}
    en = server.client.post("/v1/visits/import", json=body, headers=server.h("sup.a")).json()
    zh = server.client.post(
        "/v1/visits/import",
        json=body,
        headers={**server.h("sup.a"), "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"},
    ).json()
    assert [(e["row"], e["field"]) for e in zh["errors"]] == [(e["row"], e["field"]) for e in en["errors"]]
    by_row = {e["row"]: e["msg"] for e in zh["errors"]}
    assert by_row[3] == "每条记录须为 JSON 对象"
    assert {e["row"]: e["msg"] for e in en["errors"]}[3] == "a record must be an object"
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in e["msg"]) for e in zh["errors"])

    server.new_visit(assign=None, district="滨江区")  # nobody covers it
    reasons = server.client.post(
        "/v1/dispatch/suggest",
        headers={**server.h("sup.a"), "Accept-Language": "zh-CN"},
        json={"date": "2026-11-21"},
    ).json()["unassigned"]
    assert reasons and reasons[0]["reason"] == "覆盖滨江区的外访员不足两人"

    bad = server.client.post(
        "/v1/dispatch/suggest", headers={**server.h("sup.a"), "Accept-Language": "zh"}, json={"date": 5}
    )
    assert bad.status_code == 422 and bad.json()["details"][0]["msg"] == "须为文本"


def test_visit_names_its_collectors_when_a_device_pulls_it_or_reads_it(server: Server) -> None:
    vid = server.new_visit()
    names = {u["username"]: u["name"] for u in demo_users()}
    expected = [
        {"id": server.users["inv.a1"], "name": names["inv.a1"]},
        {"id": server.users["inv.a2"], "name": names["inv.a2"]},
    ]
    read = server.client.get(f"/v1/visits/{vid}", headers=server.h("inv.a1"))
    assert read.status_code == 200 and read.json()["collectors"] == expected
    s = server.sessions.get("inv.a1") or server.login("inv.a1")
    page = server.client.post("/v1/sync/pull", headers=server.h("inv.a1"),
                              json={"device_id": s["device_id"], "cursor": None}).json()  # fmt: skip
    pulled = next(c["data"] for c in page["changes"] if c["type"] == "visit" and c["id"] == vid)
    assert pulled["collectors"] == expected
    assert Visit.model_validate(pulled).collectors[1].name == names["inv.a2"]


def test_import_accepts_both_examples_the_openapi_document_shows(server: Server) -> None:
    spec = server.client.get("/openapi.json").json()
    content = spec["paths"]["/v1/visits/import"]["post"]["requestBody"]["content"]
    h = server.h("sup.a")

    as_json = server.client.post("/v1/visits/import", json=content["application/json"]["example"], headers=h)
    as_csv = server.client.post(
        "/v1/visits/import",
        content=content["text/csv"]["example"].encode(),
        headers={**h, "Content-Type": "text/csv"},
    )

    for r in (as_json, as_csv):
        assert r.status_code == 200 and r.json()["errors"] == [] and r.json()["created"] == 1
