"""App benchmark in the browser: 2,000 visits assigned to one investigator, measured in headless Debian chromium
(390×844, every non-loopback request aborted) against `fieldvisit serve` and `fieldvisit app` processes.

- sign-in → queue: from the sign-in tap to the first queue card in the semantics tree (the first sign-in on
  the device, so it includes pulling all 2,000 visits), and to the count showing all of them;
- reload → queue: navigation start → first queue card (the page re-attaches to its app session; the time
  includes Flutter's start and turning the semantics tree on, as a screen reader would);
- new session → queue: a new tab on a signed-in device (lock screen) from the unlock tap → first card;
- queue first render: from a tap on the queue tab (coming from the sync tab) → first card;
- search: a query typed into the search box → the count shows the store's own result count (from the last
  key, and from the first key).

Run: .venv/bin/python bench/app_bench.py [--visits 2000] [--runs 5]; writes bench/results/app_bench.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.demo_data import generate_import_records  # noqa: E402
from tests.app.journey_helpers import (  # noqa: E402
    PHONE,
    AppServer,
    Central,
    Screen,
    enable_semantics,
    have_browser,
    launch,
    local_instant,
    open_app,
    until,
    yesterday_shanghai,
)

RESULTS = ROOT / "bench" / "results" / "app_bench.json"
PASSWORD = "bench-pass-1"
FIRST_CARD = '[flt-semantics-identifier^="visit-card-"]'


def _count_text(s: Screen) -> str:
    return s.text("queue-count") if s.present("queue-count") else ""


def _total(text: str) -> int | None:
    nums = re.findall(r"\d+", text)
    return int(nums[-1]) if nums else None


def _store_counts(data_dir: Path, queries: list[str]) -> dict[str, int]:
    """The device store's own answer for each query, from a copy of the app's database (sealed at rest: its
    data key is unwrapped from the key file beside it with the investigator's password, as the app does)."""
    from storage.keyfile import KeyFile
    from storage.store import DeviceStore

    src = next(data_dir.glob("fieldvisit-*.db"))
    key = KeyFile.for_store(src).unlock(PASSWORD, context=src.stem.removeprefix("fieldvisit-"))
    tmp = Path(tempfile.mkdtemp()) / "copy.db"
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as ro, sqlite3.connect(tmp) as dst:
        ro.backup(dst)
    store = DeviceStore(tmp, key=key, blob_dir=tmp.with_name("blobs"))
    try:
        return {q: store.queue_count(search=q) for q in queries}
    finally:
        store.close()
        shutil.rmtree(tmp.parent, ignore_errors=True)


def _queries(records: list[dict[str, Any]]) -> list[str]:
    r = records[len(records) // 3]
    road = re.search(r"区(.{2,4}?路)", r["address"])
    return [
        r["borrower_name"][0],  # one character: names only
        road.group(1) if road else r["address"][6:9],  # a road: trigram search on the address
        r["phone"][-4:],  # four digits: phone and ID tails
        r["external_id"],  # the loan account number
    ]


def _type_search(s: Screen, query: str, expect: int) -> tuple[float, float]:
    """(ms from the first key, ms from the last key) until the count shows `expect` results."""
    box = s.input("queue-search")
    box.click()
    s.page.keyboard.press("Control+a")
    s.page.keyboard.press("Backspace")
    first = time.perf_counter()
    s.page.keyboard.type(query)
    last = time.perf_counter()
    until(
        lambda: _total(_count_text(s)) == expect,
        30,
        0.01,
        what=f"search {query!r} → {expect} (the count shows {_count_text(s)!r})",
    )
    done = time.perf_counter()
    return (done - first) * 1000, (done - last) * 1000


def _clear_search(s: Screen, total: int) -> None:
    s.input("queue-search").click()
    s.page.keyboard.press("Control+a")
    s.page.keyboard.press("Backspace")
    until(lambda: _total(_count_text(s)) == total, 30, 0.02, what="search cleared")


def _nav(s: Screen, name: str) -> None:
    s.page.get_by_role("tab", name=name).or_(s.page.get_by_text(name, exact=True)).first.click()


def med(xs: list[float]) -> float:
    return round(statistics.median(xs), 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--visits", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not have_browser():
        print("needs /usr/bin/chromium, playwright and the fieldvisit CLI")
        return 1
    from playwright.sync_api import sync_playwright

    import tests.app.journey_helpers as helpers

    helpers.TRACE = False

    from app.i18n import catalogue

    zh = catalogue()["zh-CN"]
    work = Path(tempfile.mkdtemp(prefix="app-bench-"))
    central = Central(work, PASSWORD)
    results: dict[str, Any] = {}
    app: AppServer | None = None
    try:
        t0 = time.perf_counter()
        central.add_user("sup.bench", "supervisor", "hz-a", "基准主管")
        inv = central.add_user("inv.bench", "investigator", "hz-a", "基准调查员")
        partner = central.add_user("inv.partner", "investigator", "hz-a", "搭档")
        records = generate_import_records(args.visits, seed=2026, team="hz-a")
        central.import_records(records)
        central.start()
        api = central.api("sup.bench")
        visits = api.visits()
        api.assign([v["visit_id"] for v in visits], [inv, partner], yesterday_shanghai())
        api.close()
        print(f"setup: {len(visits)} visits assigned in {time.perf_counter() - t0:.1f} s")
        app = AppServer(work / "app", central.url)
        (work / "app").mkdir()
        app.clock_file = work / "app" / "clock.txt"
        app.set_clock(local_instant(yesterday_shanghai(), 15, 0))
        app.start()
        total = len(visits)

        with sync_playwright() as p:
            browser = launch(p)
            # 1. First sign-in on the device (pulls every visit).
            ctx, s = open_app(browser, app.url, PHONE)
            s.fill("signin-server", central.url)
            s.fill("signin-username", "inv.bench")
            s.fill("signin-password", PASSWORD)
            tap = time.perf_counter()
            s.tap("signin-submit")
            s.page.wait_for_selector(FIRST_CARD, state="attached", timeout=180_000)
            first_card = (time.perf_counter() - tap) * 1000
            until(lambda: _total(_count_text(s)) == total, 180, 0.05, what="all visits in the queue")
            all_in = (time.perf_counter() - tap) * 1000
            results["signin_to_first_card_ms"] = round(first_card, 1)
            results["signin_to_all_visits_ms"] = round(all_in, 1)

            # 2. Reload → first card (navigation start is performance.timeOrigin).
            reload_ms = []
            for _ in range(args.runs):
                s.page.reload()
                s.page.wait_for_selector("#loading", state="detached", timeout=60_000)
                enable_semantics(s.page)
                s.page.wait_for_selector(FIRST_CARD, state="attached", timeout=60_000)
                reload_ms.append(float(s.page.evaluate("() => performance.now()")))
            results["reload_to_first_card_ms"] = reload_ms

            # 3. Queue first render: sync tab → queue tab → first card.
            render_ms = []
            for _ in range(args.runs):
                _nav(s, zh["nav.sync"])
                s.wait("sync-pending")
                s.page.wait_for_selector(FIRST_CARD, state="detached", timeout=30_000)
                t = time.perf_counter()
                _nav(s, zh["nav.queue"])
                s.page.wait_for_selector(FIRST_CARD, state="attached", timeout=30_000)
                render_ms.append((time.perf_counter() - t) * 1000)
            results["queue_tab_to_first_card_ms"] = render_ms

            # 4. Searches.
            queries = _queries(records)
            expected = _store_counts(app.folder / "device", queries)
            search: dict[str, dict[str, Any]] = {}
            for q in queries:
                from_first, from_last = [], []
                for _ in range(args.runs):
                    a, b = _type_search(s, q, expected[q])
                    from_first.append(a)
                    from_last.append(b)
                    _clear_search(s, total)
                search[q] = {
                    "results": expected[q],
                    "from_first_key_ms": from_first,
                    "from_last_key_ms": from_last,
                }
            results["search"] = search
            ctx.close()

            # 5. New session on the signed-in device: lock screen → unlock → first card.
            unlock_ms = []
            for _ in range(args.runs):
                ctx, s = open_app(browser, app.url, PHONE)
                s.wait("lock-unlock", timeout=60_000)
                s.fill("lock-password", PASSWORD)
                t = time.perf_counter()
                s.tap("lock-unlock")
                s.page.wait_for_selector(FIRST_CARD, state="attached", timeout=60_000)
                unlock_ms.append((time.perf_counter() - t) * 1000)
                ctx.close()
            results["unlock_to_first_card_ms"] = unlock_ms
            browser.close()
    finally:
        if app is not None:
            app.stop()
        central.stop()
        shutil.rmtree(work, ignore_errors=True)

    rows = [
        ("first sign-in → first card (pulls all visits)", [results["signin_to_first_card_ms"]]),
        (f"first sign-in → count shows all {args.visits}", [results["signin_to_all_visits_ms"]]),
        ("reload (navigation start) → first card", results["reload_to_first_card_ms"]),
        ("new session: unlock → first card", results["unlock_to_first_card_ms"]),
        ("queue tab → first card (first render)", results["queue_tab_to_first_card_ms"]),
    ]
    for q, r in results["search"].items():
        rows.append((f"search {q!r} ({r['results']} hits), from last key", r["from_last_key_ms"]))
        rows.append((f"search {q!r}, from first key", r["from_first_key_ms"]))
    print(f"\nApp in headless chromium, {args.visits} visits, {args.runs} runs (median / min / max, ms)")
    print(f"{'measure':58} {'median':>8} {'min':>8} {'max':>8}")
    for name, xs in rows:
        print(f"{name:58} {med(xs):8.1f} {min(xs):8.1f} {max(xs):8.1f}")
    summary = {name: {"median_ms": med(xs), "min_ms": round(min(xs), 1), "max_ms": round(max(xs), 1),
                      "runs_ms": [round(x, 1) for x in xs]} for name, xs in rows}  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "visits": args.visits, "runs": args.runs, "viewport": list(PHONE),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "results": summary,
    }, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")  # fmt: skip
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
