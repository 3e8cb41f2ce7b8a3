"""Typed results of the device store: sync bookkeeping, queue cards, outbox entries and local reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from models.codes import ProductType, ReportStatus, VisitStatus
from models.wire import Mutation

__all__ = [
    "BlobState",
    "Draft",
    "LocalReport",
    "OutboxEntry",
    "PulledPage",
    "QueueItem",
    "SyncState",
    "SyncStatus",
]

# Where the device's latest version of a report stands with the server.
SyncStatus = Literal["pending", "synced", "conflict", "rejected"]
BlobState = Literal["missing", "pending", "uploaded"]


@dataclass(frozen=True, slots=True)
class SyncState:
    device_id: str | None = None
    user_id: str | None = None
    server_url: str | None = None
    next_mutation_id: int = 1
    pull_cursor: str | None = None
    server_epoch: str | None = None
    last_sync_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One card of the visit queue: personal data masked (D-6), everything the card shows."""

    visit_id: str
    external_id: str
    masked_name: str
    masked_phone: str
    district: str
    address: str
    bucket: int
    bucket_label: str
    dpd: int
    overdue_amount: Decimal
    planned_date: date | None
    priority: Decimal
    status: VisitStatus
    product_type: ProductType
    has_draft: bool
    report_status: str | None  # display status of the visit's latest local report, if any

    @property
    def address_short(self) -> str:
        return self.address if len(self.address) <= 32 else self.address[:31] + "…"


@dataclass(frozen=True, slots=True)
class Draft:
    """A report being written: raw JSON, possibly partial or invalid while the investigator types."""

    report_id: str
    visit_id: str | None
    data: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A mutation waiting for the server's acknowledgement; `mutation` is the push body's element."""

    mutation_id: int
    kind: str
    report_id: str
    version_id: str
    mutation: Mutation
    created_at: datetime
    attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class PulledPage:
    """A pull page ready to be written (`DeviceStore.prepare_pull_page`): the cursor that follows it and its
    validated changes in order, visits already turned into rows, sealed documents and index entries. Opaque
    outside the store."""

    cursor: str
    steps: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class LocalReport:
    """The device's view of one report: its latest local version and what the server said about it.

    `status` is what a list shows: `pending` until acknowledged, `conflict`/`rejected` when the push
    said so (fix and submit a new version), otherwise the review state (`submitted`, `returned`, …).
    """

    report_id: str
    visit_id: str | None
    status: str
    sync_status: SyncStatus
    review_status: ReportStatus | None
    server_version: int
    current_version_id: str | None
    content: dict[str, Any] | None
    content_sha256: str | None
    comments: list[dict[str, Any]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    missing_blobs: list[str] = field(default_factory=list)
    error: str | None = None
    details: list[Any] = field(default_factory=list)
    server_copy: dict[str, Any] | None = None
    updated_at: datetime | None = None

    @property
    def needs_action(self) -> bool:
        """Returned by a supervisor, or refused/conflicting at push: the investigator submits anew."""
        return self.sync_status in ("conflict", "rejected") or (
            self.sync_status == "synced" and self.review_status == ReportStatus.RETURNED
        )
