"""The visit queue's denormalised rows and its SQL: filters, search and the priority order.

A row keeps in the clear only what orders and filters the queue (status, priority, bucket, district, planned
date, product, account number); what a card shows about the borrower (the masked name and phone, the
address, the amounts) is one sealed `card` (storage/crypto.py), opened for the rows on screen.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from models.codes import ProductType, VisitStatus
from models.entities import Visit
from models.privacy import mask_name, mask_phone
from models.risk import bucket_label
from storage.records import QueueItem

__all__ = [
    "CARD_FIELDS",
    "QUEUE_COLUMNS",
    "card_values",
    "queue_item",
    "queue_sql",
    "search_hits",
    "visit_row",
    "where_clause",
]

# The sealed card's values, in this order (a JSON list).
CARD_FIELDS = (
    "name",
    "masked_name",
    "masked_phone",
    "address",
    "overdue_amount",
    "dpd",
    "phone_tail",
    "id_tail",
)

QUEUE_COLUMNS = """
    v.visit_id, v.external_id, v.card, v.district, v.bucket, v.planned_date, v.priority, v.status,
    v.product_type,
    EXISTS (SELECT 1 FROM drafts d WHERE d.visit_id = v.visit_id) AS has_draft,
    (SELECT r.status FROM reports r WHERE r.visit_id = v.visit_id
      ORDER BY r.updated_at DESC LIMIT 1) AS report_status
"""


def visit_row(v: Visit, updated_at: str) -> dict[str, Any]:
    """The clear columns of a visit's queue row (the card is sealed apart, see `card_values`)."""
    loan = v.loan
    return {
        "visit_id": v.visit_id,
        "external_id": v.external_id,
        "team": v.team,
        "status": v.status.value,
        "priority": str(v.priority),
        # Integer thousandths sort exactly, with no float in between.
        "priority_milli": int((v.priority * 1000).to_integral_value(rounding=ROUND_HALF_UP)),
        "bucket": loan.bucket,
        "district": v.borrower.district,
        "planned_date": v.planned_date.isoformat() if v.planned_date else None,
        "product_type": loan.product_type.value,
        "updated_at": updated_at,
    }


def card_values(v: Visit) -> list[Any]:
    """What the queue card shows and search confirms, in `CARD_FIELDS` order."""
    b, loan = v.borrower, v.loan
    return [
        b.name,
        mask_name(b.name),
        mask_phone(b.phone),
        b.address,
        str(loan.overdue_amount),
        loan.dpd,
        b.phone[-4:],
        b.id_number[-4:],
    ]


def queue_item(row: dict[str, Any], card: list[Any]) -> QueueItem:
    """A queue card from a row and its opened card."""
    return QueueItem(
        visit_id=row["visit_id"],
        external_id=row["external_id"],
        masked_name=card[1],
        masked_phone=card[2],
        district=row["district"],
        address=card[3],
        bucket=row["bucket"],
        bucket_label=bucket_label(row["bucket"]),
        dpd=int(card[5]),
        overdue_amount=Decimal(card[4]),
        planned_date=date.fromisoformat(row["planned_date"]) if row["planned_date"] else None,
        priority=Decimal(row["priority"]),
        status=VisitStatus(row["status"]),
        product_type=ProductType(row["product_type"]),
        has_draft=bool(row["has_draft"]),
        report_status=row["report_status"],
    )


def search_hits(match: str | None, external_id: str) -> tuple[str, list[Any]]:
    """A UNION of visit ids: the blind index's hits for `match` (storage/search_index.py) and the exact
    account number."""
    parts: list[str] = []
    params: list[Any] = []
    if match:
        parts.append("SELECT rowid AS id FROM visit_index WHERE visit_index MATCH ?")
        params.append(match)
    parts.append("SELECT id FROM visits WHERE external_id = ?")
    params.append(external_id)
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
    *,
    status: str | None,
    bucket: int | None,
    district: str | None,
    search: tuple[str | None, str] | None,
    count: bool,
    paged: bool = True,
) -> tuple[str, list[Any]]:
    """`search` is (blind-index query, account number); `paged=False` leaves LIMIT/OFFSET to the caller
    (hits that must be confirmed first)."""
    where, params = where_clause(status=status, bucket=bucket, district=district)
    select = "SELECT count(*) AS n" if count else f"SELECT {QUEUE_COLUMNS}"
    if search is not None:
        hits, hit_params = search_hits(*search)
        # CROSS JOIN keeps the (usually small) hit list outside, so only the hits are sorted.
        sql = f"WITH hits(id) AS ({hits}) {select} FROM hits CROSS JOIN visits v ON v.id = hits.id{where}"
        params = hit_params + params
    else:
        sql = f"{select} FROM visits v{where}"
    if not count:
        sql += " ORDER BY v.priority_milli DESC, v.external_id, v.id"
        if paged:
            sql += " LIMIT ? OFFSET ?"
    return sql, params
