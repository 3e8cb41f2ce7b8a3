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

Every statement is a round trip to another process, where SQLite's is a function call; so a statement whose
answer nobody reads (a write, a savepoint) is held back and sent in one pipeline with the next one that must
be answered (`PgConnection` says exactly which, and how an error stays with the job that caused it).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

__all__ = ["WRITE_LOCK", "PgDatabase", "connect_pg", "is_postgres", "is_postgres_url", "to_postgres"]

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
        result = cur.pgresult
        self.rowcount = int(cur.rowcount)
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

    __slots__ = ("conn", "cur", "many", "params", "sql", "write")

    description = None
    lastrowid = None

    def __init__(self, conn: PgConnection, sql: str, params: Any = None, *, many: bool = False) -> None:
        self.conn = conn
        self.sql = sql
        self.params = params
        self.many = many
        self.write = params is not None  # a data statement (not BEGIN, SAVEPOINT, RELEASE)
        self.cur: Any = None

    def send(self, raw: Any) -> None:
        if self.many:
            self.cur = raw.cursor()
            _insert_many(self.cur, self.sql, self.params)
        else:
            self.cur = raw.execute(self.sql, self.params)

    @property
    def rowcount(self) -> int:
        if self.cur is None:
            self.conn.settle()
        return int(self.cur.rowcount) if self.cur is not None else -1

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def __iter__(self) -> Iterator[Any]:
        return iter(())


# `INSERT INTO t(…) VALUES (%s, …)` (and what follows the row, e.g. ON CONFLICT): one statement can carry many.
_ONE_ROW = re.compile(r"^(\s*INSERT INTO .*? VALUES\s*)(\((?:%s|\s|,)*\))(.*)$", re.DOTALL | re.IGNORECASE)
_ROWS_PER_STATEMENT = 500


def _insert_many(cur: Any, sql: str, rows: list[list[Any]]) -> None:
    """`executemany` of an INSERT as multi-row INSERTs: one statement per 500 rows instead of one per row."""
    match = _ONE_ROW.match(sql)
    if match is None or not rows:
        cur.executemany(sql, rows)
        return
    head, row, tail = match.groups()
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        cur.execute(f"{head}{', '.join([row] * len(chunk))}{tail}", [v for r in chunk for v in r])


