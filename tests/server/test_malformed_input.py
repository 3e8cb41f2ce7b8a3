"""Input no handler can use, refused with 422 on either backend instead of failing inside the server: a URL
that spells U+0000 (`%00`) in its path or query string (refused before any handler, as PostgreSQL text
cannot hold the character; the caller still needs a valid token first), and a CSV body the CSV reader
cannot read."""

from __future__ import annotations

import pytest

from .conftest import Server


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/reports", {"outcome": "a\x00b"}),
        ("/v1/reports", {"q": "\x00"}),
        ("/v1/reports", {"team": "hz-a\x00", "investigator_id": "x\x00"}),
        ("/v1/visits", {"district": "西湖区\x00"}),
        ("/v1/visits", {"team": "\x00hz-a"}),
        ("/v1/visits/a%00b", {}),
        ("/v1/reports/a%00b", {}),
    ],
)
def test_url_with_nul_is_422_when_a_supervisor_sends_it(
    server: Server, path: str, params: dict[str, str]
) -> None:
    r = server.client.get(path, params=params, headers=server.h("sup.a"))
    assert r.status_code == 422, r.text
    assert r.json() == {
        "error": "validation",
        "message": "the URL contains the NUL character (U+0000)",
        "details": [],
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
