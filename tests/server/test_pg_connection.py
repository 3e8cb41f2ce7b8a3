"""The PostgreSQL connection façade: statements that answer nothing go with the next one (sync/server/pg.py)."""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from sync.server.db import Database, connect
from sync.server.pg import CONNECTION_DEFAULTS, WRITE_LOCK, PgDatabase, connect_pg


@pytest.fixture
def db(pg_url: str) -> Iterator[PgDatabase]:
    db = connect_pg(pg_url)
    db.execute("CREATE TABLE t (a INTEGER)")
    yield db
    db.conn.close()


def _round_trips(db: PgDatabase, work: object) -> int:
    """How many times the client waited for the server while `work()` ran (libpq's protocol trace)."""
    raw = db.conn._raw
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace"
        with open(path, "w") as out:
            raw.pgconn.trace(out.fileno())
            try:
                work()  # type: ignore[operator]
            finally:
                raw.pgconn.untrace()
        sent = [line.split("\t") for line in path.read_text().splitlines()]
    # Every Sync (extended protocol) and every Query (simple protocol) ends a round trip.
    return sum(1 for f in sent if len(f) > 3 and f[1] == "F" and f[3].split(" ")[0] in ("Sync", "Query"))


def test_a_write_transaction_whose_statements_answer_nothing_costs_one_round_trip(db: PgDatabase) -> None:
    def work() -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("SAVEPOINT job")
        db.execute("INSERT INTO t(a) VALUES (?)", [1])
        db.execute("RELEASE job")
        db.execute("COMMIT")

    trips = _round_trips(db, work)

    assert trips == 1  # begin, the lock, the savepoint, the insert, the release and the commit
    assert db.execute("SELECT a FROM t").fetchall() == [(1,)]


def test_writes_go_with_the_next_read_which_sees_them(db: PgDatabase) -> None:
    seen: list[tuple[int, ...]] = []

    def work() -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t(a) VALUES (?)", [1])
        db.conn.executemany("INSERT INTO t(a) VALUES (?)", [(2,), (3,)])
        db.execute("UPDATE t SET a = a + 10 WHERE a = ?", [3])
        seen.extend(db.execute("SELECT a FROM t ORDER BY a").fetchall())
        db.execute("COMMIT")

    trips = _round_trips(db, work)

    assert seen == [(1,), (2,), (13,)]
    assert trips == 2


def test_the_row_count_of_a_held_write_is_its_own(db: PgDatabase) -> None:
    db.execute("BEGIN IMMEDIATE")
    db.conn.executemany("INSERT INTO t(a) VALUES (?)", [(1,), (2,), (3,)])

    count = db.execute("DELETE FROM t WHERE a < ?", [3]).rowcount

    db.execute("COMMIT")
    assert count == 2
    assert db.execute("SELECT a FROM t").fetchall() == [(3,)]


def test_the_write_lock_is_held_from_the_first_statement_until_commit(db: PgDatabase, pg_url: str) -> None:
    db.execute("BEGIN IMMEDIATE")
    db.execute("SELECT count(*) FROM t")
    with psycopg.connect(pg_url, autocommit=True) as other:
        held = other.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND ((classid::bigint << 32) | objid::bigint) = %s",
            [WRITE_LOCK],
        ).fetchone()
        db.execute("COMMIT")
        after = other.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()

    assert held == (1,)
    assert after == (0,)


def test_rolling_back_to_a_savepoint_forgets_the_writes_held_after_it(db: PgDatabase) -> None:
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO t(a) VALUES (?)", [1])
    db.execute("SAVEPOINT s")
    db.execute("INSERT INTO t(a) VALUES (?)", [2])

    db.execute("ROLLBACK TO s")
    db.execute("RELEASE s")
    db.execute("COMMIT")

    assert db.execute("SELECT a FROM t").fetchall() == [(1,)]


def test_after_rolling_back_to_a_savepoint_the_failing_write_raises_itself(db: PgDatabase) -> None:
    db.execute("CREATE UNIQUE INDEX t_a ON t(a)")
    db.execute("BEGIN IMMEDIATE")
    db.execute("SAVEPOINT s")
    db.execute("ROLLBACK TO s")
    db.execute("INSERT INTO t(a) VALUES (?)", [1])

    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("INSERT INTO t(a) VALUES (?)", [1])
    db.execute("ROLLBACK")


