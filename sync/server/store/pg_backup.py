"""Backups of a PostgreSQL database, and restores into one, without any external tool.

Format. A backup is one SQLite file with the SQLite backend's schema: the project's migrations (those the
source database has applied, recorded in its `_migrations`) run on a new file, then every application table's
rows copied into it from one REPEATABLE READ READ ONLY snapshot. So a PostgreSQL backup is the same kind of
file as a SQLite backup (`sync.server.store.backup`): self-describing (its schema and `_migrations` say which
migrations its rows follow), readable with any SQLite tool, and restorable on either backend, so a SQLite
backup can be restored into PostgreSQL and a PostgreSQL backup into a SQLite file. No `pg_dump` is needed,
and a backup does not depend on PostgreSQL's version. What does not map one to one is carried explicitly:

- `rowid`, the insertion order reads of `reports` and `report_versions` break ties with, is SQLite's own
  rowid in the file and the identity column `rowid` on PostgreSQL; it is copied both ways;
- the identity columns' sequences (the change log's and the feed's `seq`, audit ids, …) go to the file's
  `sqlite_sequence`, so numbers handed out and since compacted away are not handed out again; a restore
  sets each sequence past the highest of the restored rows, the backup's `sqlite_sequence` and what the
  database had already handed out (a feed or change cursor never meets a number twice);
- values are converted to the PostgreSQL column's type (BIGINT, DOUBLE PRECISION, TEXT, BYTEA) on restore.

Restore. The backup is checked before anything is touched (a SQLite file that passes its integrity check,
with FieldVisit's `meta` and `_migrations`, and no migration this server does not know), copied to a
temporary file and migrated there (an older backup is brought up to the current schema as a SQLite restore
brings it). Then one transaction takes the database-wide write lock every writer takes (`WRITE_LOCK`),
deletes every application table's rows (children before parents; the append-only audit log's triggers are
disabled for this transaction only), copies the backup's rows in (parents first), moves the sequences on,
writes a new server epoch and commits. Readers keep their snapshot until the commit and writers wait for the
lock, so a server running on the database serves the old data or the restored data with the new epoch,
never a mixture; it reads the epoch and every token from the database on each request, so it answers the
restored state from its next request.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database as SUDatabase

from sync.server.db import copy_database
from sync.server.migrations import MIGRATIONS, migrate
from sync.server.pg import WRITE_LOCK, PgDatabase, connect_pg

__all__ = ["BackupError", "BackupInfo", "backup_postgres", "check_backup", "restore_postgres"]

_ROWID_TABLES = ("reports", "report_versions")
_SKIPPED = ("_migrations",)  # the schema's own record: each side keeps its own
_BATCH = 1000
_COPY_TYPES = {
    "bigint": "int8",
    "integer": "int4",
    "smallint": "int2",
    "double precision": "float8",
    "real": "float4",
}


class BackupError(ValueError):
    """The file is not a backup this server can restore, or the database cannot be backed up as it is."""


@dataclass(frozen=True)
class BackupInfo:
    migrations: list[str]
    epoch: str


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------------------------------------- checks


def check_backup(source: str) -> BackupInfo:
    """What a backup file holds, or BackupError (FileNotFoundError when there is no file) saying why it
    cannot be restored; reads the file only."""
    if not Path(source).is_file():
        raise FileNotFoundError(f"no backup file at {source}")
    try:
        conn = sqlite3.connect(f"file:{Path(source).resolve()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{source} cannot be opened: {exc}") from None
    try:
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError:
            raise BackupError(f"{source} is not a FieldVisit backup (not a SQLite database)") from None
        if ok != "ok":
            raise BackupError(f"the backup file {source} is damaged")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"_migrations", "meta"} <= tables:
            raise BackupError(f"{source} is not a FieldVisit backup (no FieldVisit schema in it)")
        names = [r[0] for r in conn.execute("SELECT name FROM _migrations")]
        row = conn.execute("SELECT value FROM meta WHERE key = 'server_epoch'").fetchone()
    finally:
        conn.close()
    if not names or row is None:
        raise BackupError(f"{source} is not a FieldVisit backup (no migrations or server epoch recorded)")
    known = {name for name, _ in MIGRATIONS}
    unknown = sorted(set(names) - known)
    if unknown:
        raise BackupError(
            f"{source} was written by a newer FieldVisit (schema migrations {', '.join(unknown)} are unknown "
            "to this one); restore it with that version or a later one"
        )
    return BackupInfo(migrations=names, epoch=str(row[0]))


# ----------------------------------------------------------------------------------- PostgreSQL catalog


def _pg_tables(pg: PgDatabase) -> list[str]:
    rows = pg.conn.raw.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
    ).fetchall()
    return [r[0] for r in rows if r[0] not in _SKIPPED]


def _pg_columns(pg: PgDatabase, table: str) -> dict[str, str]:
    """Column name → data type (`bigint`, `double precision`, `text`, `bytea`, …), in table order."""
    rows = pg.conn.raw.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def _pg_identities(pg: PgDatabase, tables: list[str]) -> list[tuple[str, str]]:
    rows = pg.conn.raw.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND is_identity = 'YES' AND table_name = ANY(%s) ORDER BY table_name, column_name",
        [tables],
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def _pg_parents(pg: PgDatabase, tables: list[str]) -> dict[str, set[str]]:
    """Each table → the tables its foreign keys reference."""
    rows = pg.conn.raw.execute(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c "
        "WHERE c.contype = 'f' AND c.connamespace = current_schema()::text::regnamespace"
    ).fetchall()
    parents: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in rows:
        child, parent = child.strip('"'), parent.strip('"')
        if child in parents and parent in parents and child != parent:
            parents[child].add(parent)
    return parents


def _parents_first(tables: list[str], parents: dict[str, set[str]]) -> list[str]:
    order: list[str] = []
    placed: set[str] = set()
    pending = sorted(tables)
    while pending:
        ready = [t for t in pending if parents[t] <= placed]
        if not ready:  # a cycle: the remaining tables in name order (not in the FieldVisit schema)
            ready = pending
        order.extend(ready)
        placed.update(ready)
        pending = [t for t in pending if t not in placed]
    return order


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    return [r[0] for r in rows if r[0] not in _SKIPPED]


def _sqlite_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({_q(table)})")]


def _all_in_database(schema: list[str], pg_side: list[str]) -> None:
    """Every table of the schema is in the PostgreSQL database (tables of its own beside them are left be)."""
    missing = sorted(set(schema) - set(pg_side))
    if missing:
        raise BackupError(f"the database lacks tables of the FieldVisit schema: {', '.join(missing)}")


def _same_columns(table: str, sqlite_cols: list[str], pg_cols: list[str]) -> None:
    if set(sqlite_cols) != set(pg_cols):
        raise BackupError(f"table {table}: the backup's columns and the database's differ")


# ------------------------------------------------------------------------------------------------ backup


def _to_sqlite(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bytes)):
        return int(value) if isinstance(value, bool) else value
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def backup_postgres(url: str, dest: str) -> str:
    """Write every application table of the PostgreSQL database at `url` to the SQLite file `dest`, from one
    consistent snapshot; returns the database's server epoch. `dest` appears only once complete."""
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    pg = connect_pg(url)
    try:
        raw = pg.conn.raw
        raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            epoch = _write_backup(pg, part)
        finally:
            with contextlib.suppress(Exception):
                raw.execute("ROLLBACK")
        os.replace(part, target)
        return epoch
    finally:
        with contextlib.suppress(OSError):
            part.unlink()
        pg.conn.close()


