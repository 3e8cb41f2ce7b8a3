"""The server store: plain functions over a sqlite-utils `Database`, run by `sync.server.db.Database`.

Write functions (`apply_push`, `review_report`, `import_visits`, `assign_visit`, `add_user`, ...) run on the
writer thread via `await db.write(fn, ...)`; read functions (`list_reports`, `get_report`, `pull`, ...) via
`await db.read(fn, ...)`. Tests and the CLI use `write_sync` / `read_sync`.
"""

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