def test_a_held_write_that_fails_is_raised_by_settling_and_said_to_be_a_held_write(db: PgDatabase) -> None:
    db.execute("CREATE UNIQUE INDEX t_a ON t(a)")
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO t(a) VALUES (?)", [1])
    db.execute("SAVEPOINT job")
    db.execute("INSERT INTO t(a) VALUES (?)", [1])
    db.execute("RELEASE job")

    with pytest.raises(psycopg.errors.UniqueViolation):
        db.conn.settle()
    assert db.conn.writes_failed
    db.execute("ROLLBACK TO job")
    assert not db.conn.writes_failed  # said of the last statement sent only
    db.execute("RELEASE job")
    db.execute("COMMIT")

    assert not db.conn.writes_failed
    assert db.execute("SELECT a FROM t").fetchall() == [(1,)]


def _insert_once_catching(calls: list[str]) -> Any:
    """A job that inserts 1 into `g` and answers "caught" when the database refuses it at the statement (as
    the push does: under a savepoint of its own, rolled back to)."""

    def job(d: Any) -> str:
        calls.append("run")
        d.execute("SAVEPOINT mine")
        try:
            d.execute("INSERT INTO g(a) VALUES (?)", [1])
        except psycopg.errors.UniqueViolation:
            d.execute("ROLLBACK TO mine")
            return "caught"
        finally:
            d.execute("RELEASE mine")
        return "inserted"

    return job


@pytest.mark.parametrize("grouped", [False, True])
def test_a_job_whose_held_write_fails_runs_once_more_meeting_the_failure_at_its_statement(
    pg_url: str, grouped: bool
) -> None:
    database = Database(pg_url, readers=1)
    try:
        database.write_sync(lambda d: d.execute("CREATE TABLE g (a INTEGER PRIMARY KEY)"))
        database.write_sync(lambda d: d.execute("INSERT INTO g(a) VALUES (?)", [1]))
        calls: list[str] = []
        jobs: list[tuple[Any, tuple[()], dict[str, Any], Future[Any]]] = [
            (_insert_once_catching(calls), (), {}, Future())
        ]
        if grouped:
            jobs.append((lambda d: d.execute("INSERT INTO g(a) VALUES (?)", [2]), (), {}, Future()))
        writer = connect(pg_url)
        try:
            Database._run_batch(writer, jobs)
            # The next transaction holds its writes again.
            writer.execute("BEGIN IMMEDIATE")
            held = writer.execute("INSERT INTO g(a) VALUES (?)", [3])
            writer.execute("COMMIT")
        finally:
            writer.conn.close()
        rows = database.read_sync(lambda d: d.execute("SELECT a FROM g ORDER BY a").fetchall())
    finally:
        database.close()

    # Held back, the insert failed only with the commit (or the job's release): the job was run again with
    # each write sent as it was made, and caught the refusal itself.
    assert calls == ["run", "run"]
    assert jobs[0][3].result() == "caught"
    assert all(f.exception() is None for *_, f in jobs)
    assert type(held).__name__ == "_Held"
    assert [tuple(r) for r in rows] == ([(1,), (2,), (3,)] if grouped else [(1,), (3,)])


def test_a_grouped_job_whose_write_fails_fails_alone(pg_url: str) -> None:
    database = Database(pg_url, readers=1)
    try:
        database.write_sync(lambda d: d.execute("CREATE TABLE g (a INTEGER PRIMARY KEY)"))
        jobs: list[tuple[Any, tuple[()], dict[str, Any], Future[Any]]] = [
            (lambda d: d.execute("INSERT INTO g(a) VALUES (?)", [1]), (), {}, Future()),
            (lambda d: d.execute("INSERT INTO g(a) VALUES (?)", [1]), (), {}, Future()),
            (lambda d: d.execute("INSERT INTO g(a) VALUES (?)", [2]), (), {}, Future()),
        ]
        writer = connect(pg_url)
        try:
            Database._run_batch(writer, jobs)
        finally:
            writer.conn.close()
        rows = database.read_sync(lambda d: d.execute("SELECT a FROM g ORDER BY a").fetchall())
    finally:
        database.close()

    assert [f.exception() is None for *_, f in jobs] == [True, False, True]
    assert [tuple(r) for r in rows] == [(1,), (2,)]


