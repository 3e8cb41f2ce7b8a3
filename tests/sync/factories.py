"""Reports and photos for the sync tests."""

from __future__ import annotations

import os
import uuid
from typing import Any

from models.report import AttachmentMeta, VisitReport
from storage.store import DeviceStore


def report(
    visit_id: str | None = None, *, report_id: str | None = None, notes: str = "已上门", **extra: Any
) -> VisitReport:
    return VisitReport(
        report_id=report_id or str(uuid.uuid4()),
        visit_id=visit_id or str(uuid.uuid4()),
        notes=notes,
        **extra,
    )


def photo(store: DeviceStore, size: int = 2048) -> AttachmentMeta:
    return store.register_attachment(
        os.urandom(size), kind="visit_photo", mime="image/jpeg", filename="p.jpg"
    )