def _write_backup(pg: PgDatabase, part: Path) -> str:
    raw = pg.conn.raw
    present = raw.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_name IN ('_migrations', 'meta')"
    ).fetchone()[0]
    if present != 2:
        raise BackupError("the database holds no FieldVisit schema (no server has run on it yet)")
    applied = {r[0]: r[1] for r in raw.execute("SELECT name, applied_at FROM _migrations").fetchall()}
    known = [name for name, _ in MIGRATIONS]
    unknown = sorted(set(applied) - set(known))
    if unknown:
        raise BackupError(
            f"the database has schema migrations this FieldVisit does not know ({', '.join(unknown)}); "
            "back it up with the version that serves it"
        )
    conn = sqlite3.connect(part, isolation_level=None)
    try:
        out = SUDatabase(conn, execute_plugins=False)
        # The schema of exactly the migrations the source has applied, each recorded as the source has it.
        out.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        for name, fn in MIGRATIONS:
            if name not in applied:
                continue
            out.execute("BEGIN IMMEDIATE")
            fn(out)
            out.execute("INSERT INTO _migrations(name, applied_at) VALUES (?, ?)", [name, applied[name]])
            out.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM meta")  # the migrations' own rows give way to the source's
        tables = _sqlite_tables(conn)
        _all_in_database(tables, _pg_tables(pg))
        for table in tables:
            _copy_to_file(pg, conn, table)
        _record_sequences(pg, conn, tables)
        row = conn.execute("SELECT value FROM meta WHERE key = 'server_epoch'").fetchone()
        conn.execute("COMMIT")
    finally:
        conn.close()
    return str(row[0]) if row else ""


