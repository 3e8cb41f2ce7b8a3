"""Cursors over the change log and the risk feed on PostgreSQL, with eight writers committing concurrently, each
on its own connection as eight workers would: a reader that follows `seq > cursor` while they write sees every
committed row, in order, none skipped (sequence values alone are committed out of order)."""

from __future__ import annotations

import threading
import time
from typing import Any

from sync.server.db import Database
from sync.server.store.common import Principal, dumps
from sync.server.store.feed import read_feed
from sync.server.store.state import add_changes

WRITERS = 8
EACH = 40
ADMIN = Principal(user_id="u-admin", username="admin", name="Admin", role="admin", team="hz-a", device_id="d")


def _write(db: Any, writer: int, n: int) -> None:
    """A change and a feed event, with work between taking their `seq` and committing (as a push has)."""
    add_changes(db, ["u-1"], "visit", "put", f"w{writer}-{n}")
    time.sleep(0.002 * ((writer + n) % 3))
    db.execute(
        "INSERT INTO feed(type, report_id, visit_id, external_id, team, at, data) VALUES (?,?,?,?,?,?,?)",
        ["report_approved", f"w{writer}-{n}", "v", "e", "hz-a", "2026-11-20T00:00:00Z", dumps({})],
    )


def _changes_after(db: Any, since: int) -> list[tuple[int, str]]:
    # The change-log read of a pull (sync/server/store/pull.py).
    rows = db.execute(
        "SELECT seq, type, op, entity_id FROM changes WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        ["u-1", since, 1000],
    ).fetchall()
    return [(int(r[0]), str(r[3])) for r in rows]


def test_cursors_skip_no_committed_change_when_eight_writers_commit_concurrently(pg_url: str) -> None:
    workers = [Database(pg_url, readers=1) for _ in range(WRITERS)]
    reader = Database(pg_url, readers=1)
    done = threading.Event()
    seen_changes: list[tuple[int, str]] = []
    seen_feed: list[tuple[int, str]] = []

    def follow() -> None:
        changes_cursor = feed_cursor = 0
        while True:
            last_round = done.is_set()
            got = reader.read_sync(_changes_after, changes_cursor)
            if got:
                seen_changes.extend(got)
                changes_cursor = got[-1][0]
            page = reader.read_sync(read_feed, actor=ADMIN, since=feed_cursor, limit=1000)
            seen_feed.extend((e["seq"], e["report_id"]) for e in page["events"])
            feed_cursor = int(page["cursor"])
            if last_round and not got and not page["events"]:
                return

    def write(i: int) -> None:
        for n in range(EACH):
            workers[i].write_sync(_write, i, n)

    follower = threading.Thread(target=follow)
    follower.start()
    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        done.set()
        follower.join()
        for db in (*workers, reader):
            db.close()

    expected = {f"w{i}-{n}" for i in range(WRITERS) for n in range(EACH)}
    for seen in (seen_changes, seen_feed):
        seqs = [s for s, _ in seen]
        assert seqs == sorted(set(seqs))  # delivered in order, each once
        assert {entity for _, entity in seen} == expected  # nothing skipped
