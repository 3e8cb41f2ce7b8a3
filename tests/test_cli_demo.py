"""`fieldvisit demo` (what the README's run command starts): a terminate stops the server it started; the
demo also runs on a database named by `--database-url` (a SQLite URL, or PostgreSQL), seeded there."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers.pg_fixtures import pg_cluster, pg_url  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
FIELDVISIT = Path(sys.executable).with_name("fieldvisit")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_terminate_stops_the_demo_server_too(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, FIELDVISIT_ARGON2_TIME_COST="1", FIELDVISIT_ARGON2_MEMORY_KIB="64")
    demo = subprocess.Popen(
        [
            str(FIELDVISIT),
            "demo",
            "--no-app",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "d.db"),
            "--visits",
            "5",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not _healthy(url):
            assert demo.poll() is None, "the demo stopped early"
            assert time.monotonic() < deadline, "the demo server did not answer"
            time.sleep(0.3)
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(30) == 0
        deadline = time.monotonic() + 15
        while _healthy(url):
            assert time.monotonic() < deadline, "the server outlived the demo command"
            time.sleep(0.3)
    finally:
        if demo.poll() is None:
            demo.kill()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_demo_runs_on_the_database_its_database_url_names(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    location = f"sqlite:///{tmp_path / 'demo.db'}" if kind == "sqlite" else request.getfixturevalue("pg_url")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        FIELDVISIT_ARGON2_TIME_COST="1",
        FIELDVISIT_ARGON2_MEMORY_KIB="64",
        FIELDVISIT_BLOB_URL=(tmp_path / "blobs").as_uri(),
    )
    args = ["demo", "--no-app", "--port", str(port), "--database-url", location, "--visits", "5"]
    demo = subprocess.Popen([str(FIELDVISIT), *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        signed_in = None
        while signed_in is None:
            assert demo.poll() is None, "the demo stopped early"
            assert time.monotonic() < deadline, "the demo was not seeded and served in time"
            if _healthy(url):
                r = httpx.post(
                    f"{url}/v1/auth/login",
                    json={"username": "sup.a", "password": "demo1234", "device_name": "t"},
                    timeout=5,
                )
                signed_in = r.json()["access_token"] if r.status_code == 200 else None
            time.sleep(0.3)
        headers = {"Authorization": f"Bearer {signed_in}"}
        deadline = time.monotonic() + 60
        while not httpx.get(f"{url}/v1/reports", headers=headers, timeout=5).json()["total"]:
            assert time.monotonic() < deadline, "the demo synced no reports"
            time.sleep(0.3)
        if kind == "sqlite":
            assert (tmp_path / "demo.db").exists()
    finally:
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
    if kind == "postgres":
        # The demo cannot start PostgreSQL afresh itself: --fresh is refused with what to do instead.
        again = subprocess.run(
            [str(FIELDVISIT), "demo", "--no-app", "--fresh", "--database-url", location],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 2 and "--fresh" in again.stderr
