"""PostgreSQL behind the same store functions as SQLite: a connection façade and the SQL dialect it speaks.

Design. The store is plain functions over a sqlite-utils `Database` and its SQLite SQL. PostgreSQL does not get
a second copy of those statements; it gets `PgDatabase`, a façade with the part of the sqlite-utils API the
store and the migrations use (`execute`, `query`, `conn.execute/executemany`, `table(...).create` and
`create_index`), and `to_postgres`, which rewrites the few SQLite constructs the store's SQL uses, once per
distinct statement (cached):

- `?` placeholders → `%s` (and a literal `%` → `%%`), outside string literals only;
- `BEGIN IMMEDIATE` (SQLite's "take the write lock now") → `BEGIN` plus a transaction-level advisory lock
  (`WRITE_LOCK`) held until commit or rollback. Every write transaction of every process takes it first, so
  writes are serialised across workers exactly as SQLite's one writer serialises them: a store function that
  checks and then acts sees every earlier write and no concurrent one, and sequence values (the change log's
  and the feed's `seq`) are handed out in commit order, so a reader's `seq > cursor` never skips a change
  committed later with a smaller `seq`. Group commit in `sync.server.db` makes one lock serve a batch of jobs;
  readers take no lock;
- a plain `BEGIN` (a reader's) → a REPEATABLE READ transaction: one snapshot for the whole read, as SQLite's
  read transaction over WAL gives;
- `INSERT OR IGNORE` → `INSERT … ON CONFLICT DO NOTHING`; `LIKE` → `ILIKE` (SQLite's LIKE ignores ASCII case);
- `IN (SELECT value FROM json_each(?))` → `= ANY(ARRAY(…))` (an index probe per ID), other `json_each(?)` and
  `json_each(doc, '$.path')` → `jsonb_array_elements_text(…)` (its column is `value` too), `json_extract` →
  `#>` on jsonb with JSON null read as SQL NULL (so numbers and booleans come back typed, as SQLite returns
  them), several paths at once → a JSON array as text (the document parsed once), `json_group_array` →
  `json_agg` (an empty group gives `[]`, as in SQLite); `CROSS JOIN … ON` (SQLite's join-order hint) → `JOIN`;
- DDL: `INTEGER` → `BIGINT`, `REAL` → `DOUBLE PRECISION`, `TEXT` → `TEXT COLLATE "C"` (byte order, as SQLite
  compares, which the pull cursors over ids rely on), `INTEGER PRIMARY KEY [AUTOINCREMENT]` → an identity
  column.

`rowid`, SQLite's insertion order that a few queries break ties with, is a real identity column named
`rowid` on the PostgreSQL tables those queries read (`reports`, `report_versions`); rows read through the
façade leave it out, so `SELECT *` answers the same columns on both backends. Connections are in autocommit
mode with explicit transactions, as the SQLite connections are, and `synchronous_commit` is on: a write is
answered only once it is durable.

Every statement is a round trip to another process, where SQLite's is a function call, and each costs the
driver as much again as the database: so a statement whose answer nobody reads (a write, a savepoint) is held
back and sent with the next one that must be answered, all of them as one simple query whose parameters the
driver binds itself (`PgConnection` says exactly which, and how an error stays with the job that caused it).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

__all__ = [
    "CONNECTION_DEFAULTS",
    "WRITE_LOCK",
    "PgDatabase",
    "connect_pg",
    "connection_params",
    "is_postgres",
    "is_postgres_url",
    "to_postgres",
]

# The advisory lock key every write transaction holds until it ends (any 64-bit value; "fieldvis").
WRITE_LOCK = 0x6669656C64766973

_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def is_postgres_url(location: str) -> bool:
    return location.startswith(_SCHEMES)


def is_postgres(db: Any) -> bool:
    """Whether a store function's `db` is the PostgreSQL façade (for the few dialect-aware migrations)."""
    return isinstance(db, PgDatabase)


def _pg_path(path: str) -> str:
    """'$.a.b' → '{a,b}' (a JSON path as PostgreSQL's text[] path)."""
    assert path.startswith("$."), path
    return "{" + ",".join(path[2:].split(".")) + "}"


