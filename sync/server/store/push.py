"""Applying a device's pushed mutations (protocol "Push"): ordering, idempotency, conflicts and flags.

Every mutation runs under its own savepoint together with the device's `last_mutation_id`, so a failure
inside one mutation leaves the others and the counter consistent. Field truth is stored and flagged, not
refused; only malformed reports, unknown visits and hash or version-id clashes are rejected.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlite_utils import Database

from models.codes import FINAL_STATES
from models.ids import new_id
from models.privacy import business_day
from models.report import VisitReport
from models.rules import DEFAULT_SETTINGS, CaseContext, Evaluation, RuleSettings, evaluate, warm
from models.wire import Mutation
from sync.server.canonical import canonical_json_parsed
from sync.server.db import read_each
from sync.server.errors import NUL_ESCAPE_BYTES, ApiError, nul_detail, nul_path, validation_details
from sync.server.store.common import Principal, dumps, loads
from sync.server.store.state import missing_blobs, review_state
from sync.server.store.users import PUSHER_SQL, confirm_pusher

__all__ = [
    "REPORT_KINDS",
    "MutationIn",
    "Prepared",
    "VisitCase",
    "apply_push",
    "case_context",
    "prepare",
    "visit_case",
    "visit_cases",
]

log = logging.getLogger("fieldvisit.server.push")

REPORT_KINDS = frozenset({"submit_report", "resubmit_report", "amend_report"})
_SHA = re.compile(r"^[0-9a-f]{64}$")
_FINAL = {s.value for s in FINAL_STATES}
MAX_VERSION = 2**63 - 1  # versions are 64-bit integers in the database


@dataclass(slots=True)
class Prepared:
    """The database-free part of a report mutation, computed off the writer thread."""

    sha256: str = ""
    report: VisitReport | None = None
    body: str = ""
    rejection: tuple[str, list[Any]] | None = None
    # The visit as read before the writer (`visit_cases`), the rule book's evaluation against it and the
    # day it was evaluated for: the writer reuses both while the visit reads the same.
    visit: VisitCase | None = None
    evaluation: Evaluation | None = None
    evaluated_for: date | None = None


@dataclass(slots=True)
class MutationIn:
    """A pushed `models.wire.Mutation` (validated once, with the push body) and its `Prepared` part. The
    wire fields read through to the mutation, so the push path copies and re-validates nothing."""

    mutation: Mutation
    prepared: Prepared | None = None

    @property
    def mutation_id(self) -> int:
        return self.mutation.mutation_id

    @property
    def kind(self) -> str:
        return self.mutation.kind

    @property
    def report_id(self) -> str | None:
        return self.mutation.report_id

    @property
    def version_id(self) -> str | None:
        return self.mutation.version_id

    @property
    def base_version(self) -> int:
        return self.mutation.base_version

    @property
    def content_sha256(self) -> str | None:
        return self.mutation.content_sha256

    @property
    def blobs(self) -> list[str]:
        return self.mutation.blobs

    @property
    def report(self) -> Any:
        return self.mutation.report


def prepare(
    m: MutationIn,
    *,
    now: datetime,
    rules: RuleSettings = DEFAULT_SETTINGS,
    cases: dict[str, VisitCase] | None = None,
) -> MutationIn:
    """Hash, validate and recompute the plan of one mutation; safe to run on any thread. `m.report` is the
    value as received, parsed by `models.canonical.loads_json` (as the push route does) or built of JSON
    types without floats, so that its canonical JSON may take the fast path. With `cases` (`visit_cases`
    for the push's visits, read before the writer) the whole rule book is evaluated here, off the writer.
    The rule book's "today" is the day at the visit address at `now` (the app's, too)."""
    p = Prepared()
    m.prepared = p
    if m.kind not in REPORT_KINDS:
        p.rejection = ("validation", [{"loc": ["kind"], "msg": f"unsupported kind {m.kind!r}"}])
        return m
    raw = m.report
    if not isinstance(raw, dict):
        p.rejection = ("validation", [{"loc": ["report"], "msg": "a report object is required"}])
        return m
    try:
        # Reports reach here parsed by loads_json (the push route), which is what the fast path needs.
        body = canonical_json_parsed(raw)
    except UnicodeEncodeError:
        p.rejection = ("validation", [{"loc": ["report"], "msg": "text that is not valid Unicode"}])
        return m
    p.sha256 = hashlib.sha256(body).hexdigest()
    p.body = body.decode("utf-8")
    if m.content_sha256 is not None and m.content_sha256.lower() != p.sha256:
        p.rejection = ("hash_mismatch", [{"loc": ["content_sha256"], "msg": "does not match the report"}])
        return m
    # No field holds U+0000 and PostgreSQL text cannot: a malformed report. Its canonical JSON is searched
    # first, the report walked only when that spells the character.
    if NUL_ESCAPE_BYTES in body and (loc := nul_path(raw)) is not None:
        p.rejection = ("validation", [nul_detail(["report", *loc])])
        return m
    if m.version_id is not None and "\x00" in m.version_id:
        p.rejection = ("validation", [nul_detail(["version_id"])])
        return m
    if m.base_version > MAX_VERSION:
        p.rejection = (
            "validation",
            [{"loc": ["base_version"], "msg": "is not a version this server issued"}],
        )
        return m
    try:
        report = VisitReport.model_validate(raw)
    except ValidationError as exc:
        details = validation_details(exc.errors())
        for d in details:
            d["loc"] = ["report", *d["loc"]]
        p.rejection = ("validation", details)
        return m
    if m.report_id is not None and m.report_id.lower() != report.report_id:
        p.rejection = ("validation", [{"loc": ["report_id"], "msg": "differs from report.report_id"}])
        return m
    bad = [i for i, b in enumerate(m.blobs) if not _SHA.match(b.lower())]
    if bad:
        p.rejection = ("validation", [{"loc": ["blobs", i], "msg": "not a SHA-256 hex digest"} for i in bad])
        return m
    p.report = report
    found = cases.get(report.visit_id) if cases is not None else None
    if found is not None and found.case is not None:
        today = business_day(now, found.case.timezone)
        p.visit, p.evaluated_for = found, today
        p.evaluation = evaluate(report, found.case, rules, today=today)
    else:
        # The rule book's dear parts (the plan's schedule and IRR, the household's minimum-term search)
        # computed here, off the writer thread, for the writer's evaluation to find them remembered.
        warm(report, rules, today=business_day(now))
    return m


def _result(mid: int, status: str, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "mutation_id": mid,
        "status": status,
        "server_version": None,
        "missing_blobs": [],
        "flags": [],
        "error": None,
        "details": [],
        "server_copy": None,
        "original": None,
    }
    out.update(kw)
    return out


def _rejected(mid: int, error: str, details: list[Any] | None = None) -> dict[str, Any]:
    return _result(mid, "rejected", error=error, details=details or [])


class _Log:
    """Rows every applied mutation appends (change log, audit, mutation results): written once per push
    with executemany, in the same transaction as the mutations themselves."""

    __slots__ = ("audit", "changes", "mutations", "results")

    def __init__(self) -> None:
        self.changes: list[tuple[str, str, str, str]] = []
        self.audit: list[tuple[Any, ...]] = []
        self.mutations: list[tuple[Any, ...]] = []
        self.results: dict[int, tuple[Any, Any, Any]] = {}


class _MutationFailed(Exception):
    """A mutation raised while applied without its own savepoint: the push is redone with savepoints."""


_VERSION_COLUMNS = "report_id, content_sha256, result, server_version, flags"


def _where_in(column: str, ids: set[str]) -> tuple[str, list[Any]]:
    """`column = ?` for one ID, an IN-list of one JSON parameter for several."""
    if len(ids) == 1:
        return f"{column} = ?", list(ids)
    return f"{column} IN (SELECT value FROM json_each(?))", [json.dumps(sorted(ids))]


class _Reads:
    """The rows a push's mutations look up (their visits with the assignees, reports and versions), read for
    the whole batch at once: four queries (on PostgreSQL one round trip) instead of four per mutation. A row
    is taken from the batch's read the first time only: a later mutation of the same push may follow one
    that wrote it, so it reads the row again on its own. With `credential`, the caller's row
    (`store.users.PUSHER_SQL`: its token, device and account, the device's last mutation and the epoch) is
    read in the same round trip, as `caller`."""

    __slots__ = ("batched", "caller", "conn", "people", "reports", "used", "versions", "visits")

    def __init__(self, conn: Any, mutations: list[MutationIn], *, credential: str | None = None) -> None:
        self.conn = conn
        self.visits: dict[str, tuple[Any, ...]] = {}
        self.people: dict[str, tuple[tuple[Any, ...], ...]] = {}
        self.reports: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, tuple[Any, ...]] = {}
        self.used: set[tuple[str, str]] = set()
        self.caller: tuple[Any, ...] | None = None
        visit_ids: set[str] = set()
        report_ids: set[str] = set()
        version_ids: set[str] = set()
        for m in mutations:
            report = m.prepared.report if m.prepared is not None else None
            if report is None:
                continue
            visit_ids.add(report.visit_id)
            report_ids.add(report.report_id)
            if m.version_id:
                version_ids.add(m.version_id.lower())
        self.batched = bool(report_ids)
        statements = [(PUSHER_SQL, [credential])] if credential is not None else []
        if self.batched:
            statements += _visits_statements(visit_ids)
            where, params = _where_in("id", report_ids)
            statements.append((f"SELECT * FROM reports WHERE {where}", params))
            if version_ids:
                where, params = _where_in("version_id", version_ids)
                statements.append(
                    (f"SELECT version_id, {_VERSION_COLUMNS} FROM report_versions WHERE {where}", params)
                )
        if not statements:
            return
        answers = read_each(conn, statements)
        if credential is not None:
            found = answers.pop(0)[1]
            self.caller = tuple(found[0]) if found else None
        if not self.batched:
            return
        self.visits, self.people = _visits_rows(answers[0][1], answers[1][1])
        names, rows = answers[2]
        for row in rows:
            found_report = dict(zip(names, row, strict=True))
            self.reports[found_report["id"]] = found_report
        if version_ids:
            self.versions = {r[0]: tuple(r[1:]) for r in answers[3][1]}

    def _first(self, kind: str, key: str) -> bool:
        if not self.batched or (kind, key) in self.used:
            return False
        self.used.add((kind, key))
        return True

    def visit(self, visit_id: str) -> tuple[tuple[Any, ...] | None, tuple[tuple[Any, ...], ...]]:
        """The visit's row (`id, team, status, {_VISIT_CASE_SQL}`) and its assignee rows by user id."""
        if self._first("visit", visit_id):
            return self.visits.get(visit_id), self.people.get(visit_id, ())
        row = self.conn.execute(_VISIT_BY_ID_SQL, [visit_id]).fetchone()
        if row is None:
            return None, ()
        return row, tuple(self.conn.execute(_ASSIGNEES_SQL, [visit_id]).fetchall())

    def report(self, report_id: str) -> dict[str, Any] | None:
        if self._first("report", report_id):
            return self.reports.get(report_id)
        cur = self.conn.execute("SELECT * FROM reports WHERE id = ?", [report_id])
        found = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], found, strict=True)) if found else None

    def version(self, version_id: str) -> tuple[Any, ...] | None:
        """`(report_id, content_sha256, result, server_version, flags)` of a stored version."""
        if self._first("version", version_id):
            return self.versions.get(version_id)
        return self.conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM report_versions WHERE version_id = ?", [version_id]
        ).fetchone()


