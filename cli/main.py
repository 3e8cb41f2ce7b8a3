"""The `fieldvisit` command: serve the central server, manage users, import cases, evaluate plans and
promises, back up and restore.

`app` and `demo` are handed to `cli.app_cmd` and `cli.demo_cmd`, imported only when used, so the server
commands never load the UI toolkit.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["build_parser", "main", "worker_app"]

DEFAULT_DB = "./var/fieldvisit.db"
_DELEGATED = {"app": "cli.app_cmd", "demo": "cli.demo_cmd"}
log = logging.getLogger("fieldvisit.cli")


def _db_path(args: argparse.Namespace) -> str:
    """The database: `--database-url` wins over `--db`, both over FIELDVISIT_DATABASE_URL and FIELDVISIT_DB.
    A `sqlite:///path` URL (or a plain path) selects a SQLite file, a `postgresql://` URL PostgreSQL."""
    url = getattr(args, "database_url", None)
    if url:
        return database_location(url)
    if args.db:
        return str(args.db)
    env_url = os.environ.get("FIELDVISIT_DATABASE_URL")
    if env_url:
        return database_location(env_url)
    return str(os.environ.get("FIELDVISIT_DB") or DEFAULT_DB)


def database_location(url: str) -> str:
    """A `--database-url` as the database layer takes it: a SQLite file's path, or the PostgreSQL URL."""
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return url
    if url.startswith("sqlite:///"):
        # As SQLAlchemy reads it: sqlite:///var/fv.db is relative, sqlite:////srv/fv.db absolute.
        return url.removeprefix("sqlite:///")
    if "://" in url:
        raise SystemExit(f"fieldvisit: unsupported database URL scheme: {url.split('://')[0]}://")
    return url


def _settings(db: str, *, blobs: bool = True) -> Any:
    """The server's settings for `db`; with `blobs`, also the blob store a command that stores or deletes
    blobs needs. Exits naming what is wrong."""
    from pydantic import ValidationError

    from sync.server.settings import Settings

    try:
        settings = Settings(db=db)
        if blobs:
            settings.require_blob_store()
    except ValidationError as exc:
        msgs = "; ".join(str(e.get("msg", "")).removeprefix("Value error, ") for e in exc.errors())
        raise SystemExit(f"fieldvisit: invalid configuration: {msgs}") from None
    except ValueError as exc:
        raise SystemExit(f"fieldvisit: invalid configuration: {exc}") from None
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sync.server import create_app

    db = _db_path(args)
    settings = _settings(db)
    if args.workers > 1 and not settings.is_postgres:
        print(
            f"fieldvisit: --workers {args.workers} is refused: SQLite ({db}) is served by one worker; "
            "several workers need PostgreSQL (--database-url postgresql://…)",
            file=sys.stderr,
        )
        return 2
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "loop": loop,
        "http": http,
        "log_level": args.log_level,
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }
    if args.workers > 1:
        # Worker processes build their own app from the environment (every FIELDVISIT_* setting is there),
        # with the database this command resolved; the supervisor accepts and hands them the connections
        # in turn (cli/workers.py).
        from cli.workers import serve_workers

        os.environ["FIELDVISIT_DB"] = db
        return serve_workers(args.host, args.port, args.workers, options)
    app = create_app(settings)
    _freeze()
    uvicorn.run(app, **options)
    return 0


def worker_app() -> Any:
    """The app of one worker process of `fieldvisit serve --workers N`."""
    from sync.server import Settings, create_app

    app = create_app(Settings())
    _freeze()
    return app


def _freeze() -> None:
    # Everything built so far (modules, schemas, the app) lives as long as the process: moved out of the
    # collector's view, a full collection no longer walks it (70 ms pauses in the middle of a push → 3 ms).
    gc.collect()
    gc.freeze()


def _open(db: str) -> Any:
    from sync.server.db import Database

    return Database(db, readers=1)


