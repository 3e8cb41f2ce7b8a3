"""A server process outlives its PostgreSQL connections: when the database ends them (a restart, a failover,
an operator's pg_terminate_backend), the write that finds one gone fails and the next runs on a new
connection; a read is repeated on a new connection at once."""

from __future__ import annotations

import psycopg
import pytest

from sync.server.db import Database
from sync.server.store.common import get_meta, set_meta


def _end_sessions(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def test_read_repeated_and_next_write_succeeds_when_the_database_ended_the_connections(pg_url: str) -> None:
    db = Database(pg_url, readers=1)
    try:
        db.write_sync(set_meta, "probe", "before")
        assert db.read_sync(get_meta, "probe") == "before"
        _end_sessions(pg_url)

        with pytest.raises(psycopg.OperationalError):
            db.write_sync(set_meta, "probe", "lost")
        # A read is repeated once on a new connection: it changes nothing.
        again = db.read_sync(get_meta, "probe")
        db.write_sync(set_meta, "probe", "after")
        seen = db.read_sync(get_meta, "probe")
    finally:
        db.close()

    assert (again, seen) == ("before", "after")
