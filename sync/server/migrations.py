"""The server schema, built only through this ordered registry of migrations (each runs once)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlite_utils import Database

from sync.server.pg import WRITE_LOCK, is_postgres

__all__ = ["MIGRATIONS", "migrate"]


def _m001_core(db: Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key")
    db.execute("INSERT INTO meta(key, value) VALUES ('server_epoch', ?)", [str(uuid.uuid4())])
    db.execute("INSERT INTO meta(key, value) VALUES ('changes_floor', '0')")
    db.table("users").create(
        {
            "id": str,
            "username": str,
            "password_hash": str,
            "name": str,
            "role": str,
            "team": str,
            "districts": str,
            "experience_years": int,
            "active": int,
            "created_at": str,
        },
        pk="id",
        not_null={"username", "password_hash", "role", "team"},
        defaults={"active": 1},
    )
    db.table("users").create_index(["username"], unique=True)
    db.table("users").create_index(["team", "role"])
    db.table("devices").create(
        {
            "id": str,
            "user_id": str,
            "name": str,
            "created_at": str,
            "last_mutation_id": int,
            "last_sync_at": str,
            "last_pull_at": str,
            "revoked": int,
            "wipe": int,
            "revoked_at": str,
        },
        pk="id",
        foreign_keys=[("user_id", "users", "id")],
        defaults={"last_mutation_id": 0, "revoked": 0, "wipe": 0},
    )
    db.table("devices").create_index(["user_id"])
    db.table("tokens").create(
        {"hash": str, "device_id": str, "kind": str, "expires_at": float, "rotated": int, "created_at": str},
        pk="hash",
        foreign_keys=[("device_id", "devices", "id")],
        defaults={"rotated": 0},
    )
    db.table("tokens").create_index(["device_id", "kind"])
    db.table("mutations").create(
        {"device_id": str, "mutation_id": int, "status": str, "server_version": int, "error": str},
        pk=("device_id", "mutation_id"),
    )
    db.table("visits").create(
        {
            "id": str,
            "external_id": str,
            "team": str,
            "status": str,
            "district": str,
            "bucket": int,
            "priority": float,
            "dpd": int,
            "outstanding": str,
            "borrower_name": str,
            "planned_date": str,
            "data": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"external_id", "team", "status"},
    )
    db.table("visits").create_index(["external_id"], unique=True)
    db.table("visits").create_index(["team", "status"])
    db.table("visit_assignees").create(
        {"visit_id": str, "user_id": str, "active": int, "position": int, "assigned_at": str},
        pk=("visit_id", "user_id"),
        foreign_keys=[("visit_id", "visits", "id"), ("user_id", "users", "id")],
    )
    db.table("visit_assignees").create_index(["user_id", "active"])
    db.table("reports").create(
        {
            "id": str,
            "visit_id": str,
            "team": str,
            "status": str,
            "server_version": int,
            "current_version_id": str,
            "flags": str,
            "investigator_id": str,
            "outcome": str,
            "verdict": str,
            "visit_date": str,
            "visited_at": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("visit_id", "visits", "id")],
    )
    db.table("reports").create_index(["visit_id"])
    db.table("reports").create_index(["team", "status"])
    db.table("report_versions").create(
        {
            "version_id": str,
            "report_id": str,
            "server_version": int,
            "base_version": int,
            "content_sha256": str,
            "body": str,
            "result": str,
            "flags": str,
            "device_id": str,
            "user_id": str,
            "kind": str,
            "received_at": str,
        },
        pk="version_id",
        foreign_keys=[("report_id", "reports", "id")],
    )
    db.table("report_versions").create_index(["report_id"])
    db.table("report_blobs").create({"report_id": str, "sha256": str}, pk=("report_id", "sha256"))
    db.table("report_blobs").create_index(["sha256"])
    db.table("blobs").create({"sha256": str, "size": int, "data": bytes, "created_at": str}, pk="sha256")
    db.table("comments").create(
        {
            "id": int,
            "report_id": str,
            "at": str,
            "author_id": str,
            "action": str,
            "comment": str,
            "route": str,
            "server_version": int,
        },
        pk="id",
        foreign_keys=[("report_id", "reports", "id")],
    )
    db.table("comments").create_index(["report_id"])
    db.execute(
        "CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, "
        "type TEXT NOT NULL, op TEXT NOT NULL, entity_id TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX idx_changes_user_seq ON changes(user_id, seq)")
    db.execute(
        "CREATE TABLE feed (seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, report_id TEXT, "
        "visit_id TEXT, external_id TEXT, team TEXT, at TEXT NOT NULL, data TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX idx_feed_team_seq ON feed(team, seq)")
    db.execute(
        "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor_id TEXT, "
        "device_id TEXT, action TEXT NOT NULL, entity TEXT NOT NULL, entity_id TEXT, detail TEXT NOT NULL)"
    )
    if is_postgres(db):
        _m001_postgres(db)
        return
    # The audit log is append-only: the database itself refuses edits and deletions.
    db.execute(
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN "
        "SELECT RAISE(ABORT, 'audit log is append-only'); END"
    )
    db.execute(
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN "
        "SELECT RAISE(ABORT, 'audit log is append-only'); END"
    )


def _m001_postgres(db: Database) -> None:
    """What SQLite has built in: the append-only audit log's refusal (a trigger function instead of RAISE) and
    the insertion order (`rowid`) that reads of reports and their versions break ties with."""
    db.execute(
        "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$"
    )
    for op in ("update", "delete"):
        db.execute(
            f"CREATE TRIGGER audit_no_{op} BEFORE {op.upper()} ON audit "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
        )
    for table in ("reports", "report_versions"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY")


def _m002_review_list_indexes(db: Database) -> None:
    """GET /v1/reports at 100,000 reports: pages in `updated_at` order per team (and per state) straight from
    an index, per-state counts under any report filter from covering indexes (a supervisor's leads with the
    team, an admin's with the state), and the visit columns the list joins or searches from a covering index
    instead of the wide visit rows."""
    db.execute("CREATE INDEX idx_reports_team_updated ON reports(team, updated_at, id, visit_id)")
    db.execute("CREATE INDEX idx_reports_team_status_updated ON reports(team, status, updated_at, id)")
    db.execute("CREATE INDEX idx_reports_updated ON reports(updated_at, id, visit_id)")
    db.execute("CREATE INDEX idx_reports_status_updated ON reports(status, updated_at, id)")
    db.execute(
        "CREATE INDEX idx_reports_team_filters ON reports(team, status, outcome, verdict, visit_date, "
        "investigator_id, visit_id, id)"
    )
    db.execute(
        "CREATE INDEX idx_reports_status_filters ON reports(status, outcome, verdict, visit_date, investigator_id, "
        "visit_id, id)"
    )
    db.execute(
        "CREATE INDEX idx_visits_list ON visits(id, bucket, district, external_id, borrower_name, planned_date)"
    )


def _m003_refresh_grace(db: Database) -> None:
    """Refresh rotation with a grace window: when a refresh token was rotated, and the random salt its
    successor pair is derived from (together with the old token, which only its holder knows)."""
    db.execute("ALTER TABLE tokens ADD COLUMN rotated_at REAL")
    db.execute("ALTER TABLE tokens ADD COLUMN successor_salt TEXT")


def _m004_pull_scope_index(db: Database) -> None:
    """A collector's active assignments in visit order: a snapshot pull page is one range of this index
    (`visit_id > cursor`, already sorted) instead of all the collector's assignments sorted per page."""
    db.execute(
        "CREATE INDEX idx_visit_assignees_user_active_visit ON visit_assignees(user_id, active, visit_id)"
    )


def _m005_drop_redundant_report_index(db: Database) -> None:
    """reports(team, status) from 001 is a prefix of idx_reports_team_status_updated (and of
    idx_reports_team_filters) since 002: every lookup it served is served by those, so it only cost each
    report insert and state change one more B-tree write."""
    db.execute("DROP INDEX IF EXISTS idx_reports_team_status")


def _m006_lean_report_indexes(db: Database) -> None:
    """Every push writes each index of `reports`, and the six review-list indexes of 002 halved the push
    ceiling. Two covering indexes in `updated_at` order serve the list instead: one per team (a supervisor's
    scope), one over all teams (an admin's). Each carries every column the list filters or counts on, so the
    per-state counts under any report filter are one range scan of an index, and a page (with or without a
    state or report filter) is read in order straight from it, stopping at LIMIT (`updated_at DESC, id` is the
    list's own order, so not even ties are sorted). reports(visit_id) stays for pull and visit lookups."""
    for name in (
        "idx_reports_team_updated",
        "idx_reports_team_status_updated",
        "idx_reports_updated",
        "idx_reports_status_updated",
        "idx_reports_team_filters",
        "idx_reports_status_filters",
    ):
        db.execute(f"DROP INDEX IF EXISTS {name}")
    db.execute(
        "CREATE INDEX idx_reports_team_list ON reports(team, updated_at DESC, id, status, outcome, verdict, "
        "visit_date, investigator_id, visit_id)"
    )
    db.execute(
        "CREATE INDEX idx_reports_list ON reports(updated_at DESC, id, team, status, outcome, verdict, "
        "visit_date, investigator_id, visit_id)"
    )


def _m007_device_pull_position(db: Database) -> None:
    """Where each device's change log stands (the seq of the last cursor it pulled with), so that the log
    can be compacted below the oldest position a recently active device still needs."""
    db.execute("ALTER TABLE devices ADD COLUMN pull_seq INTEGER")


def _m008_sign_off_reason(db: Database) -> None:
    """The reason a supervisor gives when approving a report whose flags need a sign-off (P-3, P-4, A-6)."""
    db.execute("ALTER TABLE comments ADD COLUMN sign_off_reason TEXT")


def _m009_plans_promises_contact(db: Database) -> None:
    """Plans and promises followed after approval (P-6, §5.2), the loan system's repayments, and the contact
    rules' stops and clearances (R-14): the tables behind protocol.md v1.1 "Repayments, plans and promises
    tracked"."""
    db.execute(
        "CREATE TABLE repayments (payment_id TEXT PRIMARY KEY, visit_id TEXT NOT NULL REFERENCES visits(id), "
        "paid_on TEXT NOT NULL, amount TEXT NOT NULL, created_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX idx_repayments_visit ON repayments(visit_id, paid_on)")
    db.execute(
        "CREATE TABLE plan_tracking (report_id TEXT PRIMARY KEY REFERENCES reports(id), "
        "visit_id TEXT NOT NULL, state TEXT NOT NULL, paid TEXT NOT NULL, due_to_date TEXT NOT NULL, "
        "missed INTEGER NOT NULL, next_due_date TEXT, approved_at TEXT, updated_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX idx_plan_tracking_visit ON plan_tracking(visit_id)")
    db.execute(
        "CREATE TABLE promise_tracking (report_id TEXT PRIMARY KEY REFERENCES reports(id), "
        "visit_id TEXT NOT NULL, amount TEXT NOT NULL, date TEXT NOT NULL, state TEXT NOT NULL, "
        "updated_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX idx_promise_tracking_visit ON promise_tracking(visit_id)")
    db.execute(
        "CREATE TABLE contact_events (id INTEGER PRIMARY KEY AUTOINCREMENT, visit_id TEXT NOT NULL, "
        "kind TEXT NOT NULL, source TEXT NOT NULL, at TEXT NOT NULL, actor_id TEXT, comment TEXT)"
    )
    db.execute("CREATE INDEX idx_contact_events_visit ON contact_events(visit_id, id)")
    db.execute(
        "CREATE TABLE account_reopened (visit_id TEXT PRIMARY KEY, reason TEXT NOT NULL, report_id TEXT, "
        "at TEXT NOT NULL)"
    )


def _m010_blob_uploads(db: Database) -> None:
    """Resumable blob uploads (protocol v1.1 "Resumable blob uploads"): how many bytes of each caller's
    upload of a hash the server holds (the bytes are in a file beside the database) and when it last grew,
    for expiry."""
    db.execute(
        "CREATE TABLE blob_uploads (user_id TEXT NOT NULL, sha256 TEXT NOT NULL, length INTEGER NOT NULL, "
        '"offset" INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, '
        "PRIMARY KEY (user_id, sha256))"
    )
    db.execute("CREATE INDEX idx_blob_uploads_updated ON blob_uploads(updated_at)")


def _m011_shared_state(db: Database) -> None:
    """State every server process sees (protocol v1.1 "Several workers"): blob bytes leave the database
    for the blob store, with the deletions still to be done in the store queued here; failed sign-ins
    (and attempts being checked) are counted here instead of in each process's memory."""
    db.execute("CREATE TABLE blob_deletions (sha256 TEXT PRIMARY KEY, queued_at TEXT NOT NULL)")
    db.execute("CREATE INDEX idx_blob_deletions_queued ON blob_deletions(queued_at)")
    # One row per attempt and limit it counts against (`scope` account or client); `failed` 0 while the
    # password is being checked. Times are Unix seconds on the server's wall clock.
    db.execute(
        "CREATE TABLE login_attempts (id INTEGER PRIMARY KEY, scope TEXT NOT NULL, key TEXT NOT NULL, "
        "at REAL NOT NULL, failed INTEGER NOT NULL DEFAULT 0, attempt TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX idx_login_attempts_key ON login_attempts(scope, key, at)")
    db.execute("CREATE INDEX idx_login_attempts_attempt ON login_attempts(attempt)")
    db.execute("CREATE INDEX idx_login_attempts_at ON login_attempts(at)")


MIGRATIONS: list[tuple[str, Callable[[Database], None]]] = [
    ("001_core", _m001_core),
    ("002_review_list_indexes", _m002_review_list_indexes),
    ("003_refresh_grace", _m003_refresh_grace),
    ("004_pull_scope_index", _m004_pull_scope_index),
    ("005_drop_redundant_report_index", _m005_drop_redundant_report_index),
    ("006_lean_report_indexes", _m006_lean_report_indexes),
    ("007_device_pull_position", _m007_device_pull_position),
    ("008_sign_off_reason", _m008_sign_off_reason),
    ("009_plans_promises_contact", _m009_plans_promises_contact),
    ("010_blob_uploads", _m010_blob_uploads),
    ("011_shared_state", _m011_shared_state),
]


def migrate(db: Database) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction; returns the names applied."""
    if is_postgres(db):
        # Several workers start at once: one migrates while the others wait, then find nothing to do.
        db.execute("SELECT pg_advisory_lock(?)", [WRITE_LOCK])
        try:
            return _migrate(db)
        finally:
            db.execute("SELECT pg_advisory_unlock(?)", [WRITE_LOCK])
    return _migrate(db)


def _migrate(db: Database) -> list[str]:
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    applied: list[str] = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            fn(db)
            db.execute(
                "INSERT INTO _migrations(name, applied_at) VALUES (?, ?)",
                [name, datetime.now(UTC).isoformat()],
            )
            db.execute("COMMIT")
        except BaseException:
            db.conn.rollback()
            raise
        applied.append(name)
    return applied
