"""Fixtures for the sync engine tests: a signed-in in-memory device against the fake server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from storage.store import DeviceStore
from sync.client import ApiClient, MemoryTokens, StoredTokens, SyncEngine
from tests.helpers.pg_fixtures import BACKENDS, backend, database_location, pg_cluster  # noqa: F401
from tests.sync.fakes import FakeServer

# The end-to-end and fault tests against a real server run on both database backends (but the tests a module
# names in SQLITE_ONLY).
BOTH_BACKENDS = ("test_engine_e2e", "test_sync_proxy", "test_link_day", "test_crash")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if (
        "backend" in metafunc.fixturenames
        and metafunc.module.__name__.endswith(BOTH_BACKENDS)
        and metafunc.function.__name__ not in getattr(metafunc.module, "SQLITE_ONLY", ())
    ):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def fake() -> FakeServer:
    return FakeServer()


@pytest.fixture
def store() -> Iterator[DeviceStore]:
    s = DeviceStore(None)
    yield s
    s.close()


def signed_in(store: DeviceStore, fake: FakeServer, device_id: str = "dev-1") -> MemoryTokens:
    store.update_sync_state(
        server_url="http://fake", device_id=device_id, user_id="u-1", server_epoch=fake.epoch
    )
    tokens = MemoryTokens()
    tokens.save(StoredTokens(device_id, fake.access, fake.refresh_token))
    return tokens


@pytest.fixture
def engine(store: DeviceStore, fake: FakeServer) -> Iterator[SyncEngine]:
    http = httpx.Client(transport=fake.transport())
    api = ApiClient(store, http, tokens=signed_in(store, fake))
    yield SyncEngine(store, api)
    http.close()
