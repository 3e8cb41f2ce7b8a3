"""POST /v1/users: admins add accounts over the API (the CLI's `users add` does the same offline)."""

from __future__ import annotations

from typing import Any

from .conftest import Server

NEW = {
    "username": "inv.c7",
    "password": "change-me-2026",
    "role": "investigator",
    "team": "hz-a",
    "name": "外访专员 C7",
    "districts": ["西湖区", " "],
    "experience_years": 2,
}


def create(server: Server, as_user: str, body: dict[str, Any] | None = None) -> Any:
    return server.client.post("/v1/users", json=body or NEW, headers=server.h(as_user))


def test_admin_adds_an_investigator_who_can_then_sign_in(server: Server) -> None:
    r = create(server, "admin")
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["username"] == "inv.c7" and made["team"] == "hz-a" and made["districts"] == ["西湖区"]
    login = server.client.post(
        "/v1/auth/login", json={"username": "inv.c7", "password": "change-me-2026", "device_name": "phone"}
    )
    assert login.status_code == 200, login.text
    assert login.json()["user"]["id"] == made["id"]
    listed = server.client.get("/v1/users", headers=server.h("sup.a")).json()["items"]
    assert any(u["id"] == made["id"] and u["experience_years"] == 2 for u in listed)


def test_a_taken_username_is_409_and_the_account_is_unchanged(server: Server) -> None:
    assert create(server, "admin").status_code == 201
    r = create(server, "admin", NEW | {"password": "another-password", "role": "admin"})
    assert r.status_code == 409 and r.json()["error"] == "username_taken"
    login = server.client.post(
        "/v1/auth/login", json={"username": "inv.c7", "password": "change-me-2026", "device_name": "phone"}
    )
    assert login.status_code == 200 and login.json()["user"]["role"] == "investigator"


def test_only_admins_add_users(server: Server) -> None:
    assert create(server, "sup.a").status_code == 403
    assert create(server, "inv.a1").status_code == 403
    assert server.client.post("/v1/users", json=NEW).status_code == 401


def test_a_bad_account_is_422_with_field_paths(server: Server) -> None:
    r = create(server, "admin", NEW | {"password": "short", "role": "boss"})
    assert r.status_code == 422
    locs = {tuple(d["loc"]) for d in r.json()["details"]}
    assert ("body", "password") in locs and ("body", "role") in locs
