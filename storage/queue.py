"""The visit queue's denormalised rows and its SQL: filters, search and the priority order."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from models.codes import ProductType, VisitStatus
from models.entities import Visit
from models.privacy import mask_name, mask_phone
from models.risk import bucket_label
from storage.records import QueueItem

__all__ = ["QUEUE_COLUMNS", "queue_item", "queue_sql", "search_hits", "visit_row", "where_clause"]

# Shortest query the trigram index can answer; shorter ones scan the index on names.
_TRIGRAM = 3

QUEUE_COLUMNS = """
    v.visit_id, v.external_id, v.masked_name, v.masked_phone, v.district, v.address, v.bucket, v.dpd,
    v.overdue_amount, v.planned_date, v.priority, v.status, v.product_type,
    EXISTS (SELECT 1 FROM drafts d WHERE d.visit_id = v.visit_id) AS has_draft,
    (SELECT r.status FROM reports r WHERE r.visit_id = v.visit_id
      ORDER BY r.updated_at DESC LIMIT 1) AS report_status
"""


def visit_row(v: Visit, updated_at: str) -> dict[str, Any]:
    b, loan = v.borrower, v.loan
    return {
        "visit_id": v.visit_id,
        "external_id": v.external_id,
        "team": v.team,
        "status": v.status.value,
        "priority": str(v.priority),
        # Integer thousandths sort exactly, with no float in between.
        "priority_milli": int((v.priority * 1000).to_integral_value(rounding=ROUND_HALF_UP)),
        "bucket": loan.bucket,
        "dpd": loan.dpd,
        "district": b.district,
        "planned_date": v.planned_date.isoformat() if v.planned_date else None,
        "product_type": loan.product_type.value,
        "overdue_amount": str(loan.overdue_amount),
        "name": b.name,
        "masked_name": mask_name(b.name),
        "phone_tail": b.phone[-4:],
        "masked_phone": mask_phone(b.phone),
        "id_tail": b.id_number[-4:],
        "address": b.address,
        "updated_at": updated_at,
    }


def queue_item(row: dict[str, Any]) -> QueueItem:
    return QueueItem(
        visit_id=row["visit_id"],
        external_id=row["external_id"],
        masked_name=row["masked_name"],
        masked_phone=row["masked_phone"],
        district=row["district"],
        address=row["address"],
        bucket=row["bucket"],
        bucket_label=bucket_label(row["bucket"]),
        dpd=row["dpd"],
        overdue_amount=Decimal(row["overdue_amount"]),
        planned_date=date.fromisoformat(row["planned_date"]) if row["planned_date"] else None,
        priority=Decimal(row["priority"]),
        status=VisitStatus(row["status"]),
        product_type=ProductType(row["product_type"]),
        has_draft=bool(row["has_draft"]),
        report_status=row["report_status"],
    )


def search_hits(search: str) -> tuple[str, list[Any]]:
    """A UNION of visit ids matching the search: name/address substring, phone or ID tail, account no."""
    q = search.strip()
    parts: list[str] = []
    params: list[Any] = []
    if len(q) >= _TRIGRAM:
        parts.append("SELECT rowid AS id FROM visits_fts WHERE visits_fts MATCH ?")
        params.append('"' + q.replace('"', '""') + '"')
    else:
        # One or two characters (a surname, a given name) search names only, through the covering index on
        # `name`; in an address they would match nearly everything.
        parts.append("SELECT id FROM visits WHERE name LIKE ? ESCAPE '\\'")
        params.append("%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    if len(q) == 4:
        parts.append("SELECT id FROM visits WHERE phone_tail = ?")
        parts.append("SELECT id FROM visits WHERE id_tail = ?")
        params += [q, q.upper()]
    parts.append("SELECT id FROM visits WHERE external_id = ?")
    params.append(q)
    return " UNION ".join(parts), params


def where_clause(*, status: str | None, bucket: int | None, district: str | None) -> tuple[str, list[Any]]:
    conds: list[str] = []
    params: list[Any] = []
    if status is not None:
        conds.append("v.status = ?")
        params.append(str(status))
    if bucket is not None:
        conds.append("v.bucket = ?")
        params.append(int(bucket))
    if district is not None:
        conds.append("v.district = ?")
        params.append(district)
    return (" WHERE " + " AND ".join(conds)) if conds else "", params


def queue_sql(
    *, status: str | None, bucket: int | None, district: str | None, search: str | None, count: bool
) -> tuple[str, list[Any]]:
    where, params = where_clause(status=status, bucket=bucket, district=district)
    select = "SELECT count(*) AS n" if count else f"SELECT {QUEUE_COLUMNS}"
    if search is not None and search.strip():
        hits, hit_params = search_hits(search)
        # CROSS JOIN keeps the (usually small) hit list outside, so only the hits are sorted.
        sql = f"WITH hits(id) AS ({hits}) {select} FROM hits CROSS JOIN visits v ON v.id = hits.id{where}"
        params = hit_params + params
    else:
        sql = f"{select} FROM visits v{where}"
    if not count:
        sql += " ORDER BY v.priority_milli DESC, v.external_id, v.id LIMIT ? OFFSET ?"
    return sql, params
