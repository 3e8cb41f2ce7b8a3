"""The device's HTTP client for protocol v1: Bearer auth with token rotation, error mapping."""

from __future__ import annotations

import functools
import gzip
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from models.wire import LoginResponse, PullRequest, PullResponse, PushRequest, PushResponse
from sync.client.errors import (
    AuthError,
    CaptivePortal,
    DeviceRevoked,
    MutationGap,
    ResetRequired,
    ServerBusy,
    ServerError,
    SyncTimeout,
    TransportError,
)
from sync.client.store_protocol import SyncStore
from sync.client.tokens import StoredTokens, TokenStore, default_token_store

__all__ = ["ApiClient", "BlobStatus", "Health", "PatchAnswer", "TokenPair"]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class Health(BaseModel):
    status: str
    server_epoch: str
    protocol: int = 1


@dataclass(frozen=True, slots=True)
class BlobStatus:
    """What HEAD says of a blob: stored (in the caller's scope), or the bytes of a partial upload held."""

    stored: bool
    offset: int | None = None
    length: int | None = None


@dataclass(frozen=True, slots=True)
class PatchAnswer:
    offset: int
    complete: bool
    created: bool = False
    conflict: bool = False


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    expires_in: int | None = None


def _now() -> datetime:
    return datetime.now(UTC)


_REFRESH_LOCKS: dict[str, threading.Lock] = {}
_REFRESH_LOCKS_GUARD = threading.Lock()


def _refresh_lock_for(store: SyncStore) -> threading.Lock:
    """One lock per device database file in this process (a store without a file gets its own)."""
    where = getattr(store, "path", None)
    if where is None:
        return threading.Lock()
    with _REFRESH_LOCKS_GUARD:
        return _REFRESH_LOCKS.setdefault(str(Path(where).resolve()), threading.Lock())


