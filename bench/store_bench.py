"""Device store benchmark: queue first page and searches on stores of 10,000 and 100,000 visits, with
encryption at rest on (a random data key: sealed queue cards and documents, the blind search index).

Run: .venv/bin/python bench/store_bench.py [--sizes 10000 100000] [--runs 15]; writes bench/results/store_bench.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.codes import VisitStatus
from models.entities import Borrower, LoanAccount, Visit
from models.risk import bucket, priority_score
from storage.crypto import DataKey
from storage.store import DeviceStore

RESULTS = Path(__file__).resolve().parent / "results" / "store_bench.json"
TARGETS_MS = {"queue_first_page": 20.0, "search": 50.0}


def _records(n: int) -> list[dict[str, Any]]:
    from models.demo_data import generate_import_records

    # Two teams so that every district and a realistic name mix appear.
    half = n // 2
    return generate_import_records(half, team="hz-a", seed=7) + generate_import_records(
        n - half, team="hz-b", seed=7
    )


def to_visit(r: dict[str, Any], index: int) -> Visit:
    b = bucket(int(r["dpd"]))
    return Visit(
        visit_id=str(uuid.UUID(int=index + 1)),
        external_id=r["external_id"],
        team=r["team"],
        status=VisitStatus.ASSIGNED if index % 5 else VisitStatus.VISITED,
        borrower=Borrower(
            name=r["borrower_name"],
            phone=r["phone"],
            id_number=r["id_number"],
            address=r["address"],
            district=r["district"],
            lat=r.get("lat"),
            lon=r.get("lon"),
        ),
        loan=LoanAccount(
            external_id=r["external_id"],
            product_type=r["product_type"],
            outstanding_principal=r["outstanding_principal"],
            overdue_amount=r["overdue_amount"],
            dpd=r["dpd"],
            bucket=b,
            contractual_instalment=r.get("contractual_instalment"),
            monthly_rate=r.get("monthly_rate"),
            repayment_history=r.get("repayment_history") or [],
        ),
        investigator_ids=["u-inv-a1", "u-inv-a2"],
        planned_date=date(2026, 4, 1) + timedelta(days=index % 14),
        priority=priority_score(
            bucket=b,
            balance=Decimal(r["outstanding_principal"]),
            broken_ptp=r.get("broken_ptp_count", 0),
            contact_lost=r.get("contact_lost", False),
            days_since_last_contact=r.get("days_since_last_contact") or 0,
            active_plan_current=r.get("active_plan_current", False),
        ),
        broken_ptp_count=r.get("broken_ptp_count", 0),
        days_since_last_contact=r.get("days_since_last_contact"),
        contact_lost=r.get("contact_lost", False),
        active_plan_current=r.get("active_plan_current", False),
    )


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm the page cache and the statement cache
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 3)


def bench_size(n: int, runs: int, workdir: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    records = _records(n)
    visits = [to_visit(r, i) for i, r in enumerate(records)]
    t_gen = time.perf_counter() - t0
    store = DeviceStore(workdir / f"bench-{n}" / "store.db", key=DataKey.generate())
    t1 = time.perf_counter()
    store.upsert_visits(visits)  # one transaction
    t_build = time.perf_counter() - t1

    probe = records[n // 3]
    name, phone = probe["borrower_name"], probe["phone"]
    given = name[1:] if len(name) >= 3 else name  # the given name: a two-character substring
    district = probe["district"]
    cases: dict[str, Callable[[], object]] = {
        "queue_first_page": lambda: store.queue(limit=50),
        "queue_first_page_district": lambda: store.queue(district=district, limit=50),
        "queue_page_10": lambda: store.queue(limit=50, offset=450),
        "queue_count": lambda: store.queue_count(),
        "search_full_name": lambda: store.queue(search=name),
        "search_name_substring": lambda: store.queue(search=given),
        "search_phone_tail": lambda: store.queue(search=phone[-4:]),
        "search_address_substring": lambda: store.queue(search=probe["address"][-12:-4]),
        "search_id_tail": lambda: store.queue(search=probe["id_number"][-4:]),
        "search_district_name": lambda: store.queue(search=district),
    }
    timings = {k: _median_ms(fn, runs) for k, fn in cases.items()}
    hits = {
        "search_full_name": store.queue_count(search=name),
        "search_name_substring": store.queue_count(search=given),
        "search_phone_tail": store.queue_count(search=phone[-4:]),
        "search_address_substring": store.queue_count(search=probe["address"][-12:-4]),
        "search_id_tail": store.queue_count(search=probe["id_number"][-4:]),
        "search_district_name": store.queue_count(search=district),
    }
    store.close()
    size_mb = sum(p.stat().st_size for p in (workdir / f"bench-{n}").glob("store.db*")) / 1e6
    return {
        "visits": n,
        "generate_s": round(t_gen, 2),
        "build_s": round(t_build, 2),
        "db_mb": round(size_mb, 1),
        "median_ms": timings,
        "search_hits": hits,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        results = [bench_size(n, args.runs, Path(tmp)) for n in args.sizes]
    names = list(results[0]["median_ms"])
    sys.stdout.write(f"{'median ms (warm)':<28}" + "".join(f"{r['visits']:>12,}" for r in results) + "\n")
    for k in names:
        sys.stdout.write(f"{k:<28}" + "".join(f"{r['median_ms'][k]:>12.2f}" for r in results) + "\n")
    for k in ("build_s", "db_mb"):
        sys.stdout.write(f"{k:<28}" + "".join(f"{r[k]:>12}" for r in results) + "\n")
    report = {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "machine": platform.machine(),
        "runs": args.runs,
        "encryption_at_rest": "AES-256-GCM cards and documents, HMAC-SHA256 blind index",
        "targets_ms": TARGETS_MS,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
