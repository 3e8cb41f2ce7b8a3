"""A field day over an emulated 3G link (150 ms each way, 1 Mbit/s each way, a cut upload): the real server
process, the real device store and engine, photos prepared on the device as the app prepares them.

The test runs a short day (4 reports, 2 photos each); bench/field_bench.py runs the full one (12 × 3)."""

from __future__ import annotations

import time
from collections.abc import Iterator
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

REPORTS, PHOTOS = 4, 2


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


def _arrivals(db: Path | str) -> tuple[list[str], list[str], dict[str, bytes]]:
    """When each report version and each photo arrived, and the photos' bytes as the blob store holds them
    (the default store: files beside a SQLite database; the shared directory with PostgreSQL)."""
    reports = [str(r[0]) for r in server_rows(db, "SELECT received_at FROM report_versions")]
    rows = server_rows(db, "SELECT sha256, created_at FROM blobs")
    store = blob_store_for(server_settings(db).blob_location)
    return reports, [str(r[1]) for r in rows], {str(r[0]): store.get(str(r[0])) or b"" for r in rows}


def test_day_arrives_once_with_text_first_and_a_cut_photo_resumed_when_synced_over_3g(
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
        started = time.monotonic()
        failures = 0
        for _ in range(10):
            try:
                engine.sync()
            except SyncError:
                failures += 1
                continue
            if store.pending_count() == 0 and not store.pending_blobs():
                break
        minutes = (time.monotonic() - started) / 60
        up, patch_bytes, patches = (
            link.up_bytes + link.down_bytes,
            link.up_by_method["PATCH"],
            link.requests["PATCH"],
        )
        cuts = link.cuts
    store.close()
    http.close()

    # Everything exactly once.
    mine = device_versions(tmp_path / "device.db")
    assert sorted(server_versions(server.db_path)) == sorted(mine) and len(mine) == REPORTS
    report_times, blob_times, blobs = _arrivals(server.db_path)
    assert blobs == photos
    # Text first: every report was stored before the first photo completed.
    assert max(report_times) < min(blob_times)
    # The cut photo went on from the server's offset: one more PATCH than photos, and only headers re-sent.
    sent = sum(len(p) for p in photos.values())
    assert cuts == 1 and patches == len(photos) + 1
    assert sent <= patch_bytes < sent + 1_000 * patches, (patch_bytes, sent)
    # Made for the link: the day's photos are a small share of what the camera took.
    assert sent < taken // 10
    print(
        f"\n{REPORTS} reports × {PHOTOS} photos over 3G: {up:,} bytes on the wire in {minutes:.2f} min "
        f"(photos as taken {taken:,} bytes, as sent {sent:,}); {failures} failed syncs, {cuts} cut"
    )