def _copy_to_file(pg: PgDatabase, conn: sqlite3.Connection, table: str) -> None:
    cols = _sqlite_columns(conn, table)
    pg_cols = [c for c in _pg_columns(pg, table) if not (table in _ROWID_TABLES and c == "rowid")]
    _same_columns(table, cols, pg_cols)
    names = ", ".join(_q(c) for c in cols)
    if table in _ROWID_TABLES:
        select = f"SELECT rowid, {names} FROM {_q(table)} ORDER BY rowid"
        insert = f"INSERT INTO {_q(table)} (rowid, {names}) VALUES (?, {', '.join('?' * len(cols))})"
    else:
        select = f"SELECT {names} FROM {_q(table)}"
        insert = f"INSERT INTO {_q(table)} ({names}) VALUES ({', '.join('?' * len(cols))})"
    with pg.conn.raw.cursor(name=f"fv_backup_{table}") as cur:
        cur.itersize = _BATCH
        cur.execute(select)
        while rows := cur.fetchmany(_BATCH):
            conn.executemany(insert, [[_to_sqlite(v) for v in r] for r in rows])


def _record_sequences(pg: PgDatabase, conn: sqlite3.Connection, tables: list[str]) -> None:
    """Each identity sequence's last value handed out into `sqlite_sequence`, for the tables numbered
    AUTOINCREMENT in the SQLite schema (SQLite's own record of numbers not to reuse)."""
    autoinc = {
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'"
        )
    }
    raw = pg.conn.raw
    for table, column in _pg_identities(pg, tables):
        if table not in autoinc:
            continue
        seq = raw.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column]).fetchone()[0]
        last, called = raw.execute(f"SELECT last_value, is_called FROM {seq}").fetchone()
        used = int(last) if called else int(last) - 1
        had = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [table]).fetchone()
        if had is None:
            conn.execute("INSERT INTO sqlite_sequence(name, seq) VALUES (?, ?)", [table, used])
        elif used > had[0]:
            conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", [used, table])


# ----------------------------------------------------------------------------------------------- restore


@contextlib.contextmanager
def _migrated_copy(source: str) -> Iterator[sqlite3.Connection]:
    """A read connection on a temporary copy of the backup, migrated to this server's schema."""
    with tempfile.TemporaryDirectory(prefix="fv-restore-") as tmp:
        copy = str(Path(tmp) / "backup.db")
        copy_database(source, copy, read_only=True)
        conn = sqlite3.connect(copy, isolation_level=None)
        try:
            migrate(SUDatabase(conn, execute_plugins=False))
            yield conn
        finally:
            conn.close()


def _whole(v: Any) -> int:
    """An integer column's value: an int, or text or a float that is a whole number (nothing truncated)."""
    if isinstance(v, float) and not v.is_integer():
        raise ValueError(v)
    return int(v)


def _converter(pg_type: str, table: str, column: str) -> Any:
    def parsed(parse: Any, exact: type, kind: str) -> Any:
        def convert(v: Any) -> Any:
            if v is None or isinstance(v, exact):
                return v
            try:
                return parse(str(v, "utf-8") if isinstance(v, bytes) else v)
            except (TypeError, ValueError):
                raise BackupError(f"table {table}, column {column}: {v!r} is not {kind}") from None

        return convert

    to_int, to_float = parsed(_whole, int, "an integer"), parsed(float, float, "a number")

    def to_text(v: Any) -> Any:
        if v is None or isinstance(v, str):
            return v
        return v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v)

    def to_bytes(v: Any) -> Any:
        if v is None or isinstance(v, bytes):
            return v
        return v.encode("utf-8") if isinstance(v, str) else str(v).encode("utf-8")

    if pg_type in ("bigint", "integer", "smallint"):
        return to_int
    if pg_type in ("double precision", "real", "numeric"):
        return to_float
    if pg_type == "bytea":
        return to_bytes
    return to_text


