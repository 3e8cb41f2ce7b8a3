"""Input no handler can use, refused with 422 on either backend instead of failing inside the server: a URL
that spells U+0000 (`%00`) in its path or query string (refused before any handler, as PostgreSQL text
cannot hold the character; the caller still needs a valid token first), a CSV body the CSV reader
cannot read, and text holding U+0000 in a body (a pushed report's mutation is rejected, an import or
repayment record is a row error, any other body is 422 naming the field)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from models.demo_data import generate_import_records

from .conftest import Server, example_report, mutation, push


@pytest.mark.parametrize(
    ("path", "params", "locs"),
    [
        ("/v1/reports", {"outcome": "a\x00b"}, [["query", "outcome"]]),
        ("/v1/reports", {"q": "\x00"}, [["query", "q"]]),
        (
            "/v1/reports",
            {"team": "hz-a\x00", "investigator_id": "x\x00"},
            [["query", "team"], ["query", "investigator_id"]],
        ),
        ("/v1/visits", {"district": "西湖区\x00"}, [["query", "district"]]),
        ("/v1/visits", {"team": "\x00hz-a"}, [["query", "team"]]),
        ("/v1/visits/a%00b", {}, [["path"]]),
        ("/v1/reports/a%00b", {}, [["path"]]),
    ],
)
def test_url_with_nul_is_422_naming_where_when_a_supervisor_sends_it(
    server: Server, path: str, params: dict[str, str], locs: list[list[str]]
) -> None:
    r = server.client.get(path, params=params, headers=server.h("sup.a"))
    assert r.status_code == 422, r.text
    assert r.json() == {
        "error": "validation",
        "message": "the URL contains the NUL character (U+0000)",
        "details": [{"loc": loc, "msg": "contains the NUL character (U+0000)"} for loc in locs],
    }


def test_url_with_nul_is_401_when_the_caller_has_no_token(server: Server) -> None:
    r = server.client.get("/v1/reports", params={"q": "\x00"})
    assert r.status_code == 401, r.text


def test_filters_answer_as_before_when_the_url_has_no_nul(server: Server) -> None:
    server.new_visit()
    # "%2500" is the text "%00", not the character.
    r = server.client.get(
        "/v1/reports", params={"q": "%00", "outcome": "MET_BORROWER"}, headers=server.h("sup.a")
    )
    visits = server.client.get("/v1/visits", params={"team": "hz-a"}, headers=server.h("sup.a"))
    assert r.status_code == 200 and r.json()["items"] == []
    assert visits.status_code == 200 and visits.json()["total"] == 1


@pytest.mark.parametrize("path", ["/v1/visits/import", "/v1/repayments"])
def test_csv_body_is_422_when_a_bare_carriage_return_splits_an_unquoted_field(
    server: Server, path: str
) -> None:
    r = server.client.post(
        path,
        content="a\nb\rc\u0085d\x0be\x0cf\u2028g\u2029h\r\ni".encode(),
        headers={**server.h("sup.a"), "content-type": "text/csv"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation" and r.json()["message"] == "the body is not valid CSV"
    assert [d["loc"] for d in r.json()["details"]] == [["body"]]


# Text holding U+0000 (NUL): PostgreSQL text and jsonb cannot hold the character and no field legitimately
# does, so it is refused wherever the server receives text, on both backends alike.

NUL_MESSAGE = "the request contains the NUL character (U+0000)"


def _assert_nul_422(r: Any, loc: list[Any]) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "validation" and body["message"] == NUL_MESSAGE
    assert [d["loc"] for d in body["details"]] == [loc]
    assert body["details"][0]["type"] == "fv.text_nul"


def _desk_reads_answer(server: Server, vid: str) -> None:
    sup = server.h("sup.a")
    for path in ("/v1/visits", f"/v1/visits/{vid}", "/v1/stats", "/v1/exports/risk.csv", "/v1/feed"):
        r = server.client.get(path, headers=sup)
        assert r.status_code == 200, (path, r.text)


def test_push_rejects_only_the_mutation_whose_notes_hold_nul(server: Server) -> None:
    vid = server.new_visit()
    reports = [example_report(vid), example_report(vid, notes="a\u0000b"), example_report(vid)]
    r = push(server, "inv.a1", [mutation(i, rep) for i, rep in enumerate(reports, start=1)])
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["last_mutation_id"] == 3
    assert [x["status"] for x in out["results"]] == ["applied", "rejected", "applied"]
    bad = out["results"][1]
    assert bad["error"] == "validation"
    assert [d["loc"] for d in bad["details"]] == [["report", "notes"]]
    assert bad["details"][0]["type"] == "fv.text_nul"
    _desk_reads_answer(server, vid)
    # The counter moved past the rejected mutation: the next one applies.
    again = push(server, "inv.a1", [mutation(4, example_report(vid))])
    assert again.json()["results"][0]["status"] == "applied", again.text


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (
            lambda rep: rep["checkin"]["position"].update({"no\u0000te": "x"}),
            ["checkin", "position", "no\x00te"],
        ),
        (lambda rep: rep.update({"\u0000": 1}), ["\x00"]),
        (lambda rep: rep["interview"].update(notes="借款人\u0000配合"), ["interview", "notes"]),
        (lambda rep: rep["collector_ids"].append("u-\u0000"), ["collector_ids", 0]),
    ],
    ids=["nested key", "top-level key", "nested string", "string in a list"],
)
def test_push_rejects_a_report_with_nul_in_a_nested_key_or_string(
    server: Server, change: Callable[[dict[str, Any]], None], loc: list[Any]
) -> None:
    vid = server.new_visit()
    rep = example_report(vid)
    change(rep)
    r = push(server, "inv.a1", [mutation(1, rep), mutation(2, example_report(vid))])
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["rejected", "applied"], r.text
    assert results[0]["error"] == "validation"
    assert [d["loc"] for d in results[0]["details"]] == [["report", *loc]]
    assert results[0]["details"][0]["type"] == "fv.text_nul"
    _desk_reads_answer(server, vid)


def test_push_rejects_a_version_id_with_nul(server: Server) -> None:
    vid = server.new_visit()
    r = push(server, "inv.a1", [mutation(1, example_report(vid), version_id="v\u0000")])
    result = r.json()["results"][0]
    assert result["status"] == "rejected" and result["error"] == "validation", r.text
    assert [d["loc"] for d in result["details"]] == [["version_id"]]


def test_push_stores_an_escaped_backslash_before_u0000_verbatim(server: Server) -> None:
    vid = server.new_visit()
    notes = "path C:\\u0000 and \\\\u0000"  # backslashes followed by the text u0000, no NUL
    rep = example_report(vid, notes=notes)
    r = push(server, "inv.a1", [mutation(1, rep)])
    assert r.json()["results"][0]["status"] == "applied", r.text
    got = server.client.get(f"/v1/reports/{rep['report_id']}", headers=server.h("sup.a"))
    assert got.status_code == 200 and got.json()["report"]["notes"] == notes
    _desk_reads_answer(server, vid)


@pytest.mark.parametrize("field", ["username", "device_name"])
def test_login_with_nul_is_422_naming_the_field(server: Server, field: str) -> None:
    body = {"username": "inv.a1", "password": "demo1234", "device_name": "phone"}
    body[field] += "\u0000"
    _assert_nul_422(server.client.post("/v1/auth/login", json=body), ["body", field])


def test_review_comment_with_nul_is_422(server: Server) -> None:
    vid = server.new_visit()
    rep = example_report(vid)
    assert push(server, "inv.a1", [mutation(1, rep)]).json()["results"][0]["status"] == "applied"
    r = server.client.post(
        f"/v1/reports/{rep['report_id']}/review",
        headers={**server.h("sup.a"), "If-Match": '"v1"'},
        json={"action": "return", "comment": "补充\u0000"},
    )
    _assert_nul_422(r, ["body", "comment"])


def test_clear_contact_stop_comment_with_nul_is_422(server: Server) -> None:
    vid = server.new_visit()
    r = server.client.post(
        f"/v1/visits/{vid}/clear-contact-stop", headers=server.h("sup.a"), json={"comment": "ok\u0000"}
    )
    _assert_nul_422(r, ["body", "comment"])


def _import_record(n: int, **changes: Any) -> dict[str, Any]:
    rec = generate_import_records(1, seed=11, team="hz-a", start=n)[0]
    rec["external_id"] = f"hz-a-NUL-{uuid.uuid4().hex[:10]}"
    rec.update(changes)
    return rec


def test_json_import_makes_a_nul_record_a_row_error_and_imports_the_others(server: Server) -> None:
    records = [
        _import_record(1),
        _import_record(2, address="杭州市\u0000西湖区"),
        _import_record(3, extra={"k\u0000": "v"}),
        _import_record(4),
    ]
    r = server.client.post("/v1/visits/import", json={"records": records}, headers=server.h("sup.a"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["created"] == 2
    assert [v["external_id"] for v in out["visits"]] == [records[0]["external_id"], records[3]["external_id"]]
    assert [(e["row"], e["field"]) for e in out["errors"]] == [(2, "address"), (3, "extra.k\x00")]
    assert "U+0000" in out["errors"][0]["msg"]
    _desk_reads_answer(server, out["visits"][0]["visit_id"])


_CSV_HEADER = (
    "external_id,team,borrower_name,phone,id_number,address,district,product_type,outstanding_principal,"
    "overdue_amount,dpd,repayment_history\n"
)


def _csv_row(external_id: str, address: str = "杭州市西湖区文三路 1 号", history: str = "") -> str:
    return (
        f"{external_id},hz-a,李梅,17693959163,330110199701199653,{address},西湖区,cash_loan,8000.00,900.00,40,"
        f"{history}\n"
    )


_HISTORY_CELL = (
    '"[{""due_date"": ""2026-10-15"", ""amount_due"": ""100.00"", ""amount_paid"": ""100.00"", '
    '""paid_on"": ""2026-10-15"", ""note\\u0000"": 1}]"'
)


def test_csv_import_makes_a_nul_row_a_row_error_and_imports_the_others(server: Server) -> None:
    ids = [f"hz-a-CSV-{uuid.uuid4().hex[:10]}" for _ in range(4)]
    text = (
        _CSV_HEADER
        + _csv_row(ids[0])
        + _csv_row(ids[1], address="杭州\x00市")
        # A JSON cell may spell the character too.
        + _csv_row(ids[2], history=_HISTORY_CELL)
        + _csv_row(ids[3])
    )
    r = server.client.post(
        "/v1/visits/import",
        content=text.encode(),
        headers={**server.h("sup.a"), "content-type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert [v["external_id"] for v in out["visits"]] == [ids[0], ids[3]], out
    assert [(e["row"], e["field"]) for e in out["errors"]] == [
        (2, "address"),
        (3, "repayment_history.0.note\x00"),
    ]
    _desk_reads_answer(server, out["visits"][0]["visit_id"])


@pytest.mark.parametrize("as_csv", [False, True], ids=["json", "csv"])
def test_repayments_make_a_nul_record_a_row_error(server: Server, as_csv: bool) -> None:
    server.new_visit(external_id="hz-a-PAY-1")
    good = {"payment_id": "PAY-1", "external_id": "hz-a-PAY-1", "paid_on": "2026-11-19", "amount": "100.00"}
    bad = {**good, "payment_id": "PAY-\u00002"}
    headers = server.h("sup.a")
    if as_csv:
        text = "payment_id,external_id,paid_on,amount\n" + "".join(
            f"{x['payment_id']},{x['external_id']},{x['paid_on']},{x['amount']}\n" for x in (bad, good)
        )
        r = server.client.post(
            "/v1/repayments", content=text.encode(), headers={**headers, "content-type": "text/csv"}
        )
    else:
        r = server.client.post("/v1/repayments", json={"records": [bad, good]}, headers=headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["created"] == 1
    assert [(e["row"], e["field"], e["code"]) for e in out["errors"]] == [(1, "payment_id", "validation")]


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/v1/auth/refresh", {"refresh_token": "x\u0000"}, ["body", "refresh_token"]),
        ("/v1/dispatch/suggest", {"date": "2026-11-21", "team": "hz-a\u0000"}, ["body", "team"]),
        (
            "/v1/sync/pull",
            {"cursor": None, "limit": 10, "nested": {"\u0000": []}},
            ["body", "nested", "\x00"],
        ),
    ],
)
def test_other_json_bodies_with_nul_are_422(server: Server, path: str, body: Any, loc: list[Any]) -> None:
    _assert_nul_422(server.client.post(path, json=body, headers=server.h("sup.a")), loc)


@pytest.mark.parametrize("since", ["²", "1²", "①", "１", "٣"])
def test_feed_cursor_of_other_digits_is_422_when_not_ascii(server: Server, since: str) -> None:
    # str.isdigit() takes each of these; int() refuses some and reads others as a cursor never issued.
    r = server.client.get("/v1/feed", params={"since": since}, headers=server.h("sup.a"))
    assert r.status_code == 422, r.text
    assert r.json()["details"][0]["loc"] == ["query", "since"]


@pytest.mark.parametrize("seq", ["²", "٣", "１", "0²"])
def test_pull_cursor_of_other_digits_is_410_reset_required(server: Server, seq: str) -> None:
    s = server.sessions.get("inv.a1") or server.login("inv.a1")
    first = server.client.post(
        "/v1/sync/pull", headers=server.h("inv.a1"), json={"device_id": s["device_id"], "cursor": None}
    ).json()
    epoch = first["cursor"].split(".")[0]
    r = server.client.post(
        "/v1/sync/pull",
        headers=server.h("inv.a1"),
        json={"device_id": s["device_id"], "cursor": f"{epoch}.{seq}"},
    )
    assert r.status_code == 410, r.text
    assert r.json()["error"] == "reset_required"


def test_body_with_text_that_is_not_unicode_is_422_naming_the_field(server: Server) -> None:
    raw = '{"username": "\\ud800", "password": "x", "device_name": "phone"}'
    r = server.client.post("/v1/auth/login", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert [d["loc"] for d in r.json()["details"]] == [["body", "username"]]
