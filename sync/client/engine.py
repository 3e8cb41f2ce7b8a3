"""The device's sync engine: outbox push (reports' text first), pull, then the reports' photos and documents
as resumable uploads; handles epochs, resets and revocation."""

from __future__ import annotations

import gc
import hashlib
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from models.wire import Mutation, PullRequest, PullResponse, PushRequest, PushResponse
from storage.records import PulledPage, SyncState
from sync.client.api import ApiClient, Health
from sync.client.crash import crash_point
from sync.client.errors import (
    AuthError,
    CaptivePortal,
    DeviceRevoked,
    MutationGap,
    ReauthRequired,
    ResetRequired,
    ServerError,
    SyncError,
    TransportError,
)
from sync.client.status import StatusBoard, SyncStatus
from sync.client.store_protocol import SyncStore
from sync.client.uploads import CHUNK_BYTES, ResumableUploader, UploadOutcome

__all__ = ["Credentials", "CredentialsProvider", "SyncEngine", "SyncReport"]

log = logging.getLogger(__name__)

Req = TypeVar("Req")
Resp = TypeVar("Resp")

MAX_BATCH_MUTATIONS = 50
MAX_BATCH_BYTES = 512 * 1024
# Photos in flight at once. Two keep a 3G link busy: while one photo's last bytes and its answer cross the
# link (a round trip, 300 ms), the other's bytes fill it; they share its bandwidth, so more only add
# connections.
UPLOAD_LANES = 2


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str
    device_name: str


# Returns the stored sign-in (e.g. from the OS keystore) or None to make the user sign in again.
CredentialsProvider = Callable[[], Credentials | None]


@dataclass
class SyncReport:
    """What one sync() did. `errors` lists per-item problems (ids and codes only) that did not stop it."""

    started_at: datetime
    finished_at: datetime | None = None
    pushed: int = 0
    applied: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    batches: int = 0
    pulled: int = 0
    pages: int = 0
    blobs_uploaded: int = 0
    blobs_present: int = 0
    # Body bytes sent for photos and documents (a cut upload's lost bytes included), and the bytes a
    # resumed upload did not send again because the server held them.
    blob_bytes_sent: int = 0
    blob_bytes_resumed: int = 0
    reset: bool = False
    reregistered: bool = False
    errors: list[str] = field(default_factory=list)


class _Ahead(Generic[Req, Resp]):
    """One API call running on a helper thread while the engine does local work (applying the previous
    answer). Only one call is ever in flight: the engine waits for it before it calls the API again."""

    def __init__(self, call: Callable[[], Resp], request: Req) -> None:
        self.request = request
        self._result: Resp | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), name="fv-sync-ahead", daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], Resp]) -> None:
        try:
            self._result = call()
        except BaseException as exc:
            self._error = exc

    def result(self) -> Resp:
        """The call's answer, or its exception raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def discard(self) -> None:
        self._thread.join()


@dataclass(frozen=True, slots=True)
class _Pulled:
    """A pull page and, when it came ahead, the store's preparation of it, made on the helper thread once the
    page arrived: a `PulledPage`, or the error preparing raised, which is raised where the page is applied,
    as it would have been without the overlap."""

    page: PullResponse
    prepared: PulledPage | Exception | None = None

    def ready(self) -> PullResponse | PulledPage:
        if isinstance(self.prepared, Exception):
            raise self.prepared
        return self.prepared if self.prepared is not None else self.page


@dataclass(frozen=True, slots=True)
class _LaneEvent:
    """What an upload lane tells the sync thread: the server's offset so far, or how the upload ended."""

    sha: str
    offset: int | None = None
    outcome: UploadOutcome | None = None
    error: BaseException | None = None


class _NewEpoch(Exception):
    def __init__(self, epoch: str) -> None:
        super().__init__(epoch)
        self.epoch = epoch


def _now() -> datetime:
    return datetime.now(UTC)


def _device_id(state: SyncState) -> str:
    if not state.device_id:
        raise AuthError("not signed in", code="not_signed_in")
    return state.device_id


