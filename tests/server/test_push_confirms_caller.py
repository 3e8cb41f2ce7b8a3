"""A push confirms its caller inside its own transaction (store.push.apply_push): a token rotated away, a
revoked device, a disabled account or a new server epoch refuses the push whole, with the answer the door
gives, even when the door let it in. On PostgreSQL the door lets a push in from its memory of the tokens it
let in lately (sync.server.app.Callers); every other request, and every request on SQLite, reads the caller."""

from __future__ import annotations

from typing import Any

import pytest

import sync.server.app as server_app
from sync.server.db import connect

from .conftest import Server, example_report, mutation


def _push(server: Server, session: dict[str, Any], visit_id: str, mid: int, epoch: str | None = None) -> Any:
    return server.client.post(
        "/v1/sync/push",
        headers={"Authorization": f"Bearer {session['access_token']}"},
        json={
            "device_id": session["device_id"],
            "server_epoch": epoch or session["server_epoch"],
            "mutations": [mutation(mid, example_report(visit_id))],
        },
    )


def _last_mutation(database_location: str, device_id: str) -> int:
    db = connect(database_location)
    try:
        row = db.execute("SELECT last_mutation_id FROM devices WHERE id = ?", [device_id]).fetchone()
    finally:
        db.conn.close()
    return int(row[0] or 0)


def _write(database_location: str, sql: str, params: list[Any]) -> None:
    db = connect(database_location)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute(sql, params)
        db.execute("COMMIT")
    finally:
        db.conn.close()


def _pushed_once(server: Server) -> tuple[str, dict[str, Any], Any]:
    """A visit, inv.a1's phone signed in, and the answer to its first push (remembered at the door on
    PostgreSQL)."""
    visit_id = server.new_visit()
    phone = server.login("inv.a1")
    return visit_id, phone, _push(server, phone, visit_id, 1)


def test_push_with_a_token_rotated_away_is_refused_whole_and_the_new_token_goes_on(server: Server) -> None:
    visit_id, phone, first = _pushed_once(server)
    fresh = server.client.post("/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}).json()

    old = _push(server, phone, visit_id, 2)
    new = _push(server, fresh, visit_id, 2)

    assert first.status_code == 200 and first.json()["results"][0]["status"] == "applied"
    assert old.status_code == 401 and old.json()["error"] == "invalid_token"
    # Mutation 2 was not applied by the refused push: the new token's is applied, not a duplicate.
    assert new.status_code == 200 and new.json()["results"][0]["status"] == "applied"


def test_push_of_a_revoked_device_is_refused_whole_after_one_was_applied(
    server: Server, database_location: str
) -> None:
    visit_id, phone, first = _pushed_once(server)
    revoked = server.client.post(
        f"/v1/devices/{phone['device_id']}/revoke", json={"wipe": True}, headers=server.h("sup.a")
    )

    after = _push(server, phone, visit_id, 2)

    assert first.status_code == 200 and revoked.status_code == 200
    assert after.status_code == 401 and after.json() | {"message": ""} == {
        "error": "device_revoked",
        "message": "",
        "details": [],
        "wipe": True,
    }
    assert _last_mutation(database_location, phone["device_id"]) == 1


def test_push_of_a_disabled_account_is_refused_whole(server: Server, database_location: str) -> None:
    visit_id, phone, first = _pushed_once(server)
    _write(database_location, "UPDATE users SET active = 0 WHERE username = ?", ["inv.a1"])

    after = _push(server, phone, visit_id, 2)

    assert first.status_code == 200
    assert after.status_code == 401 and after.json()["error"] == "invalid_token"
    assert "disabled" in after.json()["message"]
    assert _last_mutation(database_location, phone["device_id"]) == 1


def test_push_naming_the_old_epoch_is_410_with_the_new_one_after_a_restore(
    server: Server, database_location: str
) -> None:
    visit_id, phone, first = _pushed_once(server)
    _write(
        database_location,
        "UPDATE meta SET value = ? WHERE key = 'server_epoch'",
        ["epoch-after-restore"],
    )

    old = _push(server, phone, visit_id, 2)
    new = _push(server, phone, visit_id, 2, epoch="epoch-after-restore")

    assert first.status_code == 200 and first.json()["server_epoch"] == phone["server_epoch"]
    assert old.status_code == 410 and old.json()["error"] == "reset_required"
    assert old.json()["server_epoch"] == "epoch-after-restore"
    assert new.status_code == 200 and new.json()["server_epoch"] == "epoch-after-restore"
    assert new.json()["results"][0]["status"] == "applied"


def test_door_reads_the_caller_of_every_request_but_a_known_push_on_postgresql(
    server: Server, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    real = server_app.caller_for_token

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append("read")
        return real(*args, **kwargs)

    monkeypatch.setattr(server_app, "caller_for_token", counted)
    visit_id = server.new_visit()
    phone = server.login("inv.a1")
    headers = {"Authorization": f"Bearer {phone['access_token']}"}
    counts = []
    for mid in (1, 2, 3):
        before = len(reads)
        assert _push(server, phone, visit_id, mid).status_code == 200
        counts.append(len(reads) - before)
    before = len(reads)
    pulls = [server.client.post("/v1/sync/pull", headers=headers, json={"device_id": phone["device_id"]})]
    pulls.append(server.client.post("/v1/sync/pull", headers=headers, json={"device_id": phone["device_id"]}))

    assert [p.status_code for p in pulls] == [200, 200] and len(reads) - before == 2
    # server.new_visit signed in sup.a and imported through the door: inv.a1's first push is its first
    # request, read at the door; then remembered on PostgreSQL only.
    assert counts == ([1, 0, 0] if backend == "postgres" else [1, 1, 1])
