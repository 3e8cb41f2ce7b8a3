"""Sync status for the banner and the sync screen: online flag, pending count, last sync, errors, and
reports that need the investigator (returned for rework, conflicts, rejections)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import flet as ft

from app.i18n import t
from app.services.backend import Engine, EngineStatus

if TYPE_CHECKING:
    from storage.records import LocalReport
    from storage.store import DeviceStore

__all__ = ["SyncStatusState"]

log = logging.getLogger(__name__)

# The engine's error codes that mean "no usable connection" (sync/client/errors.py TransportError tree).
OFFLINE_CODES = frozenset({"offline", "timeout", "captive_portal"})


@ft.observable
@dataclass
class SyncStatusState:
    monotonic: Callable[[], float]
    network: bool = True
    pending: int = 0
    last_sync_at: datetime | None = None
    in_progress: bool = False
    last_error: str | None = None
    returned: list[LocalReport] = field(default_factory=list)
    problems: list[LocalReport] = field(default_factory=list)
    # Photos and documents going up after their reports (n of m, bytes); zero outside that phase.
    photos_done: int = 0
    photos_total: int = 0
    photo_bytes_done: int = 0
    photo_bytes_total: int = 0
    # Bumped when a sync finished, so lists reading the store reload.
    finished_syncs: int = 0
    _last_auto: float | None = None

    @property
    def offline(self) -> bool:
        return not self.network or self.last_error in OFFLINE_CODES

    def refresh(self, engine: Engine | None, store: DeviceStore | None) -> None:
        """Copies the engine's status (read from its thread-safe snapshot) into observable fields."""
        status = _status_of(engine, store)
        # A fast sync can start and end between two ticks: a new last-success time also means "finished".
        finished = (self.in_progress and not status.in_progress) or status.last_sync_at != self.last_sync_at
        self.pending = status.pending
        self.last_sync_at = status.last_sync_at
        self.in_progress = status.in_progress
        self.last_error = status.last_error
        self._photo_progress(engine)
        if finished or self.finished_syncs == 0:
            self.reload_reports(store)
        if finished:
            self.finished_syncs += 1

    def _photo_progress(self, engine: Engine | None) -> None:
        """The sync engine's photo phase, when the engine tells it (its status board's blobs phase)."""
        board = getattr(getattr(engine, "engine", None), "status", None)
        current = getattr(board, "current", None)
        if current is None or getattr(current, "phase", None) != "blobs" or not current.in_progress:
            self.photos_done = self.photos_total = self.photo_bytes_done = self.photo_bytes_total = 0
            return
        self.photos_done, self.photos_total = int(current.done), int(current.total or 0)
        self.photo_bytes_done = int(current.blob_bytes_done)
        self.photo_bytes_total = int(current.blob_bytes_total)

    @property
    def photo_progress(self) -> str | None:
        """ "Photos 3 of 36 · 0.6 of 7.2 MB" while photos go up, else None."""
        if not self.photos_total:
            return None
        return t(
            "sync.photos_progress",
            n=min(self.photos_done + 1, self.photos_total),
            m=self.photos_total,
            done=f"{self.photo_bytes_done / 1e6:.1f}",
            total=f"{self.photo_bytes_total / 1e6:.1f}",
        )

    def reload_reports(self, store: DeviceStore | None) -> None:
        if store is None:
            self.returned, self.problems = [], []
            return
        try:
            reports = list(store.reports())
        except Exception:
            log.exception("reports could not be read")
            return
        self.returned = [r for r in reports if r.sync_status == "synced" and r.status == "returned"]
        self.problems = [r for r in reports if r.sync_status in ("conflict", "rejected")]

    def set_network(self, online: bool, engine: Engine | None) -> None:
        """Connectivity changed; coming back online starts a sync at once."""
        was_offline = not self.network
        self.network = online
        if engine is not None:
            with contextlib.suppress(Exception):
                engine.set_online(online)
        if online and was_offline:
            self.sync_now(engine)

    def sync_now(self, engine: Engine | None) -> bool:
        if engine is None:
            return False
        self._last_auto = self.monotonic()
        try:
            engine.sync_now()
        except Exception:
            log.exception("sync could not start")
            return False
        self.in_progress = True
        return True

    def maybe_auto_sync(self, engine: Engine | None, every_s: float) -> bool:
        """Periodic sync while online; the engine's own backoff decides whether a retry is due."""
        if engine is None or not self.network or self.in_progress:
            return False
        if self._last_auto is not None and self.monotonic() - self._last_auto < every_s:
            return False
        return self.sync_now(engine)


def _status_of(engine: Engine | None, store: DeviceStore | None) -> EngineStatus:
    if engine is not None:
        with contextlib.suppress(Exception):
            return engine.status()
    pending = 0
    last_sync_at = None
    last_error = None
    if store is not None:
        with contextlib.suppress(Exception):
            pending = int(store.pending_count())
        with contextlib.suppress(Exception):
            state = store.sync_state()
            last_sync_at, last_error = state.last_sync_at, state.last_error
    return EngineStatus(pending=pending, last_sync_at=last_sync_at, last_error=last_error)