def _extract_one(doc: str, path: str) -> str:
    return f"NULLIF(({doc})::jsonb #> '{_pg_path(path)}', 'null'::jsonb)"


def _json_extract(m: re.Match[str]) -> str:
    doc = m.group(1)
    paths = re.findall(r"'(\$[^']*)'", m.group(2))
    if len(paths) == 1:
        return _extract_one(doc, paths[0])
    # The document is parsed once for all its paths (OFFSET 0 keeps the planner from inlining the cast into
    # every path, which parses the document once per path).
    items = ", ".join(f"_j #> '{_pg_path(p)}'" for p in paths)
    return f"(SELECT jsonb_build_array({items})::text FROM (SELECT ({doc})::jsonb AS _j OFFSET 0) AS _jx)"


def _json_each_path(m: re.Match[str]) -> str:
    at = f"({m.group(1)})::jsonb #> '{_pg_path(m.group(2))}'"
    return f"jsonb_array_elements_text(CASE jsonb_typeof({at}) WHEN 'array' THEN {at} ELSE '[]'::jsonb END)"


_DML_REWRITES: list[tuple[re.Pattern[str], Any]] = [
    # An IN-list as `= ANY(array)`: the planner probes the index once per ID, where a semi-join with the set
    # function (which it guesses at 100 rows) reads the whole table.
    (
        re.compile(r"\bIN \(SELECT value FROM json_each\(\?\)\)"),
        "= ANY(ARRAY(SELECT jsonb_array_elements_text(?::jsonb)))",
    ),
    (re.compile(r"json_each\(\?\)"), "jsonb_array_elements_text(?::jsonb)"),
    (re.compile(r"json_each\(([\w.]+), '(\$[\w.]+)'\)"), _json_each_path),
    (re.compile(r"json_extract\(([\w.]+), ('\$[\w.]+'(?:, '\$[\w.]+')*)\)"), _json_extract),
    (re.compile(r"json_group_array\(([^()]*)\)"), r"COALESCE(json_agg(\1), '[]'::json)::text"),
    (re.compile(r"\bLIKE\b"), "ILIKE"),
    # SQLite's CROSS JOIN only fixes the join order for its planner; PostgreSQL's takes no ON.
    (re.compile(r"\bCROSS JOIN (\w+ \w+) ON\b"), r"JOIN \1 ON"),
]

_DDL_REWRITES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"\bINTEGER PRIMARY KEY(?: AUTOINCREMENT)?", re.IGNORECASE),
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    ),
    (re.compile(r"\bINTEGER\b", re.IGNORECASE), "BIGINT"),
    (re.compile(r"\bREAL\b", re.IGNORECASE), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.IGNORECASE), "BYTEA"),
    (re.compile(r"\bTEXT\b", re.IGNORECASE), 'TEXT COLLATE "C"'),
]

_TUPLES_OK = 2  # libpq's PGRES_TUPLES_OK: the statement returned rows (psycopg.pq.ExecStatus.TUPLES_OK)
_LITERAL = re.compile(r"('(?:[^']|'')*')")
_INSERT_OR_IGNORE = re.compile(r"^\s*INSERT OR IGNORE INTO\b", re.IGNORECASE)


@functools.lru_cache(maxsize=2048)
def to_postgres(sql: str) -> str:
    """One SQLite statement of the store as PostgreSQL runs it (see the module's design note)."""
    head = sql.lstrip()[:12].upper()
    if head.startswith(("CREATE TABLE", "ALTER TABLE")):
        for pattern, repl in _DDL_REWRITES:
            sql = pattern.sub(repl, sql)
    else:
        if _INSERT_OR_IGNORE.match(sql):
            sql = (
                _INSERT_OR_IGNORE.sub("INSERT INTO", sql, count=1).rstrip().rstrip(";")
                + " ON CONFLICT DO NOTHING"
            )
        for pattern, repl in _DML_REWRITES:
            sql = pattern.sub(repl, sql)
    # Placeholders last, outside string literals (the JSON paths above are literals).
    parts = _LITERAL.split(sql)
    for i, part in enumerate(parts):
        part = part.replace("%", "%%")
        parts[i] = part if i % 2 else part.replace("?", "%s")
    return "".join(parts)


