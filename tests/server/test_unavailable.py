"""A database or object store out of reach answers 503 `unavailable` with Retry-After (a device backs off and
retries), not a 500; the next request after it comes back succeeds."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from models.demo_data import demo_users
from sync.server import create_app
from sync.server.errors import transient

from .conftest import Server, fast_settings
from .s3_local import LocalS3, unreachable_store


def _app_server(db: str, **settings: object) -> Iterator[tuple[Server, object]]:
    app = create_app(fast_settings(db, **settings))  # type: ignore[arg-type]
    users = {n: row["id"] for n, row in app.state.ctx.add_users(demo_users(), now=datetime.now(UTC)).items()}
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Server(client=client, users=users), app.state.ctx


@pytest.fixture
def on_sqlite(tmp_path: Path) -> Iterator[tuple[Server, object]]:
    yield from _app_server(str(tmp_path / "fv.db"))


@pytest.fixture
def on_postgres(pg_url: str, tmp_path: Path) -> Iterator[tuple[Server, object]]:
    yield from _app_server(pg_url, blob_url=(tmp_path / "blobs").as_uri())


def test_upload_answers_503_with_retry_after_when_the_object_store_cannot_be_reached(
    on_sqlite: tuple[Server, object], local_s3: LocalS3
) -> None:
    server, ctx = on_sqlite
    ctx.blobs = unreachable_store()  # type: ignore[attr-defined]
    sha = hashlib.sha256(b"photo").hexdigest()
    headers = server.h("inv.a1") | {
        "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": "0",
        "Upload-Length": "5",
    }

    r = server.client.patch(f"/v1/blobs/{sha}", content=b"photo", headers=headers)

    assert r.status_code == 503, r.text
    assert r.json()["error"] == "unavailable"
    assert r.headers["Retry-After"] == "5"


def test_write_answers_503_and_the_next_succeeds_when_postgresql_ended_the_connections(
    on_postgres: tuple[Server, object], pg_url: str
) -> None:
    server, _ = on_postgres
    headers = server.h("sup.a")
    assert server.client.get("/v1/visits", headers=headers).status_code == 200
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )

    health = server.client.get("/v1/health")  # a read: repeated on a new connection
    lost = server.client.get("/v1/visits", headers=headers)  # its write finds the writer's connection gone
    again = server.client.get("/v1/visits", headers=headers)

    assert health.status_code == 200
    assert lost.status_code == 503, lost.text
    assert lost.json()["error"] == "unavailable" and lost.headers["Retry-After"] == "5"
    assert again.status_code == 200, again.text


def _client_error(status: int) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": str(status)}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject"
    )


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("no such table: visits"), False),
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),
        (psycopg.errors.UndefinedTable("relation does not exist"), False),
        (_client_error(503), True),
        (_client_error(404), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_an_unreachable_or_busy_store_counts_as_transient(exc: Exception, expected: bool) -> None:
    from botocore.exceptions import EndpointConnectionError

    assert transient(exc) is expected
    assert transient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