def test_a_transaction_rolled_back_before_its_first_statement_leaves_the_connection_idle(
    db: PgDatabase,
) -> None:
    db.execute("BEGIN IMMEDIATE")
    assert db.conn.in_transaction

    db.execute("ROLLBACK")

    assert not db.conn.in_transaction
    assert db.conn.raw.info.transaction_status == TransactionStatus.IDLE
    db.execute("INSERT INTO t(a) VALUES (?)", [2])  # autocommit again
    assert db.execute("SELECT a FROM t").fetchall() == [(2,)]


def test_an_error_of_a_held_statement_is_raised_with_the_next_statement(db: PgDatabase) -> None:
    db.execute("BEGIN IMMEDIATE")
    db.execute("RELEASE never_made")

    with pytest.raises(psycopg.errors.InvalidSavepointSpecification):
        db.execute("SELECT count(*) FROM t")
    db.conn.rollback()

    assert db.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_the_raw_connection_sends_what_is_held_before_it_is_used(db: PgDatabase) -> None:
    db.execute("BEGIN IMMEDIATE")

    status = db.conn.raw.info.transaction_status

    assert status == TransactionStatus.INTRANS
    db.execute("ROLLBACK")


def test_many_rows_of_an_insert_go_as_multi_row_statements_with_what_follows_the_row(db: PgDatabase) -> None:
    db.execute("CREATE UNIQUE INDEX t_a ON t(a)")
    rows = [(i,) for i in range(1200)] + [(5,)]  # three statements; the repeated row is ignored

    def work() -> None:
        db.execute("BEGIN IMMEDIATE")
        db.conn.executemany("INSERT OR IGNORE INTO t(a) VALUES (?)", rows)
        db.execute("COMMIT")

    trips = _round_trips(db, work)

    assert db.execute("SELECT count(*), min(a), max(a) FROM t").fetchone() == (1200, 0, 1199)
    assert trips == 1  # the whole transaction: begin, the lock, three inserts, commit


def test_a_job_that_swallows_a_database_error_fails_at_commit_instead_of_losing_its_writes(
    pg_url: str,
) -> None:
    database = Database(pg_url, readers=1)
    try:
        database.write_sync(lambda d: d.execute("CREATE TABLE g (a INTEGER PRIMARY KEY)"))

        def job(d: Any) -> str:
            d.execute("INSERT INTO g(a) VALUES (?)", [5])
            with contextlib.suppress(psycopg.errors.UndefinedTable):
                d.execute("SELECT * FROM no_such_table")  # aborts the transaction on PostgreSQL
            return "done"

        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            database.write_sync(job)
        rows = database.read_sync(lambda d: d.execute("SELECT a FROM g").fetchall())
        database.write_sync(lambda d: d.execute("INSERT INTO g(a) VALUES (?)", [6]))  # the writer goes on
        after = database.read_sync(lambda d: d.execute("SELECT a FROM g").fetchall())
    finally:
        database.close()

    assert rows == []
    assert [tuple(r) for r in after] == [(6,)]


def test_a_statement_that_recurs_is_prepared_once_and_stays_prepared_across_rollbacks(db: PgDatabase) -> None:
    seen: list[Any] = []

    def read_in_a_transaction() -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t(a) VALUES (?)", [7])
        seen.append(db.execute("SELECT count(*) FROM t WHERE a > ?", [1]).fetchone())
        db.execute("ROLLBACK")

    for _ in range(4):
        read_in_a_transaction()
    prepared = db.conn._raw.execute("SELECT statement FROM pg_prepared_statements").fetchall()

    assert seen == [(1,)] * 4
    texts = sorted(p[0] for p in prepared)
    assert any("FROM t WHERE a > $1" in t for t in texts), texts
    assert sum("INSERT INTO t(a)" in t for t in texts) == 1, texts


def test_a_prepared_select_of_every_column_runs_again_once_a_column_is_added(db: PgDatabase) -> None:
    db.execute("INSERT INTO t(a) VALUES (?)", [1])
    for _ in range(3):
        db.execute("SELECT * FROM t WHERE a = ?", [1])
    db.conn._raw.execute("ALTER TABLE t ADD COLUMN b INTEGER")

    with pytest.raises(psycopg.errors.FeatureNotSupported):  # PostgreSQL refuses the changed result once
        db.execute("SELECT * FROM t WHERE a = ?", [1])
    row = db.execute("SELECT * FROM t WHERE a = ?", [1]).fetchone()

    assert row == (1, None)


