"""`fieldvisit demo` (what the README's run command starts): a terminate stops the server it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

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
