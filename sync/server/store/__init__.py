"""The server store: plain functions over a sqlite-utils `Database`, run by `sync.server.db.Database`.

Write functions (`apply_push`, `review_report`, `import_visits`, `assign_visit`, `add_user`, ...) run on the
writer thread via `await db.write(fn, ...)`; read functions (`list_reports`, `get_report`, `pull`, ...) via
`await db.read(fn, ...)`. Tests and the CLI use `write_sync` / `read_sync`.

Each name loads its module on first use, so a command that needs one store job (`fieldvisit users add`)
imports only that job's module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync.server.store.backup import backup, restore
    from sync.server.store.blobs import blob_exists, put_blob, read_blob
    from sync.server.store.common import Principal, audit, server_epoch
    from sync.server.store.dispatch import DispatchPolicy, suggest
    from sync.server.store.feed import read_feed
    from sync.server.store.pull import pull, record_pull
    from sync.server.store.push import MutationIn, apply_push
    from sync.server.store.reports import ReportFilters, get_report, list_reports, review_report
    from sync.server.store.users import (
        Revoked,
        TokenPair,
        add_user,
        get_user,
        issue_device,
        list_devices,
        list_users,
        principal_for_token,
        refresh_tokens,
        revoke_device,
        user_for_login,
    )
    from sync.server.store.visits import assign_visit, csv_records, get_visit, import_visits, list_visits

_WHERE = {
    "DispatchPolicy": "sync.server.store.dispatch",
    "MutationIn": "sync.server.store.push",
    "Principal": "sync.server.store.common",
    "ReportFilters": "sync.server.store.reports",
    "Revoked": "sync.server.store.users",
    "TokenPair": "sync.server.store.users",
    "add_user": "sync.server.store.users",
    "apply_push": "sync.server.store.push",
    "assign_visit": "sync.server.store.visits",
    "audit": "sync.server.store.common",
    "backup": "sync.server.store.backup",
    "blob_exists": "sync.server.store.blobs",
    "csv_records": "sync.server.store.visits",
    "get_report": "sync.server.store.reports",
    "get_user": "sync.server.store.users",
    "get_visit": "sync.server.store.visits",
    "import_visits": "sync.server.store.visits",
    "issue_device": "sync.server.store.users",
    "list_devices": "sync.server.store.users",
    "list_reports": "sync.server.store.reports",
    "list_users": "sync.server.store.users",
    "list_visits": "sync.server.store.visits",
    "principal_for_token": "sync.server.store.users",
    "pull": "sync.server.store.pull",
    "put_blob": "sync.server.store.blobs",
    "read_blob": "sync.server.store.blobs",
    "read_feed": "sync.server.store.feed",
    "record_pull": "sync.server.store.pull",
    "refresh_tokens": "sync.server.store.users",
    "restore": "sync.server.store.backup",
    "review_report": "sync.server.store.reports",
    "revoke_device": "sync.server.store.users",
    "server_epoch": "sync.server.store.common",
    "suggest": "sync.server.store.dispatch",
    "user_for_login": "sync.server.store.users",
}

__all__ = [
    "DispatchPolicy",
    "MutationIn",
    "Principal",
    "ReportFilters",
    "Revoked",
    "TokenPair",
    "add_user",
    "apply_push",
    "assign_visit",
    "audit",
    "backup",
    "blob_exists",
    "csv_records",
    "get_report",
    "get_user",
    "get_visit",
    "import_visits",
    "issue_device",
    "list_devices",
    "list_reports",
    "list_users",
    "list_visits",
    "principal_for_token",
    "pull",
    "put_blob",
    "read_blob",
    "read_feed",
    "record_pull",
    "refresh_tokens",
    "restore",
    "review_report",
    "revoke_device",
    "server_epoch",
    "suggest",
    "user_for_login",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
