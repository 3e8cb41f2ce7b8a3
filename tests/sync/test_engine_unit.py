"""The sync engine against an in-memory fake server: batching, ordering, errors, backoff and status."""

from __future__ import annotations

import gzip
import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from storage.store import DeviceStore
from sync.client import (
    ApiClient,
    Backoff,
    CaptivePortal,
    Credentials,
    DeviceRevoked,
    ReauthRequired,
    ServerBusy,
    StoredTokens,
    SyncEngine,
    SyncScheduler,
    SyncStatus,
    TransportError,
)
from tests.sync.conftest import signed_in
from tests.sync.factories import photo, report
from tests.sync.fakes import FakeServer, err, jsonr


def _paths(fake: FakeServer) -> list[str]:
    return [f"{r.method} {r.url.path}" for r in fake.requests]


def test_outbox_pushed_in_order_in_batches_of_50_when_120_reports_wait(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    for _ in range(120):
        store.submit_report(report())

    rep = engine.sync()

    sizes = [len(b["mutations"]) for b in fake.push_bodies]
    ids = [m["mutation_id"] for b in fake.push_bodies for m in b["mutations"]]
    assert sizes == [50, 50, 20]
    assert ids == list(range(1, 121))
    assert rep.pushed == rep.applied == 120
    assert store.pending_count() == 0
    pushes = [r for r in fake.requests if r.url.path == "/v1/sync/push"]
    assert all(r.headers["content-encoding"] == "gzip" for r in pushes)


def test_batch_shrinks_below_512_kib_gzip_when_reports_are_large(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    rng = random.Random(1)
    for _ in range(50):
        noise = "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(7900))
        store.submit_report(report(notes=noise))

    engine.sync()

    pushes = [r for r in fake.requests if r.url.path == "/v1/sync/push"]
    assert len(pushes) > 1
    assert all(len(r.content) <= 512 * 1024 for r in pushes)
    assert sum(len(b["mutations"]) for b in fake.push_bodies) == 50


def test_push_runs_before_pull_when_sync_runs(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    store.submit_report(report())

    engine.sync()

    paths = [p for p in _paths(fake) if "/sync/" in p]
    assert paths == ["POST /v1/sync/push", "POST /v1/sync/pull"]


def test_pull_pages_followed_until_has_more_is_false_when_changes_exceed_limit(
    store: DeviceStore, fake: FakeServer
) -> None:
    fake.changes = [
        {
            "seq": i,
            "type": "report_review",
            "op": "put",
            "id": f"00000000-0000-4000-8000-{i:012d}",
            "data": {"server_version": 1, "status": "submitted", "comments": []},
        }
        for i in range(1, 8)
    ]
    api = ApiClient(store, httpx.Client(transport=fake.transport()), tokens=signed_in(store, fake))
    engine = SyncEngine(store, api, pull_limit=3)

    rep = engine.sync()

    assert (rep.pages, rep.pulled) == (3, 7)
    assert store.sync_state().pull_cursor == "7"
    assert len(store.reports()) == 7


def test_sync_raises_captive_portal_and_sends_nothing_when_health_answers_html(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    store.submit_report(report())
    fake.hooks.append(lambda r: httpx.Response(200, html="<html><body>Sign in to WiFi</body></html>"))

    with pytest.raises(CaptivePortal):
        engine.sync()

    assert store.pending_count() == 1
    assert fake.push_bodies == []
    assert engine.status.current.last_error == "captive_portal"


def test_push_answer_not_applied_when_200_json_lacks_the_envelope(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    store.submit_report(report())
    fake.hooks.append(lambda r: jsonr(200, {"welcome": True}) if r.url.path == "/v1/sync/push" else None)

    with pytest.raises(CaptivePortal):
        engine.sync()

    assert store.pending_count() == 1
    assert store.reports()[0].sync_status == "pending"


def test_sync_raises_captive_portal_when_answered_by_a_redirect(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    fake.hooks.append(lambda r: httpx.Response(302, headers={"Location": "http://portal/login"}))

    with pytest.raises(CaptivePortal):
        engine.sync()


def test_scheduler_waits_at_least_retry_after_when_server_answers_429(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    store.submit_report(report())
    busy = httpx.Response(
        429, json={"error": "too_many_requests", "message": "", "details": []}, headers={"Retry-After": "42"}
    )
    fake.hooks.append(lambda r: busy if r.url.path == "/v1/sync/push" else None)
    scheduler = SyncScheduler(engine, backoff=Backoff(rand=lambda: 0.0))

    with pytest.raises(ServerBusy) as info:
        engine.sync()
    delay = scheduler.step()

    assert info.value.retry_after == 42
    assert delay == 42
    assert store.pending_count() == 1


def test_backoff_doubles_with_full_jitter_up_to_5_minutes_when_failures_repeat() -> None:
    top = Backoff(rand=lambda: 1.0)
    half = Backoff(rand=lambda: 0.5)

    tops = [top.next_delay() for _ in range(12)]
    halves = [half.next_delay() for _ in range(3)]

    assert tops == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    assert halves == [0.5, 1.0, 2.0]
    top.reset()
    assert top.next_delay() == 1


def test_scheduler_keeps_retrying_with_growing_delays_when_offline(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    def offline(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route", request=request)

    fake.hooks.append(offline)
    scheduler = SyncScheduler(engine, backoff=Backoff(rand=lambda: 1.0), interval=60)

    delays = [scheduler.step() for _ in range(11)]
    fake.hooks.clear()
    after = scheduler.step()

    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert after == 60
    assert engine.status.current.last_error is None


def test_request_repeated_with_rotated_token_when_access_token_expired(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    store.submit_report(report())
    old = fake.access
    expired = {"done": False}

    def expire_once(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/v1/sync/push" and not expired["done"]:
            expired["done"] = True
            return err(401, "token_expired")
        return None

    fake.hooks.append(expire_once)

    engine.sync()

    pushes = [r for r in fake.requests if r.url.path == "/v1/sync/push"]
    refreshes = [r for r in fake.requests if r.url.path == "/v1/auth/refresh"]
    assert len(refreshes) == 1
    assert pushes[0].headers["authorization"] == f"Bearer {old}"
    assert pushes[1].headers["authorization"] == f"Bearer {fake.access}"
    assert engine.api.tokens.load() is not None
    assert engine.api.tokens.load().refresh_token == fake.refresh_token  # type: ignore[union-attr]
    assert store.pending_count() == 0


def test_local_data_wiped_and_device_revoked_raised_when_server_revokes_with_wipe(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    meta = photo(store)
    store.submit_report(report(attachments=[meta]))
    store.save_draft("r-draft", None, {"notes": "x"})
    fake.hooks.append(lambda r: err(401, "device_revoked", wipe=True) if r.url.path != "/v1/health" else None)

    with pytest.raises(DeviceRevoked) as info:
        engine.sync()

    assert info.value.wiped
    assert store.pending_count() == 0
    assert store.drafts() == []
    assert store.blob_bytes(meta.sha256) is None
    assert store.sync_state().device_id is None
    assert engine.api.tokens.load() is None


def test_scheduler_stops_when_device_revoked(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    fake.hooks.append(
        lambda r: err(401, "device_revoked", wipe=False) if r.url.path != "/v1/health" else None
    )
    scheduler = SyncScheduler(engine)
    stop = threading.Event()

    t = threading.Thread(target=scheduler.run_forever, args=(stop,))
    t.start()
    t.join(5)

    assert not t.is_alive()
    assert store.sync_state().device_id == "dev-1"  # no wipe asked


def test_outbox_numbered_from_1_when_server_expects_1_and_outbox_starts_later(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    store.update_sync_state(next_mutation_id=7)
    for _ in range(3):
        store.submit_report(report())

    rep = engine.sync()

    ids = [[m["mutation_id"] for m in b["mutations"]] for b in fake.push_bodies]
    assert ids == [[7, 8, 9], [1, 2, 3]]
    assert rep.applied == 3
    assert store.pending_count() == 0


def test_reauth_required_and_outbox_kept_when_server_lost_acknowledged_mutations(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    fake.last["dev-1"] = 4
    store.update_sync_state(next_mutation_id=9)
    store.submit_report(report())

    with pytest.raises(ReauthRequired):
        engine.sync()

    assert store.pending_count() == 1


def test_outbox_renumbered_for_a_new_device_when_server_lost_mutations_and_credentials_stored(
    store: DeviceStore, fake: FakeServer
) -> None:
    api = ApiClient(store, httpx.Client(transport=fake.transport()), tokens=signed_in(store, fake))
    engine = SyncEngine(store, api, credentials=lambda: Credentials("inv.a1", "pw", "phone"))
    fake.last["dev-1"] = 4
    store.update_sync_state(next_mutation_id=9)
    store.submit_report(report())

    rep = engine.sync()

    assert rep.reregistered
    assert store.sync_state().device_id != "dev-1"
    assert fake.push_bodies[-1]["mutations"][0]["mutation_id"] == 1
    assert store.pending_count() == 0


def test_report_pushed_before_its_photos_and_each_missing_photo_sent_once_when_syncing(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    metas = [photo(store) for _ in range(3)]
    fake.blobs[metas[0].sha256] = store.blob_bytes(metas[0].sha256) or b""
    store.submit_report(report(attachments=metas))

    rep = engine.sync()
    engine.sync()

    paths = _paths(fake)
    first_push = paths.index("POST /v1/sync/push")
    patches = [i for i, p in enumerate(paths) if p.startswith("PATCH /v1/blobs/")]
    assert len(patches) == 2 and min(patches) > first_push
    assert not any(p.startswith(("PUT /v1/blobs/", "HEAD /v1/blobs/" + metas[0].sha256)) for p in paths)
    assert (rep.blobs_uploaded, rep.blob_bytes_sent) == (2, 2 * 2048)
    assert sorted(fake.blob_patches) == sorted(m.sha256 for m in metas[1:])
    assert all(store.blob_state(m.sha256) == "uploaded" for m in metas[1:])


def test_upload_resumes_at_the_servers_offset_when_the_link_is_cut_mid_photo(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    meta = photo(store, size=40_000)
    store.submit_report(report(attachments=[meta]))
    cuts: list[int] = []

    def cut_once(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PATCH" and not cuts:
            # Half the body reached the server before the connection broke.
            cuts.append(len(request.content) // 2)
            fake.lengths[meta.sha256] = int(request.headers["Upload-Length"])
            fake.partials[meta.sha256] = request.content[: cuts[0]]
            raise httpx.WriteError("connection reset", request=request)
        return None

    fake.hooks.append(cut_once)
    rep = engine.sync()

    assert fake.blobs[meta.sha256] == store.blob_bytes(meta.sha256)
    assert rep.blob_bytes_sent == 40_000 + 20_000  # the cut attempt, then only the second half
    assert rep.blob_bytes_resumed == 0 and rep.blobs_uploaded == 1
    assert store.blob_state(meta.sha256) == "uploaded"


def test_upload_resumes_from_the_servers_offset_when_a_new_engine_starts_after_a_failed_sync(
    store: DeviceStore, fake: FakeServer
) -> None:
    meta = photo(store, size=30_000)
    store.submit_report(report(attachments=[meta]))

    def offline_patch(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PATCH":
            fake.lengths[meta.sha256] = int(request.headers["Upload-Length"])
            fake.partials.setdefault(meta.sha256, request.content[:12_000])
            raise httpx.ConnectError("network unreachable", request=request)
        return None

    fake.hooks.append(offline_patch)
    http = httpx.Client(transport=fake.transport())
    first = SyncEngine(store, ApiClient(store, http, tokens=signed_in(store, fake)))
    with pytest.raises(TransportError):
        first.sync()
    failed_state = store.sync_state()
    fake.hooks.clear()
    second = SyncEngine(store, ApiClient(store, http, tokens=signed_in(store, fake)))
    rep = second.sync()
    http.close()

    assert failed_state.last_error == "offline" and first.status.current.last_error == "offline"
    assert store.pending_count() == 0  # the report went up before the photo failed
    assert rep.blob_bytes_resumed == 12_000 and rep.blob_bytes_sent == 18_000
    assert fake.blobs[meta.sha256] == store.blob_bytes(meta.sha256)


def test_new_photos_sent_without_a_head_when_the_push_answer_names_them_missing(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    metas = [photo(store) for _ in range(3)]
    store.submit_report(report(attachments=metas))

    rep = engine.sync()

    paths = _paths(fake)
    assert not any(p.startswith("HEAD ") for p in paths)
    assert sorted(fake.blob_patches) == sorted(m.sha256 for m in metas)
    assert rep.blobs_uploaded == 3 and all(fake.blobs[m.sha256] == store.blob_bytes(m.sha256) for m in metas)


def test_new_photo_goes_on_from_the_servers_offset_when_the_server_already_holds_part_of_it(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    meta = photo(store, size=30_000)
    data = store.blob_bytes(meta.sha256) or b""
    # Left by an earlier run of the app that this engine knows nothing of.
    fake.partials[meta.sha256], fake.lengths[meta.sha256] = data[:12_000], 30_000
    store.submit_report(report(attachments=[meta]))

    rep = engine.sync()

    offsets = [r.headers["Upload-Offset"] for r in fake.requests if r.method == "PATCH"]
    assert offsets == ["0", "12000"]  # the 409 named the server's offset; no HEAD needed
    assert fake.blobs[meta.sha256] == data
    assert rep.blob_bytes_sent == 30_000 + 18_000 and rep.blob_bytes_resumed == 12_000


def test_report_submitted_during_photo_uploads_is_pushed_before_the_next_photo_when_syncing(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    metas = [photo(store) for _ in range(engine.upload_lanes + 1)]
    store.submit_report(report(attachments=metas))
    late_photo = photo(store)
    # The lanes' PATCHes reach the hook at the same time: the first to take this (never released) submits.
    first_patch = threading.Lock()

    def submit_during_first_photo(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PATCH" and first_patch.acquire(blocking=False):
            store.submit_report(report(notes="later", attachments=[late_photo]))
        return None

    fake.hooks.append(submit_during_first_photo)
    progress: list[tuple[str, int, int | None, int, int]] = []
    engine.status.subscribe(
        lambda st: progress.append((st.phase, st.done, st.total, st.blob_bytes_done, st.blob_bytes_total))
    )
    engine.sync()

    paths = _paths(fake)
    patches = [i for i, p in enumerate(paths) if p.startswith("PATCH")]
    pushes = [i for i, p in enumerate(paths) if p == "POST /v1/sync/push"]
    # The late report went up as soon as a lane was free, before a photo beyond the lanes started, and its
    # own photo followed in the same sync.
    late_patch = paths.index(f"PATCH /v1/blobs/{late_photo.sha256}")
    assert len(pushes) == 2 and 1 <= len([i for i in patches if i < pushes[1]]) <= engine.upload_lanes
    assert pushes[1] < late_patch
    assert store.pending_count() == 0 and not store.pending_blobs()
    assert sorted(fake.blob_patches) == sorted(m.sha256 for m in [*metas, late_photo])
    photos = [p for p in progress if p[0] == "blobs"]
    assert [p[1] for p in photos] == sorted(p[1] for p in photos)  # n of m only grows
    assert [p[3] for p in photos] == sorted(p[3] for p in photos)  # so do the bytes
    assert all(p[3] >= p[1] * 2048 for p in photos)
    assert {p[1] for p in photos} >= set(range(len(metas) + 2))
    assert photos[-1][1:] == (
        len(metas) + 1,
        len(metas) + 1,
        2048 * (len(metas) + 1),
        2048 * (len(metas) + 1),
    )


def test_corrupt_local_photo_not_uploaded_when_its_bytes_do_not_match_the_hash(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    meta = photo(store)
    store.submit_report(report(attachments=[meta]))
    store._blobs.write(meta.sha256, b"bit rot")  # type: ignore[attr-defined]

    rep = engine.sync()

    assert fake.blob_puts == []
    assert any("corrupt" in e for e in rep.errors)
    assert store.reports()[0].missing_blobs == [meta.sha256]


def test_photo_the_server_holds_outside_the_users_scope_is_refused_alone_and_the_others_go(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    metas = [photo(store) for _ in range(3)]
    store.submit_report(report(attachments=metas))
    outside = metas[1].sha256
    # The visit was reassigned after the report went: its photo is another pair's now (404, as GET answers).
    fake.hooks.append(
        lambda r: (
            err(404, "not_found") if r.url.path == f"/v1/blobs/{outside}" and r.method != "HEAD" else None
        )
    )

    rep = engine.sync()

    assert any(outside in e and "not_found" in e for e in rep.errors)
    assert rep.blobs_uploaded == 2
    assert all(store.blob_state(m.sha256) == "uploaded" for m in (metas[0], metas[2]))
    assert store.blob_state(outside) != "uploaded"


def test_try_sync_returns_none_and_sync_waits_when_a_sync_is_running(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    gate, entered = threading.Event(), threading.Event()

    def slow(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/v1/health":
            entered.set()
            gate.wait(5)
        return None

    fake.hooks.append(slow)
    first = threading.Thread(target=engine.sync)
    first.start()
    entered.wait(5)
    skipped = engine.try_sync()
    in_progress = engine.status.current.in_progress
    waited: list[object] = []
    second = threading.Thread(target=lambda: waited.append(engine.sync()))
    second.start()
    time.sleep(0.1)
    still_waiting = second.is_alive()
    gate.set()
    first.join(5)
    second.join(5)

    assert skipped is None
    assert in_progress
    assert still_waiting
    assert len(waited) == 1


def test_status_listener_sees_phases_and_final_pending_count_when_syncing(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    for _ in range(3):
        store.submit_report(report())
    seen: list[SyncStatus] = []
    engine.status.subscribe(seen.append)

    engine.sync()

    phases = [s.phase for s in seen]
    assert phases.index("push") < phases.index("pull")
    assert seen[-1].in_progress is False
    assert seen[-1].pending == 0
    assert seen[-1].last_success_at is not None
    assert any(s.phase == "push" and s.done == 3 for s in seen)


def test_transport_error_raised_and_attempt_counted_when_connection_drops(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    store.submit_report(report())

    def drop(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/v1/sync/push":
            raise httpx.ReadError("reset", request=request)
        return None

    fake.hooks.append(drop)

    with pytest.raises(TransportError):
        engine.sync()

    assert store.outbox()[0].attempts == 1
    assert engine.status.current.last_error == "offline"
    assert store.sync_state().last_error == "offline"


def test_push_body_is_gzip_json_with_device_and_epoch_when_sent(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    entry = store.submit_report(report())

    engine.sync()

    push = next(r for r in fake.requests if r.url.path == "/v1/sync/push")
    body = json.loads(gzip.decompress(push.content))
    assert body["device_id"] == "dev-1"
    assert body["server_epoch"] == fake.epoch
    assert body["mutations"][0] == entry.mutation.model_dump(mode="json")


def test_outbox_sent_without_pull_or_last_sync_time_when_push_only(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    store.submit_report(report())

    rep = engine.push()

    assert rep.applied == 1
    assert "POST /v1/sync/pull" not in _paths(fake)
    assert store.sync_state().last_sync_at is None
    assert engine.status.current.last_success_at is None


def test_next_batch_is_sent_while_the_previous_answer_is_stored(
    store: DeviceStore, fake: FakeServer, engine: SyncEngine
) -> None:
    for _ in range(100):
        store.submit_report(report())
    second_push = threading.Event()
    pushes: list[int] = []
    serve_push = fake._push

    def push(request: httpx.Request) -> httpx.Response:
        pushes.append(1)
        if len(pushes) == 2:
            second_push.set()
        return serve_push(request)

    waited: list[bool] = []
    store_results = store._apply_results

    def apply_results(todo: list) -> None:  # type: ignore[type-arg]
        # Runs inside the store's transaction (its lock held): the second batch must still go out.
        if not waited:
            waited.append(second_push.wait(5))
        store_results(todo)

    read_state = store.sync_state

    def sync_state() -> Any:
        if threading.current_thread().name == "fv-sync-ahead":
            time.sleep(0.05)  # the sending thread is scheduled late: the local transaction has begun
        return read_state()

    fake._push = push  # type: ignore[method-assign]
    store._apply_results = apply_results  # type: ignore[method-assign]
    store.sync_state = sync_state  # type: ignore[method-assign]

    rep = engine.sync()

    assert waited == [True]
    assert rep.applied == 100
    assert store.pending_count() == 0


def test_two_clients_on_one_device_database_refresh_once_when_both_find_the_token_expired(
    tmp_path: Path, fake: FakeServer
) -> None:
    # Two browser tabs of the web app: two stores and clients on the same device database in one process.
    # Each spending the same refresh token would be reuse, which revokes the device.
    stores = [DeviceStore(tmp_path / "device.db") for _ in range(2)]
    http = httpx.Client(transport=fake.transport())
    try:
        stores[0].update_sync_state(server_url="http://fake", device_id="dev-1", server_epoch=fake.epoch)
        clients = [ApiClient(s, http) for s in stores]
        clients[0].tokens.save(StoredTokens("dev-1", fake.access, fake.refresh_token))
        expired = fake.access

        def slow_refresh(request: httpx.Request) -> httpx.Response | None:
            if request.url.path == "/v1/auth/refresh":
                time.sleep(0.2)  # both clients are inside `refresh` meanwhile
            return None

        fake.hooks.append(slow_refresh)
        threads = [threading.Thread(target=c.refresh, kwargs={"used_access_token": expired}) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len([r for r in fake.requests if r.url.path == "/v1/auth/refresh"]) == 1
        assert all(c.tokens.load().access_token == fake.access for c in clients)  # type: ignore[union-attr]
    finally:
        http.close()
        for s in stores:
            s.close()
