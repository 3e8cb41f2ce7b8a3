"""One case's detail: the masked profile, the logged "show full data" tap (D-6), maps link and distance, and
the account's plans and promises with their outcome as the server last evaluated them (P-6, §5.2)."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import quote

import flet as ft

from models.privacy import mask_id_number, mask_name, mask_phone

if TYPE_CHECKING:
    from models.entities import Borrower, TrackedPlan, TrackedPromise, Visit
    from storage.records import Draft, LocalReport
    from storage.store import DeviceStore

__all__ = ["DetailState", "distance_km", "maps_url"]

log = logging.getLogger(__name__)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine) between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 6371.0088 * 2 * math.asin(math.sqrt(h))


def maps_url(lat: Decimal | None, lon: Decimal | None, address: str, *, web: bool) -> str:
    """A maps link: geo: on phones (any installed maps app), AMap's marker page in a browser."""
    if lat is not None and lon is not None:
        if web:
            return f"https://uri.amap.com/marker?position={lon},{lat}"
        return f"geo:{lat},{lon}?q={lat},{lon}"
    if web:
        return f"https://uri.amap.com/search?keyword={quote(address)}"
    return f"geo:0,0?q={quote(address)}"


@ft.observable
@dataclass
class DetailState:
    visit_id: str
    visit: Visit | None = None
    revealed: bool = False
    reports: list[LocalReport] = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)
    position: tuple[float, float] | None = None
    # Records a "full data shown" access (visit_id, user_id); raising keeps the data hidden.
    audit: Callable[[str, str | None], None] | None = field(default=None, repr=False)
    _store: DeviceStore | None = field(default=None, repr=False)

    def load(self, store: DeviceStore | None) -> None:
        self._store = store
        self.visit = store.get_visit(self.visit_id) if store is not None else None
        if store is None:
            return
        with contextlib.suppress(Exception):
            self.reports = [r for r in store.reports() if r.visit_id == self.visit_id]
        with contextlib.suppress(Exception):
            self.drafts = list(store.drafts(self.visit_id))

    # -- personal data (masked until an explicit, logged tap) ----------------
    @property
    def borrower(self) -> Borrower:
        # The detail screen shows these only once `load` found the visit.
        assert self.visit is not None, "no visit loaded"
        return self.visit.borrower

    @property
    def name(self) -> str:
        b = self.borrower
        return b.name if self.revealed else mask_name(b.name)

    @property
    def phone(self) -> str:
        b = self.borrower
        return b.phone if self.revealed else mask_phone(b.phone)

    @property
    def id_number(self) -> str:
        b = self.borrower
        return b.id_number if self.revealed else mask_id_number(b.id_number)

    def reveal(self, user_id: str | None) -> None:
        """Shows the full values and writes the access to the audit trail first."""
        if self.visit is None or self.revealed:
            return
        self._audit(user_id)
        self.revealed = True

    def hide(self) -> None:
        self.revealed = False

    def _audit(self, user_id: str | None) -> None:
        # Only ids go to the log: never the borrower's name, phone or ID number (house style habit 8).
        log.info("personal data shown: visit=%s user=%s", self.visit_id, user_id)
        if self.audit is not None:
            self.audit(self.visit_id, user_id)

    # -- after the visit: plans and promises ---------------------------------------
    @property
    def plans(self) -> list[TrackedPlan]:
        """The account's approved plans, newest approval first."""
        return list(self.visit.plans) if self.visit is not None else []

    @property
    def promises(self) -> list[TrackedPromise]:
        """The promises to pay made at the account's visits, latest promise date first."""
        found = list(self.visit.promises) if self.visit is not None else []
        return sorted(found, key=lambda p: p.date, reverse=True)

    # -- location --------------------------------------------------------------
    @property
    def coordinates(self) -> tuple[Decimal, Decimal] | None:
        b = self.borrower
        if b.lat is None or b.lon is None:
            return None
        return b.lat, b.lon

    def distance_km(self) -> float | None:
        coords = self.coordinates
        if coords is None or self.position is None:
            return None
        return distance_km(self.position, (float(coords[0]), float(coords[1])))

    def maps_url(self, *, web: bool) -> str:
        coords = self.coordinates
        b = self.borrower
        return maps_url(coords[0] if coords else None, coords[1] if coords else None, b.address, web=web)
