"""Client-less tests of every shell screen: the real App component on a fake Flet connection."""

from __future__ import annotations

from conftest import GOOD_PASSWORD, USER

from app.runtime import AppModel
from app.views.app import App


async def start(headless, model: AppModel, *, width: int = 390, route: str = "/"):
    model.viewport.width = width
    await headless.start(component=App, views=True, args=(model,), width=width, route=route)
    return headless


async def signed_in(headless, app_config, backend, **kw):
    model = AppModel.create(app_config, backend)
    await start(headless, model, **kw)
    assert await model.session.sign_in("http://127.0.0.1:9", USER.username, GOOD_PASSWORD)
    await headless.settle(30)
    return model


async def test_sign_in_shows_queue_when_password_is_right(headless, app_config, stub_backend):
    model = AppModel.create(app_config, stub_backend)
    await start(headless, model)
    assert headless.top_route() == "/signin"
    server = headless.by_id("signin-server")
    assert server.value == "http://127.0.0.1:9"
    await headless.type_into(headless.by_id("signin-username"), USER.username)
    await headless.type_into(headless.by_id("signin-password"), GOOD_PASSWORD)
    await headless.click(headless.by_id("signin-submit"))
    await headless.settle(40)
    assert model.session.phase == "active"
    assert headless.top_route() == "/"
    assert headless.has_id("queue-search")
    assert headless.crashes() == []
