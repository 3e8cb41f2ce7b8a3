"""Field-day benchmark over an emulated 3G link: 12 reports with 3 photos each, from a device store through
a link of 150 ms each way and 1 Mbit/s each way that cuts some requests part-way, to a real server process.

"before": photos stored as the camera took them (12 MP, about 3 MB) and sent whole, before their reports
(PUT; a cut upload starts again from byte 0). "after": photos made for the link when attached, reports'
text first, photos as resumable uploads (tus) afterwards.

The link runs `--scale` times faster than 3G (bandwidth × scale, delay ÷ scale); times are given on the
3G link (measured × scale). "after" runs at scale 1 by default, so the machine's speed barely weighs in its
ratio of the wall time to the time its bytes need; "before" (15 minutes of bytes) at `--before-scale` 10.
Bytes are what the link carried both ways (HTTP, not TCP/IP headers); the time the bytes need is
max(up, down) × 8 / 1 Mbit/s. A text report's bytes are those of the push requests and their answers, a
photo's those of its HEAD, PATCH and PUT requests and answers; bytes sent again are blob body bytes that
reached the server beyond each blob's size (a cut upload started again from byte 0, say).

Run: .venv/bin/python bench/field_bench.py [--reports 12] [--photos 3] [--scale 1] [--before-scale 10]
[--cut-rate 0.05]; prints the figures and writes bench/results/field_bench.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from storage.photos import prepare_attachment  # noqa: E402
from storage.store import DeviceStore  # noqa: E402
from sync.client import ApiClient, Credentials, SyncEngine, SyncError  # noqa: E402
from tests.helpers.camera_photos import camera_jpeg  # noqa: E402
from tests.sync.factories import report  # noqa: E402
from tests.sync.harness import (  # noqa: E402
    INVESTIGATORS,
    PASSWORD,
    ServerProcess,
    seed_users,
    seed_visits,
)
from tests.sync.link import LinkEmulator  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "field_bench.json"
# The acceptance figures for the "after" day (issue 11).
MAX_TEXT_REPORT_BYTES = 2048
MAX_RATIO = 1.5
MAX_FIRST_REPORT_S = 10.0
MAX_PHOTO_BYTES = 600_000


def _server_times(db: Path) -> tuple[list[float], list[float]]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        texts = [
            datetime.fromisoformat(r[0]).timestamp()
            for r in conn.execute("SELECT received_at FROM report_versions")
        ]
        blobs = [
            datetime.fromisoformat(r[0]).timestamp() for r in conn.execute("SELECT created_at FROM blobs")
        ]
    return texts, blobs


def _legacy_sync(store: DeviceStore, api: ApiClient, engine: SyncEngine) -> None:
    """What the device did before: every photo of the outbox checked (HEAD) and PUT whole, then the push."""
    for entry in store.outbox(limit=1000):
        for sha in entry.mutation.blobs:
            if store.blob_state(sha) == "uploaded":
                continue
            if not api.blob_exists(sha):
                api.put_blob(sha, store.blob_bytes(sha) or b"")
            store.mark_blob_uploaded(sha)
    engine.push()


def run_day(mode: str, args: argparse.Namespace, shots: list[bytes], work: Path) -> dict[str, Any]:
    scale = args.scale if mode == "after" else args.before_scale
    db = work / f"{mode}-server.db"
    users = seed_users(db)
    server = ServerProcess(db)
    server.start()
    try:
        with httpx.Client(timeout=60) as http:
            visits = seed_visits(http, server.url, args.reports, collectors=users)
        store = DeviceStore(work / f"{mode}-device.db")
        sizes: dict[str, int] = {}
        for i in range(args.reports):
            metas = []
            for j in range(args.photos):
                shot = shots[i * args.photos + j]
                data, mime = shot, "image/jpeg"
                if mode == "after":
                    ready = prepare_attachment(shot, mime="image/jpeg", filename=f"IMG_{i}{j}.JPG")
                    data, mime = ready.data, ready.mime
                meta = store.register_attachment(data, kind="visit_photo", mime=mime)
                sizes[meta.sha256] = len(data)
                metas.append(meta)
            store.submit_report(report(visits[i], notes=f"第 {i + 1} 户", attachments=metas))
        http = httpx.Client(timeout=600)
        link = LinkEmulator(
            server.port,
            latency_s=0.150,
            up_bps=1_000_000,
            down_bps=1_000_000,
            cut_rate=args.cut_rate,
            seed=args.seed,
            time_scale=scale,
        )
        with link:
            api = ApiClient(store, http)
            for _ in range(20):
                try:
                    api.login(link.url, INVESTIGATORS[0], PASSWORD, "phone")
                    break
                except SyncError:
                    continue
            before_sync = link.snapshot()
            engine = SyncEngine(
                store, api, credentials=lambda: Credentials(INVESTIGATORS[0], PASSWORD, "phone")
            )
            started_wall, started = time.time(), time.monotonic()
            failures = 0
            for _ in range(500):
                try:
                    _legacy_sync(store, api, engine) if mode == "before" else engine.push()
                except SyncError:
                    failures += 1
                    continue
                if store.pending_count() == 0 and not store.pending_blobs():
                    break
            elapsed = time.monotonic() - started
            day = link.snapshot() - before_sync
            needed = link.seconds_needed(day.up, day.down)
        http.close()
        store.close()
        texts, blobs = _server_times(db)
    finally:
        server.stop()
    assert len(texts) == args.reports and len(blobs) == len(sizes), (len(texts), len(blobs))
    # On the 3G link's time: the emulated link ran `scale` times faster.
    wall = elapsed * scale
    first_report = (min(texts) - started_wall) * scale
    text_bytes = day.by_request["POST /v1/sync/push"] / args.reports
    photo_bytes = sum(n for k, n in day.by_request.items() if k.split(" ")[1].startswith("/v1/blobs/"))
    return {
        "scale": scale,
        "photos_stored_bytes": sum(sizes.values()),
        "largest_photo_bytes": max(sizes.values()),
        "bytes_up": day.up,
        "bytes_down": day.down,
        "bytes_total": day.up + day.down,
        "bytes_per_text_report": round(text_bytes),
        "bytes_per_photo": round(photo_bytes / len(sizes)),
        "seconds_bytes_need": round(needed, 1),
        "seconds": round(wall, 1),
        "ratio_to_bytes_time": round(wall / needed, 2),
        "seconds_until_first_report_on_server": round(first_report, 1),
        "seconds_until_all_reports_on_server": round((max(texts) - started_wall) * scale, 1),
        "seconds_until_first_photo_on_server": round((min(blobs) - started_wall) * scale, 1),
        "requests": dict(sorted(day.requests.items())),
        "connections": day.connections,
        "cuts": day.cuts,
        "bytes_sent_again_after_cuts": day.blob_bytes_sent_again(sizes),
        "failed_syncs": failures,
        "minutes": round(wall / 60, 2),
        # Judged on the unrounded figures.
        "acceptance": {
            "photos_at_most_600_kb": max(sizes.values()) <= MAX_PHOTO_BYTES,
            "text_report_at_most_2_kb": text_bytes <= MAX_TEXT_REPORT_BYTES,
            "day_within_1_5x_its_bytes_time": wall / needed <= MAX_RATIO,
            "first_report_within_10_s": first_report <= MAX_FIRST_REPORT_S,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=12)
    parser.add_argument("--photos", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="the after day's link speed-up")
    parser.add_argument("--before-scale", type=float, default=10.0, help="the before day's link speed-up")
    parser.add_argument("--cut-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--only", choices=("before", "after"))
    args = parser.parse_args()
    shots = [camera_jpeg(seed=n + 1) for n in range(args.reports * args.photos)]
    results: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "link": {
            "latency_ms_each_way": 150,
            "mbit_each_way": 1,
            "cut_rate": args.cut_rate,
            "scale_after": args.scale,
            "scale_before": args.before_scale,
        },
        "day": {
            "reports": args.reports,
            "photos_per_report": args.photos,
            "photos_as_taken_bytes": sum(map(len, shots)),
        },
    }
    with tempfile.TemporaryDirectory(prefix="fv-link-") as tmp:
        for mode in ("before", "after"):
            if args.only and mode != args.only:
                continue
            results[mode] = r = run_day(mode, args, shots, Path(tmp))
            print(
                f"{mode:6}: {r['bytes_total'] / 1e6:6.2f} MB on the wire; {r['seconds']:.1f} s on 3G for "
                f"{r['seconds_bytes_need']:.1f} s of bytes ({r['ratio_to_bytes_time']:.2f}×); "
                f"{r['bytes_per_text_report']:,} bytes a text report, {r['bytes_per_photo']:,} a photo; "
                f"first report on the server after {r['seconds_until_first_report_on_server']:.1f} s, all "
                f"after {r['seconds_until_all_reports_on_server']:.1f} s; {r['cuts']} cuts, "
                f"{r['bytes_sent_again_after_cuts']:,} bytes sent again, {r['failed_syncs']} failed syncs",
                flush=True,
            )
            checks = r["acceptance"]
            print("        " + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
