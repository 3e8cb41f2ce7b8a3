"""Review: ETag/If-Match preconditions, transitions, comment and route rules, scope, reports list, feed."""

from __future__ import annotations

from typing import Any

from sync.server.schemas import FeedPage

from .conftest import Server, example_report, mutation, push


def submitted(server: Server, **kw: Any) -> str:
    vid = server.new_visit(**kw)
    rep = example_report(vid)
    s = server.sessions.get("inv.a1") or server.login("inv.a1")
    s.setdefault("next", 1)
    r = push(server, "inv.a1", [mutation(s["next"], rep)])
    s["next"] += 1
    assert r.json()["results"][0]["status"] == "applied", r.text
    return str(rep["report_id"])


def review(server: Server, rid: str, if_match: str | None, **body: Any) -> Any:
    headers = server.h(body.pop("as_user", "sup.a"))
    if if_match is not None:
        headers["If-Match"] = if_match
    return server.client.post(f"/v1/reports/{rid}/review", headers=headers, json=body)


def test_report_detail_has_etag_of_server_version(server: Server) -> None:
    rid = submitted(server)
    r = server.client.get(f"/v1/reports/{rid}", headers=server.h("sup.a"))
    assert r.status_code == 200 and r.headers["etag"] == '"v1"'
    assert r.json()["history"][0]["server_version"] == 1 and r.json()["conflicts"] == []


def test_report_read_is_audited_with_ids_only(server: Server) -> None:
    rid = submitted(server)
    server.client.get(f"/v1/reports/{rid}", headers=server.h("sup.a"))
    db = server.client.app.state.ctx.db  # type: ignore[attr-defined]
    rows = db.read_sync(lambda d: list(d.query("SELECT * FROM audit WHERE action = 'read.report'")))
    assert rows and rows[-1]["entity_id"] == rid and rows[-1]["actor_id"] == server.users["sup.a"]


def test_review_is_428_without_if_match_or_with_star(server: Server) -> None:
    rid = submitted(server)
    assert review(server, rid, None, action="approve").status_code == 428
    assert review(server, rid, "*", action="approve").status_code == 428


def test_review_is_412_when_stale_weak_or_list_without_current(server: Server) -> None:
    rid = submitted(server)
    assert review(server, rid, '"v2"', action="approve").status_code == 412
    assert review(server, rid, 'W/"v1"', action="approve").status_code == 412
    assert review(server, rid, '"v0", "v2"', action="approve").status_code == 412
    ok = review(server, rid, '"v0", "v1"', action="approve")
    assert ok.status_code == 200 and ok.headers["etag"] == '"v2"' and ok.json()["status"] == "approved"


def test_review_is_409_invalid_transition_from_returned_to_approved(server: Server) -> None:
    rid = submitted(server)
    assert review(server, rid, '"v1"', action="return", comment="补充").status_code == 200
    r = review(server, rid, '"v2"', action="approve")
    assert r.status_code == 409 and r.json()["error"] == "invalid_transition"


def test_review_is_422_for_return_without_comment_and_escalation_without_route(server: Server) -> None:
    rid = submitted(server)
    assert review(server, rid, '"v1"', action="return", comment="  ").status_code == 422
    assert review(server, rid, '"v1"', action="escalate_legal").status_code == 422
    assert review(server, rid, '"v1"', action="escalate_legal", route="fax").status_code == 422
    assert review(server, rid, '"v1"', action="escalate_legal", route="mediation").status_code == 200


def test_review_scope_is_404_for_other_team_and_403_for_investigator(server: Server) -> None:
    rid = submitted(server)
    assert review(server, rid, '"v1"', action="approve", as_user="sup.b").status_code == 404
    assert review(server, rid, '"v1"', action="approve", as_user="inv.a1").status_code == 403
    assert review(server, rid, '"v1"', action="approve", as_user="inv.a3").status_code == 404
    assert server.client.get(f"/v1/reports/{rid}", headers=server.h("inv.a3")).status_code == 404
    assert server.client.get(f"/v1/reports/{rid}", headers=server.h("inv.a2")).status_code == 200


def test_reports_list_counts_every_state_over_scope_ignoring_status_filter(server: Server) -> None:
    a, b = submitted(server), submitted(server)
    review(server, a, '"v1"', action="approve")
    body = server.client.get("/v1/reports?status=submitted", headers=server.h("sup.a")).json()
    assert [i["report_id"] for i in body["items"]] == [b] and body["total"] == 1
    assert (
        body["counts"]["submitted"] == 1
        and body["counts"]["approved"] == 1
        and body["counts"]["returned"] == 0
    )
    other = server.client.get("/v1/reports", headers=server.h("sup.b")).json()
    assert other["total"] == 0 and sum(other["counts"].values()) == 0


def test_reports_list_filters_by_date_query_and_limit(server: Server) -> None:
    submitted(server)
    submitted(server)
    h = server.h("sup.a")
    assert server.client.get("/v1/reports?from=2026-11-20&to=2026-11-20", headers=h).json()["total"] == 2
    assert server.client.get("/v1/reports?from=2026-11-21", headers=h).json()["total"] == 0
    page = server.client.get("/v1/reports?limit=1&offset=1", headers=h).json()
    assert len(page["items"]) == 1 and page["total"] == 2
    assert server.client.get("/v1/reports?q=hz-a-T", headers=h).json()["total"] == 2
    assert server.client.get("/v1/reports?from=yesterday", headers=h).status_code == 422


def test_feed_emits_one_event_per_final_transition_and_pages_by_cursor(server: Server) -> None:
    a, b = submitted(server), submitted(server)
    review(server, a, '"v1"', action="approve")
    review(server, b, '"v1"', action="escalate_legal", route="lawyer_letter", comment="拒不还款")
    h = server.h("sup.a")
    first = server.client.get("/v1/feed?limit=1", headers=h).json()
    assert first["has_more"] is True and first["events"][0]["type"] == "report_approved"
    assert first["events"][0]["data"]["plan"]["instalment"] == "1100.16"
    rest = server.client.get(f"/v1/feed?since={first['cursor']}", headers=h).json()
    assert [e["type"] for e in rest["events"]] == ["legal_escalated"]
    assert rest["events"][0]["data"]["route"] == "lawyer_letter"
    for page in (first, rest):  # as /openapi.json documents the answer
        FeedPage.model_validate(page)
    assert server.client.get("/v1/feed?since=abc", headers=h).status_code == 422
    assert server.client.get("/v1/feed", headers=server.h("sup.b")).json()["events"] == []
    assert server.client.get("/v1/feed", headers=server.h("inv.a1")).status_code == 403
