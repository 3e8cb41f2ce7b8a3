"""The device store (docs/architecture.md): visits, drafts, attachments, report versions and the outbox.

Errors: `StoreError` ← `UnknownAttachmentError` (a report names an attachment that was never registered).
A sealed value that does not open (altered, another key, moved from another row) raises
`storage.crypto.CryptoError`.

Encryption at rest (D-5, docs/security.md): everything personal or financial is sealed under the data key
with AES-256-GCM, the associated data naming the table, column and row (`_aad`), so a value cannot be moved
to another row: the visits' documents and queue cards, drafts, report versions, the outbox's mutations, the
reports' comments, details and server copies, attachment names and files. Search goes through the blind
index (storage/search_index.py).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from pydantic_core import to_json
from sqlite_utils import Database

from models.canonical import content_sha256
from models.codes import AttachmentKind, ReportStatus, VisitStatus
from models.entities import TRUSTED, Visit
from models.ids import new_id
from models.report import AttachmentMeta, VisitReport
from models.wire import (
    Mutation,
    MutationResult,
    PullResponse,
    PushResponse,
    ReviewDel,
    ReviewPut,
    ReviewState,
    VisitDel,
    VisitPut,
    typed_changes,
)
from storage.blobs import BlobDir, MemoryBlobs, sha256_hex
from storage.crypto import DataKey
from storage.keyfile import KeyFile
from storage.migrations import apply_migrations
from storage.queue import card_values, queue_item, queue_sql, search_hits, visit_row, where_clause
from storage.records import (
    BlobState,
    Draft,
    LocalReport,
    OutboxEntry,
    PulledPage,
    QueueItem,
    SyncState,
    SyncStatus,
)
from storage.search_index import SearchPlan, index_document, search_plan

__all__ = ["TEST_KEY", "DeviceStore", "StoreError", "UnknownAttachmentError"]

#: The key of a file store opened without one: public, so for tests, benchmarks and previews only (the app
#: always opens a user's store with the key from its key file).
TEST_KEY = DataKey(b"fieldvisit-test-key-not-secret!!")

_SYNC_FIELDS = frozenset(f.name for f in fields(SyncState))
_VISIT_COLUMNS = (
    "visit_id external_id team status priority priority_milli bucket district planned_date product_type "
    "card updated_at"
).split()
_UPSERT_VISIT = (
    f"INSERT INTO visits ({', '.join(_VISIT_COLUMNS)}) VALUES ({', '.join('?' * len(_VISIT_COLUMNS))}) "
    "ON CONFLICT(visit_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _VISIT_COLUMNS if c != "visit_id")
)


class StoreError(Exception):
    """Base of the device store's own errors."""


class UnknownAttachmentError(StoreError, ValueError):
    """A report names an attachment whose bytes were never registered on this device."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _loads(text: str | None, default: Any = None) -> Any:
    return default if text is None else json.loads(text)


def _aad(column: str, row: str) -> bytes:
    """Associated data of a sealed value: its table and column, and the row's key."""
    return f"{column}:{row}".encode()


# A visit's entry in the blind index: the card's searched values (name, address, phone and ID tails) and
# the document of tokens made from them (storage/search_index.py).
_IndexEntry = tuple[tuple[Any, Any, Any, Any], str]

# Column defaults written in the clear by the schema (nothing personal in an empty list).
_CLEAR_DEFAULTS = frozenset({"[]"})


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _display_status(sync_status: str, review_status: str | None) -> str:
    if sync_status != "synced":
        return sync_status
    return review_status or ReportStatus.SUBMITTED.value