def apply_push(
    db: Database,
    *,
    actor: Principal,
    mutations: list[MutationIn],
    now: datetime,
    rules: RuleSettings = DEFAULT_SETTINGS,
    server_epoch: str | None = None,
) -> dict[str, Any]:
    """Apply mutations in order; returns `{"last_mutation_id", "results", "gap", "server_epoch"}` (gap =
    expected id or None).

    The caller is confirmed first, inside the transaction, by the token it came with (`actor.credential`): a
    revocation, a rotation, a disabled account or a restore committed by any process after the request was
    let in is seen here, and the push is refused whole with the answer the door would give now (401, or 410
    `reset_required` when `server_epoch`, the device's, is no longer the server's). The account's role and
    team are taken as they are now.

    Every mutation is atomic together with `last_mutation_id`. A savepoint per mutation costs a copy of
    every page it touches (each index of `reports`...), so the push is first applied under one savepoint;
    should any mutation raise, that attempt is rolled back and the push is applied again with a savepoint
    per mutation, where the failing one alone rolls back and is answered `rejected` (`internal`).
    """
    conn = db.conn
    # The caller's row is read with the rows the mutations look up (one round trip on PostgreSQL); those of
    # mutations already applied are read for nothing, which costs less than a round trip of its own.
    reads = _Reads(conn, mutations, credential=actor.credential)
    actor, first, epoch = confirm_pusher(reads.caller, now=now, credential=actor.credential)
    if server_epoch is not None and server_epoch != epoch:
        raise ApiError(
            410,
            "reset_required",
            "the server was restored; re-register this device",
            extra={"server_epoch": epoch},
        )
    conn.execute("SAVEPOINT push")
    try:
        try:
            out = _apply_all(db, actor, mutations, now, rules, last=first, isolate=False, reads=reads)
        except _MutationFailed:
            conn.execute("ROLLBACK TO push")
            out = _apply_all(db, actor, mutations, now, rules, last=first, isolate=True)
    except BaseException:
        conn.execute("ROLLBACK TO push")
        conn.execute("RELEASE push")
        raise
    conn.execute("RELEASE push")
    out["server_epoch"] = epoch
    return out