class PgCursor:
    """The part of `sqlite3.Cursor` the store reads: fetchone/fetchall, iteration, rowcount, description.

    The rows are taken from the result at once, so the connection's one psycopg cursor (reused for every
    statement, which spares building a cursor per statement) is free for the next statement."""

    __slots__ = ("_at", "_result", "_rows", "rowcount")

    def __init__(self, cur: Any) -> None:
        result = cur.pgresult if cur is not None else None
        self.rowcount = int(cur.rowcount) if cur is not None else -1
        self._at = 0
        # Whether the statement returned rows (a cheaper test than `description`, which builds its columns).
        if result is not None and result.status == _TUPLES_OK:
            self._rows: list[Any] = cur.fetchall()
            self._result = result
        else:
            self._rows = []
            self._result = None

    def fetchone(self) -> Any:
        if self._at < len(self._rows):
            self._at += 1
            return self._rows[self._at - 1]
        return None

    def fetchall(self) -> list[Any]:
        rows = self._rows[self._at :] if self._at else self._rows
        self._at = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    @property
    def description(self) -> list[tuple[str, None, None, None, None, None, None]] | None:
        """As `sqlite3.Cursor.description`: a 7-tuple per column whose first item is its name."""
        result = self._result
        if result is None:
            return None
        return [(result.fname(i).decode(), None, None, None, None, None, None) for i in range(result.nfields)]

    @property
    def lastrowid(self) -> None:
        return None


class _Held:
    """A statement held back to go with the next one that must be answered (see `PgConnection`). Its cursor
    answers no rows; `rowcount`, asked for, sends what is held and answers the statement's own."""

    __slots__ = ("conn", "count", "many", "params", "sql", "write")

    description = None
    lastrowid = None

    def __init__(self, conn: PgConnection, sql: str, params: Any = None, *, many: bool = False) -> None:
        self.conn = conn
        self.sql = sql
        self.params = params
        self.many = many
        self.write = params is not None  # a data statement (not BEGIN, SAVEPOINT, RELEASE)
        self.count: int | None = None  # its row count, once sent

    def texts(self, bind: Callable[[str, Any], str]) -> list[str]:
        """The statement as SQL text, its parameters bound by `bind` (several statements for many rows)."""
        if self.params is None:
            return [self.sql]
        if self.many:
            return [bind(sql, params) for sql, params in _many_statements(self.sql, self.params)]
        return [bind(self.sql, self.params)]

    @property
    def rowcount(self) -> int:
        if self.count is None:
            self.conn.settle()
        return self.count if self.count is not None else -1

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def __iter__(self) -> Iterator[Any]:
        return iter(())


# `INSERT INTO t(…) VALUES (%s, …)` (and what follows the row, e.g. ON CONFLICT): one statement can carry many.
_ONE_ROW = re.compile(r"^(\s*INSERT INTO .*? VALUES\s*)(\((?:%s|\s|,)*\))(.*)$", re.DOTALL | re.IGNORECASE)
_ROWS_PER_STATEMENT = 500


def _many_statements(sql: str, rows: list[list[Any]]) -> list[tuple[str, list[Any]]]:
    """`executemany` of `sql` as statements: an INSERT as multi-row INSERTs (one statement per 500 rows, not one
    per row), anything else once per row."""
    match = _ONE_ROW.match(sql)
    if match is None:
        return [(sql, list(r)) for r in rows]
    head, row, tail = match.groups()
    out: list[tuple[str, list[Any]]] = []
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        out.append((f"{head}{', '.join([row] * len(chunk))}{tail}", [v for r in chunk for v in r]))
    return out


_PLACEHOLDER = re.compile(r"%%|%s")
_PREPARE_AT = 2  # uses of a statement sent as text before it is prepared on its connection
_PREPARED_MAX = 256  # statements prepared on one connection
# Statements with more parameters (the multi-row inserts of a big batch, one per row count) are not prepared:
# they are many and each rare, and would take the places of the statements that recur.
_PREPARE_PARAMS_MAX = 64
_SEEN_MAX = 4096  # statements counted on one connection before the counts start again


def _numbered(sql: str) -> tuple[str, int]:
    """psycopg's placeholders as PostgreSQL's: each `%s` as `$1`, `$2`…, `%%` as `%`; and how many there are."""
    count = 0

    def number(m: re.Match[str]) -> str:
        nonlocal count
        if m.group(0) == "%%":
            return "%"
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql), count