class SyncEngine:
    """Syncs one device store with the central server.

    One sync at a time per engine: `sync()` waits for a running sync to finish and then runs its own (so
    whatever was submitted before the call is pushed); `try_sync()` returns None at once instead. Use one
    engine per device store.

    A new server epoch (the server was restored from a backup) needs a new device registration, which only
    a sign-in gives (a refresh token cannot create a device): the engine signs in with `credentials()` when
    the app provides them, else it raises `ReauthRequired` and keeps the outbox; the next `ApiClient.login`
    re-numbers the outbox for the new device and the next sync re-pushes it.
    """

    def __init__(
        self,
        store: SyncStore,
        api: ApiClient,
        *,
        credentials: CredentialsProvider | None = None,
        clock: Callable[[], datetime] = _now,
        status: StatusBoard | None = None,
        batch_size: int = MAX_BATCH_MUTATIONS,
        batch_bytes: int = MAX_BATCH_BYTES,
        pull_limit: int = 500,
        overlap: bool = True,
        upload_chunk_bytes: int = CHUNK_BYTES,
        upload_lanes: int = UPLOAD_LANES,
    ) -> None:
        self.store = store
        self.api = api
        self.credentials = credentials
        self.clock = clock
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.pull_limit = pull_limit
        # Send the next push batch, or ask for the next pull page, while the previous answer is applied
        # locally (the server works on one while the device stores the other).
        self.overlap = overlap
        self.status = status or StatusBoard(SyncStatus())
        self.uploader = ResumableUploader(api, chunk_bytes=upload_chunk_bytes)
        self.upload_lanes = max(1, upload_lanes)
        # Photos this engine began sending and has not seen stored: the server may hold part of them, so
        # their next upload asks it first (HEAD).
        self._begun: set[str] = set()
        # Blobs the server said it lacks in this sync's push answers: sent even if marked uploaded here
        # (the server may have been restored from a backup since).
        self._server_missing: dict[str, None] = {}
        self._lock = threading.Lock()
        self.refresh_status()

    # -- public -------------------------------------------------------------------------------------------

    def sync(self) -> SyncReport:
        """Push the outbox, then pull until up to date. Raises a SyncError when the sync could not finish."""
        with self._lock:
            return self._sync_locked()

    def push(self) -> SyncReport:
        """Push the outbox, then its photos, without pulling: for a quick send on a metered link. sync() is
        the normal call; a later sync() pulls what this skipped."""
        with self._lock:
            return self._sync_locked(pull=False)

    def try_sync(self) -> SyncReport | None:
        """Like sync(), but returns None at once when a sync is already running."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self._sync_locked()
        finally:
            self._lock.release()

    @property
    def in_progress(self) -> bool:
        return self._lock.locked()

    def refresh_status(self) -> SyncStatus:
        """Re-read the pending count and last success from the store (call after a local submit)."""
        state = self.store.sync_state()
        return self.status.update(
            pending=self.store.pending_count(),
            last_success_at=state.last_sync_at,
            last_error=state.last_error,
        )

    # -- one sync -----------------------------------------------------------------------------------------

    def _sync_locked(self, *, pull: bool = True) -> SyncReport:
        report = SyncReport(started_at=self.clock())
        self.status.update(in_progress=True, phase="health", done=0, total=None, next_attempt_in=None)
        try:
            self._run(report, pull=pull)
        except SyncError as exc:
            self._record_failure(exc)
            raise
        except Exception as exc:
            self._record_failure(SyncError(type(exc).__name__, code="internal"))
            raise
        now = self.clock()
        report.finished_at = now
        # Only a full sync (push and pull) counts as "last synced" for the investigator.
        success = {"last_sync_at": now} if pull else {}
        self.store.update_sync_state(last_error=None, **success)
        self.status.update(
            in_progress=False,
            phase="idle",
            done=0,
            total=None,
            pending=self.store.pending_count(),
            last_error=None,
            **({"last_success_at": now} if pull else {}),
        )
        log.info(
            "sync done: pushed=%d applied=%d dup=%d conflict=%d rejected=%d pulled=%d blobs=%d",
            report.pushed,
            report.applied,
            report.duplicates,
            report.conflicts,
            report.rejected,
            report.pulled,
            report.blobs_uploaded,
        )
        return report

    def _record_failure(self, exc: SyncError) -> None:
        pending = 0
        if not (isinstance(exc, DeviceRevoked) and exc.wiped):
            try:
                self.store.update_sync_state(last_error=exc.code)
                pending = self.store.pending_count()
            except Exception:
                log.exception("could not record the sync error")
        self.status.update(
            in_progress=False, phase="idle", done=0, total=None, pending=pending, last_error=exc.code
        )

    def _run(self, report: SyncReport, *, pull: bool = True) -> None:
        state = self.store.sync_state()
        if not state.device_id or not state.server_url:
            raise AuthError("not signed in", code="not_signed_in")
        health: Health | None = self.api.health()
        for _ in range(3):
            try:
                if health is not None and health.server_epoch != self.store.sync_state().server_epoch:
                    raise _NewEpoch(health.server_epoch)
                self._server_missing = {}
                # Reports' text first: the supervisor sees a report while its photos are still on the way.
                self._push_all(report)
                if pull:
                    self._pull_all(report)
                self._upload_photos(report)
                return
            except _NewEpoch as new:
                self._reregister(new.epoch, report)
                health = None
        raise ServerError("server epoch keeps changing", code="epoch_unstable")

    # -- epochs -------------------------------------------------------------------------------------------

    def _reregister(self, epoch: str, report: SyncReport) -> None:
        """The server was restored: sign in again for a new device, re-number and re-push the outbox."""
        log.warning("server epoch changed to %s; re-registering the device", epoch)
        self.status.update(phase="reregister", done=0, total=None)
        creds = self.credentials() if self.credentials is not None else None
        if creds is None:
            raise ReauthRequired("the server was restored; sign in again")
        state = self.store.sync_state()
        self.api.login(str(state.server_url), creds.username, creds.password, creds.device_name)
        report.reregistered = True
        report.reset = True

    def _confirm_new_epoch(self) -> None:
        """A 410 or an unexpected epoch on push/pull: ask health whether the server really changed."""
        health = self.api.health()
        if health.server_epoch != self.store.sync_state().server_epoch:
            raise _NewEpoch(health.server_epoch)

    # -- push ---------------------------------------------------------------------------------------------

    def _push_all(self, report: SyncReport) -> None:
        total = self.store.pending_count()
        self.status.update(phase="push", done=0, total=total, pending=total)
        last_gap: int | None = None
        stalled_at: int | None = None
        ahead: tuple[list[Mutation], SyncState, _Ahead[PushRequest, PushResponse]] | None = None
        try:
            while True:
                sent: _Ahead[PushRequest, PushResponse] | None = None
                following: tuple[list[Mutation], bytes] | None = None
                if ahead is not None:
                    mutations, state, sent = ahead
                    ahead = None
                else:
                    batch = self._next_batch()
                    if not batch:
                        return
                    mutations, body = batch
                    state = self.store.sync_state()
                    req = PushRequest(
                        device_id=_device_id(state), server_epoch=state.server_epoch, mutations=mutations
                    )
                    crash_point("push.before_send")
                try:
                    if sent is not None:
                        # While this batch is in flight, encode the one after it (read-only: the outbox
                        # keeps both until their answers are applied).
                        following = self._next_batch(after=mutations[-1].mutation_id)
                    resp = sent.result() if sent is not None else self.api.push(req, body=body)
                except (TransportError, CaptivePortal, ServerError) as exc:
                    self.store.note_push_failure(exc.code)
                    raise
                except ResetRequired:
                    self._confirm_new_epoch()
                    raise ServerError(
                        "reset_required on push without a new epoch", code="reset_required"
                    ) from None
                except MutationGap as gap:
                    self._handle_gap(gap.expected, mutations[0].mutation_id, last_gap)
                    last_gap = gap.expected
                    continue
                crash_point("push.after_send")
                if resp.server_epoch != state.server_epoch:
                    self._confirm_new_epoch()
                ahead = self._send_ahead(mutations, resp, state, following)
                self.store.apply_push_response(resp)
                crash_point("push.after_apply")
                self._count(resp, report)
                for r in resp.results:
                    self._server_missing.update(dict.fromkeys(r.missing_blobs))
                first = mutations[0].mutation_id
                if stalled_at == first:
                    raise ServerError("the push answer acknowledged nothing", code="push_stalled")
                stalled_at = first
                last_gap = None
                self.status.update(done=report.pushed, pending=self.store.pending_count())
        finally:
            if ahead is not None:
                ahead[2].discard()

    def _send_ahead(
        self,
        mutations: list[Mutation],
        resp: PushResponse,
        state: SyncState,
        encoded: tuple[list[Mutation], bytes] | None = None,
    ) -> tuple[list[Mutation], SyncState, _Ahead[PushRequest, PushResponse]] | None:
        """Send the batch after `mutations` before their answer is applied, when that is exactly what the
        next round would send anyway: the server took the whole batch. A crash in between leaves both batches
        in the outbox, and resending them answers `duplicate`."""
        last = mutations[-1].mutation_id
        if not self.overlap or resp.last_mutation_id != last:
            return None
        batch = encoded if encoded and encoded[0][0].mutation_id == last + 1 else self._next_batch(after=last)
        if not batch:
            return None
        following, body = batch
        if following[0].mutation_id != last + 1:
            return None
        req = PushRequest(device_id=_device_id(state), server_epoch=state.server_epoch, mutations=following)
        crash_point("push.before_send")
        return following, state, _Ahead(self.api.bound_push(req, body=body), req)

    def _next_batch(self, after: int | None = None) -> tuple[list[Mutation], bytes] | None:
        """The next contiguous run of the outbox (after mutation `after` when given, whose batch is still
        in the outbox awaiting its answer), and its encoded push body."""
        entries = [e.mutation for e in self.store.outbox(limit=self.batch_size, after=after or 0)]
        if not entries:
            return None
        # A contiguous run only: a hole would make the server stop there anyway (409 mutation_gap).
        run = [entries[0]]
        for m in entries[1:]:
            if m.mutation_id != run[-1].mutation_id + 1:
                break
            run.append(m)
        state = self.store.sync_state()
        n = len(run)
        while True:
            req = PushRequest(device_id=_device_id(state), server_epoch=state.server_epoch, mutations=run[:n])
            body = self.api.encode_push(req)
            if len(body) <= self.batch_bytes or n == 1:
                return run[:n], body
            n = max(1, min(n - 1, n * self.batch_bytes // len(body)))

    def _handle_gap(self, expected: int, first_sent: int, last_gap: int | None) -> None:
        log.warning("mutation gap: server expects %d, batch started at %d", expected, first_sent)
        if expected >= first_sent:
            # Mutations before `expected` were applied; resending them answers `duplicate` with their results.
            if last_gap == expected:
                raise ServerError(f"mutation gap at {expected} persists", code="mutation_gap")
            return
        if expected == 1:
            # The server has applied nothing from this device: number the outbox from 1 for it.
            self.store.rebase_outbox_for_new_device(str(self.store.sync_state().device_id))
            return
        # The server lost mutations it had acknowledged; only a new device registration re-sends them all.
        if self.credentials is None:
            raise ReauthRequired(f"server lost mutations {expected}..{first_sent - 1}; sign in again")
        raise _NewEpoch(str(self.store.sync_state().server_epoch))

    def _count(self, resp: PushResponse, report: SyncReport) -> None:
        report.batches += 1
        for r in resp.results:
            report.pushed += 1
            if r.status == "applied":
                report.applied += 1
            elif r.status == "duplicate":
                report.duplicates += 1
            elif r.status == "conflict":
                report.conflicts += 1
            else:
                report.rejected += 1
                report.errors.append(f"mutation {r.mutation_id}: {r.error}")
                log.warning("mutation %d rejected: %s", r.mutation_id, r.error)

    # -- photos and documents ----------------------------------------------------------------------------

    def _photos_to_send(self) -> list[tuple[str, int]]:
        """(hash, size) of what the server lacks for reports it holds, oldest first: what its push answers
        named in this sync, and what the device's reports still miss there and this device has not sent."""
        pending = self.store.pending_blobs()
        if not pending and not self._server_missing:
            return []
        wanted: dict[str, int] = {}
        for r in self.store.reports():
            if not r.missing_blobs:
                continue
            sizes = {
                str(a.get("sha256")): int(a.get("size_bytes") or 0)
                for a in (r.content or {}).get("attachments") or []
                if isinstance(a, dict)
            }
            for sha in r.missing_blobs:
                wanted.setdefault(sha, sizes.get(sha, 0))
        order = [*pending, *(sha for sha in self._server_missing if sha not in pending)]
        return [
            (sha, wanted.get(sha, 0))
            for sha in order
            if sha in self._server_missing or (sha in wanted and self.store.blob_state(sha) == "pending")
        ]

    def _upload_photos(self, report: SyncReport) -> None:
        """Send the reports' photos and documents, resumably, `upload_lanes` at a time: while one photo's
        answer crosses the link, the next one's bytes already use it. A report submitted meanwhile is pushed
        as soon as a lane is free, before the next photo starts, and its photos join the round. A failure is
        the sync's failure (backoff, last_error), raised once the photos in flight have ended. Store writes
        and status changes stay on the sync thread."""
        todo = deque(self._photos_to_send())
        if not todo:
            return
        sizes = dict(todo)
        self.status.update(
            phase="blobs", done=0, total=len(sizes), blob_bytes_done=0, blob_bytes_total=sum(sizes.values())
        )
        events: queue.SimpleQueue[_LaneEvent] = queue.SimpleQueue()
        running: dict[str, threading.Thread] = {}
        held: dict[str, int] = {}  # what the server holds of each photo in flight
        done = done_bytes = 0
        failure: BaseException | None = None
        while True:
            try:
                while failure is None and len(running) < self.upload_lanes:
                    if self.store.outbox(limit=1):
                        self._push_all(report)
                        # The reports just pushed may lack photos too: they join this round.
                        for sha, size in self._photos_to_send():
                            if sha not in sizes:
                                sizes[sha] = size
                                todo.append((sha, size))
                        self.status.update(
                            phase="blobs", done=done, total=len(sizes), blob_bytes_total=sum(sizes.values())
                        )
                    if not todo:
                        break
                    sha, _ = todo.popleft()
                    data = self._checked_bytes(sha, report)
                    if data is None:
                        done += 1
                        done_bytes += sizes[sha]
                        self.status.update(done=done, blob_bytes_done=done_bytes + sum(held.values()))
                        continue
                    # Named missing just now and never begun here: no partial expected, so no HEAD.
                    new = sha in self._server_missing and sha not in self._begun
                    self._begun.add(sha)
                    held[sha] = 0
                    lane = threading.Thread(
                        target=self._upload_lane, args=(sha, data, new, events), name="fv-upload", daemon=True
                    )
                    running[sha] = lane
                    lane.start()
            except BaseException as exc:  # a push in between failed: let the photos in flight end first
                failure = exc
            if not running:
                break
            event = events.get()
            if event.offset is not None:
                held[event.sha] = event.offset
                self.status.update(blob_bytes_done=done_bytes + sum(held.values()))
                continue
            running.pop(event.sha).join()
            held.pop(event.sha, None)
            try:
                self._finish_blob(event, report)
            except BaseException as exc:
                failure = failure or exc
                continue
            done += 1
            done_bytes += sizes[event.sha]
            self.status.update(done=done, blob_bytes_done=done_bytes + sum(held.values()))
        if failure is not None:
            raise failure
        self._server_missing = {}

    def _upload_lane(self, sha: str, data: bytes, new: bool, events: queue.SimpleQueue[_LaneEvent]) -> None:
        """One photo's upload on a helper thread: API calls only; what it learns goes to the sync thread."""
        try:
            outcome = self.uploader.upload(
                sha, data, new=new, on_bytes=lambda offset: events.put(_LaneEvent(sha, offset=offset))
            )
        except BaseException as exc:
            events.put(_LaneEvent(sha, error=exc))
        else:
            events.put(_LaneEvent(sha, outcome=outcome))

    def _checked_bytes(self, sha: str, report: SyncReport) -> bytes | None:
        data = self.store.blob_bytes(sha)
        if data is None:
            report.errors.append(f"blob {sha}: missing on the device")
            return None
        if hashlib.sha256(data).hexdigest() != sha:
            # Never send bytes that do not match their name; the report stays incomplete on the server.
            report.errors.append(f"blob {sha}: local copy corrupt")
            log.error("blob %s does not match its hash; not uploaded", sha)
            return None
        return data

    def _finish_blob(self, event: _LaneEvent, report: SyncReport) -> None:
        """Record one ended upload: a refused photo as the report's error, a stored one as uploaded. A photo
        the server holds outside this user's scope (404: the visit was reassigned since its report went) is
        refused too; the other photos still go."""
        sha, outcome = event.sha, event.outcome
        if event.error is not None:
            if isinstance(event.error, ServerError) and event.error.status in (404, 413, 422):
                report.errors.append(f"blob {sha}: {event.error.code}")
                return
            raise event.error
        assert outcome is not None
        crash_point("blob.after_put")
        self.store.mark_blob_uploaded(sha)
        self._begun.discard(sha)
        report.blob_bytes_sent += outcome.sent
        report.blob_bytes_resumed += outcome.resumed_from if outcome.sent else 0
        if outcome.sent or outcome.stored:
            report.blobs_uploaded += 1
        else:
            report.blobs_present += 1

    # -- pull ---------------------------------------------------------------------------------------------

    def _pull_all(self, report: SyncReport) -> None:
        with _collector_paused():
            self._pull_pages(report)

    def _pull_pages(self, report: SyncReport) -> None:
        self.status.update(phase="pull", done=0, total=None)
        resets = 0
        ahead: _Ahead[PullRequest, _Pulled] | None = None
        try:
            while True:
                state = self.store.sync_state()
                req = PullRequest(
                    device_id=_device_id(state),
                    server_epoch=state.server_epoch,
                    cursor=state.pull_cursor,
                    limit=self.pull_limit,
                )
                pending, ahead = ahead, None
                try:
                    pulled = self._fetch_page(req, pending)
                except ResetRequired:
                    self._confirm_new_epoch()
                    resets += 1
                    if resets > 1:
                        raise ServerError(
                            "reset_required for a snapshot pull", code="reset_required"
                        ) from None
                    log.warning("pull cursor refused; pulling a snapshot")
                    self.status.update(phase="reset")
                    self.store.reset_for_snapshot()
                    report.reset = True
                    self.status.update(phase="pull")
                    continue
                page = pulled.page
                crash_point("pull.after_receive")
                if page.server_epoch != state.server_epoch:
                    self._confirm_new_epoch()
                if page.has_more and self.overlap:
                    # The next page is asked for with the cursor this one carries, which is what the store
                    # holds once this page is applied; it is used only if the store agrees then. The helper
                    # thread also prepares it (validated, rows built and sealed) once it arrives: by then
                    # this page's writing is mostly done, and the server's time on the next page overlaps
                    # the device's work on this one.
                    nxt = PullRequest(
                        device_id=_device_id(state),
                        server_epoch=state.server_epoch,
                        cursor=page.cursor,
                        limit=self.pull_limit,
                    )
                    ahead = _Ahead(self._pull_prepared(self.api.bound_pull(nxt)), nxt)
                self.store.apply_pull_page(pulled.ready())
                crash_point("pull.after_apply")
                report.pages += 1
                report.pulled += len(page.changes)
                self.status.update(done=report.pulled)
                if not page.has_more:
                    return
        finally:
            if ahead is not None:
                ahead.discard()

    def _pull_prepared(self, pull: Callable[[], PullResponse]) -> Callable[[], _Pulled]:
        def fetch_and_prepare() -> _Pulled:
            page = pull()
            try:
                return _Pulled(page, self.store.prepare_pull_page(page))
            except Exception as exc:  # raised when the page is applied (`_Pulled.ready`)
                return _Pulled(page, exc)

        return fetch_and_prepare

    def _fetch_page(self, req: PullRequest, pending: _Ahead[PullRequest, _Pulled] | None) -> _Pulled:
        if pending is not None:
            if pending.request == req:
                return pending.result()
            pending.discard()
        return _Pulled(self.api.pull(req))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while pull pages are parsed and applied.

    A snapshot page allocates hundreds of thousands of acyclic containers (parsed JSON, models); with the
    collector on, they trigger repeated full collections that scan everything alive, a fifth of the pull's
    time. Reference counting still frees them page by page; the collector resumes afterwards (if it was on).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