def _apply_all(
    db: Database,
    actor: Principal,
    mutations: list[MutationIn],
    now: datetime,
    rules: RuleSettings,
    *,
    last: int,
    isolate: bool,
    reads: _Reads | None = None,
) -> dict[str, Any]:
    conn = db.conn
    results: list[dict[str, Any]] = []
    gap: int | None = None
    log_rows = _Log()
    if reads is None:  # applied again after a failure: read afresh
        reads = _Reads(conn, [m for m in mutations if m.mutation_id > last])
    for m in mutations:
        mid = m.mutation_id
        if mid <= last:
            orig = log_rows.results.get(mid)
            if orig is None:
                orig = conn.execute(
                    "SELECT status, server_version, error FROM mutations WHERE device_id = ? AND mutation_id = ?",
                    [actor.device_id, mid],
                ).fetchone()
            original = {"status": orig[0], "server_version": orig[1], "error": orig[2]} if orig else None
            results.append(
                _result(mid, "duplicate", server_version=orig[1] if orig else None, original=original)
            )
            continue
        if mid > last + 1:
            gap = last + 1
            break
        pending = _Log()
        if isolate:
            conn.execute("SAVEPOINT mutation")
            try:
                res = _apply_one(db, actor, m, now, pending, rules, reads)
            except Exception as exc:
                conn.execute("ROLLBACK TO mutation")
                log.error("mutation %s of device %s failed: %s", mid, actor.device_id, type(exc).__name__)
                res = _rejected(mid, "internal")
                pending = _Log()
            conn.execute("RELEASE mutation")
        else:
            try:
                res = _apply_one(db, actor, m, now, pending, rules, reads)
            except Exception as exc:
                raise _MutationFailed(mid) from exc
        log_rows.changes += pending.changes
        log_rows.audit += pending.audit
        outcome = (res["status"], res["server_version"], res["error"])
        log_rows.mutations.append((actor.device_id, mid, *outcome))
        log_rows.results[mid] = outcome
        last = mid
        results.append(res)
    try:
        _write_log(conn, log_rows, actor=actor, last=last, now=now)
    except Exception as exc:
        if isolate:
            raise
        raise _MutationFailed(last) from exc
    return {"last_mutation_id": last, "results": results, "gap": gap}


