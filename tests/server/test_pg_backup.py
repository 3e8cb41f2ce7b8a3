"""`fieldvisit backup` / `restore` on PostgreSQL: one consistent snapshot written to a FieldVisit backup file (a
SQLite file with the SQLite backend's schema), restored in one transaction with a new server epoch, across
backends, through the command line, and under a server running on the database (protocol v1.1 "Several
workers, PostgreSQL, object storage")."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from models.demo_data import demo_users
from sync.server import create_app
from sync.server.db import connect
from sync.server.pg import is_postgres_url
from sync.server.store.backup import backup, restore
from sync.server.store.common import server_epoch
from tests.helpers.postgres import PgCluster

from .conftest import Server, example_report, fast_settings, mutation, push
from .serve_process import ROOT, prepared_database, serve
from .test_shared_state import bearer, login, push_report

ROUNDS = 8


def _tables(location: str) -> list[str]:
    db = connect(location)
    try:
        if is_postgres_url(location):
            sql = (
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            )
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        return sorted(r[0] for r in db.execute(sql).fetchall() if r[0] != "_migrations")
    finally:
        db.conn.close()


def _value(v: Any) -> Any:
    return bytes(v) if isinstance(v, memoryview | bytearray) else v


def contents(location: str) -> dict[str, Any]:
    """Every application table's rows (the server epoch left out), and the rowid order of reports and their
    versions, as comparable values on either backend."""
    out: dict[str, Any] = {}
    db = connect(location)
    try:
        for table in _tables(location):
            rows = [
                tuple(sorted((k, _value(v)) for k, v in r.items()))
                for r in db.query(f"SELECT * FROM {table}")
            ]
            if table == "meta":
                rows = [r for r in rows if ("key", "server_epoch") not in r]
            out[table] = sorted(rows, key=repr)
        for table, key in (("reports", "id"), ("report_versions", "version_id")):
            out[f"{table} in rowid order"] = [
                r[0] for r in db.execute(f"SELECT {key} FROM {table} ORDER BY rowid").fetchall()
            ]
    finally:
        db.conn.close()
    return out


def _epoch(location: str) -> str:
    db = connect(location)
    try:
        return server_epoch(db)
    finally:
        db.conn.close()


def _max(location: str, table: str, column: str) -> int:
    db = connect(location)
    try:
        return int(db.execute(f"SELECT COALESCE(MAX({column}), 0) FROM {table}").fetchone()[0])
    finally:
        db.conn.close()


@pytest.fixture
def running(pg_url: str, tmp_path: Path) -> Iterator[Server]:
    """A server on a fresh PostgreSQL database with the demo users."""
    app = create_app(
        fast_settings(pg_url, blob_url=(tmp_path / "blobs").resolve().as_uri()),
        clock=lambda: datetime(2026, 11, 20, 4, 0, tzinfo=UTC),
    )
    users = {n: r["id"] for n, r in app.state.ctx.add_users(demo_users(), now=datetime.now(UTC)).items()}
    with TestClient(app) as client:
        yield Server(client=client, users=users)


def review(server: Server, report_id: str, action: str) -> None:
    etag = server.client.get(f"/v1/reports/{report_id}", headers=server.h("sup.a")).headers["ETag"]
    reviewed = server.client.post(
        f"/v1/reports/{report_id}/review",
        headers={**server.h("sup.a"), "If-Match": etag},
        json={"action": action, "comment": f"{action}: reviewed"},
    )
    assert reviewed.status_code == 200, reviewed.text


def approved_report(server: Server, mutation_id: int) -> str:
    """A new visit, a report on it and its approval: rows in the change log and the feed."""
    rep = example_report(server.new_visit())
    pushed = push(server, "inv.a1", [mutation(mutation_id, rep)])
    assert pushed.status_code == 200, pushed.text
    review(server, rep["report_id"], "approve")
    return str(rep["report_id"])


def fill(server: Server) -> dict[str, Any]:
    """Visits imported and assigned, two reports with two versions each, a review comment, a blob row with
    bytes, change log, feed and audit rows."""
    visits = [server.new_visit() for _ in range(2)]
    reports = []
    for i, vid in enumerate(visits):
        rep = example_report(vid)
        first = push(server, "inv.a1", [mutation(2 * i + 1, rep)])
        assert first.status_code == 200, first.text
        again = push(server, "inv.a1", [mutation(2 * i + 2, {**rep, "notes": "second look"}, base_version=1)])
        assert again.status_code == 200, again.text
        reports.append(rep["report_id"])
    review(server, reports[0], "return")
    review(server, reports[1], "approve")
    db = connect(server.client.app.state.ctx.db.path)  # type: ignore[attr-defined]
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO blobs(sha256, size, data, created_at) VALUES (?, ?, ?, ?)",
            ["ab" * 32, 4, b"\x00\xffok", "2026-11-20T04:00:00+00:00"],
        )
        db.execute("COMMIT")
    finally:
        db.conn.close()
    return {"visits": visits, "reports": reports}


def _has_content(state: dict[str, Any]) -> None:
    for table in (
        "users", "devices", "tokens", "visits", "visit_assignees", "reports", "report_versions", "comments",
        "changes", "feed", "audit",
    ):  # fmt: skip
        assert state[table], table
    assert len(state["report_versions"]) >= 4
    assert any(dict(row)["data"] == b"\x00\xffok" for row in state["blobs"])


def test_backup_restores_into_a_fresh_database_and_into_the_same_one_after_more_writes(
    running: Server, pg_url: str, pg_cluster: PgCluster, tmp_path: Path
) -> None:
    fill(running)
    copy = tmp_path / "fv.backup"
    before = contents(pg_url)
    _has_content(before)

    epoch = backup(pg_url, str(copy))

    assert epoch == _epoch(pg_url)
    assert sqlite3.connect(copy).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    fresh = pg_cluster.new_database()
    try:
        fresh_epoch = restore(fresh, str(copy))
        assert contents(fresh) == before
        assert fresh_epoch == _epoch(fresh) and fresh_epoch != epoch
    finally:
        pg_cluster.drop_database(fresh)

    approved_report(running, 5)
    assert contents(pg_url) != before
    changes_seen, feed_seen = _max(pg_url, "changes", "seq"), _max(pg_url, "feed", "seq")

    again = restore(pg_url, str(copy))

    assert contents(pg_url) == before
    assert again == _epoch(pg_url) and again not in (epoch, fresh_epoch)
    restored_top = max(seq for row in before["changes"] for k, seq in row if k == "seq")
    assert changes_seen > restored_top
    running.login("inv.a1", device_name="phone after the restore")
    running.login("sup.a", device_name="desk after the restore")
    later = approved_report(running, 1)
    new_changes = [r for r in contents(pg_url)["changes"] if dict(r)["entity_id"] == later]
    assert new_changes and min(dict(r)["seq"] for r in new_changes) > changes_seen
    assert _max(pg_url, "feed", "seq") > feed_seen


def test_backups_cross_backends_sqlite_into_postgresql_and_back(
    running: Server, pg_url: str, pg_cluster: PgCluster, tmp_path: Path
) -> None:
    fill(running)
    from_pg = tmp_path / "from-pg.backup"
    state = contents(pg_url)
    backup(pg_url, str(from_pg))
    sqlite_db = str(tmp_path / "side.db")

    restore(sqlite_db, str(from_pg))
    assert contents(sqlite_db) == state
    from_sqlite = tmp_path / "from-sqlite.backup"
    backup(sqlite_db, str(from_sqlite))
    target = pg_cluster.new_database()
    try:
        epoch = restore(target, str(from_sqlite))
        assert contents(target) == state
        assert epoch == _epoch(target) != _epoch(sqlite_db)
        # The sequences continue above the restored rows: the next audit row numbers after the last.
        top = _max(target, "audit", "id")
        db = connect(target)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT INTO audit(at, action, entity, detail) VALUES ('2026-11-21', 'probe', 'test', '{}')"
            )
            db.execute("COMMIT")
        finally:
            db.conn.close()
        assert _max(target, "audit", "id") == top + 1
    finally:
        pg_cluster.drop_database(target)


def fieldvisit(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIELDVISIT_DB": "", "FIELDVISIT_DATABASE_URL": ""}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_command_line_backs_up_and_restores_postgresql_and_refuses_a_bad_backup(
    running: Server, pg_url: str, pg_cluster: PgCluster, tmp_path: Path
) -> None:
    fill(running)
    state, copy = contents(pg_url), tmp_path / "cli.backup"

    made = fieldvisit("backup", str(copy), "--database-url", pg_url)

    assert made.returncode == 0, made.stderr
    assert f"written to {copy}" in made.stdout and _epoch(pg_url) in made.stdout
    target = pg_cluster.new_database()
    try:
        done = fieldvisit("restore", str(copy), "--database-url", target)
        assert done.returncode == 0, done.stderr
        assert "new server epoch" in done.stdout and _epoch(target) in done.stdout
        assert contents(target) == state
    finally:
        pg_cluster.drop_database(target)

    epoch = _epoch(pg_url)
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("not a backup\n" * 100)
    other_sqlite = tmp_path / "other.db"
    sqlite3.connect(other_sqlite).execute("CREATE TABLE t (x)").connection.commit()
    newer = tmp_path / "newer.backup"
    newer.write_bytes(copy.read_bytes())
    with sqlite3.connect(newer) as conn:
        conn.execute("INSERT INTO _migrations(name, applied_at) VALUES ('999_from_the_future', 'later')")
    refused = {
        "missing": fieldvisit("restore", str(tmp_path / "nowhere.backup"), "--database-url", pg_url),
        "not sqlite": fieldvisit("restore", str(not_sqlite), "--database-url", pg_url),
        "not fieldvisit": fieldvisit("restore", str(other_sqlite), "--database-url", pg_url),
        "newer": fieldvisit("restore", str(newer), "--database-url", pg_url),
    }
    for case, out in refused.items():
        assert out.returncode == 2, (case, out.stderr)
        assert "cannot restore" in out.stderr and "Nothing was changed" in out.stderr, (case, out.stderr)
    assert "no backup file" in refused["missing"].stderr
    assert "not a FieldVisit backup" in refused["not sqlite"].stderr
    assert "not a FieldVisit backup" in refused["not fieldvisit"].stderr
    assert "999_from_the_future" in refused["newer"].stderr and "newer" in refused["newer"].stderr
    assert contents(pg_url) == state and _epoch(pg_url) == epoch

    empty = pg_cluster.new_database()
    try:
        nothing = fieldvisit("backup", str(tmp_path / "empty.backup"), "--database-url", empty)
    finally:
        pg_cluster.drop_database(empty)
    assert nothing.returncode == 2 and "no FieldVisit schema" in nothing.stderr
    assert not (tmp_path / "empty.backup").exists()


def test_a_running_server_answers_the_restored_data_and_the_new_epoch_from_its_next_request(
    running: Server, pg_url: str, tmp_path: Path
) -> None:
    made = fill(running)
    phone = running.sessions["inv.a1"]  # signed in before the backup: its device and tokens are restored
    copy = tmp_path / "live.backup"
    backup(pg_url, str(copy))
    late = running.login("inv.a2", device_name="late phone")  # after the backup: not in it
    extra = approved_report(running, 5)
    old_epoch = phone["server_epoch"]

    new_epoch = restore(pg_url, str(copy))

    pushed = running.client.post(
        "/v1/sync/push",
        headers=phone["headers"],
        json={"device_id": phone["device_id"], "server_epoch": old_epoch, "mutations": []},
    )
    assert pushed.status_code == 410, pushed.text
    assert pushed.json()["error"] == "reset_required" and pushed.json()["server_epoch"] == new_epoch
    assert running.client.get("/v1/health").json()["server_epoch"] == new_epoch
    # Tokens issued after the backup are gone with the rest of what it lacks.
    gone = running.client.get(f"/v1/reports/{made['reports'][0]}", headers=late["headers"])
    assert gone.status_code == 401, gone.text
    sup = running.login("sup.a", device_name=f"desk {uuid.uuid4().hex[:6]}")
    assert sup["server_epoch"] == new_epoch
    assert running.client.get(f"/v1/reports/{made['reports'][0]}", headers=sup["headers"]).status_code == 200
    assert running.client.get(f"/v1/reports/{extra}", headers=sup["headers"]).status_code == 404


def test_every_worker_of_a_running_server_answers_the_restore_from_its_next_request(
    pg_url: str, tmp_path: Path
) -> None:
    _, visit_id = prepared_database(pg_url)
    copy = tmp_path / "workers.backup"
    with serve(pg_url, workers=2) as url:
        phone = login(url, "inv.a1").json()
        kept = push_report(url, phone, visit_id, 1)
        made = fieldvisit("backup", str(copy), "--database-url", pg_url)
        lost = push_report(url, phone, visit_id, 2)
        done = fieldvisit("restore", str(copy), "--database-url", pg_url)
        # Each request is a new connection: the kernel hands them to either worker.
        stale = [push_report(url, phone, visit_id, 3 + i) for i in range(ROUNDS)]
        sup = login(url, "sup.a").json()
        totals = {
            httpx.get(f"{url}/v1/reports", headers=bearer(sup), timeout=30).json()["total"]
            for _ in range(ROUNDS)
        }

    assert kept.status_code == lost.status_code == 200
    assert made.returncode == 0 and done.returncode == 0, made.stderr + done.stderr
    new_epoch = _epoch(pg_url)
    assert new_epoch != phone["server_epoch"] and new_epoch in done.stdout
    assert all(r.status_code == 410 and r.json()["server_epoch"] == new_epoch for r in stale), stale[0].text
    assert sup["server_epoch"] == new_epoch
    assert totals == {1}


def test_sqlite_restore_refuses_a_file_that_is_not_a_fieldvisit_backup(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    made = fieldvisit("users", "add", "sup.q", "--password", "pw-12345", "--role", "supervisor", "--team", "t",
                      "--db", str(db))  # fmt: skip
    assert made.returncode == 0, made.stderr
    epoch = _epoch(str(db))
    stray = tmp_path / "stray.db"
    sqlite3.connect(stray).execute("CREATE TABLE t (x)").connection.commit()

    refused = fieldvisit("restore", str(stray), "--db", str(db))

    assert refused.returncode == 2
    assert "not a FieldVisit backup" in refused.stderr and "Nothing was changed" in refused.stderr
    assert _epoch(str(db)) == epoch and contents(str(db))["users"]


@pytest.mark.parametrize(
    ("pg_type", "stored", "restored"),
    [
        ("bigint", 7, 7),
        ("bigint", "7", 7),
        ("bigint", b"7", 7),
        ("bigint", 2.0, 2),
        ("double precision", "1.5", 1.5),
        ("double precision", 3, 3.0),
        ("text", b"\xe6\x9d\x8e", "李"),
        ("bytea", "ab", b"ab"),
        ("bigint", None, None),
    ],
)
def test_backup_value_is_converted_to_its_postgresql_column_type(
    pg_type: str, stored: Any, restored: Any
) -> None:
    from sync.server.store.pg_backup import _converter

    assert _converter(pg_type, "t", "c")(stored) == restored


@pytest.mark.parametrize(
    ("pg_type", "stored"), [("bigint", 2.5), ("bigint", "seven"), ("double precision", "x")]
)
def test_backup_value_that_is_not_of_its_column_type_is_refused_naming_table_and_column(
    pg_type: str, stored: Any
) -> None:
    from sync.server.store.pg_backup import BackupError, _converter

    with pytest.raises(BackupError, match=r"table t, column c: .* is not (an integer|a number)"):
        _converter(pg_type, "t", "c")(stored)
