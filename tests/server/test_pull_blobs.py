"""Pull (snapshot, change log, partner updates, tombstones, resets) and blobs (store, scope, limits)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from .conftest import Server, example_report, mutation, push


def pull(server: Server, user: str, cursor: str | None = None, **kw: Any) -> Any:
    s = server.sessions.get(user) or server.login(user)
    return server.client.post(
        "/v1/sync/pull", headers=server.h(user), json={"device_id": s["device_id"], "cursor": cursor, **kw}
    )


def test_pull_snapshot_has_assigned_visits_only_when_cursor_is_null(server: Server) -> None:
    mine = server.new_visit()
    server.new_visit(assign=("inv.a3", "inv.a4"))
    body = pull(server, "inv.a1").json()
    visits = [c for c in body["changes"] if c["type"] == "visit"]
    assert [c["id"] for c in visits] == [mine]
    assert (
        visits[0]["data"]["borrower"]["name"]
        and visits[0]["data"]["investigator_ids"][0] == server.users["inv.a1"]
    )
    assert body["has_more"] is False and body["last_mutation_id"] == 0


def test_pull_pages_snapshot_when_limit_is_small(server: Server) -> None:
    ids = {server.new_visit() for _ in range(3)}
    seen: set[str] = set()
    cursor = None
    for _ in range(5):
        body = pull(server, "inv.a1", cursor, limit=2).json()
        seen |= {c["id"] for c in body["changes"] if c["type"] == "visit"}
        cursor = body["cursor"]
        if not body["has_more"]:
            break
    assert seen == ids


def test_pull_tells_partner_of_submission_and_review(server: Server) -> None:
    vid = server.new_visit()
    cursor = pull(server, "inv.a2").json()["cursor"]
    rep = example_report(vid)
    push(server, "inv.a1", [mutation(1, rep)])
    body = pull(server, "inv.a2", cursor).json()
    reviews = [c for c in body["changes"] if c["type"] == "report_review"]
    assert reviews and reviews[0]["id"] == rep["report_id"] and reviews[0]["data"]["status"] == "submitted"
    server.client.post(
        f"/v1/reports/{rep['report_id']}/review",
        headers={**server.h("sup.a"), "If-Match": '"v1"'},
        json={"action": "return", "comment": "请补充"},
    )
    after = pull(server, "inv.a2", body["cursor"]).json()["changes"]
    assert (
        after[-1]["data"]["status"] == "returned" and after[-1]["data"]["comments"][0]["comment"] == "请补充"
    )


def test_pull_sends_del_to_removed_collector_when_reassigned(server: Server) -> None:
    vid = server.new_visit()
    rep = example_report(vid)
    push(server, "inv.a1", [mutation(1, rep)])
    cursor = pull(server, "inv.a1").json()["cursor"]
    server.client.post(
        f"/v1/visits/{vid}/assign",
        headers=server.h("sup.a"),
        json={"investigator_ids": [server.users["inv.a2"], server.users["inv.a3"]]},
    )
    changes = pull(server, "inv.a1", cursor).json()["changes"]
    assert {(c["type"], c["op"], c["id"]) for c in changes} == {
        ("visit", "del", vid),
        ("report_review", "del", rep["report_id"]),
    }
    added = pull(server, "inv.a3").json()["changes"]
    assert {c["type"] for c in added} == {"visit", "report_review"}


def test_pull_sends_del_when_import_closes_visit(server: Server) -> None:
    vid = server.new_visit()
    cursor = pull(server, "inv.a1").json()["cursor"]
    listed = server.client.get(f"/v1/visits/{vid}", headers=server.h("sup.a")).json()
    from models.demo_data import generate_import_records

    rec = generate_import_records(1, seed=7, team="hz-a")[0]
    rec.update(external_id=listed["external_id"], status="closed")
    server.import_records([rec])
    changes = pull(server, "inv.a1", cursor).json()["changes"]
    assert ("visit", "del", vid) in {(c["type"], c["op"], c["id"]) for c in changes}


def test_pull_is_410_reset_required_when_cursor_or_epoch_is_bad(server: Server) -> None:
    assert pull(server, "inv.a1", "garbage").status_code == 410
    good = pull(server, "inv.a1").json()["cursor"]
    epoch8, seq = good.split(".")[:2]
    assert pull(server, "inv.a1", f"{epoch8}.{int(seq) + 999}").status_code == 410
    r = pull(server, "inv.a1", None, server_epoch=str(uuid.uuid4()))
    assert r.status_code == 410 and r.json()["error"] == "reset_required"


def test_blob_put_is_201_then_200_and_422_on_hash_mismatch(server: Server) -> None:
    data = b"photo"
    sha = hashlib.sha256(data).hexdigest()
    h = server.h("inv.a1")
    assert server.client.put(f"/v1/blobs/{sha}", content=data, headers=h).status_code == 201
    rep = example_report(server.new_visit())
    rep["attachments"] = [
        {"sha256": sha, "kind": "visit_photo", "mime": "image/jpeg", "size_bytes": len(data)}
    ]
    assert push(server, "inv.a1", [mutation(1, rep, blobs=[sha])]).status_code == 200
    assert server.client.put(f"/v1/blobs/{sha}", content=data, headers=h).status_code == 200
    assert server.client.head(f"/v1/blobs/{sha}", headers=h).status_code == 200
    bad = server.client.put(f"/v1/blobs/{'0' * 64}", content=data, headers=h)
    assert bad.status_code == 422 and bad.json()["error"] == "hash_mismatch"
    assert server.client.head(f"/v1/blobs/{'0' * 64}", headers=h).status_code == 404


def test_blob_get_is_scoped_to_callers_who_may_see_a_referencing_report(server: Server) -> None:
    vid = server.new_visit()
    data = b"\x89PNG evidence"
    sha = hashlib.sha256(data).hexdigest()
    rep = example_report(vid)
    rep["attachments"] = [
        {"sha256": sha, "kind": "visit_photo", "mime": "image/png", "size_bytes": len(data)}
    ]
    push(server, "inv.a1", [mutation(1, rep, blobs=[sha])])
    server.client.put(f"/v1/blobs/{sha}", content=data, headers=server.h("inv.a1"))
    assert server.client.get(f"/v1/blobs/{sha}", headers=server.h("inv.a2")).content == data
    assert server.client.get(f"/v1/blobs/{sha}", headers=server.h("sup.a")).status_code == 200
    assert server.client.get(f"/v1/blobs/{sha}", headers=server.h("inv.a3")).status_code == 404
    assert server.client.get(f"/v1/blobs/{sha}", headers=server.h("sup.b")).status_code == 404


def test_compaction_keeps_what_active_devices_need_and_resets_idle_ones(server: Server) -> None:
    from datetime import UTC, datetime

    from sync.server.store.pull import compact_changes

    db = server.client.app.state.ctx.db  # type: ignore[attr-defined]
    now = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # the fixture's clock
    server.new_visit()
    old = pull(server, "inv.a2").json()["cursor"]
    assert pull(server, "inv.a2", old).status_code == 200  # inv.a2's device has stored `old`
    server.new_visit()  # changes for both collectors after `old`
    a1 = pull(server, "inv.a1").json()["cursor"]
    assert pull(server, "inv.a1", a1).status_code == 200  # inv.a1's device has stored `a1` (after `old`)
    fresh = server.new_visit()  # what inv.a1 has not pulled yet
    a2_device = server.sessions["inv.a2"]["device_id"]
    db.write_sync(
        lambda d: d.execute(
            "UPDATE devices SET last_pull_at = '2026-09-01T00:00:00+00:00' WHERE id = ?", [a2_device]
        )
    )

    out = db.write_sync(compact_changes, now=now, idle_days=30)

    assert out["floor"] == int(a1.split(".")[1]) and out["deleted"] > 0
    after = pull(server, "inv.a1", a1)
    assert after.status_code == 200
    assert fresh in {c["id"] for c in after.json()["changes"] if c["type"] == "visit"}
    idle = pull(server, "inv.a2", old)  # below the floor: a snapshot, which keeps the device's outbox
    assert idle.status_code == 410 and idle.json()["error"] == "reset_required"

    head = after.json()["cursor"]
    assert pull(server, "inv.a1", head).status_code == 200  # inv.a1 has stored the head
    out = db.write_sync(compact_changes, now=now, idle_days=30)
    assert out["floor"] == int(head.split(".")[1])  # the whole log is gone...
    still = pull(server, "inv.a1", head)  # ...and the head cursor still answers
    assert still.status_code == 200 and still.json()["changes"] == []
    assert db.write_sync(compact_changes, now=now, idle_days=30)["floor"] == out["floor"]  # never moves back