def cmd_users_add(args: argparse.Namespace) -> int:
    from sync.server.security import Passwords
    from sync.server.store.users import add_user

    # Options left out keep what an existing user has (`--district ""` clears the districts).
    districts = None if args.district is None else [d.strip() for d in args.district.split(",") if d.strip()]
    database = _open(_db_path(args))
    try:
        row = database.write_sync(
            add_user,
            username=args.username,
            password_hash=Passwords().hash(args.password),
            role=args.role,
            team=args.team,
            name=args.name,
            districts=districts,
            experience_years=args.experience_years,
            now=datetime.now(UTC),
        )
    finally:
        database.close()
    print(f"user {row['username']} ({row['role']}, team {row['team']}): {row['id']}")
    return 0


def _read_text(name: str) -> str | None:
    """The UTF-8 text (a byte-order mark dropped) of the file `name`, or of standard input for `-`; None,
    having said why in one line, when it cannot be read."""
    try:
        if name == "-":
            return sys.stdin.buffer.read().decode("utf-8-sig")
        return Path(name).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (exc.strerror or str(exc))
        where = "standard input" if name == "-" else str(Path(name))
        print(f"fieldvisit: cannot read {where}: {reason}", file=sys.stderr)
        return None


def cmd_users_import(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from sync.server.accounts import read_accounts
    from sync.server.security import Passwords
    from sync.server.store.users import add_users

    source = "standard input" if args.file == "-" else args.file
    text = _read_text(args.file)
    if text is None:
        return 2
    as_csv = args.file.lower().endswith(".csv") or (args.file == "-" and text.lstrip()[:1] not in ("{", "["))
    try:
        accounts, errors = read_accounts(text, as_csv=as_csv)
    except ValueError as exc:
        print(f"fieldvisit: {source}: {exc}", file=sys.stderr)
        return 2
    if accounts:
        # Each password through the memory-hard KDF: the C code runs outside the GIL, one per core.
        passwords = Passwords()
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            hashes = list(pool.map(passwords.hash, [a.password for a in accounts]))
        database = _open(_db_path(args))
        try:
            out = database.write_sync(
                add_users,
                users=[a.as_user(h) for a, h in zip(accounts, hashes, strict=True)],
                now=datetime.now(UTC),
            )
        finally:
            database.close()
    else:
        out = {"created": 0, "updated": 0}
    print(f"created {out['created']}, updated {out['updated']}, errors {len(errors)}")
    for e in errors:
        print(f"  row {e['row']} {e['field']}: {e['msg']}")
    return 1 if errors and not accounts else 0


def cmd_import(args: argparse.Namespace) -> int:
    from models.canonical import MAX_JSON_DEPTH, loads_json
    from sync.server.store.common import Principal
    from sync.server.store.visits import csv_records, import_visits

    path = Path(args.file)
    text = _read_text(args.file)
    if text is None:
        return 2
    if path.suffix.lower() == ".csv":
        records: list[Any] = csv_records(text)
    else:
        # Parsed as the import endpoint parses it, so a file is held to the same strict values.
        try:
            data = loads_json(text, max_depth=MAX_JSON_DEPTH)
        except ValueError as exc:
            print(f"fieldvisit: {path} is not valid JSON: {exc}", file=sys.stderr)
            return 2
        found = data.get("records") if isinstance(data, dict) else data
        if not isinstance(found, list):
            print(f'fieldvisit: {path} must hold {{"records": [...]}} or a list of records', file=sys.stderr)
            return 2
        records = found
    operator = Principal("cli", "cli", "command line", "admin", "*", "cli")
    database = _open(_db_path(args))
    try:
        out = database.write_sync(import_visits, actor=operator, records=records, now=datetime.now(UTC))
    finally:
        database.close()
    print(f"created {out['created']}, updated {out['updated']}, errors {len(out['errors'])}")
    for e in out["errors"]:
        print(f"  row {e['row']} {e['field']}: {e['msg']}")
    return 1 if out["errors"] and not (out["created"] or out["updated"]) else 0


def cmd_compact(args: argparse.Namespace) -> int:
    from sync.server.store.pull import compact_changes

    if args.idle_days < 1:
        print("fieldvisit: --idle-days must be at least 1", file=sys.stderr)
        return 2
    database = _open(_db_path(args))
    try:
        out = database.write_sync(compact_changes, now=datetime.now(UTC), idle_days=args.idle_days)
    finally:
        database.close()
    print(f"change log compacted: {out['deleted']} rows dropped, floor at {out['floor']}")
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    from sync.server.store.retention import apply_retention

    settings = _settings(_db_path(args))
    kinds = {k.strip() for k in settings.retention_document_kinds.split(",") if k.strip()}
    now = datetime.now(UTC)
    database = _open(settings.db)
    total: dict[str, Any] = {}
    try:
        while True:  # a batch of cases per transaction, so pushes are never held up for long
            out = database.write_sync(
                apply_retention,
                now=now,
                record_days=settings.retention_record_days,
                document_days=settings.retention_document_days,
                document_kinds=kinds,
                dry_run=args.dry_run,
            )
            for key, value in out.items():
                total[key] = (
                    total.get(key, 0) + value if isinstance(value, int) and key != "dry_run" else value
                )
            if args.dry_run or out["cases_anonymised"] < 1000:
                break
        expired = 0
        if not args.dry_run:
            from sync.server.blobstore import blob_store_for
            from sync.server.store.blobs import drain_blob_deletions

            blobs = blob_store_for(settings.blob_location, s3_endpoint=settings.s3_endpoint)
            expired = _expire_partial_uploads(database, settings, blobs, now)
            # After the commit: the bytes of every blob whose row went leave the blob store.
            drain_blob_deletions(database, blobs)
    finally:
        database.close()
    verb = "would be" if args.dry_run else "were"
    print(
        f"retention ({'dry run' if args.dry_run else 'applied, audited'}): cases last active before "
        f"{total['record_cutoff'][:10]} and their {total['reports_anonymised']} reports {verb} anonymised "
        f"({total['cases_anonymised']} cases, {total['blobs_deleted']} of their photos and documents deleted); "
        f"{total['documents_deleted']} documents decided before {total['document_cutoff'][:10]} and "
        f"{total['unreferenced_deleted']} unreferenced uploads {verb} deleted"
        + (f"; {expired} partial uploads expired" if expired else "")
    )
    return 0


def _expire_partial_uploads(database: Any, settings: Any, blobs: Any, now: datetime) -> int:
    """Resumable uploads untouched for `upload_expiry_days` go, with their bytes (a file, or pieces beside
    the `blobs`) and any partial no row names."""
    from sync.server.store.uploads import expire_uploads, live_uploads, partial_store

    files = partial_store(blobs, settings.uploads_path)
    n = 0
    while True:
        gone = database.write_sync(expire_uploads, now=now, days=settings.upload_expiry_days)
        for user_id, sha in gone:
            files.remove(user_id, sha)
        n += len(gone)
        if len(gone) < 1000:
            break
    cutoff = now - timedelta(days=settings.upload_expiry_days)
    return n + files.sweep(database.read_sync(live_uploads), cutoff)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sync.server.store.tracking import TrackingPolicy, sweep, today_of

    settings = _settings(_db_path(args), blobs=False)  # plans and promises only
    now = datetime.now(UTC)
    database = _open(settings.db)
    try:
        # Every open plan and promise, whatever the server's own sweeps already looked at today.
        found = database.write_sync(sweep, now=now, policy=TrackingPolicy.from_settings(settings), force=True)
    finally:
        database.close()
    print(
        f"evaluated {len(found.accounts)} accounts on {today_of(now).isoformat()}: "
        f"{len(found.moves)} changes, {len(found.events)} feed events, {len(found.reopened)} cases back in dispatch"
    )
    for m in found.moves:
        print(f"  {m['kind']} {m['report_id']} (visit {m['visit_id']}): {m['from'] or 'new'} -> {m['to']}")
    for e in found.events:
        print(f"  feed {e['type']} {e['report_id']} (visit {e['visit_id']})")
    for vid in found.reopened:
        print(f"  reopened for dispatch: visit {vid}")
    return 0


def _where(db: str) -> str:
    """The database as messages name it: a PostgreSQL URL without its password."""
    from urllib.parse import urlsplit

    from sync.server.pg import is_postgres_url

    if not is_postgres_url(db):
        return db
    parts = urlsplit(db)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def cmd_backup(args: argparse.Namespace) -> int:
    import sqlite3

    import psycopg

    from sync.server.store.backup import backup

    db = _db_path(args)
    try:
        epoch = backup(db, args.path)
    except (ValueError, OSError, sqlite3.Error, psycopg.Error) as exc:
        print(f"fieldvisit: cannot back up {_where(db)}: {str(exc).strip()}", file=sys.stderr)
        return 2
    print(f"backup of {_where(db)} written to {args.path} (server epoch {epoch})")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    import psycopg

    from sync.server.db import DatabaseInUse
    from sync.server.store.backup import restore

    db = _db_path(args)
    try:
        epoch = restore(db, args.path)
    except DatabaseInUse:
        print(
            f"fieldvisit: cannot restore: a running server (or another fieldvisit command) has {db} open; "
            "stop it and run restore again. Nothing was changed.",
            file=sys.stderr,
        )
        return 3
    except (FileNotFoundError, ValueError) as exc:
        print(f"fieldvisit: cannot restore: {exc}. Nothing was changed.", file=sys.stderr)
        return 2
    except psycopg.Error as exc:
        print(
            f"fieldvisit: cannot restore into {_where(db)}: {str(exc).strip()}. Nothing was changed.",
            file=sys.stderr,
        )
        return 2
    print(f"restored {args.path} into {_where(db)}; new server epoch {epoch}")
    return 0


def _delegate(module_name: str, command: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            print(f"fieldvisit {command}: not available in this installation ({exc})", file=sys.stderr)
            return 2
        sub = argparse.ArgumentParser(prog=f"fieldvisit {command}")
        module.add_arguments(sub)
        return int(module.run(sub.parse_args(args.rest)) or 0)

    return run


def _bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from `low` to `high` (argparse answers anything else with exit 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return parse


def _text(what: str) -> Callable[[str], str]:
    """An argparse type: text that is not blank."""

    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"the {what} may not be empty")
        return text

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fieldvisit", description="FieldVisit central server and tools")
    sub = p.add_subparsers(dest="command", required=True)

    def with_db(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--db", default=None, help=f"database file (FIELDVISIT_DB; default {DEFAULT_DB})")
        sp.add_argument(
            "--database-url",
            default=None,
            help="sqlite:///PATH or postgresql://… (FIELDVISIT_DATABASE_URL); wins over --db",
        )

    s = sub.add_parser("serve", help="run the central server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=_bounded(0, 65535), default=8000)
    s.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    s.add_argument(
        "--workers", type=_bounded(1, 64), default=1, help="worker processes (more than 1 needs PostgreSQL)"
    )
    with_db(s)
    s.set_defaults(func=cmd_serve)

    users = sub.add_parser("users", help="manage users")
    usub = users.add_subparsers(dest="users_command", required=True)
    ua = usub.add_parser("add", help="create or update a user")
    ua.add_argument("username", type=_text("username"))
    ua.add_argument("--password", required=True, type=_text("password"))
    ua.add_argument("--role", required=True, choices=["investigator", "supervisor", "admin"])
    ua.add_argument("--team", required=True, type=_text("team"))
    ua.add_argument("--name", default=None)
    ua.add_argument("--district", default=None, help="comma-separated districts, e.g. 西湖区,上城区")
    ua.add_argument("--experience-years", type=_bounded(0, 60), default=None)
    with_db(ua)
    ua.set_defaults(func=cmd_users_add)
    ui = usub.add_parser(
        "import",
        help="create or update many users from a CSV or JSON file (- reads standard input)",
        description=(
            "Each row as `users add` takes it, with the rules of POST /v1/users (a password of 8 or more "
            "characters). CSV: a header row naming the columns username,password,role,team and any of "
            'name,districts,experience_years (districts in one cell, separated by commas). JSON: {"users": '
            "[...]} or a list of accounts. A bad row is reported by row and field and never stops the "
            "others; an existing username is updated, keeping the profile values its row leaves out."
        ),
    )
    ui.add_argument("file", help="a .csv file, a JSON file, or - for standard input (JSON or CSV)")
    with_db(ui)
    ui.set_defaults(func=cmd_users_import)

    imp = sub.add_parser("import", help='import visits from a JSON ({"records": [...]}) or CSV file')
    imp.add_argument("file")
    with_db(imp)
    imp.set_defaults(func=cmd_import)

    b = sub.add_parser("backup", help="write a consistent copy of the database")
    b.add_argument("path")
    with_db(b)
    b.set_defaults(func=cmd_backup)

    r = sub.add_parser(
        "restore",
        help="put a backup back (issues a new server epoch; on SQLite refused while a server has the file open)",
    )
    r.add_argument("path")
    with_db(r)
    r.set_defaults(func=cmd_restore)

    c = sub.add_parser(
        "compact",
        help="drop the sync change log below what devices active in the last N days still need "
        "(idler devices then pull a snapshot, keeping their unsent work)",
    )
    c.add_argument("--idle-days", type=int, default=30, help="devices idle longer re-pull (default 30)")
    with_db(c)
    c.set_defaults(func=cmd_compact)

    ret = sub.add_parser(
        "retention",
        help="anonymise cases past the record period and delete documents past theirs (domain R-8, D-4), "
        "audited; run it daily",
    )
    ret.add_argument("--dry-run", action="store_true", help="count what would be done, change nothing")
    with_db(ret)
    ret.set_defaults(func=cmd_retention)

    ev = sub.add_parser(
        "evaluate",
        help="evaluate every open plan and promise against the repayments and today's date (P-6, §5.2): "
        "lapses and broken promises go to the feed and back to dispatch; run it daily",
    )
    with_db(ev)
    ev.set_defaults(func=cmd_evaluate)

    for name, module in _DELEGATED.items():
        d = sub.add_parser(name, help=f"the {name} (see `fieldvisit {name} --help`)", add_help=False)
        d.add_argument("rest", nargs=argparse.REMAINDER)
        d.set_defaults(func=_delegate(module, name))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _DELEGATED:
        # argparse cannot pass leading options through REMAINDER, so these go straight to their module.
        command, run = argv[0], _delegate(_DELEGATED[argv[0]], argv[0])
        args = argparse.Namespace(rest=argv[1:])
    else:
        args = build_parser().parse_args(argv)
        command, run = args.command, args.func
    try:
        return int(run(args))
    except Exception as exc:
        if not _unusable_database(exc):
            raise
        print(f"fieldvisit {command}: cannot use the database: {_one_line(exc)}", file=sys.stderr)
        return 2


def _unusable_database(exc: BaseException) -> bool:
    """A database that is not there to be used: a file that is not SQLite, a path that cannot be opened, a
    PostgreSQL server out of reach or refusing the connection. Told in one line, not a traceback."""
    import sqlite3

    if isinstance(exc, sqlite3.DatabaseError | IsADirectoryError | PermissionError | NotADirectoryError):
        return True
    return type(exc).__module__.startswith("psycopg") and type(exc).__name__ == "OperationalError"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
