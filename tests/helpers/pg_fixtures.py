"""Fixtures that put a test on either server backend: `backend` ("sqlite" unless parametrized) and
`database_location` (a fresh SQLite file, or a fresh database on the session's private PostgreSQL)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest

from sync.server.pg import is_postgres_url
from tests.helpers.postgres import PgCluster, find_bin_dir

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One private PostgreSQL for the test session (initdb in a temporary directory, a free port)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL is not installed (Debian's postgresql package; scripts/bootstrap.sh installs it)"
        )
    cluster = PgCluster(bin_dir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A fresh database on the session's PostgreSQL, dropped after the test."""
    url = pg_cluster.new_database()
    try:
        yield url
    finally:
        pg_cluster.drop_database(url)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_location(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if backend == "sqlite":
        yield str(tmp_path / "fv.db")
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    # Migrated already (a copy of a template): the server's start finds its schema built. The migrations
    # still run on an empty database wherever a test takes `pg_url` or starts a server process of its own.
    url = cluster.new_database(migrated=True)
    try:
        yield url
    finally:
        cluster.drop_database(url)
        blobs = Path(url2pathname(urlparse(shared_blob_url(url) or "").path))
        for left in (blobs, blobs.with_name(blobs.name + ".uploads")):
            shutil.rmtree(left, ignore_errors=True)


def backend_settings(backend: str, location: str, tmp_path: Path) -> dict[str, str]:
    """What a server on `location` needs besides it: with PostgreSQL, a blob directory (it has no default)."""
    if backend == "sqlite":
        return {}
    return {"blob_url": (tmp_path / "blobs").resolve().as_uri()}


def shared_blob_url(db: Path | str) -> str | None:
    """For a PostgreSQL database, the blob directory every server on it shares (it has no default); None for a
    SQLite file."""
    if not is_postgres_url(str(db)):
        return None
    return Path(tempfile.gettempdir(), f"fv-blobs-{str(db).rsplit('/', 1)[1]}").as_uri()
