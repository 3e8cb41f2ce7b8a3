"""Crash safety: a writer process killed with SIGKILL at random points never leaves a half-written report.

After every kill the database passes integrity_check, every version's content matches its hash, every outbox
row has its version, and every blob an outbox row names exists with the right hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from models.canonical import content_sha256
from storage.store import TEST_KEY

ROOT = Path(__file__).resolve().parents[1]
KILLS = 30
BUDGET_S = 25.0

# Submits reports with photos, saves drafts, acknowledges some pushes and refreshes visits, forever.
WRITER = r"""
import os, random, sys, uuid
from storage.store import DeviceStore
from models.report import VisitReport
from models.wire import MutationResult, PushResponse

path, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
store = DeviceStore(path)
print("ready", flush=True)
while True:
    rid, vid = str(uuid.uuid4()), str(uuid.uuid4())
    store.save_draft(rid, vid, {"notes": "x" * rng.randrange(1, 2000), "step": 1})
    metas = [
        store.register_attachment(os.urandom(rng.randrange(1, 64 * 1024)), kind="visit_photo", mime="image/jpeg")
        for _ in range(rng.randrange(0, 3))
    ]
    store.save_draft(rid, vid, {"notes": "y" * rng.randrange(1, 2000), "step": 2})
    store.submit_report(VisitReport(report_id=rid, visit_id=vid, notes="记录" * rng.randrange(1, 500),
                                    attachments=metas))
    if rng.random() < 0.3:
        waiting = store.outbox(limit=5)
        if waiting:
            store.apply_push_response(PushResponse(
                last_mutation_id=waiting[-1].mutation_id, server_epoch="ep",
                results=[MutationResult(mutation_id=e.mutation_id, status="applied", server_version=1)
                         for e in waiting]))
"""


def _plain(sealed: bytes, column: str, row: str) -> str:
    """A value as the writer sealed it (a store opened without a key uses the public test key)."""
    return TEST_KEY.open_text(sealed, f"{column}:{row}".encode())


def _check(db_path: Path, blob_dir: Path) -> tuple[int, int]:
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        versions = conn.execute("SELECT version_id, content, content_sha256 FROM report_versions").fetchall()
        for version_id, content, digest in versions:
            assert (
                content_sha256(json.loads(_plain(content, "report_versions.content", version_id))) == digest
            )
        orphans = conn.execute(
            "SELECT o.mutation_id FROM outbox o LEFT JOIN report_versions v USING (version_id) "
            "WHERE v.version_id IS NULL"
        ).fetchall()
        assert orphans == []
        rows = conn.execute(
            "SELECT o.version_id, o.mutation, v.content_sha256 FROM outbox o JOIN report_versions v USING (version_id)"
        ).fetchall()
        for version_id, sealed, digest in rows:
            mutation = json.loads(_plain(sealed, "outbox.mutation", version_id))
            assert mutation["content_sha256"] == digest == content_sha256(mutation["report"])
            for sha in mutation["blobs"]:
                plain = TEST_KEY.open((blob_dir / sha).read_bytes(), b"blob:" + sha.encode())
                assert hashlib.sha256(plain).hexdigest() == sha
        # The mutation counter never falls behind what the outbox already used.
        (next_id,) = conn.execute("SELECT next_mutation_id FROM sync_state").fetchone()
        (top,) = conn.execute("SELECT coalesce(max(mutation_id), 0) FROM outbox").fetchone()
        assert next_id > top
        return len(versions), len(rows)
    finally:
        conn.close()


@pytest.mark.slow
def test_store_stays_consistent_when_writer_killed_repeatedly(tmp_path: Path) -> None:
    db_path = tmp_path / "store.db"
    rng = random.Random(1234)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    versions = 0
    for round_no in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db_path), str(round_no)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read() if proc.stderr else ""
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
        versions, _ = _check(db_path, tmp_path / "blobs")
        assert time.monotonic() - started < BUDGET_S * 2, "crash test far over its time budget"
    # The writers did real work between kills, so the checks above covered actual data.
    assert versions >= KILLS
