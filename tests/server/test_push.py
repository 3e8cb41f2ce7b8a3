"""Push: ordering, duplicates, gaps, idempotent replay, hash and version rules, conflicts, flags, blobs."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from typing import Any

from models.canonical import content_sha256

from .conftest import Server, example_report, mutation, push


def clean_report(server: Server, visit_id: str, **changes: Any) -> dict[str, Any]:
    rep = example_report(visit_id, **changes)
    rep["compliance"]["collector_ids"] = [server.users["inv.a1"], server.users["inv.a2"]]
    return rep


def result(r: Any, i: int = 0) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()["results"][i]
    return out


def test_push_applies_new_report_at_version_1_without_flags_when_all_agrees(server: Server) -> None:
    vid = server.new_visit()
    res = result(push(server, "inv.a1", [mutation(1, clean_report(server, vid))]))
    assert res["status"] == "applied" and res["server_version"] == 1 and res["flags"] == []


def test_push_answers_duplicate_with_original_when_mutation_id_is_not_new(server: Server) -> None:
    vid = server.new_visit()
    m = mutation(1, clean_report(server, vid))
    push(server, "inv.a1", [m])
    r = push(server, "inv.a1", [m])
    res = result(r)
    assert res["status"] == "duplicate"
    assert res["original"] == {"status": "applied", "server_version": 1, "error": None}
    assert r.json()["last_mutation_id"] == 1


def test_push_is_409_mutation_gap_and_keeps_what_came_before_when_ids_skip(server: Server) -> None:
    vid = server.new_visit()
    r = push(
        server, "inv.a1", [mutation(1, clean_report(server, vid)), mutation(3, clean_report(server, vid))]
    )
    assert r.status_code == 409
    assert r.json()["error"] == "mutation_gap" and r.json()["expected"] == 2
    again = push(server, "inv.a1", [mutation(2, clean_report(server, vid))])
    assert result(again)["status"] == "applied" and again.json()["last_mutation_id"] == 2


def test_push_replay_of_known_version_gives_same_result_when_hash_matches(server: Server) -> None:
    vid = server.new_visit()
    rep = clean_report(server, vid)
    vid_ = str(uuid.uuid4())
    first = result(push(server, "inv.a1", [mutation(1, rep, version_id=vid_)]))
    replay = result(push(server, "inv.a1", [mutation(2, rep, version_id=vid_)]))
    assert replay["status"] == "applied" and replay["server_version"] == first["server_version"] == 1


def test_push_rejects_version_id_reused_and_keeps_content_when_hash_differs(server: Server) -> None:
    vid = server.new_visit()
    rep = clean_report(server, vid)
    v = str(uuid.uuid4())
    push(server, "inv.a1", [mutation(1, rep, version_id=v)])
    changed = dict(rep, notes="changed")
    res = result(push(server, "inv.a1", [mutation(2, changed, version_id=v)]))
    assert res["status"] == "rejected" and res["error"] == "version_id_reused"
    detail = server.client.get(f"/v1/reports/{rep['report_id']}", headers=server.h("sup.a")).json()
    assert detail["report"]["notes"] == rep["notes"]


def test_push_rejects_hash_mismatch_when_hash_is_not_of_the_report(server: Server) -> None:
    vid = server.new_visit()
    m = mutation(1, clean_report(server, vid))
    m["content_sha256"] = hashlib.sha256(b"other").hexdigest()
    res = result(push(server, "inv.a1", [m]))
    assert res["status"] == "rejected" and res["error"] == "hash_mismatch"


def test_push_hash_is_over_report_as_received_not_model_defaults(server: Server) -> None:
    vid = server.new_visit()
    rep = clean_report(server, vid)
    del rep["schema_version"]  # a default the model would fill in
    m = mutation(1, rep)
    assert m["content_sha256"] == content_sha256(rep)
    assert result(push(server, "inv.a1", [m]))["status"] == "applied"


def test_push_keeps_conflict_sibling_when_base_version_is_stale(server: Server) -> None:
    vid = server.new_visit()
    rep = clean_report(server, vid)
    push(server, "inv.a1", [mutation(1, rep)])
    push(server, "inv.a1", [mutation(2, dict(rep, notes="amended"), base_version=1)])  # server_version 2
    stale = dict(rep, notes="partner edit")
    sibling = str(uuid.uuid4())
    res = result(push(server, "inv.a2", [mutation(1, stale, base_version=1, version_id=sibling)]))
    assert res["status"] == "conflict" and res["server_version"] == 2
    assert res["server_copy"]["server_version"] == 2 and res["server_copy"]["report"]["notes"] == "amended"
    detail = server.client.get(f"/v1/reports/{rep['report_id']}", headers=server.h("sup.a")).json()
    assert [c["version_id"] for c in detail["conflicts"]] == [sibling]
    assert detail["server_version"] == 2 and len(detail["history"]) == 2


def test_push_amendment_bumps_version_and_keeps_submitted(server: Server) -> None:
    vid = server.new_visit()
    rep = clean_report(server, vid)
    push(server, "inv.a1", [mutation(1, rep)])
    res = result(push(server, "inv.a1", [mutation(2, dict(rep, notes="more"), base_version=1)]))
    assert res["status"] == "applied" and res["server_version"] == 2
    detail = server.client.get(f"/v1/reports/{rep['report_id']}", headers=server.h("sup.a")).json()
    assert detail["status"] == "submitted"


def test_push_new_version_of_returned_report_is_resubmission(server: Server) -> None:
    vid = server.new_visit()
    rep = clean_report(server, vid)
    push(server, "inv.a1", [mutation(1, rep)])
    rv = server.client.post(
        f"/v1/reports/{rep['report_id']}/review",
        headers={**server.h("sup.a"), "If-Match": '"v1"'},
        json={"action": "return", "comment": "补充收入证明"},
    )
    assert rv.status_code == 200 and rv.json()["server_version"] == 2
    # The partner resubmits (both collectors of a visit may).
    res = result(
        push(
            server,
            "inv.a2",
            [mutation(1, dict(rep, notes="附收入证明"), base_version=2, kind="resubmit_report")],
        )
    )
    assert res["status"] == "applied" and res["server_version"] == 3
    detail = server.client.get(f"/v1/reports/{rep['report_id']}", headers=server.h("sup.a")).json()
    assert detail["status"] == "resubmitted"


def test_push_to_final_report_is_conflict_with_report_final_flag(server: Server) -> None:
    vid = server.new_visit()
    rep = clean_report(server, vid)
    push(server, "inv.a1", [mutation(1, rep)])
    server.client.post(
        f"/v1/reports/{rep['report_id']}/review",
        headers={**server.h("sup.a"), "If-Match": '"v1"'},
        json={"action": "approve"},
    )
    res = result(push(server, "inv.a1", [mutation(2, dict(rep, notes="late"), base_version=2)]))
    assert res["status"] == "conflict" and "report_final" in res["flags"]


def test_push_rejects_not_found_when_visit_was_never_assigned_to_caller(server: Server) -> None:
    vid = server.new_visit(assign=("inv.a3", "inv.a4"))
    res = result(push(server, "inv.a1", [mutation(1, clean_report(server, vid))]))
    assert res["status"] == "rejected" and res["error"] == "not_found"
    unknown = result(push(server, "inv.a1", [mutation(2, clean_report(server, str(uuid.uuid4())))]))
    assert unknown["error"] == "not_found"


def test_push_rejects_malformed_report_with_field_details_and_still_advances(server: Server) -> None:
    vid = server.new_visit()
    bad = clean_report(server, vid)
    bad["checkin"]["position"]["lat"] = 30.27  # a JSON float: refused
    r = push(server, "inv.a1", [mutation(1, bad), mutation(2, clean_report(server, vid))])
    first, second = r.json()["results"]
    assert first["status"] == "rejected" and first["error"] == "validation"
    assert any(d["loc"][:2] == ["report", "checkin"] for d in first["details"])
    assert second["status"] == "applied" and r.json()["last_mutation_id"] == 2


def test_push_rejects_a_report_with_a_lone_surrogate_and_still_applies_the_next(server: Server) -> None:
    vid = server.new_visit()
    s = server.login("inv.a1")
    good = mutation(2, clean_report(server, vid))
    bad = {**good, "mutation_id": 1, "content_sha256": None}  # no UTF-8 text holds it: no hash either
    bad["report"] = {**good["report"], "report_id": str(uuid.uuid4()), "notes": "x\ud800y"}
    bad["report_id"] = bad["report"]["report_id"]
    body = json.dumps(  # ensure_ascii spells the lone surrogate as the escape \ud800
        {"device_id": s["device_id"], "server_epoch": s["server_epoch"], "mutations": [bad, good]}
    )
    r = server.client.post(
        "/v1/sync/push",
        headers={**server.h("inv.a1"), "content-type": "application/json"},
        content=body.encode(),
    )
    first, second = r.json()["results"]
    assert first["status"] == "rejected" and first["error"] == "validation"
    assert first["details"] == [{"loc": ["report"], "msg": "text that is not valid Unicode"}]
    assert second["status"] == "applied" and r.json()["last_mutation_id"] == 2


def test_push_refuses_nan_which_is_not_json(server: Server) -> None:
    vid = server.new_visit()
    s = server.login("inv.a1")
    body = json.dumps(
        {
            "device_id": s["device_id"],
            "mutations": [mutation(1, clean_report(server, vid, notes=float("nan")))],
        }
    )
    assert "NaN" in body
    r = server.client.post(
        "/v1/sync/push",
        headers={**server.h("inv.a1"), "content-type": "application/json"},
        content=body.encode(),
    )
    assert r.status_code == 422, r.text
    assert r.json()["details"][0]["type"] == "json_invalid"


def test_push_flags_checkin_outside_hours_and_planned_date(server: Server) -> None:
    vid = server.new_visit(planned_date="2026-11-19")
    rep = clean_report(server, vid)
    rep["checkin"]["at"] = "2026-11-20T23:10:00+08:00"
    rep["checkout"]["at"] = "2026-11-20T23:40:00+08:00"
    res = result(push(server, "inv.a1", [mutation(1, rep)]))
    assert res["status"] == "applied"
    assert "checkin_outside_hours" in res["flags"] and "checkin_outside_planned_date" in res["flags"]


def test_push_flags_plan_mismatch_when_device_numbers_differ(server: Server) -> None:
    vid = server.new_visit()
    rep = clean_report(server, vid)
    rep["plan"]["instalment"] = "1100.00"
    res = result(push(server, "inv.a1", [mutation(1, rep)]))
    assert res["status"] == "applied" and res["flags"] == ["plan_mismatch"]


def test_push_flags_collectors_differ_when_recorded_pair_is_not_assigned_pair(server: Server) -> None:
    vid = server.new_visit()
    rep = clean_report(server, vid)
    rep["compliance"]["collector_ids"] = [server.users["inv.a1"], server.users["inv.a5"]]
    assert result(push(server, "inv.a1", [mutation(1, rep)]))["flags"] == ["collectors_differ"]


def test_push_flags_visit_reassigned_when_caller_was_removed(server: Server) -> None:
    vid = server.new_visit()
    server.client.post(
        f"/v1/visits/{vid}/assign",
        headers=server.h("sup.a"),
        json={"investigator_ids": [server.users["inv.a3"], server.users["inv.a4"]]},
    )
    res = result(push(server, "inv.a1", [mutation(1, clean_report(server, vid))]))
    assert res["status"] == "applied" and "visit_reassigned" in res["flags"]


def test_push_reports_missing_blobs_until_they_arrive(server: Server) -> None:
    vid = server.new_visit()
    photo = b"\xff\xd8 photo bytes"
    sha = hashlib.sha256(photo).hexdigest()
    rep = clean_report(server, vid)
    rep["attachments"] = [
        {"sha256": sha, "kind": "visit_photo", "mime": "image/jpeg", "size_bytes": len(photo)}
    ]
    res = result(push(server, "inv.a1", [mutation(1, rep, blobs=[sha])]))
    assert res["status"] == "applied" and res["missing_blobs"] == [sha]
    listed = server.client.get("/v1/reports", headers=server.h("sup.a")).json()["items"][0]
    assert listed["incomplete"] is True
    assert server.client.put(f"/v1/blobs/{sha}", content=photo, headers=server.h("inv.a1")).status_code == 201
    detail = server.client.get(f"/v1/reports/{rep['report_id']}", headers=server.h("sup.a")).json()
    assert detail["missing_blobs"] == []


def test_push_is_403_when_device_id_is_not_the_tokens(server: Server) -> None:
    server.login("inv.a1")
    r = server.client.post(
        "/v1/sync/push", headers=server.h("inv.a1"), json={"device_id": "someone-else", "mutations": []}
    )
    assert r.status_code == 403


def test_push_is_410_reset_required_when_epoch_differs(server: Server) -> None:
    s = server.login("inv.a1")
    r = server.client.post(
        "/v1/sync/push",
        headers=s["headers"],
        json={"device_id": s["device_id"], "server_epoch": str(uuid.uuid4()), "mutations": []},
    )
    assert r.status_code == 410 and r.json()["error"] == "reset_required"


def test_openapi_push_example_is_accepted_with_only_report_and_visit_ids_replaced(server: Server) -> None:
    spec = server.client.get("/openapi.json").json()
    body = spec["paths"]["/v1/sync/push"]["post"]["requestBody"]["content"]["application/json"]
    example = copy.deepcopy(
        body.get("example") or next(iter(body["examples"].values()))["value"]
        if "examples" in body
        else spec["components"]["schemas"]["PushBody"]["examples"][0]
    )
    for visit_user in ("inv.a1",):
        vid = server.new_visit()
        example["mutations"][0]["report"]["report_id"] = str(uuid.uuid4())
        example["mutations"][0]["report"]["visit_id"] = vid
        r = server.client.post("/v1/sync/push", headers=server.h(visit_user), json=example)
        assert result(r)["status"] == "applied"
