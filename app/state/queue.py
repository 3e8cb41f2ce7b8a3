"""The visit queue: filters, search and paging over the device store (sorted by priority there, §6.3)."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import flet as ft

if TYPE_CHECKING:
    from storage.records import QueueItem
    from storage.store import DeviceStore

__all__ = ["QueueState"]

log = logging.getLogger(__name__)


@ft.observable
@dataclass
class QueueState:
    page_size: int = 50
    search: str = ""
    status: str | None = None
    bucket: int | None = None
    district: str | None = None
    items: list[QueueItem] = field(default_factory=list)
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    districts: list[str] = field(default_factory=list)
    loaded_version: int = -1
    _store: DeviceStore | None = field(default=None, repr=False)

    def bind(self, store: DeviceStore | None, version: int) -> None:
        """Reloads the first page when the store or its content changed."""
        if store is not self._store or version != self.loaded_version:
            self._store = store
            self.loaded_version = version
            self.reload()

    def _filters(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "bucket": self.bucket,
            "district": self.district,
            "search": self.search.strip() or None,
        }

    def reload(self) -> None:
        store = self._store
        if store is None:
            self.items, self.total = [], 0
            return
        self.items = list(store.queue(**self._filters(), limit=self.page_size, offset=0))
        self.total = int(store.queue_count(**self._filters()))
        with contextlib.suppress(Exception):
            self.counts = dict(store.queue_counts())
        with contextlib.suppress(Exception):
            self.districts = list(store.districts())

    @property
    def has_more(self) -> bool:
        return len(self.items) < self.total

    def load_more(self) -> None:
        if self._store is None or not self.has_more:
            return
        more = self._store.queue(**self._filters(), limit=self.page_size, offset=len(self.items))
        self.items.extend(more)

    def set_search(self, text: str) -> None:
        if text != self.search:
            self.search = text
            self.reload()

    def set_filters(self, *, status: Any = ..., bucket: Any = ..., district: Any = ...) -> None:
        """Changes the given filters (None clears one) and reloads from the first page."""
        if status is not ...:
            self.status = status or None
        if bucket is not ...:
            self.bucket = None if bucket in (None, "") else int(bucket)
        if district is not ...:
            self.district = district or None
        self.reload()

    def clear_filters(self) -> None:
        self.search, self.status, self.bucket, self.district = "", None, None, None
        self.reload()

    @property
    def filtered(self) -> bool:
        return bool(self.search.strip() or self.status or self.bucket is not None or self.district)