class ApiClient:
    """Calls the central server for one device; the server URL and device live in the store's sync state,
    the token pair in a `TokenStore` (by default a 0600 file beside the store's database).

    Token refresh is serialised, so two threads never spend the same refresh token: the server revokes a
    device that presents a rotated one. Clients on the same device database in one process (two browser
    tabs of the web app) share the lock.
    """

    def __init__(
        self,
        store: SyncStore,
        http: httpx.Client,
        *,
        tokens: TokenStore | None = None,
        clock: Callable[[], datetime] = _now,
        gzip_level: int = 1,
    ) -> None:
        self.store = store
        self.http = http
        self.tokens = tokens if tokens is not None else default_token_store(store)
        self.clock = clock
        self.gzip_level = gzip_level
        self._refresh_lock = _refresh_lock_for(store)

    # -- identity -----------------------------------------------------------------------------------------

    def login(self, server_url: str, username: str, password: str, device_name: str) -> LoginResponse:
        """Sign in (which registers a new device) and record it in this store: `request_login` + `adopt_login`."""
        login = self.request_login(self.http, server_url, username, password, device_name)
        self.adopt_login(server_url, login)
        return login

    @classmethod
    def request_login(
        cls, http: httpx.Client, server_url: str, username: str, password: str, device_name: str
    ) -> LoginResponse:
        """POST /v1/auth/login without a store: the app signs in first, then opens that user's store.

        Raises AuthError (code `invalid_credentials`) for a wrong password, ServerBusy after repeated
        failures, TransportError offline, CaptivePortal for a foreign answer.
        """
        body = {"username": username, "password": password, "device_name": device_name}
        resp = _send_raw(http, "POST", server_url.rstrip("/") + "/v1/auth/login", json_body=body)
        if not 200 <= resp.status_code < 300:
            _raise_for(resp, clock=_now)
        return cls._parse(resp, LoginResponse)

    def adopt_login(self, server_url: str, login: LoginResponse) -> None:
        """Record a sign-in; an outbox held for an earlier device is re-numbered for the new one.

        Stored in an order that a crash at any point repairs: tokens first (a token/device mismatch reads
        as "sign in again"), then the rebased outbox with the new device, and the server epoch last (a stale
        epoch makes the next sync check again).
        """
        server_url = server_url.rstrip("/")
        state = self.store.sync_state()
        old_device, old_epoch = state.device_id, state.server_epoch
        if old_device == login.device_id and old_epoch and old_epoch != login.server_epoch:
            # Re-numbering under the same device would collide with the restored server's counter.
            raise ServerError("the restored server kept the device id", code="device_not_reissued")
        self.tokens.save(StoredTokens(login.device_id, login.access_token, login.refresh_token))
        if old_device and old_device != login.device_id:
            log.info("device re-registered: %s -> %s", old_device, login.device_id)
            self.store.rebase_outbox_for_new_device(login.device_id)
            self.store.reset_for_snapshot()
        self.store.update_sync_state(server_url=server_url, device_id=login.device_id, user_id=login.user.id)
        self.store.update_sync_state(server_epoch=login.server_epoch, last_error=None)

    def signed_in(self) -> bool:
        return self._tokens_for_device() is not None

    def sign_out(self) -> None:
        self.tokens.save(None)

    def health(self, server_url: str | None = None) -> Health:
        base = server_url.rstrip("/") if server_url else self._base_url()
        return self._parse(self._send("GET", base + "/v1/health"), Health)

    def refresh(self, used_access_token: str | None = None) -> None:
        """Rotate the token pair, unless another thread already did since `used_access_token` was read."""
        with self._refresh_lock:
            current = self._tokens_for_device()
            if current is None:
                raise AuthError("not signed in", code="not_signed_in")
            if used_access_token is not None and current.access_token != used_access_token:
                return
            resp = self._send(
                "POST",
                self._base_url() + "/v1/auth/refresh",
                json_body={"refresh_token": current.refresh_token},
            )
            pair = self._parse(resp, TokenPair)
            # Saved at once: the old refresh token is spent on the server from now on.
            self.tokens.save(StoredTokens(current.device_id, pair.access_token, pair.refresh_token))

    # -- sync ---------------------------------------------------------------------------------------------

    def encode_push(self, req: PushRequest) -> bytes:
        return gzip.compress(req.model_dump_json().encode("utf-8"), compresslevel=self.gzip_level, mtime=0)

    def push(self, req: PushRequest, *, body: bytes | None = None) -> PushResponse:
        """POST /v1/sync/push gzipped; `body` is the already-encoded request when the caller sized it."""
        return self._push(req, body, None)

    def bound_push(self, req: PushRequest, *, body: bytes | None = None) -> Callable[[], PushResponse]:
        """`push` with the server URL and access token read now: the returned call does not touch the store
        (whose lock a local transaction may hold meanwhile) unless the token has to be refreshed."""
        pinned = (self._base_url(), self._tokens_for_device())
        return functools.partial(self._push, req, body, pinned)

    def _push(
        self, req: PushRequest, body: bytes | None, pinned: tuple[str, StoredTokens | None] | None
    ) -> PushResponse:
        content = body if body is not None else self.encode_push(req)
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        resp = self._authed("POST", "/v1/sync/push", content=content, headers=headers, pinned=pinned)
        return self._parse(resp, PushResponse)

    def pull(self, req: PullRequest) -> PullResponse:
        return self._pull(req, None)

    def bound_pull(self, req: PullRequest) -> Callable[[], PullResponse]:
        """`pull` with the server URL and access token read now (see `bound_push`)."""
        pinned = (self._base_url(), self._tokens_for_device())
        return functools.partial(self._pull, req, pinned)

    def _pull(self, req: PullRequest, pinned: tuple[str, StoredTokens | None] | None) -> PullResponse:
        resp = self._authed("POST", "/v1/sync/pull", json_body=req.model_dump(mode="json"), pinned=pinned)
        return self._parse(resp, PullResponse)

    def blob_exists(self, sha256: str) -> bool:
        resp = self._authed("HEAD", f"/v1/blobs/{sha256}", allow={404})
        return resp.status_code == 200

    def blob_status(self, sha256: str) -> BlobStatus:
        """HEAD /v1/blobs/{sha256}: stored, or how many bytes of this device user's upload the server holds."""
        resp = self._authed("HEAD", f"/v1/blobs/{sha256}", allow={404})
        if resp.status_code == 200:
            return BlobStatus(stored=True)
        return BlobStatus(
            stored=False,
            offset=_int_header(resp, "Upload-Offset"),
            length=_int_header(resp, "Upload-Length"),
        )

    def patch_blob(self, sha256: str, offset: int, chunk: bytes, *, length: int) -> PatchAnswer:
        """PATCH /v1/blobs/{sha256} (tus 1.0): append `chunk` at `offset` of an upload of `length` bytes.

        Answers the server's offset afterwards (also on 409, when `offset` was not the server's) and whether
        the upload is complete; a complete upload whose bytes do not hash raises ServerError 422."""
        headers = {
            "Content-Type": "application/offset+octet-stream",
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": str(offset),
            "Upload-Length": str(length),
        }
        resp = self._authed("PATCH", f"/v1/blobs/{sha256}", content=chunk, headers=headers, allow={409})
        held = _int_header(resp, "Upload-Offset")
        if resp.status_code in (200, 201):
            return PatchAnswer(offset=length, complete=True, created=resp.status_code == 201)
        if resp.status_code in (204, 409) and held is not None:
            return PatchAnswer(offset=held, complete=False, conflict=resp.status_code == 409)
        raise CaptivePortal(f"unexpected status {resp.status_code} for a blob upload")

    def put_blob(self, sha256: str, data: bytes) -> bool:
        """Upload raw bytes; True when the server stored them now, False when it already had them."""
        headers = {"Content-Type": "application/octet-stream"}
        resp = self._authed("PUT", f"/v1/blobs/{sha256}", content=data, headers=headers)
        if resp.status_code not in (200, 201):
            raise CaptivePortal(f"unexpected status {resp.status_code} for a blob upload")
        return resp.status_code == 201

    # -- plumbing -----------------------------------------------------------------------------------------

    def _base_url(self) -> str:
        url = self.store.sync_state().server_url
        if not url:
            raise AuthError("not signed in", code="not_signed_in")
        return url.rstrip("/")

    def _tokens_for_device(self) -> StoredTokens | None:
        tokens = self.tokens.load()
        if tokens is None or tokens.device_id != self.store.sync_state().device_id:
            return None
        return tokens

    def _authed(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        allow: set[int] | None = None,
        pinned: tuple[str, StoredTokens | None] | None = None,
    ) -> httpx.Response:
        for attempt in (0, 1):
            if pinned is not None and attempt == 0:
                base_url, tokens = pinned
            else:
                base_url, tokens = self._base_url(), self._tokens_for_device()
            if tokens is None:
                raise AuthError("not signed in", code="not_signed_in")
            hdrs = dict(headers or {})
            hdrs["Authorization"] = f"Bearer {tokens.access_token}"
            try:
                return self._send(
                    method,
                    base_url + path,
                    json_body=json_body,
                    content=content,
                    headers=hdrs,
                    allow=allow,
                )
            except AuthError as exc:
                if exc.code == "token_expired" and attempt == 0:
                    self.refresh(used_access_token=tokens.access_token)
                    continue
                raise
        raise AssertionError("unreachable")

    def _send(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        allow: set[int] | None = None,
    ) -> httpx.Response:
        resp = _send_raw(self.http, method, url, json_body=json_body, content=content, headers=headers)
        if 200 <= resp.status_code < 300 or (allow and resp.status_code in allow):
            return resp
        try:
            _raise_for(resp, clock=self.clock)
        except DeviceRevoked as exc:
            self.tokens.save(None)
            if exc.wiped:
                log.warning("device revoked with wipe; deleting local data")
                self.store.wipe()
            raise
        raise AssertionError("unreachable")

    @staticmethod
    def _parse(resp: httpx.Response, model: type[M]) -> M:
        ctype = resp.headers.get("content-type", "")
        if "json" not in ctype:
            raise CaptivePortal(f"answer of type {ctype or 'none'!r} is not the server's JSON")
        try:
            return model.model_validate_json(resp.content)
        except ValidationError as exc:
            raise CaptivePortal(f"answer is not a {model.__name__}: {exc.error_count()} problems") from exc


