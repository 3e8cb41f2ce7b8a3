"""The visit queue: filters, search and paging over the device store (sorted by priority there, §6.3), or
the day's visits ordered as a route from the investigator's position (nearest neighbour + 2-opt, §6.3 "the
same-day route is then ordered by distance")."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import flet as ft

from models.route import Stop, order_route

if TYPE_CHECKING:
    from storage.records import QueueItem
    from storage.store import DeviceStore

__all__ = ["QueueOrder", "QueueState"]

log = logging.getLogger(__name__)

QueueOrder = Literal["priority", "route"]
# Visits already made (or closed) are not on the day's route.
_DONE = ("visited", "closed")
_ROUTE_PAGE = 500


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
    # Ordered by priority (the store's order) or as the route of one day's planned visits.
    order: QueueOrder = "priority"
    today: Callable[[], date] = field(default=date.today, repr=False)  # the device's local date
    route_day: date | None = None  # None: today
    # Where the route starts: the device's position, or (None) the highest-priority visit of the day.
    start: tuple[float, float] | None = None
    route_km: Decimal | None = None
    route_missing: int = 0  # the day's visits left off the route for want of coordinates
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
        if self.order == "route":
            self._load_route(store)
        else:
            self.route_km, self.route_missing = None, 0
            self.items = list(store.queue(**self._filters(), limit=self.page_size, offset=0))
            self.total = int(store.queue_count(**self._filters()))
        with contextlib.suppress(Exception):
            self.counts = dict(store.queue_counts())
        with contextlib.suppress(Exception):
            self.districts = list(store.districts())

    # -- the day's route ---------------------------------------------------------------------------

    @property
    def day(self) -> date:
        return self.route_day or self.today()

    def _day_items(self, store: DeviceStore) -> list[QueueItem]:
        """The chosen day's visits still to make that match the filters, by priority."""
        out: list[QueueItem] = []
        offset = 0
        while True:
            page = list(store.queue(**self._filters(), limit=_ROUTE_PAGE, offset=offset))
            for item in page:
                status = str(getattr(item.status, "value", item.status))
                if item.planned_date == self.day and status not in _DONE and not item.report_status:
                    out.append(item)
            if len(page) < _ROUTE_PAGE:
                return out
            offset += _ROUTE_PAGE

    def _load_route(self, store: DeviceStore) -> None:
        items = self._day_items(store)
        stops: list[Stop] = []
        for item in items:
            visit = store.get_visit(item.visit_id)
            b = visit.borrower if visit is not None else None
            if b is not None and b.lat is not None and b.lon is not None:
                stops.append(Stop(item.visit_id, float(b.lat), float(b.lon)))
        self.route_missing = len(items) - len(stops)
        if not stops:
            order, km = [], Decimal("0.0")
        elif self.start is not None:
            route = order_route(stops, start=self.start)
            order, km = route.order, route.distance_km
        else:
            first, rest = stops[0], stops[1:]
            route = order_route(rest, start=(first.lat, first.lon))
            order, km = [first.key, *route.order], route.distance_km
        by_id = {i.visit_id: i for i in items}
        self.items = [by_id[k] for k in order]
        self.total = len(self.items)
        self.route_km = km

    def set_order(self, order: QueueOrder, *, start: tuple[float, float] | None = None) -> None:
        """Orders by priority, or as the route of the chosen day from `start` (the device's position; None
        starts at the day's highest-priority visit)."""
        self.order = order
        self.start = start if order == "route" else None
        self.reload()

    def shift_day(self, days: int) -> None:
        """Moves the route to another day (the position it starts from stays)."""
        self.route_day = self.day + timedelta(days=days)
        self.reload()

    @property
    def has_more(self) -> bool:
        return len(self.items) < self.total

    def load_more(self) -> None:
        if self._store is None or not self.has_more or self.order == "route":
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
