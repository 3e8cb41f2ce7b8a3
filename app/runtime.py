"""The app model of one session: every state object, the periodic tick (idle lock, sync status, automatic
sync) and the connectivity and lifecycle hooks."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.config import AppConfig
from app.services.audit import AuditLog
from app.services.backend import Backend
from app.services.prefs import Prefs
from app.state.queue import QueueState
from app.state.session import SessionState
from app.state.settings import SettingsState, Viewport
from app.state.sync_status import SyncStatusState

__all__ = ["AppModel"]

log = logging.getLogger(__name__)

_OFFLINE_TYPES = {"none"}


@dataclass
class AppModel:
    config: AppConfig
    backend: Backend
    prefs: Prefs
    session: SessionState
    settings: SettingsState
    queue: QueueState
    sync: SyncStatusState
    viewport: Viewport
    audit: AuditLog
    _hidden_at: float | None = None

    @classmethod
    def create(
        cls, config: AppConfig, backend: Backend, *, monotonic: Callable[[], float] = time.monotonic
    ) -> AppModel:
        prefs = Prefs(config.data_dir)
        return cls(
            config=config,
            backend=backend,
            prefs=prefs,
            session=SessionState(config=config, backend=backend, prefs=prefs, monotonic=monotonic),
            settings=SettingsState(prefs=prefs),
            queue=QueueState(page_size=config.page_size),
            sync=SyncStatusState(monotonic=monotonic),
            viewport=Viewport(),
            audit=AuditLog(config.data_dir),
        )

    def tick(self) -> None:
        """Runs every `config.tick_s` seconds on the UI loop."""
        session = self.session
        session.check_idle()
        if session.phase != "active":
            return
        before = self.sync.finished_syncs
        self.sync.refresh(session.engine, session.store)
        if self.sync.finished_syncs != before:
            session.data_version += 1
        # An engine with its own scheduler keeps its interval and backoff; triggering it would reset them.
        if not getattr(session.engine, "self_scheduling", False):
            self.sync.maybe_auto_sync(session.engine, self.config.auto_sync_s)

    def record_detail_read(self, visit_id: str, user_id: str | None) -> None:
        """D-6: full personal data was shown. Logged on the device first, then read on the server (which
        audits the read) when the engine can reach it."""
        self.audit.record("show_personal_data", user_id=user_id, visit_id=visit_id)
        report = getattr(self.session.engine, "report_detail_read", None)
        if callable(report):
            with contextlib.suppress(Exception):
                report(visit_id)

    def on_connectivity(self, types: list[Any]) -> None:
        values = {str(getattr(t, "value", t)) for t in types}
        online = bool(values - _OFFLINE_TYPES)
        self.sync.set_network(online, self.session.engine)

    def on_lifecycle(self, state: Any) -> None:
        """Locks when the app comes back after being hidden longer than the idle timeout."""
        name = str(getattr(state, "value", state)).lower()
        if name in ("hide", "inactive", "paused"):
            self._hidden_at = self.session.monotonic()
        elif name in ("resume", "show"):
            hidden_at, self._hidden_at = self._hidden_at, None
            if hidden_at is not None and self.session.monotonic() - hidden_at >= self.session.lock_after_s:
                self.session.lock()

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self.session.shutdown()
