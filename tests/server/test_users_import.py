"""`fieldvisit users import FILE`: many accounts from a CSV or JSON file (or standard input) in one run,
each row as `users add` takes it; a bad row is reported by row and field and never stops the good ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sync.server import create_app
from tests.helpers.pg_fixtures import BACKENDS, backend_settings

from .conftest import fast_settings

ROOT = Path(__file__).resolve().parents[2]
FAST = {"FIELDVISIT_ARGON2_TIME_COST": "1", "FIELDVISIT_ARGON2_MEMORY_KIB": "64"}


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(os.environ, **FAST),
        timeout=120,
        check=False,
    )


def _where(location: str) -> list[str]:
    return ["--database-url", location] if location.startswith("postgresql") else ["--db", location]


def _users(location: str, settings: dict[str, str]) -> tuple[TestClient, dict[str, dict[str, Any]]]:
    client = TestClient(create_app(fast_settings(location, **settings)))
    rows = client.app.state.ctx.db.read_sync(  # type: ignore[attr-defined]
        lambda d: [
            dict(zip(("username", "name", "role", "team", "districts", "experience_years"), r, strict=True))
            for r in d.execute(
                "SELECT username, name, role, team, districts, experience_years FROM users ORDER BY username"
            ).fetchall()
        ]
    )
    return client, {r["username"]: r for r in rows}


def _signs_in(client: TestClient, username: str, password: str) -> bool:
    r = client.post("/v1/auth/login", json={"username": username, "password": password, "device_name": "t"})
    return r.status_code == 200


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_users_import_creates_every_account_of_a_csv_and_each_signs_in(
    backend: str, database_location: str, tmp_path: Path
) -> None:
    # As a spreadsheet saves it: a byte-order mark, Chinese names, districts in one quoted cell.
    (tmp_path / "team.csv").write_text(
        "username,password,role,team,name,districts,experience_years\n"
        'inv.c1,first-pass-1,investigator,hz-c,陈一,"西湖区,上城区",3\n'
        "inv.c2,second-pass-2,investigator,hz-c,陈二,拱墅区、滨江区,\n"
        "sup.c,third-pass-3,supervisor,hz-c,,,\n",
        encoding="utf-8-sig",
    )
    done = _cli("users", "import", str(tmp_path / "team.csv"), *_where(database_location))

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "created 3, updated 0, errors 0"
    client, users = _users(database_location, backend_settings(backend, database_location, tmp_path))
    with client:
        assert all(
            _signs_in(client, u, p)
            for u, p in (("inv.c1", "first-pass-1"), ("inv.c2", "second-pass-2"), ("sup.c", "third-pass-3"))
        )
    assert users["inv.c1"] | {"districts": json.loads(users["inv.c1"]["districts"])} == {
        "username": "inv.c1",
        "name": "陈一",
        "role": "investigator",
        "team": "hz-c",
        "districts": ["西湖区", "上城区"],
        "experience_years": 3,
    }
    assert json.loads(users["inv.c2"]["districts"]) == ["拱墅区", "滨江区"]
    assert (users["sup.c"]["name"], users["sup.c"]["experience_years"]) == ("sup.c", 0)


def test_users_import_reports_each_bad_row_by_field_and_still_adds_the_good_ones(tmp_path: Path) -> None:
    good = {"username": "inv.d1", "password": "good-pass-1", "role": "investigator", "team": "hz-d"}
    rows = [
        good,
        {**good, "username": "inv.d2", "role": "boss"},
        {**good, "username": "inv.d3", "password": "pw-7x"},
        {**good, "username": "inv.d4", "nickname": "d4"},
        {**good, "password": "another-pass"},  # inv.d1 again
        "inv.d5",
        {**good, "username": "inv.d6", "experience_years": "5"},
        {**good, "username": "inv.d7", "name": "nul\x00here"},
        {**good, "username": "inv.d8"},
    ]
    (tmp_path / "team.json").write_text(json.dumps({"users": rows}, ensure_ascii=False), encoding="utf-8")
    db = str(tmp_path / "fv.db")

    done = _cli("users", "import", str(tmp_path / "team.json"), "--db", db)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "created 2, updated 0, errors 7"
    fields = [line.split(":")[0].strip() for line in lines[1:]]
    assert fields == [
        "row 2 role",
        "row 3 password",
        "row 4 nickname",
        "row 5 username",
        "row 6",
        "row 7 experience_years",
        "row 8 name",
    ], done.stdout
    assert "already given in row 1" in lines[4]
    assert "good-pass" not in done.stdout + done.stderr and "pw-7x" not in done.stdout  # no password shown
    client, users = _users(db, {})
    with client:
        assert _signs_in(client, "inv.d1", "good-pass-1")  # the later row with inv.d1 changed nothing
    assert sorted(users) == ["inv.d1", "inv.d8"]


def test_users_import_from_standard_input_updates_a_known_user_keeping_what_its_row_leaves_out(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "fv.db")
    first = _cli(
        "users", "add", "inv.e1", "--password", "old-pass-1", "--role", "investigator", "--team", "hz-e",
        "--name", "张 三", "--district", "西湖区", "--experience-years", "4", "--db", db,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    rows = [
        {"username": "inv.e1", "password": "new-pass-1", "role": "supervisor", "team": "hz-e"},
        {"username": "inv.e2", "password": "new-pass-2", "role": "investigator", "team": "hz-e"},
    ]

    done = _cli("users", "import", "-", "--db", db, stdin=json.dumps(rows))

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "created 1, updated 1, errors 0"
    client, users = _users(db, {})
    with client:
        assert _signs_in(client, "inv.e1", "new-pass-1") and not _signs_in(client, "inv.e1", "old-pass-1")
        assert _signs_in(client, "inv.e2", "new-pass-2")
    e1 = users["inv.e1"]
    assert (e1["role"], e1["name"], json.loads(e1["districts"]), e1["experience_years"]) == (
        "supervisor",
        "张 三",
        ["西湖区"],
        4,
    )


def test_users_import_answers_an_unreadable_file_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "latin1.csv").write_bytes("username,password,role,team\ncaf\xe9,x,y,z\n".encode("latin-1"))
    (tmp_path / "broken.json").write_text('{"users": [', encoding="utf-8")
    (tmp_path / "shape.json").write_text('{"accounts": []}', encoding="utf-8")
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    db = tmp_path / "fv.db"
    for name in ("missing.csv", "latin1.csv", "broken.json", "shape.json", "empty.csv"):
        done = _cli("users", "import", str(tmp_path / name), "--db", str(db))
        assert done.returncode == 2, (name, done.stdout, done.stderr)
        assert done.stderr.startswith("fieldvisit") and "Traceback" not in done.stderr, (name, done.stderr)
    # Every row refused: nothing to write, and the exit status says so.
    (tmp_path / "bad.json").write_text(json.dumps([{"username": "x"}]), encoding="utf-8")
    done = _cli("users", "import", str(tmp_path / "bad.json"), "--db", str(db))
    assert done.returncode == 1 and done.stdout.startswith("created 0, updated 0, errors 4"), done.stdout
    assert not db.exists()
