"""Sign-off on approval (protocol.md v1.1, P-3/P-6): the reason is stored with the transition and audited."""

from __future__ import annotations

import json
from typing import Any

from .conftest import Server, example_report, mutation, push

REASON = "配偶下月复工，收入恢复后月供可负担"


def pushed_report(server: Server, change: Any = None) -> str:
    rep = example_report(server.new_visit())
    rep["compliance"]["collector_ids"] = [server.users["inv.a1"], server.users["inv.a2"]]
    if change is not None:
        change(rep)
    s = server.sessions.get("inv.a1") or server.login("inv.a1")
    s["next"] = s.get("next", 0) + 1
    r = push(server, "inv.a1", [mutation(s["next"], rep)])
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "applied", r.text
    return str(rep["report_id"])


def over_capacity(rep: dict[str, Any]) -> None:
    # The spouse earns 1,000: the server's capacity is 240.00 against an instalment of 1,100.16.
    rep["assessment"]["incomes"][1]["amount"] = "1000.00"


def review(server: Server, rid: str, **body: Any) -> Any:
    etag = server.client.get(f"/v1/reports/{rid}", headers=server.h("sup.a")).headers["etag"]
    return server.client.post(
        f"/v1/reports/{rid}/review", headers={**server.h("sup.a"), "If-Match": etag}, json=body
    )


def audit_rows(server: Server, rid: str) -> list[dict[str, Any]]:
    db = server.client.app.state.ctx.db  # type: ignore[attr-defined]
    return db.read_sync(  # type: ignore[no-any-return]
        lambda d: list(
            d.query("SELECT * FROM audit WHERE entity_id = ? AND action LIKE 'report.%' ORDER BY id", [rid])
        )
    )


def test_approve_audits_sign_off_reason_when_report_is_over_capacity(server: Server) -> None:
    rid = pushed_report(server, over_capacity)
    r = review(server, rid, action="approve", comment="同意", sign_off_reason=f"  {REASON} ")
    assert r.status_code == 200, r.text
    rows = [row for row in audit_rows(server, rid) if row["action"] == "report.approve"]
    assert len(rows) == 1 and rows[0]["actor_id"] == server.users["sup.a"]
    detail = json.loads(rows[0]["detail"])
    assert detail["sign_off_reason"] == REASON
    assert (detail["from"], detail["to"], detail["server_version"]) == ("submitted", "approved", 2)


def test_refused_approval_leaves_no_audit_row_when_sign_off_reason_is_blank(server: Server) -> None:
    rid = pushed_report(server, over_capacity)
    r = review(server, rid, action="approve", comment="同意", sign_off_reason="   ")
    assert r.status_code == 409 and r.json()["error"] == "sign_off_required", r.text
    assert r.json()["details"] == ["over_capacity"]
    assert [row["action"] for row in audit_rows(server, rid)] == ["report.submit"]
    detail = server.client.get(f"/v1/reports/{rid}", headers=server.h("sup.a")).json()
    assert detail["status"] == "submitted" and detail["comments"] == []


def test_approve_audits_no_sign_off_reason_when_clean_report_needs_none(server: Server) -> None:
    rid = pushed_report(server)
    r = review(server, rid, action="approve", comment="同意")
    assert r.status_code == 200, r.text
    rows = [row for row in audit_rows(server, rid) if row["action"] == "report.approve"]
    assert len(rows) == 1 and "sign_off_reason" not in json.loads(rows[0]["detail"])


def test_return_keeps_no_sign_off_reason_when_one_is_sent(server: Server) -> None:
    # A reason answers for an approval only; a return is not signed off.
    rid = pushed_report(server, over_capacity)
    r = review(server, rid, action="return", comment="请核实配偶收入", sign_off_reason=REASON)
    assert r.status_code == 200, r.text
    rows = [row for row in audit_rows(server, rid) if row["action"] == "report.return"]
    assert len(rows) == 1 and "sign_off_reason" not in json.loads(rows[0]["detail"])
    comments = server.client.get(f"/v1/reports/{rid}", headers=server.h("sup.a")).json()["comments"]
    assert [(c["action"], c["sign_off_reason"]) for c in comments] == [("return", None)]
