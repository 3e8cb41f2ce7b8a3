"""Database access for the server: one writer thread with group commit, a small pool of reader threads.

Writes are functions `fn(db) -> result` queued to the writer. It runs every queued job in one transaction,
each under its own savepoint (a failing job rolls back alone and gets its exception), commits once with
`synchronous=FULL`, and only then resolves the jobs' futures: a write is answered after it is durable, and
concurrent writes share one fsync. Reads run on reader threads, each in its own read transaction over WAL.

The same machinery serves PostgreSQL (a `postgresql://` location; `sync.server.pg` says how): there the
writer's transaction also holds the database-wide write lock until it commits, so the writer threads of
several worker processes take turns as the one SQLite writer would, and each still commits a whole batch at
once; reads run in REPEATABLE READ snapshots. There a job's writes are held back and sent with its next read
or the commit, so a failing write may be found only after the job returned: such a job is run once more, in
its place, with each write sent as it is made, so that the job meets its failure where SQLite would have
raised it (the push isolates the one bad report that way). A job, read or write, that met a statement
PostgreSQL no longer runs as prepared (the schema changed under it: a newer version migrated the database
while this one serves) is run once more as well; the connection prepares its statements again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, TypeVar

from sqlite_utils import Database as SUDatabase

from sync.server.migrations import migrate
from sync.server.pg import connect_pg, is_postgres_url, plan_gone

try:
    import fcntl
except ImportError:  # not POSIX: no lock, the operator stops the server before a restore
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "Database",
    "DatabaseInUse",
    "connect",
    "copy_database",
    "exclusive_use",
    "lock_path",
    "read_each",
    "settle",
]

T = TypeVar("T")
log = logging.getLogger("fieldvisit.server.db")

_STOP = object()


def connect(path: str) -> SUDatabase:
    """A sqlite-utils database on its own connection, in autocommit mode (transactions are explicit); for a
    `postgresql://` location, the PostgreSQL façade with the same methods."""
    if is_postgres_url(path):
        return connect_pg(path)  # type: ignore[return-value]
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return SUDatabase(conn, execute_plugins=False)


class DatabaseInUse(RuntimeError):
    """A server (or another command) has the database open, so it cannot be replaced under it."""


def lock_path(path: str) -> Path | None:
    """The lock file beside a database file (None for an in-memory database)."""
    if path == ":memory:" or path.startswith("file:") or is_postgres_url(path):
        return None
    return Path(f"{path}.lock")


def _open_lock(path: str, exclusive: bool, wait: bool) -> IO[bytes] | None:
    where = lock_path(path)
    if where is None or fcntl is None:
        return None
    where.parent.mkdir(parents=True, exist_ok=True)
    handle = open(where, "ab")  # held while the Database is open, closed by close()
    flags = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else fcntl.LOCK_NB)
    try:
        fcntl.flock(handle.fileno(), flags)
    except BlockingIOError:
        handle.close()
        raise DatabaseInUse(path) from None
    return handle


@contextlib.contextmanager
def exclusive_use(path: str) -> Iterator[None]:
    """Hold the database for replacement: refused at once (DatabaseInUse) while any `Database` on it is open
    in any process, and every `Database` opened meanwhile waits until this ends. The lock is the kernel's
    (flock), so a server killed with -9 leaves nothing behind."""
    handle = _open_lock(path, exclusive=True, wait=False)
    try:
        yield
    finally:
        if handle is not None:
            handle.close()


class Database:
    """The server's database: `await write(fn)` / `await read(fn)`; `*_sync` variants for the CLI and tests."""

    def __init__(self, path: str, *, readers: int = 4, group_max: int = 256) -> None:
        self.path = path
        self._group_max = group_max
        # Shared while open: a restore (exclusive) is refused as long as a server or command uses the file.
        self._lock_file = _open_lock(path, exclusive=False, wait=True)
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer_db = connect(path)
        migrate(self._writer_db)
        self._local = threading.local()
        self._reader_dbs: list[SUDatabase] = []
        self._lock = threading.Lock()
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="fv-read")
        self._thread = threading.Thread(target=self._run, name="fv-write", daemon=True)
        self._closed = False
        self._thread.start()

    # -- writes -------------------------------------------------------------------------------------
    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        fut: Future[T] = Future()
        if self._closed:
            fut.set_exception(RuntimeError("database is closed"))
            return fut
        self._jobs.put((fn, args, kwargs, fut))
        return fut

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def write_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.submit(fn, *args, **kwargs).result()

    def _run(self) -> None:
        db = self._writer_db
        while True:
            first = self._jobs.get()
            if first is _STOP:
                break
            batch = [first]
            stop = False
            while len(batch) < self._group_max:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    stop = True
                    break
                batch.append(job)
            db = self._writer_db = self._reopened(db)
            self._run_batch(db, batch)
            if stop:
                break
        db.conn.close()

    @staticmethod
    def _run_batch(db: SUDatabase, batch: list[Any]) -> None:
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        conn = db.conn
        if len(batch) == 1:
            # Alone in its transaction, a job needs no savepoint (whose statement journal copies every page
            # the job touches): when it fails, the whole transaction rolls back instead.
            Database._run_alone(conn, db, batch[0])
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, args, kwargs, fut in batch:
                ok, value, held_failed = Database._run_job(db, fn, args, kwargs)
                if held_failed or (not ok and plan_gone(value)):
                    # Its held writes failed (PostgreSQL): once more, each write sent as it is made (after the
                    # ROLLBACK TO, the connection sends them so until the transaction ends). Or a statement
                    # prepared before a schema change was refused: once more, the statements sent as text.
                    ok, value, _ = Database._run_job(db, fn, args, kwargs)
                outcomes.append((fut, ok, value))
            conn.execute("COMMIT")
        except BaseException as exc:
            log.error("write transaction failed: %s", type(exc).__name__)
            if db.conn.in_transaction:
                db.conn.rollback()
            for _, _, _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for fut, ok, value in outcomes:
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    @staticmethod
    def _run_job(db: SUDatabase, fn: Callable[..., Any], args: Any, kwargs: Any) -> tuple[bool, Any, bool]:
        """One job of a group under its own savepoint: `(True, result, False)`, or `(False, its exception,
        whether writes held back failed)` with its writes rolled back."""
        conn = db.conn
        conn.execute("SAVEPOINT job")
        try:
            result = fn(db, *args, **kwargs)
            conn.execute("RELEASE job")
            # Inside the job's error handling: on PostgreSQL this sends the writes the job left held back
            # (sync.server.pg), and their error is this job's.
            settle(db)
        except BaseException as exc:
            failed = _writes_failed(conn)
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            return False, exc, failed
        return True, result, False

    @staticmethod
    def _run_alone(conn: sqlite3.Connection, db: SUDatabase, job: Any) -> None:
        fn, args, kwargs, fut = job
        try:
            for again in (False, True):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(db, *args, **kwargs)
                except BaseException as exc:
                    held_failed = _writes_failed(conn)
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    if (held_failed or plan_gone(exc)) and not again:
                        if held_failed:
                            conn.send_each_write()  # type: ignore[attr-defined]
                        continue
                    fut.set_exception(exc)
                    return
                try:
                    conn.execute("COMMIT")
                except Exception:
                    if again or not _writes_failed(conn):
                        raise
                    # The writes the job left held back failed with the commit (PostgreSQL): the job runs
                    # once more, in a new transaction sending each write as it is made.
                    conn.rollback()
                    conn.send_each_write()  # type: ignore[attr-defined]
                    continue
                break
        except BaseException as exc:
            log.error("write transaction failed: %s", type(exc).__name__)
            if conn.in_transaction:
                conn.rollback()
            if not fut.done():
                fut.set_exception(exc)
            return
        fut.set_result(result)

    # -- reads --------------------------------------------------------------------------------------
    def _reopened(self, db: SUDatabase) -> SUDatabase:
        """`db`, or a new connection in its place when it was lost (only a PostgreSQL connection can be)."""
        if not getattr(db.conn, "broken", False):
            return db
        log.warning("database connection lost; reconnecting")
        with contextlib.suppress(Exception):
            db.conn.close()
        return connect(self.path)

    def _reader(self) -> SUDatabase:
        db: SUDatabase | None = getattr(self._local, "db", None)
        if db is not None and getattr(db.conn, "broken", False):
            log.warning("database connection lost; reconnecting")
            with self._lock:
                self._reader_dbs.remove(db)
            with contextlib.suppress(Exception):
                db.conn.close()
            db = None
        if db is None:
            db = connect(self.path)
            self._local.db = db
            with self._lock:
                self._reader_dbs.append(db)
        return db

    def _on_reader(self, run: Callable[[SUDatabase], T]) -> T:
        """`run` on this thread's reader connection, and once more when the database ended the connection it
        had (a restart, a failover, an operator's pg_terminate_backend; on a new one) or refused a statement
        prepared before a schema change: a read changes nothing, so it may be repeated. (A write that finds
        its connection gone fails; see `_reopened`.)"""
        db = self._reader()
        try:
            return run(db)
        except Exception as exc:
            if not (getattr(db.conn, "broken", False) or plan_gone(exc)):
                raise
        return run(self._reader())

    def _read_job(self, fn: Callable[..., T], args: Any, kwargs: Any) -> T:
        def in_transaction(db: SUDatabase) -> T:
            db.execute("BEGIN")
            try:
                return fn(db, *args, **kwargs)
            finally:
                db.execute("ROLLBACK")

        return self._on_reader(in_transaction)

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read_job, fn, args, kwargs)

    def read_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self._readers.submit(self._read_job, fn, args, kwargs).result()

    def read_here(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A short read on the calling thread, with that thread's own connection: for one indexed lookup
        (the caller of a request) a hop to a reader thread costs more than the read itself."""
        return self._read_job(fn, args, kwargs)

    def read_statement(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`read_here` for a read of one statement: outside an explicit transaction, as one statement reads
        one consistent state of the database on its own (a request's caller is read on every request)."""
        return self._on_reader(lambda db: fn(db, *args, **kwargs))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._jobs.put(_STOP)
        self._thread.join(timeout=30)
        self._readers.shutdown(wait=True)
        with self._lock:
            for db in self._reader_dbs:
                db.conn.close()
            self._reader_dbs.clear()
        if self._lock_file is not None:
            self._lock_file.close()


def _writes_failed(conn: Any) -> bool:
    """Whether the last failure on `conn` was of writes a PostgreSQL connection held back (sync.server.pg)."""
    return bool(getattr(conn, "writes_failed", False))


def settle(db: Any) -> None:
    """Send the statements a PostgreSQL connection holds back to go with the next one (sync.server.pg), so
    that their error is raised here; on SQLite every statement has already run when executed."""
    send = getattr(db.conn, "settle", None)
    if send is not None:
        send()


def read_each(conn: Any, statements: list[tuple[str, list[Any]]]) -> list[tuple[list[str], list[Any]]]:
    """Several queries on one connection, each answered as `(column names, rows)` in order; on PostgreSQL in
    one round trip (sync.server.pg), on SQLite one after the other."""
    each = getattr(conn, "query_each", None)
    if each is not None:
        answers: list[tuple[list[str], list[Any]]] = each(statements)
        return answers
    out: list[tuple[list[str], list[Any]]] = []
    for sql, params in statements:
        cur = conn.execute(sql, params)
        out.append(([d[0] for d in cur.description or ()], cur.fetchall()))
    return out


def copy_database(source: str, dest: str, *, read_only: bool = False) -> None:
    """Copy a SQLite database file page by page with the online backup API (consistent while in use)."""
    src = (
        sqlite3.connect(f"file:{Path(source).resolve()}?mode=ro", uri=True)
        if read_only
        else sqlite3.connect(source)
    )
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
