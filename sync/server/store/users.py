"""Users, devices and tokens: sign-in, refresh rotation with reuse detection, revocation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from sync.server.errors import ApiError
from sync.server.security import derived_token, new_token, token_digest
from sync.server.store.common import Principal, audit, dumps, loads, server_epoch

__all__ = [
    "Revoked",
    "TokenPair",
    "add_user",
    "add_users",
    "caller_for_token",
    "confirm_pusher",
    "get_user",
    "issue_device",
    "list_devices",
    "list_users",
    "principal_for_token",
    "refresh_tokens",
    "revoke_device",
    "user_for_login",
]

ROLES = ("investigator", "supervisor", "admin")


@dataclass(frozen=True, slots=True)
class TokenPair:
    device_id: str
    access_token: str
    refresh_token: str
    expires_in: int
    user: dict[str, Any]
    server_epoch: str

    def body(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": self.expires_in,
            "user": self.user,
            "server_epoch": self.server_epoch,
        }


@dataclass(frozen=True, slots=True)
class Revoked:
    device_id: str
    wipe: bool


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"] or row["username"], "role": row["role"], "team": row["team"]}


def add_user(
    db: Database,
    *,
    username: str,
    password_hash: str,
    role: str,
    team: str,
    name: str | None = None,
    districts: list[str] | None = None,
    experience_years: int | None = None,
    now: datetime,
    user_id: str | None = None,
) -> dict[str, Any]:
    """Create a user, or update the one with this username (password, role, team, profile). On an update,
    a name, districts or experience left out (None) keep their stored values."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    existing = db.execute("SELECT id FROM users WHERE username = ?", [username]).fetchone()
    uid = existing[0] if existing else (user_id or f"u-{uuid.uuid4()}")
    if existing:
        db.execute(
            "UPDATE users SET password_hash=?, name=COALESCE(?, name), role=?, team=?, "
            "districts=COALESCE(?, districts), experience_years=COALESCE(?, experience_years), active=1 "
            "WHERE id=?",
            [
                password_hash,
                name or None,
                role,
                team,
                None if districts is None else dumps(districts),
                experience_years,
                uid,
            ],
        )
    else:
        values = [password_hash, name or username, role, team, dumps(districts or []), experience_years or 0]
        db.execute(
            "INSERT INTO users(id, username, password_hash, name, role, team, districts, experience_years, "
            "active, created_at) VALUES (?,?,?,?,?,?,?,?,1,?)",
            [uid, username, *values, now.isoformat()],
        )
    audit(db, at=now.isoformat(), actor=None, action="user.upsert", entity="user", entity_id=uid)
    return {"id": uid, "username": username, "role": role, "team": team}


