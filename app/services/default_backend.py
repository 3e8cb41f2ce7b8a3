"""The real backend: DeviceStore files per user, ApiClient sign-in, and the SyncEngine run by a
SyncScheduler on a background thread (backoff with jitter; triggered by the app)."""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from app.services.backend import EngineStatus, LoginFailed, LoginResult, SignedInUser

if TYPE_CHECKING:
    from storage.crypto import DataKey
    from storage.store import DeviceStore
    from sync.client import SyncEngine, SyncScheduler

__all__ = ["DefaultBackend", "EngineHandle"]

log = logging.getLogger(__name__)

_AUTH_FAILURES = {"invalid_credentials": "invalid_credentials", "unauthorized": "invalid_credentials"}


class EngineHandle:
    """The app's view of a running engine: a status snapshot, "sync now", online/offline and stop."""

    # The scheduler syncs every `interval` and retries with jittered backoff on its own.
    self_scheduling = True

    def __init__(self, engine: SyncEngine, scheduler: SyncScheduler, http: httpx.Client) -> None:
        self.engine = engine
        self.scheduler = scheduler
        self._http = http
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=scheduler.run_forever, args=(self._stop,), name="fieldvisit-sync", daemon=True
        )
        self._thread.start()

    def status(self) -> EngineStatus:
        s = self.engine.status.current
        return EngineStatus(
            pending=s.pending,
            last_sync_at=s.last_success_at,
            in_progress=bool(s.in_progress or self.engine.in_progress),
            last_error=s.last_error,
        )

    def sync_now(self) -> None:
        self.scheduler.trigger()

    def set_online(self, online: bool) -> None:
        if online:
            self.scheduler.trigger()

    def report_detail_read(self, visit_id: str) -> None:
        """Reads the case on the server, which audits the read there too; best effort, off the UI thread."""

        def read() -> None:
            try:
                self.engine.api._authed("GET", f"/v1/visits/{visit_id}")
            except Exception as exc:
                log.info("server audit of visit read not sent: %s", type(exc).__name__)

        threading.Thread(target=read, name="fieldvisit-audit", daemon=True).start()

    def refresh(self) -> None:
        """Re-read the pending count after a local submit."""
        self.engine.refresh_status()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(Exception):
            self._http.close()


class DefaultBackend:
    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 20.0,
        sync_interval: float = 300.0,
        retry_cap: float = 30.0,
    ) -> None:
        self.transport = transport
        self.timeout = timeout
        self.sync_interval = sync_interval
        self.retry_cap = retry_cap

    def _http(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout, transport=self.transport, follow_redirects=False)

    def open_store(self, path: Path, key: DataKey) -> DeviceStore:
        from storage.store import DeviceStore

        # Blobs per user, so one user's sign-out never touches another user's photos.
        return DeviceStore(path, blob_dir=path.with_name(path.stem + "-blobs"), key=key)

    def login(
        self,
        server_url: str,
        username: str,
        password: str,
        device_name: str,
        store: DeviceStore | None = None,
    ) -> LoginResult:
        """Signs in; without the user's store (first sign-in here) the registration lands in a staging store
        and `adopt()` moves it into the user's store once the user id is known."""
        from storage.store import DeviceStore
        from sync.client import ApiClient, AuthError, MemoryTokens, ServerBusy, SyncError, TransportError

        staging = store is None
        target: DeviceStore = DeviceStore(None) if store is None else store
        tokens = MemoryTokens() if staging else None
        with self._http() as http:
            api = ApiClient(target, http, tokens=tokens)
            try:
                resp = api.login(server_url, username, password, device_name)
            except AuthError as exc:
                raise LoginFailed(_AUTH_FAILURES.get(exc.code, "invalid_credentials")) from exc
            except ServerBusy as exc:
                raise LoginFailed("rate_limited") from exc
            except TransportError as exc:
                raise LoginFailed("offline") from exc
            except SyncError as exc:
                raise LoginFailed("server") from exc
        user = SignedInUser(resp.user.id, resp.user.name, resp.user.role.value, resp.user.team, username)
        result = LoginResult(user=user, device_id=resp.device_id, server_epoch=resp.server_epoch)
        result.client = {
            "tokens": tokens.load() if tokens else None,
            "server_url": server_url.rstrip("/"),
            "staging": staging,
        }
        if staging:
            target.close()
        return result

    def adopt(self, result: LoginResult, store: DeviceStore) -> None:
        """Moves a staging registration into the user's store (what ApiClient.login does for a known store)."""
        info = result.client or {}
        if not info.get("staging"):
            return
        from sync.client.tokens import default_token_store

        old_device = store.sync_state().device_id
        default_token_store(store).save(info["tokens"])
        if old_device and old_device != result.device_id:
            store.rebase_outbox_for_new_device(result.device_id)
            store.reset_for_snapshot()
        store.update_sync_state(
            server_url=info["server_url"], device_id=result.device_id, user_id=result.user.id
        )
        store.update_sync_state(server_epoch=result.server_epoch, last_error=None)

    def start_engine(
        self, store: DeviceStore, server_url: str, login: LoginResult | None
    ) -> EngineHandle | None:
        from sync.client import ApiClient, Backoff, SyncEngine, SyncScheduler

        http = self._http()
        api = ApiClient(store, http)
        if not api.signed_in():
            http.close()
            log.info("no stored sign-in for this store; sync waits for a new sign-in")
            return None
        engine = SyncEngine(store, api)
        # Retries after a failure back off up to `retry_cap` (the scheduler's own default is 5 minutes): with
        # the server down and back, or a connection the browser never reports as lost, the outbox leaves
        # within half a minute of the server answering again, without a tap.
        scheduler = SyncScheduler(engine, interval=self.sync_interval, backoff=Backoff(cap=self.retry_cap))
        return EngineHandle(engine, scheduler, http)
