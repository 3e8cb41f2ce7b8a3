"""The real backend (ApiClient sign-in, per-user DeviceStore, SyncEngine thread) against the real central
server behind a TestClient transport."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from app.config import AppConfig, db_path
from app.runtime import AppModel
from app.services.backend import LoginFailed
from app.services.default_backend import DefaultBackend

harness = pytest.importorskip("tests.sync.harness")


@pytest.fixture
def world(tmp_path: Path):
    folder = tmp_path / "server"
    folder.mkdir()
    w = harness.World(folder, visits=4)
    yield w
    w.close()


def _model(tmp_path: Path, world) -> AppModel:
    config = AppConfig(data_dir=tmp_path / "device", default_server_url=harness.BASE)
    config.data_dir.mkdir(exist_ok=True)
    backend = DefaultBackend(transport=world.tc._transport, sync_interval=3600)
    return AppModel.create(config, backend)


async def test_sign_in_registers_device_and_first_sync_pulls_assigned_visits(tmp_path, world):
    model = _model(tmp_path, world)
    user = harness.INVESTIGATORS[0]
    try:
        assert await model.session.sign_in(harness.BASE, user, harness.PASSWORD)
        store = model.session.store
        state = store.sync_state()
        assert state.user_id == world.users[user] and state.device_id
        assert db_path(model.config.data_dir, world.users[user]).exists()
        deadline = time.monotonic() + 20
        while store.queue_count() < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert store.queue_count() == 4
        items = store.queue()
        assert all("****" in i.masked_phone for i in items)
        model.sync.refresh(model.session.engine, store)
        assert model.sync.last_sync_at is not None and model.sync.last_error is None
    finally:
        model.shutdown()


async def test_sign_in_again_reuses_the_users_store(tmp_path, world):
    model = _model(tmp_path, world)
    user = harness.INVESTIGATORS[0]
    try:
        assert await model.session.sign_in(harness.BASE, user, harness.PASSWORD)
        first_device = model.session.store.sync_state().device_id
        model.session.lock()
        model.session._close()
        assert await model.session.sign_in(harness.BASE, user, harness.PASSWORD)
        assert model.session.store.sync_state().device_id != first_device
        assert len(list(model.config.data_dir.glob("fieldvisit-*.db"))) == 1
    finally:
        model.shutdown()


def test_login_refused_with_wrong_password(tmp_path, world):
    backend = DefaultBackend(transport=world.tc._transport)
    with pytest.raises(LoginFailed) as exc:
        backend.login(harness.BASE, harness.INVESTIGATORS[0], "wrong", "phone")
    assert exc.value.reason == "invalid_credentials"


def test_login_reports_offline_when_server_unreachable():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    backend = DefaultBackend(transport=httpx.MockTransport(refuse))
    with pytest.raises(LoginFailed) as exc:
        backend.login("http://127.0.0.1:9", "inv.a1", "pw", "phone")
    assert exc.value.reason == "offline"