def restore_postgres(url: str, source: str) -> str:
    """Put the backup `source` in place of the PostgreSQL database's contents in one transaction and give it
    a new server epoch; returns it. Nothing is changed when the backup is refused or the copy fails."""
    check_backup(source)
    with _migrated_copy(source) as backup:
        pg = connect_pg(url)
        try:
            migrate(pg)  # type: ignore[arg-type]  # a new database gets the schema; an existing one is current
            done = {r[0] for r in pg.conn.raw.execute("SELECT name FROM _migrations").fetchall()}
            unknown = sorted(done - {name for name, _ in MIGRATIONS})
            if unknown:
                raise BackupError(
                    f"the database has schema migrations this FieldVisit does not know ({', '.join(unknown)}); "
                    "restore with the version that serves it"
                )
            tables = _sqlite_tables(backup)
            _all_in_database(tables, _pg_tables(pg))
            return _restore_in_one_transaction(pg, backup, tables)
        finally:
            pg.conn.close()


def _restore_in_one_transaction(pg: PgDatabase, backup: sqlite3.Connection, tables: list[str]) -> str:
    raw = pg.conn.raw
    order = _parents_first(tables, _pg_parents(pg, tables))
    raw.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
    try:
        # The lock every write transaction of every server process takes first: writes wait for the restore.
        raw.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        triggers = raw.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND c.relnamespace = current_schema()::text::regnamespace "
            "AND c.relname = ANY(%s) ORDER BY c.relname, t.tgname",
            [tables],
        ).fetchall()
        # The audit log refuses deletions; only this transaction's DELETE passes (ALTER TABLE is transactional).
        for table, name in triggers:
            raw.execute(f"ALTER TABLE {_q(table)} DISABLE TRIGGER {_q(name)}")
        for table in reversed(order):
            raw.execute(f"DELETE FROM {_q(table)}")
        for table in order:
            _copy_to_postgres(pg, backup, table)
        _advance_sequences(pg, backup, tables)
        epoch = str(uuid.uuid4())
        raw.execute(
            "INSERT INTO meta(key, value) VALUES ('server_epoch', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [epoch],
        )
        for table, name in triggers:
            raw.execute(f"ALTER TABLE {_q(table)} ENABLE TRIGGER {_q(name)}")
        raw.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            raw.execute("ROLLBACK")
        raise
    return epoch


def _copy_to_postgres(pg: PgDatabase, backup: sqlite3.Connection, table: str) -> None:
    pg_types = _pg_columns(pg, table)
    cols = _sqlite_columns(backup, table)
    _same_columns(table, cols, [c for c in pg_types if not (table in _ROWID_TABLES and c == "rowid")])
    names = ", ".join(_q(c) for c in cols)
    if table in _ROWID_TABLES:
        select = f"SELECT rowid, {names} FROM {_q(table)} ORDER BY rowid"
        cols = ["rowid", *cols]
    else:
        select = f"SELECT {names} FROM {_q(table)}"
    convert = [_converter(pg_types[c], table, c) for c in cols]
    copy_sql = f"COPY {_q(table)} ({', '.join(_q(c) for c in cols)}) FROM STDIN"
    rows = backup.execute(select)
    with pg.conn.raw.cursor() as cur, cur.copy(copy_sql) as copy:
        copy.set_types([_COPY_TYPES.get(pg_types[c], pg_types[c]) for c in cols])
        while batch := rows.fetchmany(_BATCH):
            for row in batch:
                copy.write_row([f(v) for f, v in zip(convert, row, strict=True)])


def _advance_sequences(pg: PgDatabase, backup: sqlite3.Connection, tables: list[str]) -> None:
    """Each identity sequence past the restored rows, the backup's `sqlite_sequence` and what it had handed
    out already (a number a reader may have seen is never handed out again)."""
    raw = pg.conn.raw
    has_seq = backup.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone()
    for table, column in _pg_identities(pg, tables):
        floor = 0
        if has_seq:
            row = backup.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [table]).fetchone()
            floor = int(row[0]) if row and row[0] is not None else 0
        seq = raw.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column]).fetchone()[0]
        last, called = raw.execute(f"SELECT last_value, is_called FROM {seq}").fetchone()
        used = int(last) if called else int(last) - 1
        top = raw.execute(f"SELECT COALESCE(MAX({_q(column)}), 0) FROM {_q(table)}").fetchone()[0]
        value = max(int(top), floor, used)
        if value > 0:
            raw.execute("SELECT setval(%s, %s, true)", [seq, value])
        else:
            raw.execute("SELECT setval(%s, 1, false)", [seq])
