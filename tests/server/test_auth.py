"""Identity and auth: login, rate limit, refresh rotation and reuse, revocation, check order, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from sync.server import Settings, create_app

from .conftest import Server, fast_settings


def test_health_answers_epoch_and_protocol_when_unauthenticated(server: Server) -> None:
    body = server.client.get("/v1/health").json()
    assert body["status"] == "ok" and body["protocol"] == 1 and len(body["server_epoch"]) == 36


def test_login_returns_device_and_tokens_when_password_is_right(server: Server) -> None:
    body = server.login("inv.a1")
    assert body["user"] == {
        "id": server.users["inv.a1"],
        "name": "陈志刚",
        "role": "investigator",
        "team": "hz-a",
    }
    assert len(body["access_token"]) >= 22 and body["refresh_token"] != body["access_token"]
    assert body["expires_in"] > 0 and body["device_id"]


def test_login_fails_401_invalid_credentials_when_password_is_wrong(server: Server) -> None:
    r = server.client.post(
        "/v1/auth/login", json={"username": "inv.a1", "password": "nope", "device_name": "x"}
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_credentials" and r.json()["details"] == []


def test_login_is_429_when_failures_repeat(server: Server) -> None:
    bad = {"username": "inv.a2", "password": "nope", "device_name": "x"}
    codes = [server.client.post("/v1/auth/login", json=bad).status_code for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    good = {"username": "inv.a2", "password": "demo1234", "device_name": "x"}
    r = server.client.post("/v1/auth/login", json=good)
    assert r.status_code == 429 and r.json()["error"] == "too_many_requests" and "retry-after" in r.headers


def test_tokens_are_stored_only_as_hashes(server: Server) -> None:
    body = server.login("inv.a1")
    db = server.client.app.state.ctx.db  # type: ignore[attr-defined]
    hashes = db.read_sync(lambda d: [r[0] for r in d.execute("SELECT hash FROM tokens").fetchall()])
    assert body["access_token"] not in hashes and body["refresh_token"] not in hashes
    assert all(len(h) == 64 for h in hashes)


def test_refresh_rotates_and_old_access_token_stops_working(server: Server) -> None:
    first = server.login("inv.a1")
    r = server.client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["device_id"] == first["device_id"] and second["refresh_token"] != first["refresh_token"]
    assert (
        server.client.get(
            "/v1/reports", headers={"Authorization": f"Bearer {second['access_token']}"}
        ).status_code
        == 200
    )
    old = server.client.get("/v1/reports", headers=first["headers"])
    assert old.status_code == 401


def test_refresh_reuse_revokes_device_when_rotated_token_is_presented_again(server: Server) -> None:
    first = server.login("inv.a1")
    second = server.client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    # At once, with no grace window (the default; tests/server/test_refresh_grace.py has one).
    reuse = server.client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401 and reuse.json()["error"] == "device_revoked"
    # The device is revoked: each of its tokens is answered device_revoked from now on.
    r = server.client.get("/v1/reports", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert r.status_code == 401 and r.json()["error"] == "device_revoked"
    again = server.client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert again.status_code == 401 and again.json()["error"] == "device_revoked"


def test_revoked_device_gets_401_device_revoked_with_wipe(server: Server) -> None:
    inv = server.login("inv.a1")
    r = server.client.post(
        f"/v1/devices/{inv['device_id']}/revoke", json={"wipe": True}, headers=server.h("sup.a")
    )
    assert r.status_code == 200
    after = server.client.post("/v1/sync/pull", headers=inv["headers"], json={"device_id": inv["device_id"]})
    assert after.status_code == 401
    assert after.json()["error"] == "device_revoked" and after.json()["wipe"] is True


def test_revoke_is_404_for_other_team_supervisor_and_403_for_own_investigator(server: Server) -> None:
    inv = server.login("inv.a1")
    other = server.client.post(
        f"/v1/devices/{inv['device_id']}/revoke", json={"wipe": True}, headers=server.h("sup.b")
    )
    assert other.status_code == 404
    own = server.client.post(
        f"/v1/devices/{inv['device_id']}/revoke", json={"wipe": True}, headers=inv["headers"]
    )
    assert own.status_code == 403


def test_devices_list_shows_last_mutation_for_supervisor(server: Server) -> None:
    inv = server.login("inv.a1")
    items = server.client.get("/v1/devices", headers=server.h("sup.a")).json()["items"]
    mine = next(d for d in items if d["device_id"] == inv["device_id"])
    assert mine["last_mutation_id"] == 0 and mine["user_id"] == server.users["inv.a1"]
    assert server.client.get("/v1/devices", headers=server.h("sup.b")).json()["items"] == [] or all(
        d["team"] == "hz-b"
        for d in server.client.get("/v1/devices", headers=server.h("sup.b")).json()["items"]
    )


def test_missing_token_is_401_before_body_validation(server: Server) -> None:
    r = server.client.post(
        "/v1/sync/push", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"


def test_bad_json_is_422_with_details_when_authenticated(server: Server) -> None:
    r = server.client.post(
        "/v1/sync/push",
        content=b"{not json",
        headers={**server.h("inv.a1"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "validation" and body["details"] and "loc" in body["details"][0]


def test_users_lists_team_investigators_for_supervisor_and_403_for_investigator(server: Server) -> None:
    items = server.client.get("/v1/users", headers=server.h("sup.a")).json()["items"]
    assert {u["username"] for u in items} == {"inv.a1", "inv.a2", "inv.a3", "inv.a4", "inv.a5", "inv.a6"}
    assert server.client.get("/v1/users", headers=server.h("inv.a1")).status_code == 403


def test_production_refuses_default_or_missing_secret(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        Settings(db=str(tmp_path / "p.db"), env="production")
    with pytest.raises(ValidationError):
        Settings(db=str(tmp_path / "p.db"), env="production", secret="fieldvisit-development-secret")
    ok = Settings(db=str(tmp_path / "p.db"), env="production", secret="kQ3v-Zp8Lr2Wm9Xc4Tb7Yn1Hd6Jf0Gs5Ue")
    assert ok.env == "production"


def test_development_starts_without_secret(tmp_path: Path) -> None:
    with TestClient(create_app(fast_settings(tmp_path / "d.db"))) as c:
        assert c.get("/v1/health").status_code == 200