def _write_log(conn: Any, log_rows: _Log, *, actor: Principal, last: int, now: datetime) -> None:
    """The rows every applied mutation appends, and the device's counter. On PostgreSQL these writes, and the
    mutations' own, are held back and go with the commit; should one fail there, the writer runs the push
    once more sending each write as it is made (`sync.server.db`), where a failure here or in a mutation
    raises `_MutationFailed` and the push is applied again with a savepoint per mutation."""
    if log_rows.changes:
        conn.executemany(
            "INSERT INTO changes(user_id, type, op, entity_id) VALUES (?, ?, ?, ?)", log_rows.changes
        )
    if log_rows.audit:
        conn.executemany(
            "INSERT INTO audit(at, actor_id, device_id, action, entity, entity_id, detail) VALUES (?,?,?,?,?,?,?)",
            log_rows.audit,
        )
    if log_rows.mutations:
        conn.executemany(
            "INSERT INTO mutations(device_id, mutation_id, status, server_version, error) VALUES (?,?,?,?,?)",
            log_rows.mutations,
        )
    conn.execute(
        "UPDATE devices SET last_mutation_id = ?, last_sync_at = ? WHERE id = ?",
        [last, now.isoformat(), actor.device_id],
    )


@dataclass(frozen=True, slots=True)
class VisitCase:
    """A visit as the push reads it for one caller: its row (`id, team, status` and `_VISIT_CASE_SQL`), its
    assignee rows (`user_id, active, position` by user id), the caller's assignment row, the active
    collectors (lead first) and the rule book's context (None when the caller is not assigned)."""

    row: tuple[Any, ...]
    people: tuple[tuple[Any, ...], ...]
    assignment: tuple[Any, ...] | None
    assigned: list[str]
    case: CaseContext | None


