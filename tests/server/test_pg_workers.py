"""`fieldvisit serve --workers 2` on PostgreSQL: two worker processes behind one address, and every guarantee of
protocol v1.1 "Several workers" holds whichever worker answers (each request below is a new connection, so
the kernel hands them to either worker)."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import httpx

from sync.server.db import connect
from sync.server.store.common import set_meta

from .serve_process import prepared_database, serve
from .test_shared_state import bearer, login, push_report

ROUNDS = 12


def _workers_of(pid: int) -> list[int]:
    """The worker processes `fieldvisit serve` started (its children spawned by multiprocessing, not its
    resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and "spawn_main" in (stat.parent / "cmdline").read_bytes().decode(
            errors="replace"
        ):
            found.append(int(stat.parent.name))
    return found


def _wait_for_workers(pid: int, n: int) -> list[int]:
    deadline = time.monotonic() + 30
    while len(found := _workers_of(pid)) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def test_no_push_is_applied_on_any_worker_when_the_device_was_revoked(pg_url: str) -> None:
    _, visit_id = prepared_database(pg_url)
    with serve(pg_url, workers=2) as url:
        workers = _wait_for_workers(url.pid, 2)
        phone = login(url, "inv.a1").json()
        first = push_report(url, phone, visit_id, 1)
        sup = login(url, "sup.a").json()
        revoked = httpx.post(
            f"{url}/v1/devices/{phone['device_id']}/revoke",
            json={"wipe": False},
            headers=bearer(sup),
            timeout=30,
        )
        after = [push_report(url, phone, visit_id, 2 + i) for i in range(ROUNDS)]

    assert len(workers) == 2
    assert first.status_code == 200 and revoked.status_code == 200
    assert [r.status_code for r in after] == [401] * ROUNDS


def test_rotated_access_token_is_refused_on_every_worker_when_it_was_refreshed(pg_url: str) -> None:
    prepared_database(pg_url)
    with serve(pg_url, workers=2) as url:
        workers = _wait_for_workers(url.pid, 2)
        phone = login(url, "inv.a1").json()
        before = [
            httpx.post(f"{url}/v1/sync/pull", json={"device_id": phone["device_id"]}, headers=bearer(phone))
            for _ in range(4)
        ]
        fresh = httpx.post(
            f"{url}/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}, timeout=30
        )
        old = [
            httpx.post(f"{url}/v1/sync/pull", json={"device_id": phone["device_id"]}, headers=bearer(phone))
            for _ in range(ROUNDS)
        ]

    assert len(workers) == 2
    assert [r.status_code for r in before] == [200] * 4 and fresh.status_code == 200
    assert [r.status_code for r in old] == [401] * ROUNDS


def test_push_with_a_rotated_token_is_refused_on_every_worker_that_remembered_it(pg_url: str) -> None:
    # Pushes are let in at the door from each worker's memory of recent tokens (sync.server.app.Callers);
    # the push's transaction confirms the token, so one rotated away applies nothing on any worker.
    _, visit_id = prepared_database(pg_url)
    with serve(pg_url, workers=2) as url:
        workers = _wait_for_workers(url.pid, 2)
        phone = login(url, "inv.a1").json()
        before = [push_report(url, phone, visit_id, 1 + i) for i in range(ROUNDS)]
        fresh = httpx.post(
            f"{url}/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}, timeout=30
        ).json()
        old = [push_report(url, phone, visit_id, 1 + ROUNDS + i) for i in range(ROUNDS)]
        new = push_report(url, fresh, visit_id, 1 + ROUNDS)

    assert len(workers) == 2
    assert [r.json()["results"][0]["status"] for r in before] == ["applied"] * ROUNDS
    assert [(r.status_code, r.json()["error"]) for r in old] == [(401, "invalid_token")] * ROUNDS
    assert new.status_code == 200 and new.json()["results"][0]["status"] == "applied"


def test_sixth_wrong_password_is_429_when_two_workers_share_the_attempts(pg_url: str) -> None:
    prepared_database(pg_url)
    with serve(pg_url, workers=2) as url:
        workers = _wait_for_workers(url.pid, 2)
        answers = [login(url, "inv.a3", "wrong-password") for _ in range(6)]

    assert len(workers) == 2
    assert [r.status_code for r in answers] == [401] * 5 + [429]


def test_every_worker_answers_the_new_epoch_when_the_database_changes_it(pg_url: str) -> None:
    prepared_database(pg_url)
    with serve(pg_url, workers=2) as url:
        workers = _wait_for_workers(url.pid, 2)
        old = httpx.get(f"{url}/v1/health", timeout=30).json()["server_epoch"]
        other = connect(pg_url)
        other.execute("BEGIN IMMEDIATE")
        set_meta(other, "server_epoch", "epoch-after-restore")
        other.execute("COMMIT")
        other.conn.close()
        after = {httpx.get(f"{url}/v1/health", timeout=30).json()["server_epoch"] for _ in range(ROUNDS)}

    assert len(workers) == 2
    assert old != "epoch-after-restore"
    assert after == {"epoch-after-restore"}


def _connections_served(pid: int, port: int) -> int:
    """How many established TCP connections to `port` the process `pid` holds (Linux /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inodes.add(fields[9])
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            held += 1
    return held


def test_connections_opened_at_once_are_spread_evenly_over_the_workers(pg_url: str) -> None:
    prepared_database(pg_url)
    with serve(pg_url, workers=2) as url:
        workers = _wait_for_workers(url.pid, 2)
        port = int(url.rsplit(":", 1)[1])
        # Eight kept-alive connections, as eight phones pushing at once: each has made a request.
        clients = [httpx.Client(base_url=url, timeout=30) for _ in range(8)]
        try:
            answers = [c.get("/v1/health").status_code for c in clients]
            held = sorted(_connections_served(pid, port) for pid in workers)
        finally:
            for c in clients:
                c.close()

    assert answers == [200] * 8
    assert held == [4, 4]


def test_a_worker_that_dies_is_replaced_and_every_request_is_answered(pg_url: str) -> None:
    prepared_database(pg_url)
    with serve(pg_url, workers=2) as url:
        first = _wait_for_workers(url.pid, 2)
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (len(now := _workers_of(url.pid)) < 2 or first[0] in now) and time.monotonic() < deadline:
            time.sleep(0.1)
        answers = [httpx.get(f"{url}/v1/health", timeout=30).status_code for _ in range(ROUNDS)]

    assert first[0] not in now and first[1] in now and len(now) == 2
    assert answers == [200] * ROUNDS


def test_serve_stops_its_workers_and_exits_0_on_sigterm(pg_url: str) -> None:
    prepared_database(pg_url)
    with serve(pg_url, workers=2) as url:
        workers = _wait_for_workers(url.pid, 2)
        os.kill(url.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{p}").exists() for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        with socket.socket() as probe:
            refused = probe.connect_ex(("127.0.0.1", int(url.rsplit(":", 1)[1])))
        status = os.waitpid(url.pid, 0)[1]

    assert not any(Path(f"/proc/{p}").exists() for p in workers)
    assert refused != 0
    assert os.waitstatus_to_exitcode(status) == 0
