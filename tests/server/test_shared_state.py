"""State every `fieldvisit serve` process on one database sees (protocol v1.1 "Several workers"): a revoke,
a token rotation, failed sign-ins and the server epoch, each seen by the other process at once; and the
database URL and worker options of `fieldvisit serve`."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from models.canonical import content_sha256
from models.demo_data import generate_import_records
from sync.server.db import connect
from sync.server.store.common import server_epoch, set_meta
from tests.helpers.postgres import PgCluster

from .conftest import example_report
from .serve_process import ROOT, prepared_database, serve


def login(url: str, username: str, password: str = "demo1234") -> httpx.Response:
    return httpx.post(
        f"{url}/v1/auth/login",
        json={"username": username, "password": password, "device_name": "phone"},
        timeout=30,
    )


def bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['access_token']}"}


def push_report(url: str, session: dict[str, Any], visit_id: str, mid: int) -> httpx.Response:
    rep = example_report(visit_id)
    m = {
        "mutation_id": mid,
        "kind": "submit_report",
        "report_id": rep["report_id"],
        "version_id": str(uuid.uuid4()),
        "base_version": 0,
        "content_sha256": content_sha256(rep),
        "blobs": [],
        "report": rep,
    }
    body = {"device_id": session["device_id"], "server_epoch": session["server_epoch"], "mutations": [m]}
    return httpx.post(f"{url}/v1/sync/push", json=body, headers=bearer(session), timeout=30)


def test_push_is_refused_on_the_other_process_when_one_revoked_the_device(database_location: str) -> None:
    db = database_location
    _, visit_id = prepared_database(db)
    with serve(db) as one, serve(db) as two:
        phone = login(two, "inv.a1").json()
        first = push_report(two, phone, visit_id, 1)
        sup = login(one, "sup.a").json()
        revoked = httpx.post(
            f"{one}/v1/devices/{phone['device_id']}/revoke",
            json={"wipe": False},
            headers=bearer(sup),
            timeout=30,
        )

        after = push_report(two, phone, visit_id, 2)

    assert first.status_code == 200 and first.json()["results"][0]["status"] == "applied"
    assert revoked.status_code == 200
    assert after.status_code == 401 and after.json()["error"] == "device_revoked"


def test_old_access_token_is_refused_on_the_other_process_when_one_refreshed_it(
    database_location: str,
) -> None:
    db = database_location
    prepared_database(db)
    with serve(db) as one, serve(db) as two:
        phone = login(one, "inv.a1").json()
        before = httpx.get(f"{two}/v1/devices", headers=bearer(login(one, "sup.a").json()), timeout=30)
        used = httpx.post(
            f"{two}/v1/sync/pull", json={"device_id": phone["device_id"]}, headers=bearer(phone), timeout=30
        )
        fresh = httpx.post(
            f"{one}/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}, timeout=30
        )

        old = httpx.post(
            f"{two}/v1/sync/pull", json={"device_id": phone["device_id"]}, headers=bearer(phone), timeout=30
        )
        new = httpx.post(
            f"{two}/v1/sync/pull",
            json={"device_id": phone["device_id"]},
            headers=bearer(fresh.json()),
            timeout=30,
        )

    assert before.status_code == 200 and used.status_code == 200 and fresh.status_code == 200
    assert old.status_code == 401 and old.json()["error"] == "invalid_token"
    assert new.status_code == 200


def test_sixth_wrong_password_is_429_when_attempts_alternate_between_processes(
    database_location: str,
) -> None:
    db = database_location
    prepared_database(db)
    with serve(db) as one, serve(db) as two:
        answers = [login((one, two)[i % 2], "inv.a3", "wrong-password") for i in range(6)]
        right = login(one, "inv.a3")

    assert [r.status_code for r in answers] == [401] * 5 + [429]
    assert int(answers[5].headers["Retry-After"]) >= 1
    assert right.status_code == 429  # the account stays locked for its window, on every process


def test_new_epoch_is_answered_from_the_next_request_when_the_database_changes_it(
    database_location: str,
) -> None:
    db = database_location
    _, visit_id = prepared_database(db)
    with serve(db) as one:
        phone = login(one, "inv.a1").json()
        old_epoch = httpx.get(f"{one}/v1/health", timeout=30).json()["server_epoch"]
        # What a restore does to the epoch, done by another process on the same database.
        other = connect(db)
        other.execute("BEGIN IMMEDIATE")
        set_meta(other, "server_epoch", "epoch-after-restore")
        other.execute("COMMIT")
        assert server_epoch(other) == "epoch-after-restore"
        other.conn.close()

        health = httpx.get(f"{one}/v1/health", timeout=30).json()
        push = push_report(one, phone, visit_id, 1)

    assert old_epoch == phone["server_epoch"] != "epoch-after-restore"
    assert health["server_epoch"] == "epoch-after-restore"
    assert push.status_code == 410 and push.json()["server_epoch"] == "epoch-after-restore"


def fieldvisit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_exits_non_zero_naming_sqlite_when_more_than_one_worker_is_asked(tmp_path: Path) -> None:
    out = fieldvisit("serve", "--workers", "2", "--db", str(tmp_path / "fv.db"), "--port", "1")

    assert out.returncode != 0
    assert "SQLite" in out.stderr and "--workers 2" in out.stderr
    assert not (tmp_path / "fv.db").exists()


def test_serve_exits_non_zero_naming_the_blob_url_when_postgresql_has_none(tmp_path: Path) -> None:
    env = {"FIELDVISIT_BLOB_URL": ""}
    out = fieldvisit("serve", "--database-url", "postgresql://fv@127.0.0.1:1/fv", "--port", "1", env=env)

    assert out.returncode != 0
    assert "FIELDVISIT_BLOB_URL must be set with PostgreSQL" in out.stderr


def test_retention_exits_non_zero_naming_the_blob_url_when_postgresql_has_none() -> None:
    # Retention deletes blobs: like the server, it needs the store every worker shares.
    env = {"FIELDVISIT_BLOB_URL": ""}
    out = fieldvisit("retention", "--database-url", "postgresql://fv@127.0.0.1:1/fv", env=env)

    assert out.returncode != 0
    assert "FIELDVISIT_BLOB_URL must be set with PostgreSQL" in out.stderr


def test_database_url_wins_over_db_and_the_environment_when_both_are_given(tmp_path: Path) -> None:
    chosen, ignored, env_db = tmp_path / "url.db", tmp_path / "flag.db", tmp_path / "env.db"
    env = {"FIELDVISIT_DB": str(env_db), "FIELDVISIT_DATABASE_URL": f"sqlite:///{env_db}"}

    out = fieldvisit(
        "users",
        "add",
        "someone",
        "--password",
        "pw-12345",
        "--role",
        "investigator",
        "--team",
        "t",
        "--db",
        str(ignored),
        "--database-url",
        f"sqlite:///{chosen}",
        env=env,
    )
    from_env = fieldvisit(
        "users", "add", "other", "--password", "pw-12345", "--role", "investigator", "--team", "t", env=env
    )

    assert out.returncode == 0, out.stderr
    assert chosen.exists() and not ignored.exists()
    assert from_env.returncode == 0 and env_db.exists()


def test_commands_work_on_postgresql_given_its_url(pg_cluster: PgCluster, tmp_path: Path) -> None:
    url = pg_cluster.new_database()
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps({"records": generate_import_records(3, seed=5, team="hz-a")}))
    env = {"FIELDVISIT_BLOB_URL": (tmp_path / "blobs").as_uri(), "FIELDVISIT_DB": str(tmp_path / "unused.db")}
    try:
        added = fieldvisit(
            "users", "add", "sup.x", "--password", "pw-12345", "--role", "supervisor", "--team", "hz-a",
            "--database-url", url, env=env,
        )  # fmt: skip
        imported = fieldvisit("import", str(cases), "--database-url", url, env=env)
        evaluated = fieldvisit("evaluate", "--database-url", url, env={**env, "FIELDVISIT_DATABASE_URL": url})
        backup = fieldvisit("backup", str(tmp_path / "copy.db"), "--database-url", url, env=env)
        db = connect(url)
        users = db.execute("SELECT username FROM users").fetchall()
        visits = db.execute("SELECT COUNT(*) FROM visits").fetchone()[0]
        db.conn.close()
    finally:
        pg_cluster.drop_database(url)

    assert added.returncode == 0 and imported.returncode == 0 and evaluated.returncode == 0, imported.stderr
    assert "created 3" in imported.stdout
    assert users == [("sup.x",)] and visits == 3
    assert backup.returncode == 0, backup.stderr
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("SELECT username FROM users").fetchall() == [("sup.x",)]
    assert not (tmp_path / "unused.db").exists()
