"""Random interleavings of edits, submits, reviews, faulty syncs, device crashes and server restarts.

After every step: no version twice on the server, every acknowledged version stored, the device databases
consistent and drafts intact. After a quiet period: outboxes empty and every device agrees with the server.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import sync.client.engine as engine_module
from sync.client import SyncError
from sync.client.crash import CRASH_POINTS
from tests.sync.factories import report
from tests.sync.harness import BASE, FAULTS, INVESTIGATORS, Device, World, review, server_versions

pytestmark = pytest.mark.slow

REVIEW_ACTIONS = ("approve", "return", "reject", "escalate_legal")
SYNC_PATHS = ("/v1/sync/push", "/v1/sync/pull", "/v1/blobs/", "/v1/health")


class _Crash(BaseException):
    """The process died at a crash point: nothing after it runs, only what was committed survives."""


class SyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="fv-sync-sm-"))
        self.world = World(self.tmp, visits=3)
        self.devices = [
            self.world.device(INVESTIGATORS[0], name="a"),
            self.world.device(INVESTIGATORS[1], name="b"),
        ]
        self.drafts: list[dict[str, Any]] = [{}, {}]
        self.counter = 0
        self.acknowledged: dict[str, str] = {}  # version_id -> content hash the device saw acknowledged

    @initialize()
    def first_reports(self) -> None:
        # Every run starts with reports on the server, so reviews, rework and conflicts come early.
        self.devices[0].store.submit_report(report(self.world.visits[0], notes=self._notes()))
        self.devices[1].store.submit_report(report(self.world.visits[1], notes=self._notes()))
        for d in self.devices + self.devices:
            d.engine.sync()

    def _notes(self) -> str:
        self.counter += 1
        return f"第 {self.counter} 次记录"

    # -- field work -------------------------------------------------------------------------------------

    @rule(dev=st.integers(0, 1), visit=st.integers(0, 2), key=st.integers(0, 1))
    def edit_draft(self, dev: int, visit: int, key: int) -> None:
        d = self.devices[dev]
        rid = f"draft-{dev}-{key}"
        data = {"visit_id": self.world.visits[visit], "notes": self._notes()}
        d.store.save_draft(rid, self.world.visits[visit], data)
        self.drafts[dev][rid] = data

    @rule(dev=st.integers(0, 1), visit=st.integers(0, 2))
    def submit_new(self, dev: int, visit: int) -> None:
        d = self.devices[dev]
        d.store.submit_report(report(self.world.visits[visit], notes=self._notes()))

    def _has_reports(self) -> bool:
        return any(d.store.reports() for d in self.devices)

    @precondition(_has_reports)
    @rule(dev=st.integers(0, 1), pick=st.integers(0, 50))
    def resubmit(self, dev: int, pick: int) -> None:
        d = self.devices[dev]
        known = [r for r in d.store.reports() if r.visit_id] or [
            r for o in self.devices for r in o.store.reports() if r.visit_id
        ]
        r = known[pick % len(known)]
        d.store.submit_report(report(r.visit_id, report_id=r.report_id, notes=self._notes()))

    @precondition(lambda self: bool(self._server_reports()))
    @rule(pick=st.integers(0, 50), action=st.sampled_from(REVIEW_ACTIONS))
    def supervisor_reviews(self, pick: int, action: str) -> None:
        rows = self._server_reports()
        rid = sorted(rows)[pick % len(rows)]
        answer = review(self.world.desk, BASE, rid, action)
        assert answer.status_code in (200, 409), answer.text
        event(f"review {action} -> {answer.status_code}")

    # -- sync -------------------------------------------------------------------------------------------

    @rule(dev=st.integers(0, 1), fault=st.sampled_from(FAULTS), path=st.sampled_from(SYNC_PATHS))
    def sync_with_fault(self, dev: int, fault: str, path: str) -> None:
        d = self.devices[dev]
        d.transport.plan.add(fault, path)
        self._sync(d)
        d.transport.plan.queue.clear()

    @rule(dev=st.integers(0, 1))
    def sync(self, dev: int) -> None:
        self._sync(self.devices[dev])

    @rule()
    def both_sync(self) -> None:
        for d in self.devices:
            self._sync(d)

    @rule(dev=st.integers(0, 1), point=st.sampled_from(CRASH_POINTS))
    def client_crashes_during_sync(self, dev: int, point: str) -> None:
        d = self.devices[dev]

        def die(name: str) -> None:
            if name == point:
                raise _Crash(name)

        original = engine_module.crash_point
        engine_module.crash_point = die
        try:
            self._sync(d)
        except _Crash:
            pass
        finally:
            engine_module.crash_point = original
        d.reopen()

    @rule()
    def server_restarts(self) -> None:
        self.world.restart()

    def _sync(self, d: Device) -> None:
        try:
            rep = d.engine.sync()
        except SyncError as exc:
            event(f"sync failed: {exc.code}")
            return
        event(
            f"sync ok: conflicts={min(rep.conflicts, 1)} duplicates={min(rep.duplicates, 1)} reset={rep.reset}"
        )
        self._note_acknowledged(d)

    def _note_acknowledged(self, d: Device) -> None:
        with closing(sqlite3.connect(d.path)) as conn:
            for vid, digest in conn.execute(
                "SELECT version_id, content_sha256 FROM report_versions WHERE state IN ('applied', 'conflict')"
            ):
                self.acknowledged[vid] = digest

    # -- checks -----------------------------------------------------------------------------------------

    def _server_reports(self) -> dict[str, tuple[str, int]]:
        with closing(sqlite3.connect(f"file:{self.world.db_path}?mode=ro", uri=True)) as conn:
            return {r: (s, v) for r, s, v in conn.execute("SELECT id, status, server_version FROM reports")}

    @invariant()
    def no_version_twice_on_the_server(self) -> None:
        versions = server_versions(self.world.db_path)
        assert len({v for v, _, _ in versions}) == len(versions)
        # Every submission has unique notes, so one content twice would be one version stored twice.
        per_content = Counter((r, h) for _, r, h in versions)
        assert all(n == 1 for n in per_content.values())

    @invariant()
    def every_acknowledged_version_stored(self) -> None:
        stored = {v: h for v, _, h in server_versions(self.world.db_path)}
        for vid, digest in self.acknowledged.items():
            assert stored.get(vid) == digest

    @invariant()
    def devices_consistent_and_drafts_kept(self) -> None:
        for i, d in enumerate(self.devices):
            with closing(sqlite3.connect(d.path)) as conn:
                assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
                orphans = conn.execute(
                    "SELECT count(*) FROM outbox o LEFT JOIN report_versions v USING (version_id) "
                    "WHERE v.version_id IS NULL"
                ).fetchone()[0]
                assert orphans == 0
                ids = [r[0] for r in conn.execute("SELECT mutation_id FROM outbox ORDER BY mutation_id")]
                assert len(ids) == len(set(ids))
            for rid, data in self.drafts[i].items():
                assert d.store.get_draft(rid) == data

    def teardown(self) -> None:
        statuses = sorted({s for s, _ in self._server_reports().values()})
        event(f"server states at the end: {statuses}")
        try:
            for _ in range(3):
                for d in self.devices:
                    d.engine.sync()
            for d in self.devices:
                self._note_acknowledged(d)
            self.every_acknowledged_version_stored()
            server = self._server_reports()
            for d in self.devices:
                assert d.store.pending_count() == 0
                local = {r.report_id: r for r in d.store.reports()}
                for rid, (status, version) in server.items():
                    mine = local[rid]
                    assert (str(mine.review_status), mine.server_version) == (status, version), rid
                # Every version the device holds and the server did not refuse is on the server.
                stored = {v for v, _, _ in server_versions(self.world.db_path)}
                with closing(sqlite3.connect(d.path)) as conn:
                    held = conn.execute("SELECT version_id, state, error FROM report_versions").fetchall()
                for vid, state, error in held:
                    assert state != "pending", vid
                    if state != "rejected":
                        assert vid in stored, (vid, state)
                    else:
                        assert error is not None, json.dumps([vid, state])
        finally:
            self.world.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


SyncMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_sync_converges_under_random_faults_crashes_and_restarts = SyncMachine.TestCase
