"""A field day over an emulated 3G link (150 ms each way, 1 Mbit/s each way shared by every connection, a
cut upload): the real server process, the real device store and engine, photos prepared on the device as
the app prepares them, measured on the link's own time (scale 1, so the machine's speed barely counts).

The test runs a shorter day (6 reports, 2 photos each: fixed costs weigh more in it than in the full day);
bench/field_bench.py runs the full one (12 × 3)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from storage.photos import prepare_attachment
from storage.store import DeviceStore
from sync.client import ApiClient, Credentials, SyncEngine, SyncError
from sync.server.blobstore import blob_store_for
from tests.helpers.camera_photos import camera_jpeg
from tests.sync.factories import report
from tests.sync.harness import (
    INVESTIGATORS,
    PASSWORD,
    ServerProcess,
    device_versions,
    seed_users,
    seed_visits,
    server_rows,
    server_settings,
    server_versions,
)
from tests.sync.link import LinkEmulator

pytestmark = pytest.mark.slow

REPORTS, PHOTOS = 6, 2


@pytest.fixture
def server(database_location: str) -> Iterator[ServerProcess]:
    db = database_location
    users = seed_users(db)
    proc = ServerProcess(db)
    proc.start()
    with httpx.Client(timeout=30) as http:
        proc.visits = seed_visits(http, proc.url, REPORTS, collectors=users)  # type: ignore[attr-defined]
    yield proc
    proc.stop()


def _arrivals(db: Path | str) -> tuple[list[float], list[float], dict[str, bytes]]:
    """When each report version and each photo arrived (epoch seconds), and the photos' bytes as the blob
    store holds them (the default store: files beside a SQLite database; the shared directory with
    PostgreSQL)."""
    reports = [str(r[0]) for r in server_rows(db, "SELECT received_at FROM report_versions")]
    rows = server_rows(db, "SELECT sha256, created_at FROM blobs")
    store = blob_store_for(server_settings(db).blob_location)
    return (
        [datetime.fromisoformat(t).timestamp() for t in reports],
        [datetime.fromisoformat(str(r[1])).timestamp() for r in rows],
        {str(r[0]): store.get(str(r[0])) or b"" for r in rows},
    )


def test_day_arrives_once_text_first_within_1_5x_its_bytes_time_when_synced_over_3g_with_a_cut(
    server: ServerProcess, tmp_path: Path
) -> None:
    visits: list[str] = server.visits  # type: ignore[attr-defined]
    store = DeviceStore(tmp_path / "device.db")
    photos: dict[str, bytes] = {}
    taken = 0
    for i in range(REPORTS):
        metas = []
        for j in range(PHOTOS):
            shot = camera_jpeg(seed=i * PHOTOS + j + 1)
            taken += len(shot)
            ready = prepare_attachment(shot, mime="image/jpeg", filename=f"IMG_{i}{j}.JPG")
            meta = store.register_attachment(ready.data, kind="visit_photo", mime=ready.mime)
            photos[meta.sha256] = ready.data
            metas.append(meta)
        store.submit_report(report(visits[i], notes=f"第 {i + 1} 户", attachments=metas))
    http = httpx.Client(timeout=60)
    with LinkEmulator(server.port, latency_s=0.150, up_bps=1_000_000, down_bps=1_000_000) as link:
        api = ApiClient(store, http)
        api.login(link.url, INVESTIGATORS[0], PASSWORD, "phone")
        engine = SyncEngine(store, api, credentials=lambda: Credentials(INVESTIGATORS[0], PASSWORD, "phone"))
        link.arm_cut("PATCH", 0.5)
        before = link.snapshot()
        started_at, started = time.time(), time.monotonic()
        failures = 0
        for _ in range(10):
            try:
                engine.sync()
            except SyncError:
                failures += 1
                continue
            if store.pending_count() == 0 and not store.pending_blobs():
                break
        # On the link's own time: it runs at scale 1, so its seconds are the 3G link's.
        wall = (time.monotonic() - started) * link.time_scale
        day = link.snapshot() - before
        needed = link.seconds_needed(day.up, day.down)
    store.close()
    http.close()

    # Everything exactly once, every photo's bytes those of its hash.
    mine = device_versions(tmp_path / "device.db")
    assert sorted(server_versions(server.db_path)) == sorted(mine) and len(mine) == REPORTS
    report_times, blob_times, blobs = _arrivals(server.db_path)
    assert blobs == photos and all(hashlib.sha256(b).hexdigest() == sha for sha, b in blobs.items())
    # Text first: every report was stored before the first photo completed, the first within 10 s.
    assert max(report_times) < min(blob_times)
    first_report = (min(report_times) - started_at) * link.time_scale
    assert first_report <= 10, first_report
    # Made for the link: at most 600 KB a photo, a small share of what the camera took.
    assert max(map(len, photos.values())) <= 600_000
    sent = sum(len(p) for p in photos.values())
    assert sent < taken // 10
    # At most 2 KB on the wire per text report (both ways, headers included).
    per_report = day.by_request["POST /v1/sync/push"] / REPORTS
    assert per_report <= 2048, per_report
    # The cut photo went on from the server's offset: nothing that reached the server went again (the
    # contract allows the missing half plus one chunk; a photo is one PATCH, so a restart from byte 0 would
    # send a whole half again), and one PATCH more than photos.
    again = day.blob_bytes_sent_again({sha: len(b) for sha, b in photos.items()})
    assert day.cuts == 1 and failures == 0
    assert day.requests["PATCH"] == len(photos) + 1
    assert again < min(map(len, photos.values())) // 4, again
    # The whole day within 1.5× the time its own bytes need on the link.
    ratio = wall / needed
    assert ratio <= 1.5, (wall, needed)
    print(
        f"\n{REPORTS} reports × {PHOTOS} photos over 3G: {day.up + day.down:,} bytes on the wire, "
        f"{wall:.1f} s for {needed:.1f} s of bytes ({ratio:.2f}×); first report after {first_report:.1f} s; "
        f"{per_report:.0f} bytes a text report; photos as taken {taken:,} bytes, as sent {sent:,}; "
        f"{again:,} bytes sent again after {day.cuts} cut"
    )