class DeviceStore:
    """One signed-in user's local data. `path=None` keeps everything in memory (blobs included)."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        new_id: Callable[[], str] = new_id,
        blob_dir: str | Path | None = None,
        key: DataKey | None = None,
    ) -> None:
        """`key` seals the data at rest; without one, an in-memory store makes a random key and a file store
        uses the public `TEST_KEY` (tests, benchmarks)."""
        self._clock = clock
        self._new_id = new_id
        # One connection shared by the UI and the sync engine's thread; the lock serialises its use.
        self._lock = threading.RLock()
        self.path = Path(path) if path is not None else None
        self._key = key if key is not None else (DataKey.generate() if path is None else TEST_KEY)
        self._blobs: BlobDir | MemoryBlobs
        if self.path is None:
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            self._blobs = MemoryBlobs()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            self._blobs = BlobDir(Path(blob_dir) if blob_dir else self.path.parent / "blobs", self._key)
        self.db = Database(conn)
        if self.path is not None:
            self.db.enable_wal()
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        # Deleted rows carry personal data: overwrite them rather than leave them in free pages.
        self.db.execute("PRAGMA secure_delete=ON")
        applied = apply_migrations(self.db)
        # Connection-local scratch table naming the visits of one upsert batch.
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS visit_batch (visit_id TEXT PRIMARY KEY)")
        if "0005_encryption_at_rest" in applied and "0001_sync_state" not in applied:
            self._seal_plain_rows()

    # -- sealing -----------------------------------------------------------------------------------

    def _seal(self, text: str, column: str, row: str) -> bytes:
        return self._key.seal_text(text, _aad(column, row))

    def _open(self, value: bytes, column: str, row: str) -> str:
        return self._key.open_text(value, _aad(column, row))

    def _open_json(self, value: bytes | str | None, column: str, row: str, default: Any = None) -> Any:
        if value is None:
            return default
        if isinstance(value, str) and value in _CLEAR_DEFAULTS:
            return json.loads(value)
        return json.loads(self._open(cast(bytes, value), column, row))

    def _seal_plain_rows(self) -> None:
        """A database from before encryption at rest: the device's own rows and files are sealed in place,
        then the file is rewritten so no free page keeps the clear text."""
        targets = (
            ("drafts", "data", "report_id"),
            ("report_versions", "content", "version_id"),
            ("outbox", "mutation", "version_id"),
            ("reports", "comments", "report_id"),
            ("reports", "details", "report_id"),
            ("reports", "server_copy", "report_id"),
            ("attachments", "filename", "sha256"),
        )
        with self._write() as db:
            for table, column, pk in targets:
                rows = db.execute(
                    f"SELECT {pk}, {column} FROM {table} WHERE typeof({column}) = 'text' AND {column} != '[]'"
                ).fetchall()
                db.conn.executemany(
                    f"UPDATE {table} SET {column} = ? WHERE {pk} = ?",
                    [(self._seal(text, f"{table}.{column}", k), k) for k, text in rows],
                )
        if isinstance(self._blobs, BlobDir):
            self._blobs.seal_plain_files()
        with self._lock:
            self.db.vacuum()
            if self.path is not None:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- plumbing ----------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def __enter__(self) -> DeviceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Database]:
        """One write transaction, taking the write lock up front (BEGIN IMMEDIATE) so it cannot fail midway
        on a lock upgrade; nested use becomes a savepoint."""
        with self._lock:
            conn = self.db.conn
            if conn.in_transaction:
                with self.db.atomic():
                    yield self.db
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.query(sql, list(params)))

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def _now(self) -> str:
        return self._clock().isoformat()

    # -- sync bookkeeping --------------------------------------------------------------------------

    def sync_state(self) -> SyncState:
        row = self._one("SELECT * FROM sync_state WHERE id = 1")
        assert row is not None
        row.pop("id")
        row["last_sync_at"] = _ts(row["last_sync_at"])
        return SyncState(**row)

    def update_sync_state(self, **values: Any) -> SyncState:
        unknown = set(values) - _SYNC_FIELDS
        if unknown:
            raise TypeError(f"unknown sync state fields: {', '.join(sorted(unknown))}")
        if values:
            stored = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}
            with self._write() as db:
                db.table("sync_state").update(1, stored)
        return self.sync_state()

    # -- visits ------------------------------------------------------------------------------------

    def upsert_visits(self, visits: Iterable[Visit]) -> int:
        rows, docs, index = self._visit_rows(visits)  # pure work, outside the lock
        with self._write():
            return self._write_visit_rows(rows, docs, index)

    def _visit_rows(
        self, visits: Iterable[Visit], raw: list[dict[str, Any]] | None = None
    ) -> tuple[list[list[Any]], list[tuple[str, bytes]], list[_IndexEntry]]:
        """The queue rows, sealed documents and search index entries of visits (no database access).

        `raw` is the JSON data the visits were validated from (a pull page): stored as it came, since it
        was just validated and `get_visit` validates it again when it is read, it spares serialising each
        model back.
        """
        now = self._now()
        card_at = _VISIT_COLUMNS.index("card")
        key = self._key
        rows, ids, plain, index = [], [], [], []
        for i, v in enumerate(visits):
            r = visit_row(v, now)
            card = card_values(v)
            rows.append([r.get(c) for c in _VISIT_COLUMNS])
            ids.append(v.visit_id)
            doc = to_json(raw[i]) if raw is not None else v.model_dump_json().encode()
            plain.append((to_json(card), _aad("visits.card", v.visit_id)))
            plain.append((doc, _aad("visit_docs.data", v.visit_id)))
            terms = (card[0], card[3], card[6], card[7])
            index.append((terms, index_document(key, *terms)))
        sealed = key.seal_many(plain)  # card, document, card, document, …
        for row, card_sealed in zip(rows, sealed[::2], strict=True):
            row[card_at] = card_sealed
        return rows, list(zip(ids, sealed[1::2], strict=True)), index

    def _card(self, sealed: bytes, visit_id: str) -> list[Any]:
        return cast(list[Any], json.loads(self._open(sealed, "visits.card", visit_id)))

    def _unindex(self, where: str, params: list[Any]) -> None:
        """Removes visits' tokens from the contentless index, recomputed from their sealed cards."""
        conn = self.db.conn
        old = conn.execute(f"SELECT v.id, v.visit_id, v.card FROM visits v {where}", params).fetchall()
        if old:
            gone = []
            for rowid, visit_id, sealed in old:
                c = self._card(sealed, visit_id)
                gone.append(("delete", rowid, index_document(self._key, c[0], c[3], c[6], c[7])))
            conn.executemany("INSERT INTO visit_index (visit_index, rowid, tokens) VALUES (?, ?, ?)", gone)

    def _write_visit_rows(
        self, rows: list[list[Any]], docs: list[tuple[str, bytes]], index: list[_IndexEntry]
    ) -> int:
        conn = self.db.conn
        conn.execute("DELETE FROM temp.visit_batch")
        conn.executemany(
            "INSERT OR IGNORE INTO temp.visit_batch (visit_id) VALUES (?)", [(d[0],) for d in docs]
        )
        # A visit listed twice in one batch keeps its last version, as the upsert did.
        latest = {d[0]: entry for d, entry in zip(docs, index, strict=True)}
        # Contentless index: the old tokens go while the old row still holds its card, the new ones after. A
        # visit whose searched values are unchanged keeps its entry (same tokens; the upsert keeps its rowid).
        unchanged: set[str] = set()
        gone = []
        for rowid, visit_id, sealed in conn.execute(
            "SELECT v.id, v.visit_id, v.card FROM visits v JOIN temp.visit_batch USING (visit_id)"
        ).fetchall():
            c = self._card(sealed, visit_id)
            terms = (c[0], c[3], c[6], c[7])
            if terms == latest[visit_id][0]:
                unchanged.add(visit_id)
            else:
                gone.append(("delete", rowid, index_document(self._key, *terms)))
        conn.executemany("INSERT INTO visit_index (visit_index, rowid, tokens) VALUES (?, ?, ?)", gone)
        conn.executemany(_UPSERT_VISIT, rows)
        ids = dict(
            conn.execute("SELECT v.visit_id, v.id FROM visits v JOIN temp.visit_batch USING (visit_id)")
        )
        conn.executemany(
            "INSERT INTO visit_index (rowid, tokens) VALUES (?, ?)",
            [(ids[v], entry[1]) for v, entry in latest.items() if v not in unchanged],
        )
        conn.executemany("INSERT OR REPLACE INTO visit_docs (visit_id, data) VALUES (?, ?)", docs)
        conn.execute("DELETE FROM temp.visit_batch")
        return len(rows)

    def delete_visit(self, visit_id: str) -> None:
        with self._write():
            self._delete_visit(visit_id)

    def _delete_visit(self, visit_id: str) -> None:
        self._unindex("WHERE v.visit_id = ?", [visit_id])
        self.db.execute("DELETE FROM visits WHERE visit_id = ?", [visit_id])
        self.db.execute("DELETE FROM visit_docs WHERE visit_id = ?", [visit_id])

    def get_visit(self, visit_id: str) -> Visit | None:
        row = self._one("SELECT data FROM visit_docs WHERE visit_id = ?", [visit_id])
        if row is None:
            return None
        return Visit.model_validate_json(
            self._open(row["data"], "visit_docs.data", visit_id), context=TRUSTED
        )

    def queue(
        self,
        *,
        status: VisitStatus | str | None = None,
        bucket: int | None = None,
        district: str | None = None,
        search: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[QueueItem]:
        """Visits by priority (highest first), masked for a list (D-6); filters combine with AND."""
        plan = self._plan(search)
        hits = (plan.match, plan.text) if plan else None
        if plan is None or plan.exact:
            sql, params = queue_sql(status=status, bucket=bucket, district=district, search=hits, count=False)
            rows = self._rows(sql, [*params, limit, offset])
            return [queue_item(r, self._card(r["card"], r["visit_id"])) for r in rows]
        # Candidates in queue order, confirmed one by one until the page is full.
        sql, params = queue_sql(
            status=status, bucket=bucket, district=district, search=hits, count=False, paged=False
        )
        items: list[QueueItem] = []
        skip = offset
        with self._lock:
            for r in self.db.query(sql, params):
                card = self._card(r["card"], r["visit_id"])
                if not plan.confirms(card, r["external_id"]):
                    continue
                if skip:
                    skip -= 1
                    continue
                items.append(queue_item(r, card))
                if len(items) >= limit:
                    break
        return items

    def _plan(self, search: str | None) -> SearchPlan | None:
        return search_plan(self._key, search) if search is not None and search.strip() else None

    def queue_count(
        self,
        *,
        status: VisitStatus | str | None = None,
        bucket: int | None = None,
        district: str | None = None,
        search: str | None = None,
    ) -> int:
        plan = self._plan(search)
        hits = (plan.match, plan.text) if plan else None
        if plan is None or plan.exact:
            sql, params = queue_sql(status=status, bucket=bucket, district=district, search=hits, count=True)
            row = self._one(sql, params)
            return int(row["n"]) if row else 0
        where, params = where_clause(status=status, bucket=bucket, district=district)
        hit_sql, hit_params = search_hits(*hits) if hits else ("", [])
        sql = (
            f"WITH hits(id) AS ({hit_sql}) SELECT v.visit_id, v.external_id, v.card "
            f"FROM hits CROSS JOIN visits v ON v.id = hits.id{where}"
        )
        rows = self._rows(sql, [*hit_params, *params])
        return sum(1 for r in rows if plan.confirms(self._card(r["card"], r["visit_id"]), r["external_id"]))

    def queue_counts(self) -> dict[str, int]:
        """Visits per status, plus `all`; every status is present (0 when none)."""
        counts = {"all": 0} | {s.value: 0 for s in VisitStatus}
        for r in self._rows("SELECT status, count(*) AS n FROM visits GROUP BY status"):
            counts[r["status"]] = r["n"]
            counts["all"] += r["n"]
        return counts

    def districts(self) -> list[str]:
        rows = self._rows("SELECT DISTINCT district FROM visits WHERE district IS NOT NULL ORDER BY district")
        return [r["district"] for r in rows]

    # -- drafts ------------------------------------------------------------------------------------

    def save_draft(self, report_id: str, visit_id: str | None, data: dict[str, Any]) -> None:
        with self._write():
            self.db.execute(
                "INSERT OR REPLACE INTO drafts (report_id, visit_id, data, updated_at) VALUES (?, ?, ?, ?)",
                [report_id, visit_id, self._seal(_dumps(data), "drafts.data", report_id), self._now()],
            )

    def get_draft(self, report_id: str) -> dict[str, Any] | None:
        row = self._one("SELECT data FROM drafts WHERE report_id = ?", [report_id])
        return cast(dict[str, Any], self._open_json(row["data"], "drafts.data", report_id)) if row else None

    def drafts(self, visit_id: str | None = None) -> list[Draft]:
        where, params = ("WHERE visit_id = ?", [visit_id]) if visit_id is not None else ("", [])
        rows = self._rows(f"SELECT * FROM drafts {where} ORDER BY updated_at DESC, report_id", params)
        return [
            Draft(
                r["report_id"],
                r["visit_id"],
                self._open_json(r["data"], "drafts.data", r["report_id"]),
                datetime.fromisoformat(r["updated_at"]),
            )
            for r in rows
        ]

    def delete_draft(self, report_id: str) -> None:
        with self._write():
            self.db.execute("DELETE FROM drafts WHERE report_id = ?", [report_id])

    # -- attachments -------------------------------------------------------------------------------

    def register_attachment(
        self,
        data: bytes,
        *,
        kind: str,
        mime: str = "application/octet-stream",
        filename: str = "",
        captured_at: datetime | None = None,
    ) -> AttachmentMeta:
        """Stores the bytes durably, then records them; only afterwards may a report name the hash."""
        sha = sha256_hex(data)
        meta = AttachmentMeta(
            sha256=sha,
            kind=AttachmentKind(kind),
            mime=mime,
            size_bytes=len(data),
            filename=filename,
            captured_at=captured_at,
        )
        self._blobs.write(sha, data)
        with self._write():
            self.db.execute(
                "INSERT OR IGNORE INTO attachments (sha256, kind, mime, filename, size_bytes, captured_at, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    sha,
                    meta.kind.value,
                    mime,
                    self._seal(filename, "attachments.filename", sha),
                    len(data),
                    captured_at and captured_at.isoformat(),
                    self._now(),
                ],
            )
        return meta

    def blob_bytes(self, sha256: str) -> bytes | None:
        return self._blobs.read(sha256)

    def blob_state(self, sha256: str) -> BlobState:
        row = self._one("SELECT uploaded_at FROM attachments WHERE sha256 = ?", [sha256])
        if row is None or not self._blobs.exists(sha256):
            return "missing"
        return "uploaded" if row["uploaded_at"] else "pending"

    def mark_blob_uploaded(self, sha256: str) -> None:
        with self._write():
            self.db.execute("UPDATE attachments SET uploaded_at = ? WHERE sha256 = ?", [self._now(), sha256])

    def pending_blobs(self) -> list[str]:
        """Hashes registered here and not yet confirmed on the server, oldest first."""
        rows = self._rows(
            "SELECT sha256 FROM attachments WHERE uploaded_at IS NULL ORDER BY created_at, sha256"
        )
        return [r["sha256"] for r in rows]

    # -- reports and the outbox --------------------------------------------------------------------

    def submit_report(self, report: VisitReport) -> OutboxEntry:
        """One transaction: a new local version, its outbox row with the next mutation id, draft removed."""
        content = report.model_dump(mode="json")
        digest = content_sha256(content)
        blobs = list(dict.fromkeys(a.sha256 for a in report.attachments))
        now = self._now()
        version_id = self._new_id()
        with self._write() as db:
            self._check_blobs(blobs)
            mutation_id = self.sync_state().next_mutation_id
            existing = self._one("SELECT * FROM reports WHERE report_id = ?", [report.report_id])
            earlier = self._one(
                "SELECT 1 AS x FROM report_versions WHERE report_id = ? LIMIT 1", [report.report_id]
            )
            base_version = existing["server_version"] if existing else 0
            kind = "resubmit_report" if (earlier or base_version) else "submit_report"
            db.table("reports").upsert(
                {
                    "report_id": report.report_id,
                    "visit_id": report.visit_id,
                    "status": "pending",
                    "sync_status": "pending",
                    "server_version": base_version,
                    "current_version_id": version_id,
                    "error": None,
                    "details": "[]",
                    "server_copy": None,
                    "updated_at": now,
                },
                pk="report_id",
            )
            db.table("report_versions").insert(
                {
                    "version_id": version_id,
                    "report_id": report.report_id,
                    "kind": kind,
                    "base_version": base_version,
                    "content": self._seal(_dumps(content), "report_versions.content", version_id),
                    "content_sha256": digest,
                    "blobs": _dumps(blobs),
                    "state": "pending",
                    "created_at": now,
                }
            )
            entry = self._insert_outbox(mutation_id, version_id, now)
            db.table("sync_state").update(1, {"next_mutation_id": mutation_id + 1})
            db.execute("DELETE FROM drafts WHERE report_id = ?", [report.report_id])
        return entry

    def _check_blobs(self, blobs: list[str]) -> None:
        for sha in blobs:
            known = self._one("SELECT 1 AS x FROM attachments WHERE sha256 = ?", [sha])
            if known is None or not self._blobs.exists(sha):
                raise UnknownAttachmentError(f"attachment {sha} is not registered on this device")

    def _insert_outbox(self, mutation_id: int, version_id: str, now: str) -> OutboxEntry:
        v = self._one("SELECT * FROM report_versions WHERE version_id = ?", [version_id])
        assert v is not None
        # Built as the wire model, so the device never queues an entry the server's push body refuses.
        mutation = Mutation(
            mutation_id=mutation_id,
            kind=v["kind"],
            report_id=v["report_id"],
            version_id=version_id,
            base_version=v["base_version"],
            content_sha256=v["content_sha256"],
            blobs=json.loads(v["blobs"]),
            report=self._open_json(v["content"], "report_versions.content", version_id),
        )
        # Sealed as stored; the push sends the plain body, whose canonical hash is `content_sha256`.
        self.db.table("outbox").insert(
            {
                "mutation_id": mutation_id,
                "version_id": version_id,
                "report_id": v["report_id"],
                "kind": v["kind"],
                "mutation": self._seal(mutation.model_dump_json(), "outbox.mutation", version_id),
                "created_at": now,
            }
        )
        return OutboxEntry(
            mutation_id, v["kind"], v["report_id"], version_id, mutation, datetime.fromisoformat(now)
        )

    def outbox(self, limit: int = 50, *, after: int = 0) -> list[OutboxEntry]:
        """Unacknowledged mutations in mutation_id order (the order the server requires), past `after`."""
        rows = self._rows(
            "SELECT * FROM outbox WHERE mutation_id > ? ORDER BY mutation_id LIMIT ?", [after, limit]
        )
        return [
            OutboxEntry(
                mutation_id=r["mutation_id"],
                kind=r["kind"],
                report_id=r["report_id"],
                version_id=r["version_id"],
                mutation=Mutation.model_validate_json(
                    self._open(r["mutation"], "outbox.mutation", r["version_id"])
                ),
                created_at=datetime.fromisoformat(r["created_at"]),
                attempts=r["attempts"],
                last_error=r["last_error"],
            )
            for r in rows
        ]

    def pending_count(self) -> int:
        row = self._one("SELECT count(*) AS n FROM outbox")
        return int(row["n"]) if row else 0

    def note_push_failure(self, error: str) -> None:
        """A push that got no answer: count the attempt on every waiting row, keep the error for display."""
        with self._write():
            self.db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?", [error])

    def apply_push_response(self, resp: PushResponse) -> None:
        """One transaction: acknowledged rows leave the outbox; the reports take the server's verdicts."""
        with self._write() as db:
            conn = db.conn
            upto = max([resp.last_mutation_id, *(r.mutation_id for r in resp.results)])
            waiting = {
                r[0]: (r[1], r[2])
                for r in conn.execute(
                    "SELECT mutation_id, report_id, version_id FROM outbox WHERE mutation_id <= ?", [upto]
                )
            }
            todo: list[tuple[str, str, MutationResult]] = []
            for result in resp.results:
                row = waiting.pop(result.mutation_id, None)
                if row is None:
                    continue  # acknowledged by an earlier answer (or listed twice)
                todo.append((row[0], row[1], result))
            # Rows the server counts as applied but this answer did not list (an earlier answer was lost):
            # the server will never apply them again, and the next pull brings their review state.
            for mid in sorted(m for m in waiting if m <= resp.last_mutation_id):
                row = waiting[mid]
                todo.append((row[0], row[1], MutationResult(mutation_id=mid, status="applied")))
            if todo:
                self._apply_results(todo)
                conn.executemany(
                    "DELETE FROM outbox WHERE mutation_id = ?", [(t[2].mutation_id,) for t in todo]
                )
            # Never hand out an id the server already counts, or new work would be taken for duplicates.
            conn.execute(
                "UPDATE sync_state SET next_mutation_id = max(next_mutation_id, ?), last_error = NULL WHERE id = 1",
                [resp.last_mutation_id + 1],
            )

    def _apply_results(self, todo: list[tuple[str, str, MutationResult]]) -> None:
        """The server's verdicts, in order, on the local reports and versions: each report is read once,
        carried through its results in memory, and written once with its final values."""
        conn = self.db.conn
        ids = list(dict.fromkeys(t[0] for t in todo))
        cur = conn.execute(
            "SELECT * FROM reports WHERE report_id IN (SELECT value FROM json_each(?))", [_dumps(ids)]
        )
        names = [c[0] for c in cur.description]
        reports = {r["report_id"]: r for r in (dict(zip(names, row, strict=True)) for row in cur)}
        written: dict[str, dict[str, Any]] = {}
        versions: list[tuple[Any, ...]] = []
        for report_id, version_id, result in todo:
            report = reports.get(report_id)
            assert report is not None
            changes, version = self._result_changes(report, version_id, result)
            for column in ("details", "server_copy"):
                if isinstance(changes.get(column), str) and changes[column] not in _CLEAR_DEFAULTS:
                    changes[column] = self._seal(changes[column], f"reports.{column}", report_id)
            versions.append((*version, version_id))
            reports[report_id] = report | changes
            written.setdefault(report_id, {}).update(changes)
        conn.executemany(
            "UPDATE report_versions SET state = ?, server_version = ?, error = ? WHERE version_id = ?",
            versions,
        )
        by_columns: dict[tuple[str, ...], list[list[Any]]] = {}
        for report_id, changes in written.items():
            cols = tuple(changes)
            by_columns.setdefault(cols, []).append([*changes.values(), report_id])
        for cols, rows in by_columns.items():
            sets = ", ".join(f"[{c}] = ?" for c in cols)
            conn.executemany(f"UPDATE reports SET {sets} WHERE report_id = ?", rows)

    def _result_changes(
        self, report: dict[str, Any], version_id: str, result: MutationResult
    ) -> tuple[dict[str, Any], tuple[Any, Any, Any]]:
        """What one result changes on its report, and the version's `(state, server_version, error)`."""
        status, server_version, error = result.status, result.server_version, result.error
        if status == "duplicate":
            original = result.original or {}
            status = original.get("status") or "applied"
            server_version = original.get("server_version", server_version)
            error = original.get("error", error)
        latest = report["current_version_id"] == version_id
        changes: dict[str, Any] = {"updated_at": self._now()}
        if server_version is not None:
            changes["server_version"] = max(report["server_version"], int(server_version))
        if result.flags:
            changes["flags"] = _dumps(result.flags)
        if status == "applied":
            review = report["review_status"]
            if review is None:
                changes["review_status"] = ReportStatus.SUBMITTED.value
            elif review == ReportStatus.RETURNED.value:
                changes["review_status"] = ReportStatus.RESUBMITTED.value
            changes["missing_blobs"] = _dumps(result.missing_blobs)
            if latest:
                changes |= {"sync_status": "synced", "error": None, "details": "[]", "server_copy": None}
        elif status == "conflict":
            copy = result.server_copy
            if copy and isinstance(copy.get("server_version"), int):
                changes["server_version"] = max(changes.get("server_version", 0), copy["server_version"])
            if latest:
                changes["sync_status"] = "conflict"
                if copy is not None:
                    changes["server_copy"] = _dumps(copy)
        elif status == "rejected" and latest:
            changes |= {"sync_status": "rejected", "error": error, "details": _dumps(result.details)}
        merged = report | changes
        changes["status"] = _display_status(merged["sync_status"], merged["review_status"])
        return changes, (status, server_version, error)

    def prepare_pull_page(self, resp: PullResponse) -> PulledPage:
        """A pull page made ready to write, touching no database: every change validated, visits turned into
        their queue rows, sealed documents and search index entries. Safe on any thread; the sync engine
        prepares the next page this way while the store writes the previous one. Raises as
        `apply_pull_page` would, before anything is written (a bad visit refuses the whole page).

        Validation of server data: every visit is validated against `Visit` in full (types, required
        fields, lengths, enums, money and dates, the ID number's 18-character form), with the `TRUSTED`
        context, which only skips re-running the resident ID's region, birth-date and GB 11643 check-digit
        checks: the server ran them when the record was imported, and a wrong check digit cannot corrupt
        the store (it is a typing error in a field the device only displays), while malformed data still
        refuses the page.
        """
        steps: list[tuple[str, Any]] = []
        puts: list[Visit] = []
        raws: list[dict[str, Any]] = []

        def end_run() -> None:
            if puts:
                steps.append(("visits", self._visit_rows(list(puts), list(raws))))
                puts.clear()
                raws.clear()

        # Structure validated in full, the resident ID's check digit not recomputed (see TRUSTED).
        for ch, sent in zip(typed_changes(resp.changes, context=TRUSTED), resp.changes, strict=True):
            if isinstance(ch, VisitPut):
                puts.append(ch.data)
                raws.append(cast(dict[str, Any], sent.data))
            elif isinstance(ch, VisitDel):
                end_run()
                steps.append(("visit_del", ch.id))
            elif isinstance(ch, ReviewPut):
                steps.append(("review", (ch.id, ch.data)))
            elif isinstance(ch, ReviewDel):
                steps.append(("report_del", ch.id))
            # Other change types belong to later protocol additions; skipping them keeps the cursor moving.
        end_run()
        return PulledPage(cursor=resp.cursor, steps=tuple(steps))

    def apply_pull_page(self, page: PullResponse | PulledPage) -> None:
        """One transaction: visit puts/deletes, report review states, and the cursor that follows them.

        A page as received is prepared first (`prepare_pull_page`), outside the lock; puts are then written
        a run at a time (one statement per run and table, one FTS refresh), a delete ending the run, so
        puts and deletes keep their order.
        """
        prepared = page if isinstance(page, PulledPage) else self.prepare_pull_page(page)
        with self._write() as db:
            for kind, arg in prepared.steps:
                if kind == "visits":
                    self._write_visit_rows(*arg)
                elif kind == "visit_del":
                    self._delete_visit(arg)
                elif kind == "review":
                    self._apply_review(*arg)
                else:
                    self._forget_report(arg)
            db.execute(
                "UPDATE sync_state SET pull_cursor = ?, last_sync_at = ? WHERE id = 1",
                [prepared.cursor, self._now()],
            )

    def _apply_review(self, report_id: str, data: ReviewState) -> None:
        report = self._one("SELECT * FROM reports WHERE report_id = ?", [report_id])
        sync_status = report["sync_status"] if report else "synced"
        review = data.status.value
        changes: dict[str, Any] = {
            "report_id": report_id,
            "review_status": review,
            "server_version": data.server_version or 0,
            "comments": self._seal(_dumps(data.comments), "reports.comments", report_id),
            "flags": _dumps(data.flags),
            "missing_blobs": _dumps(data.missing_blobs),
            "sync_status": sync_status,
            "status": _display_status(sync_status, review),
            "updated_at": self._now(),
        }
        if data.visit_id or report is None:
            changes["visit_id"] = data.visit_id or (report and report["visit_id"])
        self.db.table("reports").upsert(changes, pk="report_id")

    def _forget_report(self, report_id: str) -> None:
        # A report this device wrote stays until its versions are acknowledged; others go at once.
        mine = self._one("SELECT 1 AS x FROM report_versions WHERE report_id = ? LIMIT 1", [report_id])
        if mine is None:
            self.db.execute("DELETE FROM reports WHERE report_id = ?", [report_id])

    def reports(self, status: str | None = None) -> list[LocalReport]:
        where, params = ("WHERE r.status = ?", [str(status)]) if status is not None else ("", [])
        rows = self._rows(
            "SELECT r.*, v.content, v.content_sha256 FROM reports r "
            f"LEFT JOIN report_versions v ON v.version_id = r.current_version_id {where} "
            "ORDER BY r.updated_at DESC, r.report_id",
            params,
        )
        return [self._local_report(r) for r in rows]

    def get_report(self, report_id: str) -> LocalReport | None:
        row = self._one(
            "SELECT r.*, v.content, v.content_sha256 FROM reports r "
            "LEFT JOIN report_versions v ON v.version_id = r.current_version_id WHERE r.report_id = ?",
            [report_id],
        )
        return self._local_report(row) if row else None

    def _local_report(self, r: dict[str, Any]) -> LocalReport:
        report_id = r["report_id"]
        return LocalReport(
            report_id=r["report_id"],
            visit_id=r["visit_id"],
            status=r["status"],
            sync_status=cast(SyncStatus, r["sync_status"]),
            review_status=ReportStatus(r["review_status"]) if r["review_status"] else None,
            server_version=r["server_version"],
            current_version_id=r["current_version_id"],
            content=self._open_json(r["content"], "report_versions.content", r["current_version_id"]),
            content_sha256=r["content_sha256"],
            comments=self._open_json(r["comments"], "reports.comments", report_id, []),
            flags=_loads(r["flags"], []),
            missing_blobs=_loads(r["missing_blobs"], []),
            error=r["error"],
            details=self._open_json(r["details"], "reports.details", report_id, []),
            server_copy=self._open_json(r["server_copy"], "reports.server_copy", report_id),
            updated_at=_ts(r["updated_at"]),
        )

    # -- resets ------------------------------------------------------------------------------------

    def reset_for_snapshot(self) -> None:
        """On `reset_required`: forget the server's data and the cursor; keep outbox, drafts and own work."""
        with self._write() as db:
            db.execute("INSERT INTO visit_index (visit_index) VALUES ('delete-all')")
            db.execute("DELETE FROM visits")
            db.execute("DELETE FROM visit_docs")
            # The snapshot resends every report state in scope; only reports this device wrote must stay.
            db.execute("DELETE FROM reports WHERE report_id NOT IN (SELECT report_id FROM report_versions)")
            db.table("sync_state").update(1, {"pull_cursor": None})

    def rebase_outbox_for_new_device(self, device_id: str, *, server_epoch: str | None = None) -> int:
        """A new server epoch: a new device id, mutation ids from 1, and every version of a report not yet
        approved queued again in its original order (same version_id and hash, so each lands once).

        Answers how many mutations were queued. The pull cursor is left to `reset_for_snapshot()`.
        """
        now = self._now()
        with self._write() as db:
            db.execute("DELETE FROM outbox")
            versions = self._rows(
                "SELECT v.version_id, v.report_id FROM report_versions v JOIN reports r USING (report_id) "
                "WHERE coalesce(r.review_status, '') != ? ORDER BY v.seq",
                [ReportStatus.APPROVED.value],
            )
            for n, v in enumerate(versions, start=1):
                self._insert_outbox(n, v["version_id"], now)
                db.execute(
                    "UPDATE report_versions SET state = 'pending' WHERE version_id = ?", [v["version_id"]]
                )
            for report_id in {v["report_id"] for v in versions}:
                db.table("reports").update(
                    report_id, {"sync_status": "pending", "status": "pending", "updated_at": now}
                )
            update: dict[str, Any] = {"device_id": device_id, "next_mutation_id": len(versions) + 1}
            if server_epoch is not None:
                update["server_epoch"] = server_epoch
            db.table("sync_state").update(1, update)
        return len(versions)

    def wipe(self) -> None:
        """`device_revoked` with wipe: every row and every blob goes, the file is compacted afterwards and the
        wrapped data key beside it (`<db>.key`) is destroyed."""
        with self._write() as db:
            db.execute("INSERT INTO visit_index (visit_index) VALUES ('delete-all')")
            for table in (
                "outbox",
                "report_versions",
                "reports",
                "drafts",
                "attachments",
                "visit_docs",
                "visits",
            ):
                db.execute(f"DELETE FROM {table}")
            db.execute(
                "UPDATE sync_state SET device_id = NULL, user_id = NULL, server_url = NULL, next_mutation_id = 1, "
                "pull_cursor = NULL, server_epoch = NULL, last_sync_at = NULL, last_error = NULL WHERE id = 1"
            )
        self._blobs.clear()
        with self._lock:
            self.db.vacuum()
            if self.path is not None:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if self.path is not None:
            KeyFile.for_store(self.path).destroy()
