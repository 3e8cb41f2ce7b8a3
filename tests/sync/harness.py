"""A real central server for the sync tests: seeded users and visits, a fault-injecting transport."""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from models.demo_data import generate_import_records
from sync.server.db import Database, connect
from sync.server.pg import is_postgres_url
from sync.server.security import Passwords
from sync.server.store.users import add_user
from tests.helpers.pg_fixtures import shared_blob_url

PASSWORD = "pw-sync-tests"
TEAM = "hz-a"
INVESTIGATORS = ("inv.a1", "inv.a2")
SUPERVISOR = "sup.a"


def server_settings(db_path: Path | str, **overrides: Any) -> Any:
    """Settings of a test server on a SQLite file or a PostgreSQL URL (with its shared blob directory)."""
    from sync.server.settings import Settings

    blobs = shared_blob_url(db_path)
    values: dict[str, Any] = {
        **({"blob_url": blobs} if blobs else {}),
        "db": str(db_path),
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "login_max_failures": 10_000,
    }
    return Settings(**(values | overrides))


def seed_users(db_path: Path | str) -> dict[str, str]:
    """Two investigators of one team and their supervisor; answers username → user id."""
    pw = Passwords(time_cost=1, memory_kib=64)
    db = Database(str(db_path), readers=1)
    now = datetime.now(UTC)
    ids: dict[str, str] = {}
    try:
        for username in INVESTIGATORS:
            ids[username] = db.write_sync(
                add_user,
                username=username,
                password_hash=pw.hash(PASSWORD),
                role="investigator",
                team=TEAM,
                districts=["西湖区", "上城区", "拱墅区", "滨江区"],
                experience_years=3,
                now=now,
            )["id"]
        ids[SUPERVISOR] = db.write_sync(
            add_user,
            username=SUPERVISOR,
            password_hash=pw.hash(PASSWORD),
            role="supervisor",
            team=TEAM,
            now=now,
        )["id"]
    finally:
        db.close()
    return ids


