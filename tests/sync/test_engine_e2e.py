"""The sync engine against the real central server (TestClient transport), with injected network faults."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from models.canonical import content_sha256
from sync.client import CaptivePortal, DeviceRevoked, SyncError, SyncScheduler, TransportError
from sync.client.scheduler import Backoff
from sync.server.store.backup import backup, restore
from tests.sync.factories import photo, report
from tests.sync.harness import (
    BASE,
    INVESTIGATORS,
    SUPERVISOR,
    Device,
    World,
    integrity_ok,
    login_token,
    review,
    server_blobs,
    server_versions,
)


@pytest.fixture
def world(tmp_path: Path, database_location: str) -> Iterator[World]:
    w = World(tmp_path, database=database_location)
    yield w
    w.close()


def _sync_until_clean(device: Device, attempts: int = 10) -> None:
    for _ in range(attempts):
        try:
            device.engine.sync()
        except (TransportError, CaptivePortal):
            continue
        if device.store.pending_count() == 0:
            return
    raise AssertionError("the device did not converge")


def _stored_once(world: World, *devices: Device) -> None:
    on_server = server_versions(world.db_path)
    counts = Counter(v for v, _, _ in on_server)
    assert all(n == 1 for n in counts.values())
    server = {v: (r, h) for v, r, h in on_server}
    for d in devices:
        for r in d.store.reports():
            if r.current_version_id is not None and r.sync_status != "rejected":
                assert server[r.current_version_id] == (r.report_id, r.content_sha256)


def _server_report(world: World, report_id: str) -> dict:
    token = login_token(world.desk, BASE, SUPERVISOR)
    r = world.desk.get(f"{BASE}/v1/reports/{report_id}", headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    return r.json()


def test_report_stored_once_when_the_first_push_request_is_lost(world: World) -> None:
    d = world.device()
    d.store.submit_report(report(world.visits[0]))
    d.transport.plan.add("lost_request")

    with pytest.raises(TransportError):
        d.engine.sync()
    rep = d.engine.sync()

    assert rep.applied == 1
    assert len(server_versions(world.db_path)) == 1
    _stored_once(world, d)


def test_retry_answered_as_duplicate_and_stored_once_when_the_answer_is_lost_after_commit(
    world: World,
) -> None:
    d = world.device()
    d.store.submit_report(report(world.visits[0]))
    d.transport.plan.add("lost_response")

    with pytest.raises(TransportError):
        d.engine.sync()
    rep = d.engine.sync()

    assert rep.duplicates == 1 and rep.applied == 0
    assert d.store.reports()[0].sync_status == "synced"
    assert len(server_versions(world.db_path)) == 1


def test_second_copy_is_a_no_op_when_the_same_push_arrives_twice(world: World) -> None:
    d = world.device()
    for vid in world.visits[:3]:
        d.store.submit_report(report(vid))
    d.transport.plan.add("duplicate")

    rep = d.engine.sync()

    assert rep.applied + rep.duplicates == 3
    assert len(server_versions(world.db_path)) == 3
    assert d.store.pending_count() == 0
    _stored_once(world, d)


def test_outbox_renumbered_and_pushed_when_server_expects_mutation_1(world: World) -> None:
    d = world.device()
    d.store.update_sync_state(next_mutation_id=40)
    for vid in world.visits[:2]:
        d.store.submit_report(report(vid))

    rep = d.engine.sync()

    assert rep.applied == 2
    gap_answers = [e for e in d.transport.log if e[2] == 409]
    assert len(gap_answers) == 1
    _stored_once(world, d)


def test_device_reregisters_and_versions_land_once_when_server_lost_acknowledged_mutations(
    world: World,
) -> None:
    d = world.device()
    for vid in world.visits[:2]:
        d.store.submit_report(report(vid))
    d.engine.sync()
    old_device = d.store.sync_state().device_id
    d.store.update_sync_state(next_mutation_id=d.store.sync_state().next_mutation_id + 5)
    d.store.submit_report(report(world.visits[2]))

    rep = d.engine.sync()

    assert rep.reregistered
    assert d.store.sync_state().device_id != old_device
    assert d.store.pending_count() == 0
    assert len(server_versions(world.db_path)) == 3
    _stored_once(world, d)


def test_reused_version_id_rejected_and_server_copy_unchanged_when_content_differs(world: World) -> None:
    shared = str(uuid.uuid4())
    a_ids = itertools.chain([shared], iter(lambda: str(uuid.uuid4()), None))
    a = world.device(INVESTIGATORS[0], name="a", new_id=lambda: next(a_ids))
    b_ids = itertools.chain([shared], iter(lambda: str(uuid.uuid4()), None))
    b = world.device(INVESTIGATORS[1], name="b", new_id=lambda: next(b_ids))
    first = report(world.visits[0], notes="first")
    a.store.submit_report(first)
    a.engine.sync()
    b.store.submit_report(report(world.visits[0], report_id=first.report_id, notes="changed"))
    later = report(world.visits[1])
    b.store.submit_report(later)

    rep = b.engine.sync()

    assert (rep.rejected, rep.applied) == (1, 1)
    assert any("version_id_reused" in e for e in rep.errors)
    assert b.store.get_report(later.report_id).sync_status == "synced"  # type: ignore[union-attr]
    ((_, _, digest),) = [v for v in server_versions(world.db_path) if v[0] == shared]
    assert digest == content_sha256(first.model_dump(mode="json"))


def test_later_reports_applied_when_an_earlier_one_is_rejected(world: World) -> None:
    d = world.device()
    d.store.submit_report(report(str(uuid.uuid4())))  # a visit nobody assigned: not_found
    d.store.submit_report(report(world.visits[0]))

    rep = d.engine.sync()

    assert (rep.rejected, rep.applied) == (1, 1)
    assert d.store.pending_count() == 0
    statuses = sorted(r.sync_status for r in d.store.reports())
    assert statuses == ["rejected", "synced"]


def test_nothing_applied_and_sync_succeeds_later_when_a_captive_portal_answers(world: World) -> None:
    d = world.device()
    d.store.submit_report(report(world.visits[0]))
    portal = httpx.MockTransport(lambda r: httpx.Response(200, html="<html>请登录 Wi-Fi</html>"))
    real = d.transport.inner
    d.transport.inner = portal

    with pytest.raises(CaptivePortal):
        d.engine.sync()
    assert d.store.pending_count() == 1
    d.transport.inner = real
    rep = d.engine.sync()

    assert rep.applied == 1


def test_next_attempt_waits_for_retry_after_when_server_answers_429(world: World) -> None:
    d = world.device()
    d.store.submit_report(report(world.visits[0]))
    real = d.transport.inner

    def busy(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/sync/push":
            return httpx.Response(
                429,
                headers={"Retry-After": "30"},
                json={"error": "too_many_requests", "message": "", "details": []},
            )
        return real.handle_request(request)

    d.transport.inner = httpx.MockTransport(busy)
    scheduler = SyncScheduler(d.engine, backoff=Backoff(rand=lambda: 0.01))

    delay = scheduler.step()

    assert delay == 30
    assert d.engine.status.current.last_error == "too_many_requests"
    assert d.store.pending_count() == 1


def test_device_wiped_when_supervisor_revokes_it_with_wipe(world: World) -> None:
    d = world.device()
    meta = photo(d.store)
    d.store.submit_report(report(world.visits[0], attachments=[meta]))
    d.engine.sync()
    token = login_token(world.desk, BASE, SUPERVISOR)
    device_id = d.store.sync_state().device_id
    r = world.desk.post(
        f"{BASE}/v1/devices/{device_id}/revoke",
        json={"wipe": True},
        headers={"Authorization": f"Bearer {token}"},
    )
    r.raise_for_status()

    with pytest.raises(DeviceRevoked) as info:
        d.engine.sync()

    assert info.value.wiped
    assert d.store.reports() == []
    assert d.store.queue() == []
    assert d.store.blob_bytes(meta.sha256) is None
    assert d.store.sync_state().device_id is None
    assert integrity_ok(d.path)


def test_outbox_and_drafts_kept_when_pull_answers_reset_required(world: World) -> None:
    d = world.device()
    d.engine.sync()
    assert len(d.store.queue()) == len(world.visits)
    d.store.save_draft("draft-1", world.visits[1], {"notes": "半"})
    d.store.update_sync_state(pull_cursor="not-a-cursor")
    late = report(world.visits[2])

    def submit_during_pull(request: httpx.Request) -> None:
        if request.url.path == "/v1/sync/pull" and d.store.pending_count() == 0 and not d.store.reports():
            d.store.submit_report(late)  # the investigator submits while the sync runs

    d.transport.on_request = submit_during_pull

    rep = d.engine.sync()

    assert rep.reset
    assert d.store.get_draft("draft-1") == {"notes": "半"}
    assert [e.report_id for e in d.store.outbox()] == [late.report_id]
    assert len(d.store.queue()) == len(world.visits)
    d.transport.on_request = None
    d.engine.sync()
    assert d.store.pending_count() == 0


def _restore_backup(world: World, backup_path: Path) -> None:
    world.stop()
    restore(str(world.db_path), str(backup_path))
    world.start()


def test_each_version_lands_once_when_server_is_restored_from_an_older_backup(world: World) -> None:
    d = world.device()
    for vid in world.visits[:2]:
        d.store.submit_report(report(vid))
    d.engine.sync()
    backup(str(world.db_path), str(world.tmp / "backup.db"))
    for vid in world.visits[2:4]:
        d.store.submit_report(report(vid))
    d.engine.sync()
    before = {v for v, _, _ in server_versions(world.db_path)}
    _restore_backup(world, world.tmp / "backup.db")
    old_device = d.store.sync_state().device_id

    rep = d.engine.sync()

    assert rep.reregistered
    assert d.store.sync_state().device_id != old_device
    after = server_versions(world.db_path)
    assert {v for v, _, _ in after} == before
    assert len(after) == 4
    _stored_once(world, d)


def test_report_arrives_first_and_each_photo_once_when_the_connection_dies_after_the_first_photo(
    world: World,
) -> None:
    d = world.device()
    metas = [photo(d.store, 50_000) for _ in range(3)]
    r = report(world.visits[0], attachments=metas)
    d.store.submit_report(r)
    plan = d.transport.plan
    # The link stays down for the second photo: its upload and the question the retry asks after it.
    for _ in range(2):
        plan.add("lost_request", f"/v1/blobs/{metas[1].sha256}")

    with pytest.raises(TransportError):
        d.engine.sync()
    assert [rid for _, rid, _ in server_versions(world.db_path)] == [r.report_id]
    missing = _server_report(world, r.report_id)["missing_blobs"]
    assert metas[1].sha256 in missing and set(missing) <= {m.sha256 for m in metas}
    assert d.store.sync_state().last_error == "offline"
    d.engine.sync()
    d.engine.sync()

    stored = Counter(p for m, p, s in d.transport.log if m == "PATCH" and s in (200, 201))
    assert all(n == 1 for n in stored.values())
    assert len(stored) == 3
    assert {m.sha256 for m in metas} <= server_blobs(world.db_path)
    token = login_token(world.desk, BASE, SUPERVISOR)
    for m in metas:
        got = world.desk.get(f"{BASE}/v1/blobs/{m.sha256}", headers={"Authorization": f"Bearer {token}"})
        assert hashlib.sha256(got.content).hexdigest() == m.sha256
    assert _server_report(world, r.report_id).get("missing_blobs", []) == []


def test_report_resubmitted_when_returned_for_rework_and_sent_again(world: World) -> None:
    d = world.device()
    r = report(world.visits[0], notes="第一次")
    d.store.submit_report(r)
    d.engine.sync()
    assert review(world.desk, BASE, r.report_id, "return", "请补充收入证明").status_code == 200

    d.engine.sync()
    local = d.store.get_report(r.report_id)
    assert local is not None and local.review_status == "returned"
    assert local.comments and local.comments[-1]["comment"] == "请补充收入证明"
    d.store.submit_report(report(world.visits[0], report_id=r.report_id, notes="已补充"))
    d.engine.sync()

    assert _server_report(world, r.report_id)["status"] == "resubmitted"
    assert d.store.get_report(r.report_id).review_status == "resubmitted"  # type: ignore[union-attr]
    assert len(server_versions(world.db_path)) == 2


def test_both_versions_kept_as_conflict_when_resubmitted_on_a_stale_base(world: World) -> None:
    a = world.device(INVESTIGATORS[0], name="a")
    b = world.device(INVESTIGATORS[1], name="b")
    r = report(world.visits[0], notes="A 初稿")
    a.store.submit_report(r)
    a.engine.sync()
    b.engine.sync()
    assert b.store.get_report(r.report_id) is not None
    b.store.submit_report(report(world.visits[0], report_id=r.report_id, notes="B 修改"))
    b.engine.sync()
    a.store.submit_report(report(world.visits[0], report_id=r.report_id, notes="A 修改"))

    rep = a.engine.sync()

    assert rep.conflicts == 1
    local = a.store.get_report(r.report_id)
    assert local is not None and local.sync_status == "conflict"
    server = _server_report(world, r.report_id)
    conflict_ids = {c["version_id"] for c in server["conflicts"]}
    assert local.current_version_id in conflict_ids
    assert len(server_versions(world.db_path)) == 3
    _stored_once(world, a, b)


def test_error_recorded_and_pending_kept_when_the_server_is_unreachable(world: World) -> None:
    d = world.device()
    d.store.submit_report(report(world.visits[0]))
    d.transport.plan.add("lost_request", "/v1/health")

    with pytest.raises(SyncError):
        d.engine.sync()

    assert d.engine.status.current.pending == 1
    assert d.store.sync_state().last_error == "offline"
