"""Review-list benchmark: GET /v1/reports on a server database holding 100,000 reports.

The database is built fast and realistically: the server's own migrations create the schema, then one
transaction bulk-inserts the visits (the payload the import writes, from the seeded demo generator), their
two collectors each, and 100,000 reports with their current version (a full VisitReport body), review
comments and a realistic spread of states, outcomes, verdicts, flags and visit dates over two teams. Then a
supervisor (and an admin, whose scope is everything) asks for the first page without a filter and with
each filter (status, bucket, outcome, verdict, dates, q search), through the real app (FastAPI TestClient).
Median of several runs after a warm-up; target ≤ 300 ms each.

Run: .venv/bin/python bench/review_bench.py [--reports 100000] [--runs 7] [--db PATH];
writes bench/results/review_bench.json.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient

from models.canonical import canonical_json
from models.demo_data import DEMO_PASSWORD, demo_users, generate_import_records
from models.entities import VisitImportRecord
from models.report import VisitReport
from sync.server import Settings, create_app
from sync.server.store.visits import _visit_data

RESULTS = Path(__file__).resolve().parent / "results" / "review_bench.json"
TARGET_MS = 300.0
NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)

# A review desk a year into production: most reports decided, a working backlog still open.
STATES = [("approved", 55), ("submitted", 18), ("resubmitted", 5), ("returned", 6), ("rejected", 8),
          ("escalated_legal", 8)]  # fmt: skip
OUTCOMES = [("MET_BORROWER", 45), ("NO_ONE_HOME", 22), ("MET_FAMILY", 12), ("MET_THIRD_PARTY", 4),
            ("MOVED", 5), ("ADDRESS_INVALID", 3), ("REFUSED_CONTACT", 5), ("ACCESS_DENIED", 3),
            ("DECEASED_OR_INCAPACITATED", 0.5), ("ABORTED_UNSAFE", 0.5)]  # fmt: skip
FLAGS = [[], [], [], [], [], [], ["checkin_outside_planned_date"], ["collectors_differ"], ["plan_mismatch"],
         ["checkin_outside_hours"]]  # fmt: skip


def _pick(rng: random.Random, table: list[tuple[str, float]]) -> str:
    return rng.choices([k for k, _ in table], weights=[w for _, w in table])[0]


def _settings(db: str) -> Settings:
    return Settings(db=db, argon2_time_cost=1, argon2_memory_kib=64)


def build(db_path: str, n: int, seed: int = 2026) -> dict[str, Any]:
    """Create the schema (migrations), the demo users, then bulk-insert n visits and n reports."""
    t0 = time.perf_counter()
    app = create_app(_settings(db_path))
    ctx = app.state.ctx
    added = ctx.add_users(demo_users(), now=NOW)
    ids = {name: row["id"] for name, row in added.items()}
    team_of: dict[str, list[str]] = {"hz-a": [], "hz-b": []}
    for row in added.values():
        if row["role"] == "investigator":
            team_of[row["team"]].append(row["id"])
    ctx.db.close()

    rng = random.Random(seed)
    half = n // 2
    records = generate_import_records(half, team="hz-a", seed=seed) + generate_import_records(
        n - half, team="hz-b", seed=seed
    )
    template = copy.deepcopy(VisitReport.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]
    visits, assignees, reports, versions, comments = [], [], [], [], []
    sup = {"hz-a": ids["sup.a"], "hz-b": ids["sup.b"]}
    for i, rec in enumerate(records):
        r = VisitImportRecord.model_validate(rec)
        data, bucket, priority = _visit_data(r)
        vid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        day = date(2025, 12, 1) + timedelta(days=rng.randrange(362))
        created = datetime.combine(day, datetime.min.time(), UTC) - timedelta(days=rng.randrange(1, 20))
        pair = rng.sample(team_of[r.team], 2)
        visits.append((vid, r.external_id, r.team, "visited", r.district, bucket, float(priority), r.dpd,
                       str(r.outstanding_principal), r.borrower_name, day.isoformat(),
                       json.dumps(data, ensure_ascii=False), created.isoformat(), created.isoformat()))  # fmt: skip
        for pos, uid in enumerate(pair):
            assignees.append((vid, uid, 1, pos, created.isoformat()))
        rid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        status = _pick(rng, STATES)
        outcome = _pick(rng, OUTCOMES)
        body = copy.deepcopy(template)
        body.update(report_id=rid, visit_id=vid, outcome=outcome, collector_ids=pair)
        hour = rng.randrange(9, 20)
        visited_at = f"{day.isoformat()}T{hour:02d}:{rng.randrange(60):02d}:00+08:00"
        body["checkin"] = dict(body["checkin"], at=visited_at)
        body["checkout"] = dict(body["checkout"], at=f"{day.isoformat()}T{hour + 1:02d}:10:00+08:00")
        verdict = None
        if outcome != "MET_BORROWER":
            body.update(interview=None, assessment=None, plan=None, notes="敲门无人应答，已留联系卡")
        elif rng.random() < 0.25:
            verdict = "fail"
        else:
            verdict = "pass"
        raw = canonical_json(body)
        text = raw.decode()
        version_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        received = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hour, minutes=70)
        sv = {"submitted": 1, "returned": 2, "resubmitted": 3}.get(status, 2 if rng.random() < 0.8 else 4)
        updated = received + timedelta(hours=rng.randrange(1, 72))
        flags = json.dumps(rng.choice(FLAGS))
        reports.append((rid, vid, r.team, status, sv, version_id, flags, pair[0], outcome, verdict,
                        day.isoformat(), visited_at, received.isoformat(), updated.isoformat()))  # fmt: skip
        versions.append((version_id, rid, sv, max(sv - 1, 0), hashlib.sha256(raw).hexdigest(), text, "applied", flags,
                         None, pair[0], "submit_report", received.isoformat()))  # fmt: skip
        if status != "submitted":
            action = {"approved": "approve", "returned": "return", "rejected": "reject",
                      "escalated_legal": "escalate_legal", "resubmitted": "return"}[status]  # fmt: skip
            comments.append((rid, updated.isoformat(), sup[r.team], action, "请补充收入证明" if action == "return" else "",
                             "litigation" if action == "escalate_legal" else None, 2))  # fmt: skip
        if (i + 1) % 20000 == 0:
            print(f"  generated {i + 1:,} reports", flush=True)

    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO visits(id, external_id, team, status, district, bucket, priority, dpd, "
                     "outstanding, borrower_name, planned_date, data, created_at, updated_at) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", visits)  # fmt: skip
    conn.executemany("INSERT INTO visit_assignees(visit_id, user_id, active, position, assigned_at) "
                     "VALUES (?,?,?,?,?)", assignees)  # fmt: skip
    conn.executemany("INSERT INTO reports(id, visit_id, team, status, server_version, current_version_id, flags, "
                     "investigator_id, outcome, verdict, visit_date, visited_at, created_at, updated_at) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", reports)  # fmt: skip
    conn.executemany("INSERT INTO report_versions(version_id, report_id, server_version, base_version, "
                     "content_sha256, body, result, flags, device_id, user_id, kind, received_at) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", versions)  # fmt: skip
    conn.executemany("INSERT INTO comments(report_id, at, author_id, action, comment, route, server_version) "
                     "VALUES (?,?,?,?,?,?,?)", comments)  # fmt: skip
    conn.execute("COMMIT")  # no ANALYZE: the server never runs one, so neither does the benchmark
    conn.close()
    return {
        "build_seconds": round(time.perf_counter() - t0, 1),
        "ids": ids,
        "sample": reports[len(reports) // 3],
    }


def _time(client: TestClient, headers: dict[str, str], params: dict[str, Any], runs: int) -> dict[str, Any]:
    r = client.get("/v1/reports", params=params, headers=headers)  # warm-up (and a correctness check)
    assert r.status_code == 200, r.text
    body = r.json()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get("/v1/reports", params=params, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200
    return {
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "total": body["total"],
        "items": len(body["items"]),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--db", help="reuse (or build) the database at this path")
    args = ap.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="fv-review-bench-")
    db_path = args.db or str(Path(tmp.name) / "server.db")
    fresh = not Path(db_path).exists()
    info: dict[str, Any] = {}
    if fresh:
        print(f"building a server database with {args.reports:,} reports at {db_path} …", flush=True)
        info = build(db_path, args.reports)
        print(
            f"  built in {info['build_seconds']} s ({Path(db_path).stat().st_size / 1e6:.0f} MB)", flush=True
        )
    app = create_app(_settings(db_path))
    n_reports = app.state.ctx.db.read_sync(
        lambda db: db.execute("SELECT COUNT(*) FROM reports").fetchone()[0]
    )
    sample = app.state.ctx.db.read_sync(
        lambda db: db.execute(
            "SELECT v.external_id, v.borrower_name, v.bucket FROM reports r JOIN visits v ON v.id = r.visit_id "
            "WHERE r.team = 'hz-a' ORDER BY r.rowid LIMIT 1 OFFSET 777"
        ).fetchone()
    )
    cases: list[tuple[str, dict[str, Any]]] = [
        ("first page, no filter", {}),
        ("status=submitted", {"status": "submitted"}),
        ("status=resubmitted", {"status": "resubmitted"}),
        ("bucket=M3", {"bucket": "3"}),
        ("outcome=NO_ONE_HOME", {"outcome": "NO_ONE_HOME"}),
        ("verdict=fail", {"verdict": "fail"}),
        ("visit dates (one month)", {"from": "2026-06-01", "to": "2026-06-30"}),
        ("status+bucket+outcome", {"status": "submitted", "bucket": "5", "outcome": "MET_BORROWER"}),
        ("q=external id", {"q": sample[0]}),
        ("q=borrower name", {"q": sample[1]}),
        ("q=district 西湖区", {"q": "西湖区"}),
        ("page 50 (offset 4,900)", {"offset": 4900}),
    ]
    results: list[dict[str, Any]] = []
    with TestClient(app) as client:
        for who in ("sup.a", "admin"):
            r = client.post(
                "/v1/auth/login", json={"username": who, "password": DEMO_PASSWORD, "device_name": "bench"}
            )
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            for name, params in cases:
                res = _time(client, headers, {"limit": 100, **params}, args.runs)
                res.update(caller=who, case=name, params=params, ok=res["median_ms"] <= TARGET_MS)
                results.append(res)
                print(
                    f"  {who:6} {name:28} {res['median_ms']:8.1f} ms  (max {res['max_ms']:.1f}, total {res['total']:,})",
                    flush=True,
                )

    print()
    print(
        f"{'caller':7} {'case':30} {'median ms':>10} {'max ms':>9} {'total':>9}  target ≤ {TARGET_MS:.0f} ms"
    )
    for r in results:
        print(
            f"{r['caller']:7} {r['case']:30} {r['median_ms']:10.1f} {r['max_ms']:9.1f} {r['total']:9,}  {'ok' if r['ok'] else 'MISS'}"
        )
    out = {
        "benchmark": "review_bench",
        "reports": n_reports,
        "runs": args.runs,
        "target_ms": TARGET_MS,
        "all_ok": all(r["ok"] for r in results),
        "build_seconds": info.get("build_seconds"),
        "machine": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(),
        },
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(
        f"\nwritten to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}"
    )
    return 0 if out["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
