"""The device database's schema, built only through this ordered migrations registry (applied at open).

Applied migrations are recorded in sqlite-utils' `_sqlite_migrations` table; never edit a released one.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

__all__ = ["MIGRATION_SET", "apply_migrations", "migrations"]

MIGRATION_SET = "fieldvisit-device"
migrations = Migrations(MIGRATION_SET)


@migrations(name="0001_sync_state")
def _sync_state(db: Database) -> None:
    db.table("sync_state").create(
        {
            "id": int,
            "device_id": str,
            "user_id": str,
            "server_url": str,
            "next_mutation_id": int,
            "pull_cursor": str,
            "server_epoch": str,
            "last_sync_at": str,
            "last_error": str,
        },
        pk="id",
        not_null={"next_mutation_id"},
        defaults={"next_mutation_id": 1},
    )
    db.table("sync_state").insert({"id": 1, "next_mutation_id": 1})


@migrations(name="0002_visits")
def _visits(db: Database) -> None:
    # Narrow, denormalised rows for the queue; an INTEGER PRIMARY KEY keeps rowids stable for the FTS index.
    db.table("visits").create(
        {
            "id": int,
            "visit_id": str,
            "external_id": str,
            "team": str,
            "status": str,
            "priority": str,
            "priority_milli": int,
            "bucket": int,
            "dpd": int,
            "district": str,
            "planned_date": str,
            "product_type": str,
            "overdue_amount": str,
            "name": str,
            "masked_name": str,
            "phone_tail": str,
            "masked_phone": str,
            "id_tail": str,
            "address": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"visit_id", "status", "priority_milli", "bucket"},
    )
    visits = db.table("visits")
    visits.create_index(["visit_id"], unique=True)
    visits.create_index(["external_id"])
    # (0004 replaces the four priority indexes by ones that also order equal priorities by account.)
    visits.create_index(["priority_milli"])
    visits.create_index(["status", "priority_milli"])
    visits.create_index(["bucket", "priority_milli"])
    visits.create_index(["district", "priority_milli"])
    visits.create_index(["name"])  # covering index: short name searches scan it, not the table
    visits.create_index(["phone_tail"])
    visits.create_index(["id_tail"])
    # The full Visit lives apart so that scans of the queue columns never page through large JSON.
    db.table("visit_docs").create({"visit_id": str, "data": str}, pk="visit_id", not_null={"data"})
    # Trigram index: substring search on names and addresses in any script. The store keeps it current
    # batch by batch (rather than by per-row triggers, several times slower on a 100,000-visit snapshot).
    visits.enable_fts(["name", "address"], tokenize="trigram", create_triggers=False)


@migrations(name="0003_drafts_reports_outbox")
def _reports(db: Database) -> None:
    db.table("drafts").create(
        {"report_id": str, "visit_id": str, "data": str, "updated_at": str},
        pk="report_id",
        not_null={"data", "updated_at"},
    )
    db.table("drafts").create_index(["visit_id"])
    db.table("attachments").create(
        {
            "sha256": str,
            "kind": str,
            "mime": str,
            "filename": str,
            "size_bytes": int,
            "captured_at": str,
            "created_at": str,
            "uploaded_at": str,
        },
        pk="sha256",
        not_null={"size_bytes", "created_at"},
    )
    db.table("reports").create(
        {
            "report_id": str,
            "visit_id": str,
            "status": str,
            "sync_status": str,
            "review_status": str,
            "server_version": int,
            "current_version_id": str,
            "comments": str,
            "flags": str,
            "missing_blobs": str,
            "error": str,
            "details": str,
            "server_copy": str,
            "updated_at": str,
        },
        pk="report_id",
        not_null={"status", "sync_status", "server_version", "updated_at"},
        defaults={
            "server_version": 0,
            "comments": "[]",
            "flags": "[]",
            "missing_blobs": "[]",
            "details": "[]",
        },
    )
    db.table("reports").create_index(["visit_id", "updated_at"])
    db.table("reports").create_index(["status"])
    # `seq` orders a device's versions; the outbox replays them in that order after an epoch change.
    db.table("report_versions").create(
        {
            "seq": int,
            "version_id": str,
            "report_id": str,
            "kind": str,
            "base_version": int,
            "content": str,
            "content_sha256": str,
            "blobs": str,
            "state": str,
            "server_version": int,
            "error": str,
            "created_at": str,
        },
        pk="seq",
        not_null={"version_id", "report_id", "content", "content_sha256", "base_version", "state"},
        foreign_keys=[("report_id", "reports", "report_id")],
    )
    db.table("report_versions").create_index(["version_id"], unique=True)
    db.table("report_versions").create_index(["report_id", "seq"])
    db.table("outbox").create(
        {
            "mutation_id": int,
            "version_id": str,
            "report_id": str,
            "kind": str,
            "mutation": str,
            "created_at": str,
            "attempts": int,
            "last_error": str,
        },
        pk="mutation_id",
        not_null={"version_id", "mutation", "created_at", "attempts"},
        defaults={"attempts": 0},
        foreign_keys=[("version_id", "report_versions", "version_id")],
    )
    db.table("outbox").create_index(["version_id"], unique=True)
    db.table("outbox").create_index(["report_id"])


@migrations(name="0004_queue_order_by_account")
def _queue_order_by_account(db: Database) -> None:
    """Equal priorities in account order (`external_id`), as the server and the desk list them: both
    collectors of a pair see one queue, whatever order their phones received the visits in. Each queue index
    gives (filter, priority desc, external_id) in one forward scan, so a page still stops at its LIMIT."""
    for name, lead in (
        ("idx_visits_priority_milli", ""),
        ("idx_visits_status_priority_milli", "status, "),
        ("idx_visits_bucket_priority_milli", "bucket, "),
        ("idx_visits_district_priority_milli", "district, "),
    ):
        db.execute(f"DROP INDEX IF EXISTS {name}")
        db.execute(
            f"CREATE INDEX {name.replace('_priority_milli', '_queue')} ON visits({lead}priority_milli DESC, external_id)"
        )


@migrations(name="0005_encryption_at_rest")
def _encryption_at_rest(db: Database) -> None:
    """Encryption at rest (D-5, docs/security.md): the queue rows lose their clear personal columns (name,
    phone and ID tails, masked name and phone, address, amounts: all in one sealed `card` now) and the
    trigram index on names and addresses gives way to the blind index `visit_index`.

    The visits are the server's: they are dropped with the pull cursor, so the next sync pulls a snapshot,
    sealed as it lands. The device's own work (drafts, report versions, the outbox, attachments) stays and is
    sealed in place when the store is first opened with its key (`DeviceStore`), then the file is vacuumed."""
    db.execute("DROP TABLE IF EXISTS visits_fts")
    db.execute("DELETE FROM visits")
    db.execute("DELETE FROM visit_docs")
    db.execute("UPDATE sync_state SET pull_cursor = NULL WHERE id = 1")
    for index in ("idx_visits_name", "idx_visits_phone_tail", "idx_visits_id_tail"):
        db.execute(f"DROP INDEX IF EXISTS {index}")
    for column in (
        "name",
        "masked_name",
        "phone_tail",
        "masked_phone",
        "id_tail",
        "address",
        "overdue_amount",
        "dpd",
    ):
        db.execute(f"ALTER TABLE visits DROP COLUMN {column}")
    db.execute("ALTER TABLE visits ADD COLUMN card BLOB")
    # Contentless: the index keeps only keyed tokens and rowids (= visits.id); detail=none drops positions,
    # which an AND of tokens does not need.
    db.execute(
        "CREATE VIRTUAL TABLE visit_index USING fts5(tokens, content='', tokenize='ascii', detail='none', "
        "columnsize=0)"
    )


def apply_migrations(db: Database) -> list[str]:
    """Apply every pending migration in order; answers the names applied now."""
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending
