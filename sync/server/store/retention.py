"""Retention (domain R-8, D-4): what is past its period is anonymised or deleted, and every step audited.

- A **case** (the visit, its reports and their reviews) is a collection record: it is kept whole for the
  record period (default 5 years and a day or two, never less) after its last activity, and only once no
  report of it waits for review. Then it is anonymised: the borrower's identity (name, phone, ID number,
  address, coordinates) and the loan system's account number leave the visit; free text (notes, comments,
  sign-off reasons, third-party details), positions and attachments leave the reports and the risk feed;
  what remains are codes, dates, amounts and the plan, which say nothing about whom they concern.
  Its photos and documents are deleted.
- **Documents not needed for the record** (payslips, bank statements, pictures of the ID card, other
  documents; configurable) are deleted a shorter period (default 90 days) after their report was decided
  (approved, rejected or escalated), unless a report still open or decided more recently references them.
- **Uploads never referenced by a report** are deleted after that same shorter period.

The audit log keeps one line per case anonymised and per blob deleted (IDs and codes only) and one line
per run with its counts; it is itself never edited.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from models.codes import FINAL_STATES
from sync.server.store.blobs import queue_blob_deletion
from sync.server.store.common import audit, dumps, loads

__all__ = ["DOCUMENT_KINDS", "anonymised_report", "anonymised_visit", "apply_retention"]

DOCUMENT_KINDS = frozenset({"payslip", "bank_statement", "id_shown", "document"})

_FINAL = tuple(sorted(s.value for s in FINAL_STATES))
_FINAL_SQL = ", ".join("?" for _ in _FINAL)

# The parts of a report that stay after anonymisation; within them, free text is dropped as well.
_REPORT_KEEP = (
    "report_id",
    "visit_id",
    "schema_version",
    "investigator_id",
    "collector_ids",
    "created_at",
    "compliance",
    "outcome",
    "interview",
    "assessment",
    "plan",
    "escalation_recommended",
)
_TEXT_KEYS = frozenset(
    {"notes", "note", "hardship_note", "paid_reference", "override_reason", "dispute", "agreement_attachment"}
)
_LOAN_KEEP = (
    "product_type",
    "outstanding_principal",
    "overdue_amount",
    "dpd",
    "bucket",
    "contractual_instalment",
    "monthly_rate",
)


def _without_text(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_text(v) for k, v in value.items() if k not in _TEXT_KEYS and not k.endswith("_note")
        }
    if isinstance(value, list):
        return [_without_text(v) for v in value]
    return value


def anonymised_report(body: dict[str, Any]) -> dict[str, Any]:
    """A report body with nothing left that identifies or describes a person: codes, dates and figures."""
    return {k: _without_text(body[k]) for k in _REPORT_KEEP if k in body} | {"attachments": []}


def anonymised_visit(data: dict[str, Any], *, external_id: str, at: str) -> dict[str, Any]:
    """A visit's case data without the borrower's identity or the loan system's account number."""
    borrower = data.get("borrower") or {}
    loan = data.get("loan") or {}
    return {
        "borrower": {"district": borrower.get("district")},
        "loan": {k: loan[k] for k in _LOAN_KEEP if k in loan} | {"external_id": external_id},
        "priority": data.get("priority"),
        "anonymised_at": at,
    }


def _due_cases(db: Database, cutoff: str, limit: int) -> list[str]:
    """Visits not yet anonymised whose last activity is before `cutoff` and with no report open."""
    return [
        row[0]
        for row in db.execute(
            "SELECT v.id FROM visits v WHERE json_extract(v.data, '$.anonymised_at') IS NULL AND v.updated_at < ? "
            "AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.visit_id = v.id "
            f"AND (r.updated_at >= ? OR r.status NOT IN ({_FINAL_SQL}))) ORDER BY v.id LIMIT ?",
            [cutoff, cutoff, *_FINAL, limit],
        ).fetchall()
    ]


def _anonymise_case(db: Database, visit_id: str, ts: str) -> tuple[int, list[str]]:
    """Anonymise one case; returns its number of reports and the blobs its reports referenced."""
    anon_id = f"anon-{visit_id}"
    (data,) = db.execute("SELECT data FROM visits WHERE id = ?", [visit_id]).fetchone()
    db.execute(
        "UPDATE visits SET external_id = ?, borrower_name = '', data = ? WHERE id = ?",
        [anon_id, dumps(anonymised_visit(loads(data, {}) or {}, external_id=anon_id, at=ts)), visit_id],
    )
    report_ids = [r[0] for r in db.execute("SELECT id FROM reports WHERE visit_id = ?", [visit_id])]
    shas: list[str] = []
    for rid in report_ids:
        for version_id, body in db.execute(
            "SELECT version_id, body FROM report_versions WHERE report_id = ?", [rid]
        ).fetchall():
            parsed = loads(body, None)
            if isinstance(parsed, dict):
                db.execute(
                    "UPDATE report_versions SET body = ? WHERE version_id = ?",
                    [dumps(anonymised_report(parsed)), version_id],
                )
        db.execute("UPDATE comments SET comment = '', sign_off_reason = NULL WHERE report_id = ?", [rid])
        for seq, fdata in db.execute("SELECT seq, data FROM feed WHERE report_id = ?", [rid]).fetchall():
            kept = {
                k: v for k, v in (loads(fdata, {}) or {}).items() if k not in ("comment", "sign_off_reason")
            }
            db.execute("UPDATE feed SET external_id = ?, data = ? WHERE seq = ?", [anon_id, dumps(kept), seq])
        shas += [r[0] for r in db.execute("SELECT sha256 FROM report_blobs WHERE report_id = ?", [rid])]
        db.execute("DELETE FROM report_blobs WHERE report_id = ?", [rid])
    db.execute(
        "UPDATE feed SET external_id = ? WHERE visit_id = ? AND report_id IS NULL", [anon_id, visit_id]
    )
    return len(report_ids), shas


def _due_documents(db: Database, cutoff: str, kinds: Collection[str]) -> dict[str, str]:
    """Blobs of a document kind whose every referencing report was decided before `cutoff`: sha → kind."""
    refs: dict[str, list[tuple[bool, str | None]]] = {}
    for sha, status, updated_at, body in db.execute(
        "SELECT rb.sha256, r.status, r.updated_at, v.body FROM report_blobs rb "
        "JOIN reports r ON r.id = rb.report_id "
        "LEFT JOIN report_versions v ON v.version_id = r.current_version_id "
        "JOIN blobs b ON b.sha256 = rb.sha256"
    ).fetchall():
        attachments = (loads(body, {}) or {}).get("attachments") or []
        kind = next(
            (a.get("kind") for a in attachments if isinstance(a, dict) and a.get("sha256") == sha), None
        )
        decided = status in _FINAL and (updated_at or "") < cutoff
        refs.setdefault(sha, []).append((decided, kind))
    return {
        sha: str(found[0][1])
        for sha, found in refs.items()
        if all(decided and kind in kinds for decided, kind in found)
    }


def _delete_blob(db: Database, sha: str, ts: str, reason: str, kind: str | None = None) -> None:
    db.execute("DELETE FROM report_blobs WHERE sha256 = ?", [sha])
    # The row goes now; the bytes leave the blob store once this commits (drain_blob_deletions).
    queue_blob_deletion(db, sha, datetime.fromisoformat(ts))
    detail = {"reason": reason} | ({"kind": kind} if kind else {})
    audit(db, at=ts, actor=None, action="retention.delete", entity="blob", entity_id=sha, detail=detail)


def apply_retention(
    db: Database,
    *,
    now: datetime,
    record_days: int,
    document_days: int,
    document_kinds: Collection[str] = DOCUMENT_KINDS,
    limit: int = 1000,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Anonymise the cases past the record period (at most `limit` per call), delete the documents and the
    unreferenced uploads past the document period; answers the counts (what would be done, if `dry_run`)."""
    ts = now.isoformat()
    record_cutoff = (now - timedelta(days=record_days)).isoformat()
    document_cutoff = (now - timedelta(days=document_days)).isoformat()
    cases = _due_cases(db, record_cutoff, limit)
    documents = _due_documents(db, document_cutoff, document_kinds)
    orphans = [
        r[0]
        for r in db.execute(
            "SELECT b.sha256 FROM blobs b WHERE b.created_at < ? "
            "AND NOT EXISTS (SELECT 1 FROM report_blobs rb WHERE rb.sha256 = b.sha256)",
            [document_cutoff],
        ).fetchall()
    ]
    out: dict[str, Any] = {
        "cases_anonymised": len(cases),
        "reports_anonymised": 0,
        "blobs_deleted": 0,
        "documents_deleted": len(documents),
        "unreferenced_deleted": len(orphans),
        "record_cutoff": record_cutoff,
        "document_cutoff": document_cutoff,
        "dry_run": dry_run,
    }
    if dry_run:
        out["reports_anonymised"] = db.execute(
            "SELECT COUNT(*) FROM reports WHERE visit_id IN (SELECT value FROM json_each(?))", [dumps(cases)]
        ).fetchone()[0]
        return out
    for sha, kind in documents.items():
        _delete_blob(db, sha, ts, "document_period", kind)
    for sha in orphans:
        _delete_blob(db, sha, ts, "unreferenced")
    case_blobs: set[str] = set()
    for visit_id in cases:
        n_reports, shas = _anonymise_case(db, visit_id, ts)
        out["reports_anonymised"] += n_reports
        case_blobs.update(shas)
        audit(
            db,
            at=ts,
            actor=None,
            action="retention.anonymise",
            entity="visit",
            entity_id=visit_id,
            detail={"reports": n_reports, "blobs": len(shas)},
        )
    for sha in sorted(case_blobs):
        still_used = db.execute("SELECT 1 FROM report_blobs WHERE sha256 = ? LIMIT 1", [sha]).fetchone()
        if still_used is None and db.execute("SELECT 1 FROM blobs WHERE sha256 = ?", [sha]).fetchone():
            _delete_blob(db, sha, ts, "record_period")
            out["blobs_deleted"] += 1
    audit(
        db,
        at=ts,
        actor=None,
        action="retention.run",
        entity="retention",
        detail={k: v for k, v in out.items() if k != "dry_run"},
    )
    return out
