"""Refresh rotation with a grace window: a lost answer is repeated, real reuse still revokes the device."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sync.server import create_app
from tests.helpers.pg_fixtures import backend_settings

from .conftest import fast_settings

START = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


USER = {"username": "inv.g1", "password": "pw-grace", "role": "investigator", "team": "hz-a"}


@pytest.fixture
def client(tmp_path: Path, clock: Clock, backend: str, database_location: str) -> Iterator[TestClient]:
    where = backend_settings(backend, database_location, tmp_path)
    app = create_app(fast_settings(database_location, refresh_grace_seconds=60, **where), clock=clock)
    ctx = app.state.ctx
    ctx.add_users([USER], now=START)
    with TestClient(app) as c:
        yield c


def login(client: TestClient) -> dict[str, Any]:
    r = client.post("/v1/auth/login", json={"username": "inv.g1", "password": "pw-grace", "device_name": "p"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def refresh(client: TestClient, token: str) -> Any:
    return client.post("/v1/auth/refresh", json={"refresh_token": token})


def works(client: TestClient, access_token: str) -> bool:
    r = client.get("/v1/reports", headers={"Authorization": f"Bearer {access_token}"})
    return r.status_code == 200


def pair(body: dict[str, Any]) -> tuple[str, str, str]:
    return body["device_id"], body["access_token"], body["refresh_token"]


def test_refresh_repeated_within_grace_returns_the_same_pair_when_the_answer_was_lost(
    client: TestClient, clock: Clock
) -> None:
    first = login(client)
    answer = refresh(client, first["refresh_token"])
    assert answer.status_code == 200
    clock.now += timedelta(seconds=30)  # the answer never reached the device, which tries again
    again = refresh(client, first["refresh_token"])
    assert again.status_code == 200, again.text
    assert pair(again.json()) == pair(answer.json())
    assert again.json()["refresh_token"] != first["refresh_token"]
    assert 0 < again.json()["expires_in"] <= answer.json()["expires_in"]
    assert works(client, again.json()["access_token"])
    assert not works(client, first["access_token"])
    # The repeated pair is the live one: it rotates normally, once.
    third = refresh(client, again.json()["refresh_token"])
    assert third.status_code == 200 and works(client, third.json()["access_token"])


def test_refresh_reuse_after_grace_revokes_device(client: TestClient, clock: Clock) -> None:
    first = login(client)
    second = refresh(client, first["refresh_token"]).json()
    clock.now += timedelta(seconds=61)
    reuse = refresh(client, first["refresh_token"])
    assert reuse.status_code == 401 and reuse.json()["error"] == "device_revoked"
    r = client.get("/v1/reports", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert r.status_code == 401 and r.json()["error"] in ("device_revoked", "invalid_token")
    assert refresh(client, second["refresh_token"]).status_code == 401


def test_refresh_reuse_of_an_older_token_revokes_device_within_grace(
    client: TestClient, clock: Clock
) -> None:
    first = login(client)
    second = refresh(client, first["refresh_token"]).json()
    clock.now += timedelta(seconds=5)
    third = refresh(client, second["refresh_token"]).json()
    clock.now += timedelta(seconds=5)
    # `first` was rotated 10 s ago, but the pair it became has been rotated in turn: this is reuse.
    reuse = refresh(client, first["refresh_token"])
    assert reuse.status_code == 401 and reuse.json()["error"] == "device_revoked"
    assert not works(client, third["access_token"])


def test_refresh_previous_token_revokes_device_once_the_new_pair_was_used_to_rotate(
    client: TestClient, clock: Clock
) -> None:
    first = login(client)
    second = refresh(client, first["refresh_token"]).json()
    third = refresh(client, second["refresh_token"]).json()
    # `second` is the token immediately before the current one, and within grace: the device already
    # holds `third`, so presenting `second` again is still answered with `third` (the same pair).
    again = refresh(client, second["refresh_token"])
    assert again.status_code == 200 and pair(again.json()) == pair(third)
    # …but `first` (two rotations back) is reuse.
    reuse = refresh(client, first["refresh_token"])
    assert reuse.status_code == 401 and reuse.json()["error"] == "device_revoked"


def test_refresh_grace_zero_revokes_on_any_reuse(tmp_path: Path) -> None:
    app = create_app(fast_settings(tmp_path / "fv.db", refresh_grace_seconds=0), clock=lambda: START)
    ctx = app.state.ctx
    ctx.add_users([USER], now=START)
    with TestClient(app) as c:
        first = login(c)
        assert refresh(c, first["refresh_token"]).status_code == 200
        reuse = refresh(c, first["refresh_token"])
        assert reuse.status_code == 401 and reuse.json()["error"] == "device_revoked"