def _send_raw(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    json_body: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    hdrs = {"Accept": "application/json", **(headers or {})}
    if json_body is not None:
        content = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        hdrs.setdefault("Content-Type", "application/json")
    try:
        return http.request(method, url, content=content, headers=hdrs)
    except httpx.TimeoutException as exc:
        raise SyncTimeout(f"{method} {_path(url)}: {type(exc).__name__}") from exc
    except httpx.TransportError as exc:
        raise TransportError(f"{method} {_path(url)}: {type(exc).__name__}") from exc


def _raise_for(resp: httpx.Response, *, clock: Callable[[], datetime]) -> None:
    """Map an error answer to the SyncError tree; always raises."""
    status = resp.status_code
    body = _error_body(resp)
    code = body.get("error") if body else None
    path = _path(str(resp.request.url))
    if 300 <= status < 400 or status == 511:
        raise CaptivePortal(f"{status} redirect or portal for {path}")
    if status == 401:
        if code == "device_revoked":
            raise DeviceRevoked("device revoked", wiped=bool(body.get("wipe")) if body else False)
        raise AuthError(f"401 {code or 'unauthorized'} for {path}", code=str(code or "unauthorized"))
    if status == 409 and code == "mutation_gap" and body is not None:
        expected = body.get("expected")
        if isinstance(expected, int):
            raise MutationGap(expected)
    if status == 410 and code == "reset_required":
        raise ResetRequired("reset required")
    if status in (429, 503):
        raise ServerBusy(
            f"{status} for {path}",
            status=status,
            code=str(code or "server_busy"),
            retry_after=_retry_after(resp.headers.get("Retry-After"), clock),
        )
    if status >= 500 or body is not None:
        raise ServerError(
            f"{status} {code or ''} for {path}".strip(), status=status, code=str(code or "http")
        )
    # A 4xx without our error envelope comes from something between us and the server.
    raise CaptivePortal(f"{status} without the server's error envelope for {path}")


def _int_header(resp: httpx.Response, name: str) -> int | None:
    raw = resp.headers.get(name, "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() else None


def _path(url: str) -> str:
    return httpx.URL(url).path


def _error_body(resp: httpx.Response) -> dict[str, Any] | None:
    if "json" not in resp.headers.get("content-type", ""):
        return None
    try:
        data = resp.json()
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data
    return None


def _retry_after(value: str | None, clock: Callable[[], datetime]) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - clock()).total_seconds())
