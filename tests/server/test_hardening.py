"""Body cap (after gzip), gzip bombs, error bodies, backup/restore epochs, and a real `fieldvisit serve`."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from sync.server import create_app

from .conftest import Server, fast_settings

ROOT = Path(__file__).resolve().parents[2]


def small_server(tmp_path: Path, limit: int = 4096) -> TestClient:
    return TestClient(create_app(fast_settings(tmp_path / "s.db", body_limit=limit)))


def test_body_over_cap_is_413(tmp_path: Path) -> None:
    with small_server(tmp_path) as c:
        r = c.post("/v1/auth/login", content=b"x" * 5000, headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


def test_gzip_body_is_decompressed_when_under_cap(server: Server) -> None:
    raw = json.dumps({"username": "inv.a1", "password": "demo1234", "device_name": "g"}).encode()
    r = server.client.post(
        "/v1/auth/login",
        content=gzip.compress(raw),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 200 and r.json()["device_id"]


def test_gzip_bomb_is_413_counted_after_decompression(tmp_path: Path) -> None:
    bomb = gzip.compress(b"{" + b" " * 10_000_000 + b"}")
    assert len(bomb) < 4096 * 4
    with small_server(tmp_path, limit=64 * 1024) as c:
        r = c.post(
            "/v1/auth/login",
            content=bomb,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        assert r.status_code == 413


def test_broken_gzip_is_400_not_500(tmp_path: Path) -> None:
    with small_server(tmp_path) as c:
        r = c.post(
            "/v1/auth/login",
            content=gzip.compress(b'{"a":1}')[:-6],
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        assert r.status_code == 400 and set(r.json()) == {"error", "message", "details"}


def test_unknown_route_is_json_404_for_authenticated_callers(server: Server) -> None:
    r = server.client.get("/v1/nothing-here", headers=server.h("sup.a"))
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_unexpected_failure_is_json_500_without_traceback(tmp_path: Path) -> None:
    app = create_app(fast_settings(tmp_path / "e.db"))

    @app.get("/v1/health/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        token = "x"
        r = c.get("/v1/health/boom", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401  # authentication still comes first
    app2 = create_app(fast_settings(tmp_path / "e2.db"))

    @app2.get("/boom")
    async def boom2() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app2, raise_server_exceptions=False) as c:
        r = c.get("/boom")
        assert r.status_code == 500 and r.json()["error"] == "internal" and "secret" not in r.text


def test_text_that_is_not_unicode_is_a_row_error_not_500(server: Server) -> None:
    from models.demo_data import generate_import_records

    rec = generate_import_records(1, seed=3, team="hz-a")[0]
    rec["external_id"] = "hz-a-surrogate-1"
    rec["address"] = "x\ud800y"  # a lone surrogate, spelled \ud800 by json.dumps
    body = json.dumps({"records": [rec]})
    r = server.client.post(
        "/v1/visits/import",
        content=body.encode(),
        headers={**server.h("sup.a"), "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["visits"] == []
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(1, "address")]


def test_audit_log_refuses_updates_and_deletes(server: Server) -> None:
    server.login("inv.a1")
    db = server.client.app.state.ctx.db  # type: ignore[attr-defined]
    for sql in ("UPDATE audit SET action = 'x'", "DELETE FROM audit"):
        try:
            db.write_sync(lambda d, s=sql: d.execute(s))
        except Exception as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError("the audit log accepted " + sql)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=120,
        check=False,
    )


def test_compact_command_reports_its_floor_and_refuses_a_zero_window(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    with TestClient(create_app(fast_settings(db))):
        pass  # a migrated database
    done = _cli("compact", "--idle-days", "7", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "floor at 0" in done.stdout
    assert _cli("compact", "--idle-days", "0", "--db", str(db)).returncode == 2


def test_backup_and_restore_issue_a_new_epoch(tmp_path: Path) -> None:
    db, copy = tmp_path / "live.db", tmp_path / "backup.db"
    assert (
        _cli(
            "users",
            "add",
            "sup.z",
            "--password",
            "pw",
            "--role",
            "supervisor",
            "--team",
            "t",
            "--db",
            str(db),
        ).returncode
        == 0
    )
    with TestClient(create_app(fast_settings(db))) as c:
        before = c.get("/v1/health").json()["server_epoch"]
    assert _cli("backup", str(copy), "--db", str(db)).returncode == 0
    restored = _cli("restore", str(copy), "--db", str(db))
    assert restored.returncode == 0, restored.stderr
    with TestClient(create_app(fast_settings(db))) as c:
        after = c.get("/v1/health").json()["server_epoch"]
        r = c.post("/v1/auth/login", json={"username": "sup.z", "password": "pw", "device_name": "d"})
    assert after != before and r.status_code == 200 and r.json()["server_epoch"] == after


def test_backup_is_one_complete_file_and_a_failed_one_leaves_nothing(tmp_path: Path) -> None:
    db, out = tmp_path / "live.db", tmp_path / "backups"
    with TestClient(create_app(fast_settings(db))):
        pass  # a migrated database, in WAL mode
    assert _cli("backup", str(out / "good.db"), "--db", str(db)).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["good.db"]  # no -wal or -shm beside it
    (tmp_path / "garbage.db").write_bytes(b"not a database at all" * 100)
    for source in (tmp_path / "missing.db", tmp_path / "garbage.db"):
        failed = _cli("backup", str(out / "bad.db"), "--db", str(source))
        assert failed.returncode == 2 and "Traceback" not in failed.stderr, failed.stderr
        assert sorted(p.name for p in out.iterdir()) == ["good.db"]
    assert not (tmp_path / "missing.db").exists()  # nor a new empty database where none was


def test_commands_answer_an_unusable_database_or_file_in_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    (tmp_path / "latin1.json").write_bytes('{"records": ["caf\xe9"]}'.encode("latin-1"))
    unreachable = "postgresql://fieldvisit@127.0.0.1:1/none"
    runs = [
        ("users", "add", "x", "--password", "pw", "--role", "admin", "--team", "t", "--db", str(garbage)),
        ("import", str(tmp_path / "missing.json"), "--db", str(tmp_path / "a.db")),
        ("import", str(tmp_path), "--db", str(tmp_path / "a.db")),
        ("import", str(tmp_path / "latin1.json"), "--db", str(tmp_path / "a.db")),
        ("evaluate", "--db", str(garbage)),
        ("compact", "--db", str(garbage)),
        ("evaluate", "--database-url", unreachable),
        ("serve", "--port", "1", "--db", str(garbage)),
    ]
    for args in runs:
        done = _cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and done.stderr.strip().startswith("fieldvisit"), (
            args,
            done.stderr,
        )


def test_commands_refuse_values_the_api_would_refuse_before_touching_the_database(tmp_path: Path) -> None:
    db = str(tmp_path / "never.db")
    runs = [
        ("users", "add", "", "--password", "pw", "--role", "admin", "--team", "t", "--db", db),
        ("users", "add", "u", "--password", " ", "--role", "admin", "--team", "t", "--db", db),
        (
            "users",
            "add",
            "u",
            "--password",
            "pw",
            "--role",
            "admin",
            "--team",
            "t",
            "--experience-years",
            "-5",
            "--db",
            db,
        ),
        ("serve", "--port", "99999", "--db", db),
        ("serve", "--workers", "0", "--db", db),
    ]
    for args in runs:
        done = _cli(*args)
        assert done.returncode == 2 and "error: argument" in done.stderr, (args, done.stderr)
    assert not (tmp_path / "never.db").exists()


def test_users_add_again_keeps_the_profile_options_it_leaves_out(tmp_path: Path) -> None:
    db = str(tmp_path / "u.db")
    base = ("users", "add", "inv.k1", "--role", "investigator", "--team", "hz-a", "--db", db)
    first = _cli(
        *base,
        "--password",
        "first-pass",
        "--name",
        "张 三",
        "--district",
        "西湖区,上城区",
        "--experience-years",
        "5",
    )
    assert first.returncode == 0, first.stderr
    assert _cli(*base, "--password", "second-pass").returncode == 0
    with TestClient(create_app(fast_settings(db))) as c:
        ok = c.post(
            "/v1/auth/login", json={"username": "inv.k1", "password": "second-pass", "device_name": "d"}
        )
        assert ok.status_code == 200
        user = c.app.state.ctx.db.read_sync(  # type: ignore[attr-defined]
            lambda d: d.execute(
                "SELECT name, districts, experience_years FROM users WHERE username = 'inv.k1'"
            ).fetchone()
        )
    assert tuple(user) == ("张 三", '["西湖区","上城区"]', 5)
    assert _cli(*base, "--password", "third-pass", "--district", "").returncode == 0


def test_sqlite_urls_read_as_sqlalchemy_writes_them_relative_and_absolute(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("fieldvisit")
    add = [str(exe), "users", "add", "u.rel", "--password", "pw", "--role", "admin", "--team", "t"]
    for url, where in (
        ("sqlite:///rel/fv.db", tmp_path / "rel" / "fv.db"),
        (f"sqlite:///{tmp_path}/abs.db", tmp_path / "abs.db"),
    ):
        done = subprocess.run(
            [*add, "--database-url", url], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert where.is_file(), url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_fieldvisit_serve_answers_health_and_login_over_a_socket(tmp_path: Path) -> None:
    db = tmp_path / "srv.db"
    assert (
        _cli(
            "users",
            "add",
            "inv.q",
            "--password",
            "pw-123",
            "--role",
            "investigator",
            "--team",
            "t",
            "--db",
            str(db),
        ).returncode
        == 0
    )
    port = _free_port()
    env = dict(os.environ, FIELDVISIT_DB=str(db))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{url}/v1/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert health.json()["protocol"] == 1
        login = httpx.post(
            f"{url}/v1/auth/login",
            json={"username": "inv.q", "password": "pw-123", "device_name": "socket"},
            timeout=10,
        )
        assert login.status_code == 200 and login.json()["user"]["role"] == "investigator"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_server_commands_never_import_flet() -> None:
    code = "import sys, cli.main, sync.server; sync.server.create_app; print('flet' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