_ASSIGNEES_SQL = "SELECT user_id, active, position FROM visit_assignees WHERE visit_id = ? ORDER BY user_id"


def visit_case(row: Any, people: tuple[tuple[Any, ...], ...], user_id: str) -> VisitCase:
    """`row` from `SELECT id, team, status, {_VISIT_CASE_SQL}`, `people` the visit's `(user_id, active,
    position)` assignee rows ordered by user id."""
    assignment = next((r for r in people if r[0] == user_id), None)
    # As state.collectors() orders them: position (NULL first), then user id.
    assigned = [
        r[0]
        for r in sorted((r for r in people if r[1] == 1), key=lambda r: (r[2] is not None, r[2] or 0, r[0]))
    ]
    case = (
        case_context(tuple(row[3:]), assigned=assigned, caller_active=bool(assignment[1]))
        if assignment
        else None
    )
    return VisitCase(tuple(row), people, assignment, assigned, case)


def visit_cases(db: Database, *, visit_ids: list[str], user_id: str) -> dict[str, VisitCase]:
    """The push's visits as `_apply_one` will read them, in two queries: read before the writer, so that
    the rule book is evaluated off it (the writer reads them again and reuses an evaluation only when
    nothing changed in between)."""
    rows, people = _visits_read(db.conn, visit_ids)
    return {vid: visit_case(row, people.get(vid, ()), user_id) for vid, row in rows.items()}


def _visits_read(
    conn: Any, visit_ids: Iterable[str]
) -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[tuple[Any, ...], ...]]]:
    """Visits by id as `SELECT id, team, status, {_VISIT_CASE_SQL}` and their assignee rows by user id, in
    two queries (on PostgreSQL one round trip)."""
    (_, rows), (_, people) = read_each(conn, _visits_statements(set(visit_ids)))
    return _visits_rows(rows, people)


def _visits_statements(visit_ids: set[str]) -> list[tuple[str, list[Any]]]:
    if not visit_ids:
        visit_ids = {""}  # no visit has an empty ID: two empty answers
    where, params = _where_in("id", visit_ids)
    people_where, people_params = _where_in("visit_id", visit_ids)
    return [
        (f"SELECT id, team, status, {_VISIT_CASE_SQL} FROM visits WHERE {where}", params),
        (
            "SELECT visit_id, user_id, active, position FROM visit_assignees "
            f"WHERE {people_where} ORDER BY visit_id, user_id",
            people_params,
        ),
    ]


def _visits_rows(
    rows: list[Any], assignees: list[Any]
) -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[tuple[Any, ...], ...]]]:
    people: dict[str, list[tuple[Any, ...]]] = {}
    for visit_id, *rest in assignees:
        people.setdefault(visit_id, []).append(tuple(rest))
    return {r[0]: tuple(r) for r in rows}, {k: tuple(v) for k, v in people.items()}


