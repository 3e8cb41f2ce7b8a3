"""The session and encryption at rest: the password opens the store at sign-in, at the idle lock and after a
restart; wrong passwords are counted across restarts and the limit destroys the device's data; a password
changed on the server keeps the data when the phone's secure storage holds the key."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import GOOD_PASSWORD, USER, StubBackend

from app.config import AppConfig, db_path
from app.runtime import AppModel
from app.services.data_keys import escrow_entry
from app.services.device import FileSecureStore
from storage.keyfile import KeyFile


def _model(config: AppConfig, backend: StubBackend) -> AppModel:
    model = AppModel.create(config, backend)
    model.session.restore()
    return model


async def _signed_in(config: AppConfig, backend: StubBackend, password: str = GOOD_PASSWORD) -> AppModel:
    model = _model(config, backend)
    assert await model.session.sign_in("http://x", USER.username, password)
    return model


async def test_unlock_opens_the_store_again_when_the_password_is_right_after_the_idle_lock(
    app_config: AppConfig, stub_backend: StubBackend
) -> None:
    model = await _signed_in(app_config, stub_backend)
    session = model.session
    session.lock()
    assert session.phase == "locked"
    assert not session.unlock("not-the-password") and session.error_key == "lock.error.wrong_password"
    assert session.unlock(GOOD_PASSWORD) and session.phase == "active"
    assert session.store is not None and session.store.queue_count() == 120
    assert KeyFile.for_store(db_path(app_config.data_dir, USER.id)).failures() == 0


async def test_restart_comes_back_locked_and_the_password_opens_the_store_when_remembered(
    app_config: AppConfig, stub_backend: StubBackend
) -> None:
    first = await _signed_in(app_config, stub_backend)
    assert first.session.store is not None
    draft_id = "r-restart"
    first.session.store.save_draft(draft_id, None, {"notes": "offline work"})
    first.shutdown()

    again = _model(app_config, StubBackend())
    assert again.session.phase == "locked" and again.session.store is None
    assert again.session.unsynced_count() == 1  # counted without the key
    assert again.session.unlock(GOOD_PASSWORD)
    assert again.session.store is not None and again.session.store.get_draft(draft_id) == {
        "notes": "offline work"
    }
    again.shutdown()


async def test_wrong_passwords_destroy_the_device_data_when_the_limit_is_reached_across_a_restart(
    tmp_path: Path, stub_backend: StubBackend
) -> None:
    config = AppConfig(data_dir=tmp_path, kdf_cost=2**10, wipe_after_failures=10)
    first = await _signed_in(config, stub_backend)
    first.session.lock()
    for _ in range(6):
        assert not first.session.unlock("guess")
    first.shutdown()

    again = _model(config, StubBackend())
    for _ in range(3):
        assert not again.session.unlock("guess") and again.session.phase == "locked"
    path = db_path(tmp_path, USER.id)
    assert path.exists() and KeyFile.for_store(path).failures() == 9
    assert not again.session.unlock("guess")  # the tenth in a row
    assert again.session.phase == "signed_out" and again.session.error_key == "lock.error.wiped"
    leftovers = [
        p.name for p in tmp_path.iterdir() if p.name.startswith(path.name) or p.name == path.stem + "-blobs"
    ]
    assert leftovers == []
    assert _model(config, StubBackend()).session.phase == "signed_out"  # nothing remembered


async def test_sign_in_keeps_the_data_when_the_password_changed_and_secure_storage_holds_the_key(
    app_config: AppConfig, stub_backend: StubBackend, tmp_path: Path
) -> None:
    secure = FileSecureStore(tmp_path / "secure")
    model = AppModel.create(app_config, stub_backend)
    model.session.secure_store = secure
    assert await model.session.sign_in("http://x", USER.username, GOOD_PASSWORD)
    assert await secure.get(escrow_entry(USER.id))
    assert model.session.store is not None
    model.session.store.save_draft("r-kept", None, {"notes": "kept"})
    model.shutdown()

    changed = StubBackend()
    changed.login = lambda url, username, password, device, store=None: StubBackend.login(  # type: ignore[method-assign]
        changed, url, username, GOOD_PASSWORD if password == "new-password" else "x", device, store
    )
    again = AppModel.create(app_config, changed)
    again.session.secure_store = secure
    assert await again.session.sign_in("http://x", USER.username, "new-password")
    assert again.session.store is not None and again.session.store.get_draft("r-kept") == {"notes": "kept"}
    again.session.lock()
    assert not again.session.unlock(GOOD_PASSWORD) and again.session.unlock("new-password")
    again.session.sign_out()
    await asyncio.sleep(0.05)  # the secure store's removal runs on the loop
    assert await secure.get(escrow_entry(USER.id)) is None
    assert not KeyFile.for_store(db_path(app_config.data_dir, USER.id)).exists()
