"""Real `fieldvisit serve` processes on loopback ports, for the tests of state shared across processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from models.demo_data import demo_users
from sync.server import create_app
from tests.helpers.pg_fixtures import shared_blob_url

from .conftest import Server, fast_settings

__all__ = ["ROOT", "prepared_database", "serve", "shared_blob_url"]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepared_database(db: Path | str, **settings: object) -> tuple[dict[str, str], str]:
    """The demo users and one visit assigned to inv.a1 and inv.a2, written before any server starts;
    answers (username -> user id, the visit's ID)."""
    blobs = shared_blob_url(db)
    if blobs:
        settings = {"blob_url": blobs} | settings
    app = create_app(fast_settings(db, **settings))  # type: ignore[arg-type]
    rows = app.state.ctx.add_users(demo_users(), now=datetime.now(UTC))
    users = {name: row["id"] for name, row in rows.items()}
    with TestClient(app) as client:
        visit_id = Server(client=client, users=users).new_visit()
    return users, visit_id


class Served(str):
    """A running server's base URL, with the PID of its `fieldvisit serve` process."""

    pid: int


@contextmanager
def serve(db: Path | str, *, env: dict[str, str] | None = None, workers: int = 1) -> Iterator[Served]:
    """`fieldvisit serve` (with `workers` worker processes) on a free loopback port until the block ends;
    answers its base URL."""
    port = _free_port()
    blobs = shared_blob_url(db)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--database-url" if blobs else "--db",
            str(db),
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "FIELDVISIT_ARGON2_TIME_COST": "1",
            "FIELDVISIT_ARGON2_MEMORY_KIB": "64",
            **({"FIELDVISIT_BLOB_URL": blobs} if blobs else {}),
            **(env or {}),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = Served(f"http://127.0.0.1:{port}")
    url.pid = proc.pid
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/v1/health", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