@pytest.mark.parametrize("where", ["read", "write", "grouped write"])
def test_a_job_meeting_a_statement_prepared_before_a_column_was_added_runs_again_and_succeeds(
    pg_url: str, where: str
) -> None:
    database = Database(pg_url, readers=1)
    calls: list[str] = []

    def job(d: Any) -> Any:
        calls.append("run")
        return d.execute("SELECT * FROM s WHERE a = ?", [1]).fetchone()

    try:
        database.write_sync(lambda d: d.execute("CREATE TABLE s (a INTEGER PRIMARY KEY)"))
        database.write_sync(lambda d: d.execute("INSERT INTO s(a) VALUES (?)", [1]))
        writer = connect(pg_url)
        try:
            for _ in range(3):  # prepared on the connection that will meet the change
                if where == "read":
                    database.read_sync(job)
                else:
                    Database._run_batch(writer, [(job, (), {}, Future())])
            # A newer version migrates the database while this one serves.
            with psycopg.connect(pg_url, autocommit=True) as other:
                other.execute("ALTER TABLE s ADD COLUMN b INTEGER")
            calls.clear()
            if where == "read":
                row = database.read_sync(job)
            else:
                jobs: list[tuple[Any, tuple[()], dict[str, Any], Future[Any]]] = [(job, (), {}, Future())]
                if where == "grouped write":
                    jobs.append((lambda d: d.execute("INSERT INTO s(a) VALUES (?)", [2]), (), {}, Future()))
                Database._run_batch(writer, jobs)
                row = jobs[0][3].result()
                assert all(f.exception() is None for *_, f in jobs)
        finally:
            writer.conn.close()
    finally:
        database.close()

    assert tuple(row) == (1, None)
    assert calls == ["run", "run"]  # refused once as prepared, then run as text and prepared again


def test_a_statement_with_many_parameters_is_not_prepared(db: PgDatabase) -> None:
    rows = [(i,) for i in range(100)]  # one INSERT of 100 rows: 100 parameters
    for _ in range(3):
        db.execute("BEGIN IMMEDIATE")
        db.conn.executemany("INSERT INTO t(a) VALUES (?)", rows)
        assert db.execute("SELECT count(*) FROM t WHERE a > ?", [1]).fetchone() == (98,)
        db.execute("ROLLBACK")

    prepared = [p[0] for p in db.conn._raw.execute("SELECT statement FROM pg_prepared_statements").fetchall()]

    assert not any("INSERT INTO t(a)" in p for p in prepared), prepared
    assert any("FROM t WHERE a > $1" in p for p in prepared), prepared


def _dsn(db: PgDatabase) -> dict[str, str]:
    return dict(part.split("=", 1) for part in db.conn._raw.info.dsn.split())


def test_a_connection_gets_the_timeouts_its_url_leaves_out_and_keeps_those_it_gives(pg_url: str) -> None:
    plain = connect_pg(pg_url)
    own = connect_pg(f"{pg_url}?tcp_user_timeout=5000&connect_timeout=3")
    try:
        assert {k: _dsn(plain).get(k) for k in CONNECTION_DEFAULTS} == CONNECTION_DEFAULTS
        mine = _dsn(own)
        assert (mine["tcp_user_timeout"], mine["connect_timeout"], mine["keepalives_idle"]) == (
            "5000",
            "3",
            "30",
        )
    finally:
        plain.conn.close()
        own.conn.close()


def test_connecting_to_a_host_that_never_answers_gives_up_after_ten_seconds() -> None:
    # A port whose handshake the kernel completes but where no server ever speaks: without a connect
    # timeout the connection would wait for ever, and with it every request of the worker that needs one.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"postgresql://fieldvisit@127.0.0.1:{silent.getsockname()[1]}/fieldvisit?sslmode=disable"
        outcome: list[BaseException | float] = []

        def attempt() -> None:
            started = time.monotonic()
            try:
                connect_pg(url).conn.close()
            except psycopg.OperationalError:
                outcome.append(time.monotonic() - started)
            except BaseException as exc:  # reported below
                outcome.append(exc)

        runner = threading.Thread(target=attempt, daemon=True)
        runner.start()
        runner.join(40)
    assert outcome, "the connection attempt was still waiting after 40 s"
    assert isinstance(outcome[0], float) and 9 <= outcome[0] < 20, outcome