def case_context(row: Any, *, assigned: list[str] | None, caller_active: bool = True) -> CaseContext:
    """The rule book's view of a visit from its row: `(planned_date, [tz, product_type, outstanding_principal,
    monthly_rate] as JSON)` as `_VISIT_CASE_SQL` selects them. Remembered by its inputs: a push brings many
    reports of few visits' kinds, and a context is immutable."""
    key = (tuple(row), None if assigned is None else tuple(assigned), caller_active)
    found = _CASES.get(key)
    if found is None:
        if len(_CASES) >= 4096:
            _CASES.clear()
        found = _CASES[key] = _case_context(row, assigned=assigned, caller_active=caller_active)
    return found


_CASES: dict[tuple[Any, ...], CaseContext] = {}


def _case_context(row: Any, *, assigned: list[str] | None, caller_active: bool) -> CaseContext:
    planned, extracted = row
    tz, product, outstanding, rate = json.loads(extracted) if extracted else (None, None, None, None)
    return CaseContext.model_construct(
        product_type=product,
        outstanding_principal=None if outstanding is None else Decimal(str(outstanding)),
        contractual_monthly_rate=None if rate is None else Decimal(str(rate)),
        timezone=tz or _DEFAULT_TZ,
        planned_date=date.fromisoformat(planned) if planned else None,
        assigned=None if assigned is None else tuple(assigned),
        caller_active=caller_active,
    )


# One json_extract with several paths parses the visit's document once (a case's JSON is kilobytes).
_VISIT_CASE_SQL = (
    "planned_date, json_extract(data, '$.borrower.timezone', '$.loan.product_type', "
    "'$.loan.outstanding_principal', '$.loan.monthly_rate')"
)
_VISIT_BY_ID_SQL = f"SELECT id, team, status, {_VISIT_CASE_SQL} FROM visits WHERE id = ?"


def _server_copy(db: Database, report: dict[str, Any]) -> dict[str, Any]:
    return review_state(db, report)


_DEFAULT_TZ = "Asia/Shanghai"