_BEGIN_WRITE = ("BEGIN ISOLATION LEVEL READ COMMITTED", f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
_BEGIN_READ = ("BEGIN ISOLATION LEVEL REPEATABLE READ",)
_WRITES = ("INSERT ", "UPDATE ", "DELETE ")


def _controls(held: list[_Held]) -> bool:
    """Whether every held statement is one without parameters (BEGIN, the write lock, SAVEPOINT, RELEASE)."""
    return all(h.params is None for h in held)


class PgConnection:
    """The part of `sqlite3.Connection` the store and `sync.server.db` use, on one psycopg connection.

    Round trips. Statements whose answer the caller does not read are held back and sent in one pipeline with
    the next statement that must be answered (a query, `COMMIT`), so a transaction costs a round trip per
    read and one for its commit, not one per statement:
    - always `BEGIN` (with the write lock) and `SAVEPOINT`;
    - in a write transaction, `INSERT`, `UPDATE` and `DELETE` without `RETURNING` (their cursor's `rowcount`,
      asked for, sends them at once), and `RELEASE` while no such write is held.
    A held write's error is raised with the statement it went with, or by `settle()`; so that an error stays
    with the job that caused it, `RELEASE` sends the writes it follows at once (a job's savepoint is released
    inside the job's own error handling, see `sync.server.db`), and a `ROLLBACK TO` drops what was held after
    its savepoint and sends each statement on its own until the transaction ends (the statement that fails
    is then the one that raises). `raw` (the psycopg connection) sends what is held before anyone uses it.
    """

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._cur = raw.cursor()
        self._held: list[_Held] = []
        self._writing = False  # inside a write transaction (BEGIN IMMEDIATE)
        self._one_by_one = False  # after a ROLLBACK TO, until the transaction ends

    @property
    def raw(self) -> Any:
        self.settle()
        return self._raw

    def settle(self) -> None:
        """Send what is held back; its error (if any) is raised here."""
        self._send()

    def _send(
        self, answer: Callable[[], Any] = lambda: None, *, control: str | None = None, pipeline: bool = False
    ) -> Any:
        """Send what is held back, then call `answer` (the statements that must be answered) and return what
        it returns, in one round trip where psycopg allows:
        - held statements with parameters go in one pipeline with `answer`'s;
        - when every held statement is one without parameters (BEGIN, the write lock, SAVEPOINT, RELEASE),
          they go as one simple query (one call, not one each), and `control`, a statement without
          parameters that ends what is sent (COMMIT, ROLLBACK TO), goes in that same query;
        - `pipeline` sends even those in the pipeline (`answer` sends several statements)."""
        held, self._held = self._held, []
        if control is not None:
            if not pipeline and _controls(held):
                return self._cur.execute("; ".join([*(h.sql for h in held), control]))
            answer = functools.partial(self._cur.execute, control)
        if not held and not pipeline:
            return answer()
        if not pipeline and _controls(held):
            self._cur.execute("; ".join(h.sql for h in held))
            return answer()
        with self._raw.pipeline():
            for statement in held:
                statement.send(self._raw)
            return answer()

    def _run(self, sql: str, params: list[Any], *, control: bool = False) -> Any:
        if control:
            return self._send(control=sql)
        return self._send(functools.partial(self._cur.execute, sql, params))

    def query_each(self, statements: list[tuple[str, list[Any]]]) -> list[tuple[list[str], list[Any]]]:
        """Several queries in one pipeline (one round trip), each answered as `(column names, rows)`."""
        cursors = [self._raw.cursor() for _ in statements]

        def answer() -> None:
            for cur, (sql, params) in zip(cursors, statements, strict=True):
                cur.execute(to_postgres(sql), list(params))

        self._send(answer, pipeline=True)
        out: list[tuple[list[str], list[Any]]] = []
        for cur in cursors:
            result = PgCursor(cur)
            out.append(([d[0] for d in result.description or ()], result.fetchall()))
        return out

    def _hold(self, sql: str, params: Any = None, *, many: bool = False) -> _Held:
        statement = _Held(self, sql, params, many=many)
        self._held.append(statement)
        return statement

    def _holds_writes(self) -> bool:
        return any(h.write for h in self._held)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor | _Held:
        word = sql.lstrip()[:16].upper()
        if word.startswith("BEGIN"):
            immediate = word.rstrip() == "BEGIN IMMEDIATE"
            plain = (sql.strip(),) if word.rstrip() not in ("BEGIN", "BEGIN IMMEDIATE") else _BEGIN_READ
            for statement in _BEGIN_WRITE if immediate else plain:
                self._hold(statement)
            self._writing, self._one_by_one = immediate, False
            return self._held[-1]
        if word.startswith("SAVEPOINT "):
            return self._hold(sql)
        if word.startswith("RELEASE "):
            held = self._hold(sql)
            if self._holds_writes():
                self.settle()
            return held
        if word.startswith(("COMMIT", "END")):
            self._writing = self._one_by_one = False
            return PgCursor(self._run(sql.strip(), [], control=True))
        if word.startswith("ROLLBACK TO "):
            name = sql.strip()[len("ROLLBACK TO ") :].strip()
            if name.upper().startswith("SAVEPOINT "):
                name = name[len("SAVEPOINT ") :].strip()
            self._drop_after(name)
            self._one_by_one = True
            return PgCursor(self._run(sql.strip(), [], control=True))
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
        return PgCursor(self._run(to_postgres(sql), list(params or [])))

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
        cur = self._raw.cursor()
        self._send(functools.partial(_insert_many, cur, to_postgres(sql), params))
        return PgCursor(cur)

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
        names = [c.name for c in cur.description]
        hidden = "rowid" in names
        for row in cur.fetchall():
            out = dict(zip(names, row, strict=True))
            if hidden:
                out.pop("rowid", None)
            yield out

    def table(self, name: str) -> _PgTable:
        return _PgTable(self, name)


def connect_pg(url: str) -> PgDatabase:
    """A PostgreSQL database on its own connection, in autocommit mode (transactions are explicit)."""
    import psycopg

    raw = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    raw.execute("SET synchronous_commit = on; SET TIME ZONE 'UTC'")
    return PgDatabase(raw)
