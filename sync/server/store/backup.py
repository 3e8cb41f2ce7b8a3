"""Consistent backups and restores that issue a new server epoch, on either backend.

A SQLite database is copied with SQLite's online backup API; a PostgreSQL database (a `postgresql://`
location) is written to a file of the same kind by `sync.server.store.pg_backup`, so every backup is a SQLite
file with FieldVisit's schema, restorable on either backend.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from sync.server.db import connect, copy_database, exclusive_use
from sync.server.migrations import migrate
from sync.server.pg import is_postgres_url
from sync.server.store.common import server_epoch, set_meta
from sync.server.store.pg_backup import BackupError, backup_postgres, check_backup, restore_postgres

__all__ = ["BackupError", "backup", "restore"]


def backup(db_path: str, dest: str) -> str:
    """Copy the live database to `dest` page by page under a read transaction (PostgreSQL: table by table in
    one snapshot); returns its epoch. The copy is one self-contained file, and `dest` appears only once it is
    complete: a failed backup (no database there, not a FieldVisit one) leaves nothing behind."""
    if is_postgres_url(db_path):
        return backup_postgres(db_path, dest)
    if not Path(db_path).is_file():
        raise FileNotFoundError(f"no database at {db_path}")
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        copy_database(db_path, str(part))
        copy = sqlite3.connect(part)
        try:
            row = copy.execute("SELECT value FROM meta WHERE key = 'server_epoch'").fetchone()
            copy.execute("PRAGMA journal_mode=DELETE")  # one file: no -wal or -shm beside it
        finally:
            copy.close()
        part.replace(target)
        return row[0] if row else ""
    finally:
        for left in (part, Path(f"{part}-wal"), Path(f"{part}-shm"), Path(f"{part}-journal")):
            left.unlink(missing_ok=True)


def restore(db_path: str, source: str) -> str:
    """Put a backup in place of the database and give it a new epoch (devices re-register); returns it.

    Refused before anything is touched when `source` is not a FieldVisit backup this server can read
    (FileNotFoundError, BackupError). On SQLite, refused with DatabaseInUse while a server (or another
    command) has the database file open: it would go on answering with the old epoch, and devices would never
    re-push what the backup lacks. On PostgreSQL the restore is one transaction under the write lock, and a
    server running on the database answers the restored data and the new epoch from its next request.
    """
    if is_postgres_url(db_path):
        return restore_postgres(db_path, source)
    check_backup(source)
    with exclusive_use(db_path):
        return _restore(db_path, source)


def _restore(db_path: str, source: str) -> str:
    check = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise ValueError("the backup file is damaged")
    finally:
        check.close()
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    copy_database(source, db_path)
    db = connect(db_path)
    try:
        migrate(db)
        epoch = str(uuid.uuid4())
        db.execute("BEGIN IMMEDIATE")
        set_meta(db, "server_epoch", epoch)
        db.execute("COMMIT")
        assert server_epoch(db) == epoch
        return epoch
    finally:
        db.conn.close()