def _apply_one(
    db: Database,
    actor: Principal,
    m: MutationIn,
    now: datetime,
    out: _Log,
    rules: RuleSettings,
    reads: _Reads,
) -> dict[str, Any]:
    mid = m.mutation_id
    p = m.prepared if m.prepared is not None else prepare(m, now=now, rules=rules).prepared
    assert p is not None
    if p.rejection is not None:
        return _rejected(mid, *p.rejection)
    report = p.report
    assert report is not None
    computed = p.sha256
    conn = db.conn

    # The assignee rows answer both the caller's assignment and the visit's current collectors.
    found_visit, people = reads.visit(report.visit_id)
    if found_visit is None:
        return _rejected(mid, "not_found", [{"loc": ["report", "visit_id"], "msg": "no such visit"}])
    vc = p.visit
    # Read before the writer and unchanged since (the case's columns and the assignees; the status may
    # have moved on, the rules do not read it): its evaluation stands.
    fresh = vc is None or vc.row[3:] != found_visit[3:] or vc.people != people
    if vc is None or fresh:
        vc = visit_case(found_visit, people, actor.user_id)
    if vc.assignment is None or vc.case is None:
        return _rejected(mid, "not_found", [{"loc": ["report", "visit_id"], "msg": "no such visit"}])
    visit = {
        "id": found_visit[0],
        "team": found_visit[1],
        "status": found_visit[2],
    }
    existing = reads.report(report.report_id)
    if existing is not None and existing["visit_id"] != report.visit_id:
        return _rejected(mid, "not_found", [{"loc": ["report", "report_id"], "msg": "no such report"}])

    version_id = (m.version_id or new_id()).lower()
    known = reads.version(version_id)
    if known is not None:
        if known[0] != report.report_id or known[1] != computed:
            return _rejected(
                mid, "version_id_reused", [{"loc": ["version_id"], "msg": "already used for other content"}]
            )
        assert existing is not None
        missing = missing_blobs(db, report.report_id)
        if known[2] == "conflict":
            return _result(
                mid,
                "conflict",
                server_version=existing["server_version"],
                flags=loads(known[4], []),
                missing_blobs=missing,
                server_copy=_server_copy(db, existing),
            )
        return _result(
            mid, "applied", server_version=known[3], flags=loads(known[4], []), missing_blobs=missing
        )

    assigned, case = vc.assigned, vc.case
    # Evaluated before the writer against the same visit, collectors and day: nothing to do again.
    today = business_day(now, case.timezone)
    evaluation: Evaluation = (
        p.evaluation
        if not fresh and p.evaluation is not None and p.evaluated_for == today
        else evaluate(report, case, rules, today=today)
    )
    flags = evaluation.flags
    blobs = sorted({b.lower() for b in m.blobs} | {a.sha256 for a in report.attachments})
    missing = []
    if blobs:
        conn.executemany(
            "INSERT OR IGNORE INTO report_blobs(report_id, sha256) VALUES (?, ?)",
            [(report.report_id, b) for b in blobs],
        )
        missing = [
            b for b in blobs if conn.execute("SELECT 1 FROM blobs WHERE sha256 = ?", [b]).fetchone() is None
        ]
    ts = now.isoformat()
    body = p.body
    flags_json = dumps(flags)

    def version(result: str, server_version: int | None, vflags_json: str) -> None:
        conn.execute(
            "INSERT INTO report_versions(version_id, report_id, server_version, base_version, content_sha256, "
            "body, result, flags, device_id, user_id, kind, received_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                version_id,
                report.report_id,
                server_version,
                m.base_version,
                computed,
                body,
                result,
                vflags_json,
                actor.device_id,
                actor.user_id,
                m.kind,
                ts,
            ],
        )

    def audit(action: str, detail: dict[str, Any]) -> None:
        out.audit.append(
            (ts, actor.user_id, actor.device_id, action, "report", report.report_id, dumps(detail))
        )

    def changed() -> None:
        # Every collector's device learns of the new current version (protocol "Pull").
        out.changes += [(uid, "report_review", "put", report.report_id) for uid in assigned]

    tz = case.timezone
    visited_at = report.checkin.at if report.checkin else report.created_at
    visit_date = business_day(visited_at or now, tz).isoformat()
    outcome = report.outcome.value if report.outcome else None
    verdict = evaluation.assessment.verdict if evaluation.assessment is not None else None

    if existing is None:
        conn.execute(
            "INSERT INTO reports(id, visit_id, team, status, server_version, current_version_id, flags, "
            "investigator_id, outcome, verdict, visit_date, visited_at, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                report.report_id,
                report.visit_id,
                visit["team"],
                "submitted",
                1,
                version_id,
                flags_json,
                actor.user_id,
                outcome,
                verdict,
                visit_date,
                visited_at.isoformat() if visited_at else None,
                ts,
                ts,
            ],
        )
        version("applied", 1, flags_json)
        if visit["status"] in ("open", "assigned"):
            conn.execute(
                "UPDATE visits SET status = 'visited', updated_at = ? WHERE id = ?", [ts, visit["id"]]
            )
        changed()
        audit("report.submit", {"version_id": version_id, "server_version": 1})
        return _result(mid, "applied", server_version=1, flags=flags, missing_blobs=missing)

    if existing["status"] in _FINAL or m.base_version != existing["server_version"]:
        if existing["status"] in _FINAL:
            flags = [*flags, "report_final"]
        version("conflict", None, dumps(flags))
        audit("report.conflict", {"version_id": version_id, "base_version": m.base_version})
        return _result(
            mid,
            "conflict",
            server_version=existing["server_version"],
            flags=flags,
            missing_blobs=missing,
            server_copy=_server_copy(db, existing),
        )

    new_status = "resubmitted" if existing["status"] == "returned" else existing["status"]
    sv = existing["server_version"] + 1
    conn.execute(
        "UPDATE reports SET status = ?, server_version = ?, current_version_id = ?, flags = ?, outcome = ?, "
        "verdict = ?, visit_date = ?, visited_at = ?, updated_at = ? WHERE id = ?",
        [
            new_status,
            sv,
            version_id,
            flags_json,
            outcome,
            verdict,
            visit_date,
            visited_at.isoformat() if visited_at else None,
            ts,
            report.report_id,
        ],
    )
    version("applied", sv, flags_json)
    changed()
    audit(
        "report.resubmit" if new_status == "resubmitted" else "report.amend",
        {"version_id": version_id, "server_version": sv},
    )
    return _result(mid, "applied", server_version=sv, flags=flags, missing_blobs=missing)
