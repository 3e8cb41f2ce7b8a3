"""What the UI shows about sync: pending count, last success, progress and last error, pushed to listeners."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

__all__ = ["StatusBoard", "SyncStatus"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """An immutable snapshot; a listener gets a new one on every change.

    `phase` is one of idle, health, blobs, push, pull, reset, reregister. `done`/`total` count the unit of
    the phase (mutations for push, changes for pull, photos and documents for blobs); `total` is None when
    unknown. `blob_bytes_done`/`blob_bytes_total` are the bytes of the photos of the running blobs phase.
    `last_error` is a `SyncError.code` (e.g. "offline", "captive_portal") or None after a success.
    """

    pending: int = 0
    in_progress: bool = False
    phase: str = "idle"
    done: int = 0
    total: int | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    next_attempt_in: float | None = None
    blob_bytes_done: int = 0
    blob_bytes_total: int = 0


Listener = Callable[[SyncStatus], None]


class StatusBoard:
    """Holds the current SyncStatus and calls listeners (on the sync thread) after each change."""

    def __init__(self, initial: SyncStatus | None = None) -> None:
        self._status = initial or SyncStatus()
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    @property
    def current(self) -> SyncStatus:
        return self._status

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Register a listener and call it once with the current status; returns an unsubscribe function."""
        with self._lock:
            self._listeners.append(listener)
        self._call(listener, self._status)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def update(self, **changes: object) -> SyncStatus:
        with self._lock:
            self._status = dataclasses.replace(self._status, **changes)  # type: ignore[arg-type]
            status, listeners = self._status, list(self._listeners)
        for listener in listeners:
            self._call(listener, status)
        return status

    @staticmethod
    def _call(listener: Listener, status: SyncStatus) -> None:
        try:
            listener(status)
        except Exception:
            # A broken view must not break sync.
            log.exception("sync status listener failed")