def user_for_login(db: Database, username: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM users WHERE username = ? AND active = 1", [username]))
    return rows[0] if rows else None


def get_user(db: Database, user_id: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM users WHERE id = ?", [user_id]))
    return rows[0] if rows else None


def _issue(
    db: Database,
    *,
    secret: str,
    device_id: str,
    now: datetime,
    access_ttl: int,
    refresh_ttl: int,
    pair: tuple[str, str] | None = None,
) -> tuple[str, str]:
    access, refresh = pair or (new_token(), new_token())
    ts = now.timestamp()
    db.execute(
        "INSERT INTO tokens(hash, device_id, kind, expires_at, rotated, created_at) VALUES (?,?,?,?,0,?)",
        [token_digest(secret, access), device_id, "access", ts + access_ttl, now.isoformat()],
    )
    db.execute(
        "INSERT INTO tokens(hash, device_id, kind, expires_at, rotated, created_at) VALUES (?,?,?,?,0,?)",
        [token_digest(secret, refresh), device_id, "refresh", ts + refresh_ttl, now.isoformat()],
    )
    return access, refresh


def issue_device(
    db: Database,
    *,
    user: dict[str, Any],
    device_name: str,
    secret: str,
    now: datetime,
    access_ttl: int,
    refresh_ttl: int,
) -> TokenPair:
    """Register a new device for a signed-in user and give it its first token pair."""
    device_id = str(uuid.uuid4())
    db.execute(
        "INSERT INTO devices(id, user_id, name, created_at, last_mutation_id, revoked, wipe) VALUES (?,?,?,?,0,0,0)",
        [device_id, user["id"], device_name, now.isoformat()],
    )
    access, refresh = _issue(
        db, secret=secret, device_id=device_id, now=now, access_ttl=access_ttl, refresh_ttl=refresh_ttl
    )
    audit(
        db,
        at=now.isoformat(),
        actor=None,
        action="auth.login",
        entity="device",
        entity_id=device_id,
        detail={"user_id": user["id"]},
    )
    return TokenPair(device_id, access, refresh, access_ttl, _public(user), server_epoch(db))


_PRINCIPAL_SQL = (
    "SELECT t.kind, t.expires_at, d.id AS device_id, d.revoked, d.wipe, u.id AS user_id, u.username, u.name, "
    "u.role, u.team, u.active FROM tokens t JOIN devices d ON d.id = t.device_id JOIN users u ON u.id = d.user_id "
    "WHERE t.hash = ?"
)


def _revoked(wipe: Any) -> ApiError:
    return ApiError(401, "device_revoked", "this device has been revoked", extra={"wipe": bool(wipe)})


def principal_for_token(db: Database, *, secret: str, token: str, now: datetime) -> Principal:
    """The caller behind an access token, or 401 (`invalid_token`, `token_expired`, `device_revoked`)."""
    row = db.execute(_PRINCIPAL_SQL, [token_digest(secret, token)]).fetchone()
    return _principal(row, now)


# The caller and the server epoch in one statement: one statement reads one consistent state of the
# database, so the request's caller needs no transaction of its own.
_CALLER_SQL = _PRINCIPAL_SQL.replace(
    "u.active FROM", "u.active, (SELECT value FROM meta WHERE key = 'server_epoch') FROM", 1
)


def caller_for_token(db: Database, *, secret: str, token: str, now: datetime) -> tuple[Principal, str]:
    """`principal_for_token` and the server epoch, read by one statement."""
    digest = token_digest(secret, token)
    row = db.execute(_CALLER_SQL, [digest]).fetchone()
    principal = _principal(row[:-1] if row is not None else None, now, digest)
    return principal, row[-1] or ""


# A push's caller as its transaction reads it: the caller's row, the device's last applied mutation and the
# server epoch (store.push reads it with the rows its mutations look up, in one round trip on PostgreSQL).
PUSHER_SQL = _PRINCIPAL_SQL.replace(
    "u.active FROM",
    "u.active, d.last_mutation_id, (SELECT value FROM meta WHERE key = 'server_epoch') FROM",
    1,
)


def confirm_pusher(row: Any, *, now: datetime, credential: str) -> tuple[Principal, int, str]:
    """From a `PUSHER_SQL` row: the caller as the push's transaction finds it, with the same 401 as at the
    door should the token, its device or the account have changed since the request came in (rotated
    away, revoked, disabled, expired); the device's last applied mutation ID; the server epoch."""
    principal = _principal(row[:-2] if row is not None else None, now, credential)
    return principal, int(row[-2] or 0), row[-1] or ""


def _principal(row: Any, now: datetime, credential: str = "") -> Principal:
    if row is None or row[0] != "access":
        raise ApiError(401, "invalid_token", "missing or invalid access token")
    _kind, expires_at, device_id, revoked, wipe, user_id, username, name, role, team, active = row
    if revoked:
        raise _revoked(wipe)
    if not active:
        raise ApiError(401, "invalid_token", "the account is disabled")
    if expires_at < now.timestamp():
        raise ApiError(401, "token_expired", "the access token has expired; refresh it")
    return Principal(user_id, username, name or username, role, team, device_id, credential)


def refresh_tokens(
    db: Database,
    *,
    refresh_token: str,
    secret: str,
    now: datetime,
    access_ttl: int,
    refresh_ttl: int,
    grace_seconds: int = 0,
) -> TokenPair | Revoked:
    """Rotate a refresh token. Presenting one that was already rotated revokes the device (token theft),
    except within `grace_seconds` of its rotation while the pair it was rotated into is still the device's
    current one: then the answer was probably lost, and the same pair is returned again (idempotent)."""
    digest = token_digest(secret, refresh_token)
    row = db.execute(
        "SELECT t.device_id, t.expires_at, t.rotated, d.revoked, d.wipe, d.user_id, t.rotated_at, t.successor_salt "
        "FROM tokens t JOIN devices d ON d.id = t.device_id WHERE t.hash = ? AND t.kind = 'refresh'",
        [digest],
    ).fetchone()
    if row is None:
        raise ApiError(401, "invalid_token", "unknown refresh token")
    device_id, expires_at, rotated, revoked, wipe, user_id, rotated_at, salt = row
    if revoked:
        raise _revoked(wipe)
    if rotated:
        within_grace = (
            grace_seconds > 0 and rotated_at is not None and now.timestamp() - rotated_at <= grace_seconds
        )
        again = _same_pair(db, refresh_token, salt, secret=secret, device_id=device_id, now=now)
        if within_grace and again is not None:
            user = get_user(db, user_id)
            if user is not None and user["active"]:
                audit(
                    db,
                    at=now.isoformat(),
                    actor=None,
                    action="auth.refresh_replay",
                    entity="device",
                    entity_id=device_id,
                )
                access, refresh, expires_in = again
                return TokenPair(device_id, access, refresh, expires_in, _public(user), server_epoch(db))
        # Revoked as a supervisor revokes (the tokens stay, so every later call with any of them is answered
        # 401 device_revoked, not invalid_token).
        db.execute(
            "UPDATE devices SET revoked = 1, revoked_at = ? WHERE id = ?", [now.isoformat(), device_id]
        )
        audit(
            db,
            at=now.isoformat(),
            actor=None,
            action="auth.refresh_reuse",
            entity="device",
            entity_id=device_id,
        )
        # Returned (not raised) so the revocation commits; the caller turns it into the 401.
        return Revoked(device_id, bool(wipe))
    if expires_at < now.timestamp():
        raise ApiError(401, "token_expired", "the refresh token has expired; sign in again")
    user = get_user(db, user_id)
    if user is None or not user["active"]:
        raise ApiError(401, "invalid_token", "the account is disabled")
    # The new pair derives from the presented token and a fresh salt, so that a repeat of this very call
    # within the grace window can be answered with the same pair although only digests are stored.
    salt = new_token()
    pair = (derived_token(refresh_token, salt, "access"), derived_token(refresh_token, salt, "refresh"))
    db.execute(
        "UPDATE tokens SET rotated = 1, rotated_at = ?, successor_salt = ? WHERE hash = ?",
        [now.timestamp(), salt, digest],
    )
    db.execute("DELETE FROM tokens WHERE device_id = ? AND kind = 'access'", [device_id])
    access, refresh = _issue(
        db,
        secret=secret,
        device_id=device_id,
        now=now,
        access_ttl=access_ttl,
        refresh_ttl=refresh_ttl,
        pair=pair,
    )
    audit(db, at=now.isoformat(), actor=None, action="auth.refresh", entity="device", entity_id=device_id)
    return TokenPair(device_id, access, refresh, access_ttl, _public(user), server_epoch(db))


def _same_pair(
    db: Database, refresh_token: str, salt: str | None, *, secret: str, device_id: str, now: datetime
) -> tuple[str, str, int] | None:
    """The pair `refresh_token` was rotated into, while it is still the device's current one (its refresh
    token not rotated in turn, its access token not replaced); else None."""
    if not salt:
        return None
    access = derived_token(refresh_token, salt, "access")
    refresh = derived_token(refresh_token, salt, "refresh")
    rows = {
        kind: (rotated, expires_at)
        for kind, rotated, expires_at in db.execute(
            "SELECT kind, rotated, expires_at FROM tokens WHERE hash IN (?, ?) AND device_id = ?",
            [token_digest(secret, access), token_digest(secret, refresh), device_id],
        ).fetchall()
    }
    if "access" not in rows or "refresh" not in rows or rows["refresh"][0]:
        return None
    return access, refresh, max(0, int(rows["access"][1] - now.timestamp()))


def revoke_device(
    db: Database, *, actor: Principal, device_id: str, wipe: bool, now: datetime
) -> dict[str, Any]:
    """Revoke a device: 404 outside the caller's scope, 403 for an investigator."""
    row = db.execute(
        "SELECT d.id, d.user_id, u.team FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = ?",
        [device_id],
    ).fetchone()
    if row is None:
        raise ApiError(404, "not_found", "no such device")
    _, owner_id, team = row
    visible = actor.is_admin or (actor.is_supervisor and team == actor.team) or owner_id == actor.user_id
    if not visible:
        raise ApiError(404, "not_found", "no such device")
    if not (actor.is_admin or (actor.is_supervisor and team == actor.team)):
        raise ApiError(403, "forbidden", "only a supervisor of the team or an admin may revoke devices")
    db.execute(
        "UPDATE devices SET revoked = 1, wipe = ?, revoked_at = ? WHERE id = ?",
        [1 if wipe else 0, now.isoformat(), device_id],
    )
    audit(
        db,
        at=now.isoformat(),
        actor=actor,
        action="device.revoke",
        entity="device",
        entity_id=device_id,
        detail={"wipe": wipe},
    )
    return {"device_id": device_id, "revoked": True, "wipe": wipe}


def list_devices(db: Database, *, actor: Principal) -> list[dict[str, Any]]:
    where, params = ("", []) if actor.is_admin else ("WHERE u.team = ?", [actor.team])
    rows = db.query(
        "SELECT d.id, d.user_id, u.username, u.name, u.team, d.name AS device_name, d.created_at, "
        "d.last_sync_at, d.last_pull_at, d.last_mutation_id, d.revoked, d.wipe, "
        "(SELECT COUNT(*) FROM report_versions rv JOIN report_blobs rb ON rb.report_id = rv.report_id "
        " WHERE rv.device_id = d.id AND rv.version_id IN (SELECT current_version_id FROM reports) "
        " AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = rb.sha256)) AS pending_blobs "
        f"FROM devices d JOIN users u ON u.id = d.user_id {where} ORDER BY u.username, d.created_at",
        params,
    )
    return [
        {
            "device_id": r["id"],
            "user_id": r["user_id"],
            "username": r["username"],
            "name": r["name"],
            "team": r["team"],
            "device_name": r["device_name"],
            "created_at": r["created_at"],
            "last_sync_at": r["last_sync_at"],
            "last_pull_at": r["last_pull_at"],
            "last_mutation_id": r["last_mutation_id"],
            "pending_blobs": r["pending_blobs"],
            "revoked": bool(r["revoked"]),
            "wipe": bool(r["wipe"]),
        }
        for r in rows
    ]


def list_users(db: Database, *, actor: Principal, team: str | None = None) -> list[dict[str, Any]]:
    if actor.is_admin:
        sql, params = "SELECT * FROM users WHERE active = 1", []
        if team:
            sql, params = sql + " AND team = ?", [team]
    else:
        sql, params = (
            "SELECT * FROM users WHERE active = 1 AND team = ? AND role = 'investigator'",
            [actor.team],
        )
    return [
        {
            "id": r["id"],
            "username": r["username"],
            "name": r["name"],
            "role": r["role"],
            "team": r["team"],
            "districts": loads(r["districts"], []),
            "experience_years": r["experience_years"] or 0,
        }
        for r in db.query(sql + " ORDER BY username", params)
    ]


def add_users(db: Database, *, users: list[dict[str, Any]], now: datetime) -> dict[str, int]:
    """`add_user` for each of `users` (its keywords but `now`) in the one transaction: a new username
    creates its user, a known one updates it. Answers how many were created and how many updated."""
    created = updated = 0
    for user in users:
        known = db.execute("SELECT 1 FROM users WHERE username = ?", [user["username"]]).fetchone()
        add_user(db, now=now, **user)
        updated += bool(known)
        created += not known
    return {"created": created, "updated": updated}
