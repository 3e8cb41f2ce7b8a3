"""kill -9 of the device at every sync step, and of the server mid-batch: after restart and sync, every
submitted report is on the server exactly once and both databases pass integrity_check."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from sync.client.crash import CRASH_ENV
from tests.sync.harness import (
    INVESTIGATORS,
    PYTHON,
    ROOT,
    ServerProcess,
    device_versions,
    integrity_ok,
    seed_users,
    seed_visits,
    server_blobs,
    server_versions,
)

pytestmark = pytest.mark.slow

KILLED = -9


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    tmp = tmp_path_factory.mktemp("crash-server")
    db = tmp / "server.db"
    users = seed_users(db)
    proc = ServerProcess(db)
    proc.start()
    with httpx.Client(timeout=30) as http:
        visits = seed_visits(http, proc.url, 8, collectors=users)
    visits_file = tmp / "visits.json"
    visits_file.write_text(json.dumps(visits))
    yield proc, visits_file
    proc.stop()


def client(store: Path, url: str, command: str, *args: str, crash: str | None = None, batch: int = 50) -> int:
    env = dict(os.environ, PYTHONPATH=str(ROOT), FV_BATCH=str(batch))
    env.pop(CRASH_ENV, None)
    if crash:
        env[CRASH_ENV] = crash
    username = INVESTIGATORS[0]
    done = subprocess.run(
        [PYTHON, "-m", "tests.sync.crash_client", str(store), url, username, command, *args],
        cwd=ROOT,
        env=env,
        timeout=120,
        capture_output=True,
        text=True,
    )
    if done.returncode not in (0, KILLED, 3):
        raise AssertionError(f"client failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.returncode


def assert_on_server_exactly_once(store: Path, server_db: Path | str) -> None:
    mine = device_versions(store)
    report_ids = {r for _, r, _ in mine}
    on_server = [v for v in server_versions(server_db) if v[1] in report_ids]
    assert Counter(v for v, _, _ in on_server) == Counter(v for v, _, _ in mine)
    assert sorted(on_server) == sorted(mine)
    with closing(sqlite3.connect(store)) as conn:
        assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
        shas = {
            sha for (blobs,) in conn.execute("SELECT blobs FROM report_versions") for sha in json.loads(blobs)
        }
    assert shas <= server_blobs(server_db)
    assert integrity_ok(store)


CLIENT_POINTS = [
    "submit.before_commit:3",
    "submit.after_commit:3",
    "blob.after_put:2",
    "push.before_send",
    "push.after_send",
    "push.applying",
    "push.after_apply",
    "pull.after_receive",
    "pull.applying",
    "pull.after_apply",
]


@pytest.mark.parametrize("point", CLIENT_POINTS)
def test_every_report_on_server_once_when_the_device_is_killed_at(
    point: str, server: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    proc, visits = server
    store = tmp_path / "device.db"
    assert client(store, proc.url, "login") == 0
    if point.startswith("submit."):
        assert client(store, proc.url, "submit", str(visits), "5", crash=point) == KILLED
    else:
        assert client(store, proc.url, "submit", str(visits), "5") == 0
        assert client(store, proc.url, "sync", crash=point, batch=2) == KILLED

    assert integrity_ok(store)
    assert client(store, proc.url, "sync") == 0

    expected = 2 if point == "submit.before_commit:3" else (3 if point == "submit.after_commit:3" else 5)
    assert len(device_versions(store)) == expected
    assert_on_server_exactly_once(store, proc.db_path)


@pytest.fixture
def own_server(tmp_path: Path, database_location: str) -> Iterator[tuple[ServerProcess, Path]]:
    db = database_location
    users = seed_users(db)
    proc = ServerProcess(db)
    proc.start()
    with httpx.Client(timeout=30) as http:
        visits = seed_visits(http, proc.url, 8, collectors=users)
    visits_file = tmp_path / "visits.json"
    visits_file.write_text(json.dumps(visits))
    proc.stop()
    yield proc, visits_file
    proc.stop()


@pytest.mark.parametrize("when", ["before_push:2", "after_push:2"])
def test_every_report_on_server_once_when_the_server_is_killed_mid_batch(
    when: str, own_server: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    proc, visits = own_server
    proc.start()
    store = tmp_path / "device.db"
    assert client(store, proc.url, "login") == 0
    assert client(store, proc.url, "submit", str(visits), "30") == 0
    proc.stop()
    proc.start(kill_spec=when)

    assert client(store, proc.url, "sync", batch=10) == 3
    assert proc.wait() == KILLED
    proc.start()
    assert client(store, proc.url, "sync", batch=10) == 0
    proc.stop()

    assert len(device_versions(store)) == 30
    assert_on_server_exactly_once(store, proc.db_path)
    assert integrity_ok(proc.db_path)


def test_every_report_on_server_once_when_the_server_is_killed_under_concurrent_pushes(
    own_server: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    proc, visits = own_server
    proc.start()
    stores = [tmp_path / f"device{i}.db" for i in range(3)]
    for s in stores:
        assert client(s, proc.url, "login") == 0
        assert client(s, proc.url, "submit", str(visits), "60") == 0
    env = dict(os.environ, PYTHONPATH=str(ROOT), FV_BATCH="10")
    env.pop(CRASH_ENV, None)
    running = [
        subprocess.Popen(
            [PYTHON, "-m", "tests.sync.crash_client", str(s), proc.url, INVESTIGATORS[0], "sync"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for s in stores
    ]
    time.sleep(random.Random(5).uniform(0.3, 0.8))
    proc.kill()
    codes = [p.wait(60) for p in running]
    assert 3 in codes  # at least one device was cut off mid-sync

    proc.start()
    for s in stores:
        assert client(s, proc.url, "sync", batch=10) == 0
    proc.stop()

    for s in stores:
        assert len(device_versions(s)) == 60
        assert_on_server_exactly_once(s, proc.db_path)
    assert integrity_ok(proc.db_path)