def login_token(http: httpx.Client, base: str, username: str) -> str:
    r = http.post(
        f"{base}/v1/auth/login", json={"username": username, "password": PASSWORD, "device_name": "desk"}
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def seed_visits(
    http: httpx.Client, base: str, n: int, *, start: int = 1, collectors: dict[str, str]
) -> list[str]:
    """Imports `n` visits as the supervisor and assigns each to both investigators; answers visit ids."""
    token = login_token(http, base, SUPERVISOR)
    auth = {"Authorization": f"Bearer {token}"}
    records = generate_import_records(n, seed=7, team=TEAM, start=start)
    visit_ids: list[str] = []
    for i in range(0, len(records), 500):
        r = http.post(f"{base}/v1/visits/import", json={"records": records[i : i + 500]}, headers=auth)
        r.raise_for_status()
        body = r.json()
        assert not body["errors"], body["errors"][:3]
        visit_ids.extend(v["visit_id"] for v in body["visits"])
    people = [collectors[u] for u in INVESTIGATORS]
    for vid in visit_ids:
        r = http.post(
            f"{base}/v1/visits/{vid}/assign",
            json={"investigator_ids": people, "planned_date": "2026-04-02"},
            headers=auth,
        )
        r.raise_for_status()
    return visit_ids


def review(
    http: httpx.Client, base: str, report_id: str, action: str, comment: str = "请补充"
) -> httpx.Response:
    token = login_token(http, base, SUPERVISOR)
    auth = {"Authorization": f"Bearer {token}"}
    current = http.get(f"{base}/v1/reports/{report_id}", headers=auth)
    current.raise_for_status()
    etag = current.headers["ETag"]
    body: dict[str, Any] = {"action": action, "comment": comment}
    if action == "escalate_legal":
        body["route"] = "lawyer_letter"
    return http.post(f"{base}/v1/reports/{report_id}/review", json=body, headers=auth | {"If-Match": etag})


def server_rows(db_path: Path | str, sql: str) -> list[Any]:
    if is_postgres_url(str(db_path)):
        db = connect(str(db_path))
        try:
            return list(db.execute(sql).fetchall())
        finally:
            db.conn.close()
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def server_versions(db_path: Path | str) -> list[tuple[str, str, str]]:
    """(version_id, report_id, content_sha256) of every report version the server stores."""
    rows = server_rows(db_path, "SELECT version_id, report_id, content_sha256 FROM report_versions")
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def server_blobs(db_path: Path | str) -> set[str]:
    return {str(r[0]) for r in server_rows(db_path, "SELECT sha256 FROM blobs")}


def integrity_ok(db_path: Path | str) -> bool:
    """SQLite's integrity check of a file; on PostgreSQL, amcheck's check of every B-tree index (heap
    included) of the server's tables: an error is raised when one is damaged."""
    if is_postgres_url(str(db_path)):
        import psycopg

        with psycopg.connect(str(db_path), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
            checked = conn.execute(
                "SELECT bt_index_check(c.oid, true) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'btree' "
                "AND c.relnamespace = 'public'::regnamespace"
            ).fetchall()
        return len(checked) > 0
    with closing(sqlite3.connect(str(db_path))) as conn:
        return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")


def device_versions(store_path: Path | str) -> list[tuple[str, str, str]]:
    with closing(sqlite3.connect(str(store_path))) as conn:
        rows = conn.execute("SELECT version_id, report_id, content_sha256 FROM report_versions").fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


# -- faults ---------------------------------------------------------------------------------------------

FAULTS = ("lost_request", "lost_response", "duplicate", "timeout")


@dataclass
class FaultPlan:
    """Faults to inject, consumed in order, on requests whose path matches."""

    queue: list[tuple[str, str]] = field(default_factory=list)  # (path prefix, fault)
    injected: list[tuple[str, str]] = field(default_factory=list)

    def add(self, fault: str, path: str = "/v1/sync/push") -> None:
        self.queue.append((path, fault))

    def take(self, path: str) -> str | None:
        for i, (prefix, fault) in enumerate(self.queue):
            if path.startswith(prefix):
                del self.queue[i]
                self.injected.append((path, fault))
                return fault
        return None


class FaultTransport(httpx.BaseTransport):
    """Wraps a real transport: drops requests, loses answers after the server committed, repeats requests.

    `random_rate` adds random faults on every request (seeded `rng`); `plan` adds scripted ones.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        plan: FaultPlan | None = None,
        random_rate: float = 0.0,
        rng: random.Random | None = None,
        on_request: Callable[[httpx.Request], None] | None = None,
    ) -> None:
        self.inner = inner
        self.plan = plan or FaultPlan()
        self.random_rate = random_rate
        self.rng = rng or random.Random(0)
        self.on_request = on_request
        self.lock = threading.Lock()
        self.log: list[tuple[str, str, int | str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.on_request is not None:
            self.on_request(request)
        with self.lock:
            fault = self.plan.take(request.url.path)
            if fault is None and self.random_rate and self.rng.random() < self.random_rate:
                fault = self.rng.choice(FAULTS)
        body = request.read()
        if fault == "lost_request":
            self.log.append((request.method, request.url.path, "lost_request"))
            raise httpx.ConnectError("connection refused", request=request)
        resp = self._forward(request, body)
        if fault == "duplicate":
            resp.close()
            resp = self._forward(request, body)
        if fault == "lost_response":
            resp.close()
            self.log.append((request.method, request.url.path, "lost_response"))
            raise httpx.ReadError("connection reset after the server answered", request=request)
        if fault == "timeout":
            resp.close()
            self.log.append((request.method, request.url.path, "timeout"))
            raise httpx.ReadTimeout("timed out", request=request)
        self.log.append((request.method, request.url.path, resp.status_code))
        return resp

    def _forward(self, request: httpx.Request, body: bytes) -> httpx.Response:
        copy = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        resp = self.inner.handle_request(copy)
        resp.read()
        # The body is already decoded: drop the headers that describe its encoding on the wire.
        headers = [
            (k, v)
            for k, v in resp.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(resp.status_code, headers=headers, content=resp.content, request=request)


# -- an in-process server and devices -------------------------------------------------------------------

BASE = "http://testserver"


class World:
    """The real app behind a TestClient on a file database; `restart()` recreates it on the same file."""

    def __init__(self, tmp: Path, *, visits: int = 6, database: str | None = None) -> None:
        self.tmp = tmp
        self.db_path: Path | str = database or tmp / "server.db"
        self.users = seed_users(self.db_path)
        self.tc: Any = None
        self.start()
        self.desk = httpx.Client(transport=self.tc._transport)  # type: ignore[attr-defined]
        self.visits = seed_visits(self.desk, BASE, visits, collectors=self.users) if visits else []
        self.devices: list[Device] = []

    def start(self) -> None:
        from fastapi.testclient import TestClient

        from sync.server import create_app

        self.tc = TestClient(create_app(server_settings(self.db_path)), base_url=BASE)
        self.tc.__enter__()
        if hasattr(self, "desk"):
            self.desk = httpx.Client(transport=self.tc._transport)
            for d in self.devices:
                d.transport.inner = self.tc._transport

    def stop(self) -> None:
        if self.tc is not None:
            self.tc.__exit__(None, None, None)
            self.tc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def device(
        self,
        username: str = INVESTIGATORS[0],
        *,
        name: str = "phone",
        login: bool = True,
        with_credentials: bool = True,
        store_path: Path | None = None,
        **store_kw: Any,
    ) -> Device:
        d = Device(
            self,
            username,
            store_path or self.tmp / f"{name}.db",
            with_credentials=with_credentials,
            **store_kw,
        )
        if login:
            d.api.login(BASE, username, PASSWORD, name)
        self.devices.append(d)
        return d

    def close(self) -> None:
        for d in self.devices:
            d.close()
        self.stop()


class Device:
    def __init__(
        self, world: World, username: str, path: Path, *, with_credentials: bool, **store_kw: Any
    ) -> None:
        from storage.store import DeviceStore
        from sync.client import ApiClient, Credentials, SyncEngine

        self.world = world
        self.username = username
        self.path = path
        self.store_kw = store_kw
        self.transport = FaultTransport(world.tc._transport)
        self.http = httpx.Client(transport=self.transport)
        self.store = DeviceStore(path, **store_kw)
        self.api = ApiClient(self.store, self.http)
        creds = (lambda: Credentials(username, PASSWORD, path.stem)) if with_credentials else None
        self.engine = SyncEngine(self.store, self.api, credentials=creds)

    def reopen(self) -> None:
        """A crash of the app: the store and engine are built again from what is on disk."""
        from storage.store import DeviceStore
        from sync.client import ApiClient, SyncEngine

        self.store.close()
        self.store = DeviceStore(self.path, **self.store_kw)
        self.api = ApiClient(self.store, self.http)
        self.engine = SyncEngine(self.store, self.api, credentials=self.engine.credentials)

    def close(self) -> None:
        self.store.close()
        self.http.close()


# -- a server subprocess on loopback -------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def free_port() -> int:
    import socket

    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`tests/sync/serve_app.py` under uvicorn; `kill()` is SIGKILL, `start()` again reuses the database."""

    def __init__(self, db_path: Path | str, *, port: int | None = None) -> None:
        self.db_path = db_path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: Any = None

    def start(self, kill_spec: str | None = None, timeout: float = 30.0) -> None:
        import os
        import subprocess
        import time

        env = dict(os.environ, PYTHONPATH=str(ROOT))
        env.pop("FV_SERVER_KILL", None)
        if kill_spec:
            env["FV_SERVER_KILL"] = kill_spec
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "tests.sync.serve_app", str(self.db_path), str(self.port)], cwd=ROOT, env=env
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not become healthy")

    def kill(self) -> None:
        import signal

        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.wait()

    def wait(self, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        code = self.proc.wait(timeout)
        return int(code)

    def stop(self) -> None:
        import signal

        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except Exception:
                self.proc.kill()
                self.proc.wait(5)
