"""Shared pieces of the store: the caller (`Principal`), JSON columns, the audit log and the epoch."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

__all__ = [
    "Principal",
    "audit",
    "dumps",
    "get_meta",
    "loads",
    "server_epoch",
    "set_meta",
]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: a user acting through one device."""

    user_id: str
    username: str
    name: str
    role: str
    team: str
    device_id: str
    # The digest of the access token the caller came with (sync.server.security.token_digest): a push
    # confirms its caller by it inside its own transaction (store.push.apply_push). Empty for callers
    # that came with no token (the command line).
    credential: str = field(default="", repr=False, compare=False)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    @property
    def is_investigator(self) -> bool:
        return self.role == "investigator"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def loads(text: str | None, default: Any = None) -> Any:
    return json.loads(text) if text else default


def get_meta(db: Database, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def set_meta(db: Database, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


def server_epoch(db: Database) -> str:
    return get_meta(db, "server_epoch") or ""


def audit(
    db: Database,
    *,
    at: str,
    actor: Principal | None,
    action: str,
    entity: str,
    entity_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit line; callers pass IDs and codes only, never personal data."""
    db.execute(
        "INSERT INTO audit(at, actor_id, device_id, action, entity, entity_id, detail) VALUES (?,?,?,?,?,?,?)",
        [
            at,
            actor.user_id if actor else None,
            actor.device_id if actor else None,
            action,
            entity,
            entity_id,
            dumps(detail or {}),
        ],
    )