_BEGIN_WRITE = ("BEGIN ISOLATION LEVEL READ COMMITTED", f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
_BEGIN_READ = ("BEGIN ISOLATION LEVEL REPEATABLE READ",)
_WRITES = ("INSERT ", "UPDATE ", "DELETE ")


def plan_gone(exc: BaseException) -> bool:
    """Whether `exc` says a statement prepared on the connection can no longer run as prepared (the schema
    changed under it). The connection has then forgotten what it prepared: the work the statement was part
    of may run again as it is (`sync.server.db` does so, once)."""
    if not type(exc).__module__.startswith("psycopg"):
        return False
    import psycopg

    return isinstance(exc, psycopg.errors.InvalidSqlStatementName) or (
        isinstance(exc, psycopg.errors.FeatureNotSupported) and "cached plan" in str(exc)
    )


def _aborted() -> Exception:
    import psycopg

    return psycopg.errors.InFailedSqlTransaction(
        "the transaction failed earlier and was rolled back: nothing of it was committed"
    )


class PgConnection:
    """The part of `sqlite3.Connection` the store and `sync.server.db` use, on one psycopg connection.

    Round trips. Statements whose answer the caller does not read are held back and sent together with the
    next statement that must be answered (a query, `COMMIT`), so a transaction costs a round trip per read
    and one for its commit, not one per statement:
    - always `BEGIN` (with the write lock) and `SAVEPOINT`;
    - `RELEASE`, and in a write transaction `INSERT`, `UPDATE` and `DELETE` without `RETURNING` (their
      cursor's `rowcount`, asked for, sends them at once).
    What is sent together goes as one simple query, its parameters bound by the driver (psycopg's client-side
    binding, the same quoting as its `ClientCursor`): one message and one call into the driver for them all,
    where sending each statement with its own parameters costs the driver about as much per statement as
    the database spends on it. A statement that recurs is prepared once on the connection (`PREPARE`, while no
    transaction is open) and sent as `EXECUTE name(literals)`, so PostgreSQL plans it once, not on every
    push; a statement PostgreSQL cannot prepare on its own (a parameter whose type nothing fixes) keeps going
    as text. A lone statement with nothing held and not prepared goes with its parameters apart (the
    extended protocol).
    A held write's error is raised with the statement it went with (`COMMIT` at the latest), or by `settle()`,
    and `writes_failed` says so. The writer settles each job of a group inside the job's own error handling,
    so that an error stays with the job that caused it, and runs a job whose held writes failed once more
    with each write sent as it is made (`send_each_write`, see `sync.server.db`), where the statement that
    fails is the one that raises, inside the job. A `ROLLBACK TO` drops what was held after its savepoint and
    sends each write as it comes until the transaction ends. `raw` (the psycopg connection) sends what is
    held before anyone uses it.
    """

    def __init__(self, raw: Any) -> None:
        import psycopg

        self._raw = raw
        self._cur = raw.cursor()
        self._binder = psycopg.ClientCursor(raw)
        self._held: list[_Held] = []
        self._writing = False  # inside a write transaction (BEGIN IMMEDIATE)
        self._one_by_one = False  # after a ROLLBACK TO, until the transaction ends
        self._each_write_next = False  # the next transaction sends each write as it is made
        self.writes_failed = False  # the last send failed, and it carried held writes
        # Statements (as to_postgres writes them) prepared on this connection: `EXECUTE name(%s, …)`.
        self._executes: dict[str, str] = {}
        self._unpreparable: set[str] = set()
        self._seen: dict[str, int] = {}
        self._to_prepare: list[str] = []
        self._deallocate = False  # DEALLOCATE ALL before preparing again
        self._prepared_count = 0  # names fv_1, fv_2… each used once per connection

    @property
    def raw(self) -> Any:
        self.settle()
        return self._raw

    def settle(self) -> None:
        """Send what is held back; its error (if any) is raised here."""
        self._send()

    def send_each_write(self) -> None:
        """Have the next transaction send each write as it is made, so that a failing one raises itself (a job
        run again after its held writes failed, see `sync.server.db`)."""
        self._each_write_next = True

    def _bind(self, sql: str, params: Any) -> str:
        """`sql` with its parameters as literals (statements without parameters as they are); a statement
        prepared on this connection as its `EXECUTE`."""
        if params is None:
            return sql
        execute = self._executes.get(sql)
        if execute is None:
            self._count(sql)
            text: str = self._binder.mogrify(sql, params)
            return text
        if not params:
            return execute
        text = self._binder.mogrify(execute, params)
        return text

    def _count(self, sql: str) -> None:
        """Count a use of a statement sent as text; at its second it is to be prepared (unless it has more than
        `_PREPARE_PARAMS_MAX` parameters)."""
        if sql in self._unpreparable:
            return
        if len(self._seen) >= _SEEN_MAX:
            self._seen.clear()
        seen = self._seen[sql] = self._seen.get(sql, 0) + 1
        if (
            seen == _PREPARE_AT
            and len(self._executes) < _PREPARED_MAX
            and sql.count("%s") <= _PREPARE_PARAMS_MAX
        ):
            self._to_prepare.append(sql)

    def _forget_prepared(self) -> None:
        """Drop every statement prepared on this connection (once no transaction is open): the schema changed
        under one (a column added to a table a `SELECT *` reads), and PostgreSQL refuses to run it."""
        self._deallocate = True
        self._to_prepare = list(self._executes)
        self._executes.clear()
        self._seen.clear()

    def _prepare_waiting(self) -> None:
        """Prepare the statements that recur (see `_count`); called while no transaction is open, so that one
        PostgreSQL refuses to prepare (a parameter whose type nothing in it fixes) aborts nothing: it is
        sent as text from then on."""
        import psycopg

        if self._deallocate:
            self._cur.execute("DEALLOCATE ALL", prepare=False)
            self._deallocate = False
        waiting, self._to_prepare = self._to_prepare, []
        for sql in waiting:
            if sql in self._executes:
                continue
            self._prepared_count += 1
            name = f"fv_{self._prepared_count}"
            numbered, count = _numbered(sql)
            try:
                self._cur.execute(f"PREPARE {name} AS {numbered}", prepare=False)
            except psycopg.Error:
                if self.broken:
                    raise
                self._unpreparable.add(sql)
                continue
            self._executes[sql] = (
                f"EXECUTE {name}({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"
            )

    def _idle(self, held: list[_Held]) -> bool:
        """Whether no transaction is open on the server (what is held, if anything, begins one)."""
        from psycopg.pq import TransactionStatus

        return (not held or held[0].sql.startswith("BEGIN")) and (
            self._raw.info.transaction_status == TransactionStatus.IDLE
        )

    def _send(self, statements: Sequence[tuple[str, Any]] = ()) -> list[PgCursor]:
        """Send what is held back followed by `statements` (`(sql, parameters or None)`, each to be answered),
        in one round trip, and answer each of `statements` in order; the held statements' row counts are
        recorded on them."""
        held, self._held = self._held, []
        self.writes_failed = False
        if (self._to_prepare or self._deallocate) and self._idle(held):
            self._prepare_waiting()
        if not held:
            if not statements:
                return []
            if len(statements) == 1 and (statements[0][1] is None or statements[0][0] not in self._executes):
                # Alone and not prepared (yet): with its parameters apart, the extended protocol.
                sql, params = statements[0]
                if params is not None:
                    self._count(sql)
                return [PgCursor(self._cur.execute(sql, params, prepare=False))]
        texts: list[str] = []
        parts: list[int] = []  # how many statements each held one became
        for h in held:
            mine = h.texts(self._bind)
            texts += mine
            parts.append(len(mine))
        texts += [self._bind(sql, params) for sql, params in statements]
        cur = self._cur
        # No parameters: one simple query, answered statement by statement (its text, literals and all, is new
        # every time: nothing for psycopg to count towards preparing it).
        try:
            cur.execute("; ".join(texts), prepare=False)
        except Exception as exc:
            self.writes_failed = any(h.write for h in held)
            if plan_gone(exc):
                self._forget_prepared()
            raise
        for h, n in zip(held, parts, strict=True):
            count = 0
            for _ in range(n):
                count += max(cur.rowcount, 0)
                cur.nextset()
            h.count = count
        out: list[PgCursor] = []
        for i in range(len(statements)):
            if i:
                cur.nextset()
            out.append(PgCursor(cur))
        return out

    def _run(self, sql: str, params: list[Any] | None) -> PgCursor:
        return self._send([(sql, params)])[0]

    def query_each(self, statements: list[tuple[str, list[Any]]]) -> list[tuple[list[str], list[Any]]]:
        """Several queries in one round trip, each answered as `(column names, rows)`."""
        answers = self._send([(to_postgres(sql), list(params)) for sql, params in statements])
        return [([d[0] for d in a.description or ()], a.fetchall()) for a in answers]

    def _hold(self, sql: str, params: Any = None, *, many: bool = False) -> _Held:
        statement = _Held(self, sql, params, many=many)
        self._held.append(statement)
        return statement

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor | _Held:
        word = sql.lstrip()[:16].upper()
        if word.startswith("BEGIN"):
            immediate = word.rstrip() == "BEGIN IMMEDIATE"
            plain = (sql.strip(),) if word.rstrip() not in ("BEGIN", "BEGIN IMMEDIATE") else _BEGIN_READ
            for statement in _BEGIN_WRITE if immediate else plain:
                self._hold(statement)
            self._writing, self._one_by_one = immediate, self._each_write_next
            self._each_write_next = False
            return self._held[-1]
        if word.startswith("SAVEPOINT "):
            return self._hold(sql)
        if word.startswith("RELEASE "):
            return self._hold(sql)
        if word.startswith(("COMMIT", "END")):
            self._writing = self._one_by_one = False
            if not self._held and self._failed_transaction():
                # PostgreSQL answers COMMIT in a failed transaction by rolling it back, without an error: a job
                # that caught a failure without rolling back to a savepoint would lose its writes unseen.
                self.rollback()
                raise _aborted()
            return self._run(sql.strip(), None)
        if word.startswith("ROLLBACK TO "):
            name = sql.strip()[len("ROLLBACK TO ") :].strip()
            if name.upper().startswith("SAVEPOINT "):
                name = name[len("SAVEPOINT ") :].strip()
            self._drop_after(name)
            self._one_by_one = True
            return self._run(sql.strip(), None)
        if word.rstrip() == "ROLLBACK":
            self.rollback()
            return _Held(self, "")
        if (
            self._writing
            and not self._one_by_one
            and word.startswith(_WRITES)
            and "RETURNING" not in sql.upper()
        ):
            return self._hold(to_postgres(sql), list(params or []))
        return self._run(to_postgres(sql), list(params or []))

    def _failed_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return bool(self._raw.info.transaction_status == TransactionStatus.INERROR)

    def _drop_after(self, savepoint: str) -> None:
        """Forget what was held after `SAVEPOINT savepoint` (rolling back to it undoes it anyway)."""
        mark = f"SAVEPOINT {savepoint}".upper()
        for i in range(len(self._held) - 1, -1, -1):
            if self._held[i].sql.strip().upper() == mark:
                del self._held[i + 1 :]
                return
        self._held.clear()  # the savepoint was sent before all of it

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor | _Held:
        params = [list(r) for r in rows]
        if self._writing and not self._one_by_one:
            return self._hold(to_postgres(sql), params, many=True)
        answers = self._send([(s, p) for s, p in _many_statements(to_postgres(sql), params)])
        rows_changed = sum(max(a.rowcount, 0) for a in answers)
        cursor = answers[-1] if answers else PgCursor(None)
        cursor.rowcount = rows_changed
        return cursor

    @property
    def broken(self) -> bool:
        """Whether the connection was lost (the server restarted, or ended this session): open a new one."""
        return bool(self._raw.broken or self._raw.closed)

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        if self.broken:
            return False  # nothing to roll back: the server ended the transaction with the session
        if self._held:
            return True
        return bool(self._raw.info.transaction_status != TransactionStatus.IDLE)

    def rollback(self) -> None:
        began = bool(self._held) and self._held[0].sql.startswith("BEGIN")
        self._held.clear()
        self._writing = self._one_by_one = False
        if not began:  # a transaction the server knows of (a held BEGIN was never sent)
            self._raw.execute("ROLLBACK")

    def close(self) -> None:
        self._held.clear()
        self._raw.close()


_PY_TYPES = {str: 'TEXT COLLATE "C"', int: "BIGINT", float: "DOUBLE PRECISION", bytes: "BYTEA"}


class _PgTable:
    """`db.table(name).create(...)` / `.create_index(...)` as the migrations call them on sqlite-utils."""

    def __init__(self, db: PgDatabase, name: str) -> None:
        self.db = db
        self.name = name

    def create(
        self,
        columns: dict[str, type],
        *,
        pk: str | tuple[str, ...],
        not_null: Iterable[str] = (),
        defaults: dict[str, Any] | None = None,
        foreign_keys: Iterable[tuple[str, str, str]] = (),
    ) -> None:
        required, fks, defaults = set(not_null), {c: (t, tc) for c, t, tc in foreign_keys}, defaults or {}
        cols: list[str] = []
        for name, kind in columns.items():
            if name == pk and kind is int:
                # SQLite's INTEGER PRIMARY KEY numbers rows itself; so does an identity column.
                cols.append(f"{name} BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
                continue
            col = f"{name} {_PY_TYPES[kind]}"
            if name == pk:
                col += " PRIMARY KEY"
            if name in required:
                col += " NOT NULL"
            if name in defaults:
                col += f" DEFAULT {defaults[name]!r}"
            if name in fks:
                col += f" REFERENCES {fks[name][0]}({fks[name][1]})"
            cols.append(col)
        if isinstance(pk, tuple):
            cols.append(f"PRIMARY KEY ({', '.join(pk)})")
        self.db.conn.raw.execute(f"CREATE TABLE {self.name} ({', '.join(cols)})")

    def create_index(self, columns: list[str], *, unique: bool = False) -> None:
        name = f"idx_{self.name}_{'_'.join(columns)}"
        kind = "UNIQUE INDEX" if unique else "INDEX"
        self.db.conn.raw.execute(f"CREATE {kind} {name} ON {self.name} ({', '.join(columns)})")


class PgDatabase:
    """A PostgreSQL connection with the sqlite-utils `Database` methods the store calls."""

    dialect = "postgresql"

    def __init__(self, raw: Any) -> None:
        self.conn = PgConnection(raw)

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> PgCursor | _Held:
        return self.conn.execute(sql, parameters)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> Iterator[dict[str, Any]]:
        cur = self.conn._run(to_postgres(sql), list(params or []))
        if cur.description is None:
            return
        names = [c[0] for c in cur.description]
        hidden = "rowid" in names
        for row in cur.fetchall():
            out = dict(zip(names, row, strict=True))
            if hidden:
                out.pop("rowid", None)
            yield out

    def table(self, name: str) -> _PgTable:
        return _PgTable(self, name)


# What a connection does when the database's host is gone without a word (powered off, cut off by the
# network: no reset comes back), unless the URL says otherwise (`?connect_timeout=…&tcp_user_timeout=…`):
# a new connection gives up after 10 s, a statement whose bytes the host never acknowledges after 30 s, and an
# idle connection is found dead by keepalives within a minute. Left to the operating system each would take
# minutes, every request of the worker waiting on it; given up, the request answers 503 `unavailable` and the
# next one runs on a new connection. (Over a Unix socket only the first applies.)
CONNECTION_DEFAULTS = {
    "connect_timeout": "10",
    "tcp_user_timeout": "30000",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}


def connection_params(url: str) -> dict[str, Any]:
    """The libpq parameters of a `postgresql://` URL, with `CONNECTION_DEFAULTS` for those it leaves out."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(url.replace("postgresql+psycopg://", "postgresql://"))
    return CONNECTION_DEFAULTS | params


def connect_pg(url: str) -> PgDatabase:
    """A PostgreSQL database on its own connection, in autocommit mode (transactions are explicit)."""
    import psycopg

    raw = psycopg.connect(**connection_params(url), autocommit=True)
    # The façade prepares what recurs itself (PgConnection); psycopg's own preparing would deallocate every
    # prepared statement of the session at each ROLLBACK it saw.
    raw.prepare_threshold = None
    raw.execute("SET synchronous_commit = on; SET TIME ZONE 'UTC'")
    return PgDatabase(raw)
