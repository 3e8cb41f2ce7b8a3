"""Field-day benchmark over an emulated 3G link: 12 reports with 3 photos each, from a device store through
a link of 150 ms each way and 1 Mbit/s each way that cuts some requests part-way, to a real server process.

"before": photos stored as the camera took them (12 MP, about 3 MB) and sent whole, before their reports
(PUT; a cut upload starts again from byte 0). "after": photos made for the link when attached, reports'
text first, photos as resumable uploads (tus) afterwards.

The link runs `--scale` times faster than 3G (bandwidth × scale, delay ÷ scale); minutes are given on the
3G link (measured × scale). Bytes are what the link carried both ways (HTTP, not TCP/IP headers).

Run: .venv/bin/python bench/field_bench.py [--reports 12] [--photos 3] [--scale 10] [--cut-rate 0.05];
prints the figures and writes bench/results/field_bench.json.
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
    db = work / f"{mode}-server.db"
    users = seed_users(db)
    server = ServerProcess(db)
    server.start()
    try:
        with httpx.Client(timeout=60) as http:
            visits = seed_visits(http, server.url, args.reports, collectors=users)
        store = DeviceStore(work / f"{mode}-device.db")
        stored = 0
        for i in range(args.reports):
            metas = []
            for j in range(args.photos):
                shot = shots[i * args.photos + j]
                data, mime = shot, "image/jpeg"
                if mode == "after":
                    ready = prepare_attachment(shot, mime="image/jpeg", filename=f"IMG_{i}{j}.JPG")
                    data, mime = ready.data, ready.mime
                stored += len(data)
                metas.append(store.register_attachment(data, kind="visit_photo", mime=mime))
            store.submit_report(report(visits[i], notes=f"第 {i + 1} 户", attachments=metas))
        http = httpx.Client(timeout=600)
        link = LinkEmulator(
            server.port,
            latency_s=0.150,
            up_bps=1_000_000,
            down_bps=1_000_000,
            cut_rate=args.cut_rate,
            seed=args.seed,
            time_scale=args.scale,
        )
        with link:
            api = ApiClient(store, http)
            for _ in range(20):
                try:
                    api.login(link.url, INVESTIGATORS[0], PASSWORD, "phone")
                    break
                except SyncError:
                    continue
            before_login = link.counters()
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
            counters = link.counters()
        http.close()
        store.close()
        texts, blobs = _server_times(db)
    finally:
        server.stop()
    assert len(texts) == args.reports and len(blobs) == args.reports * args.photos, (len(texts), len(blobs))
    on_link = args.scale / 60
    return {
        "photos_stored_bytes": stored,
        "bytes_up": counters["up"] - before_login["up"],
        "bytes_down": counters["down"] - before_login["down"],
        "bytes_total": counters["up"] + counters["down"] - before_login["up"] - before_login["down"],
        "cuts": counters["cuts"],
        "failed_syncs": failures,
        "minutes": round(elapsed * on_link, 2),
        "minutes_until_all_reports_on_server": round((max(texts) - started_wall) * on_link, 2),
        "minutes_until_first_photo_on_server": round((min(blobs) - started_wall) * on_link, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=12)
    parser.add_argument("--photos", type=int, default=3)
    parser.add_argument("--scale", type=float, default=10.0)
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
            "scale": args.scale,
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
            results[mode] = run_day(mode, args, shots, Path(tmp))
            r = results[mode]
            print(
                f"{mode:6}: {r['bytes_total'] / 1e6:7.2f} MB on the wire, {r['minutes']:6.2f} min on 3G "
                f"(all reports on the server after {r['minutes_until_all_reports_on_server']:.2f} min, first "
                f"photo after {r['minutes_until_first_photo_on_server']:.2f} min); {r['cuts']} cuts, "
                f"{r['failed_syncs']} failed syncs",
                flush=True,
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
