"""ASGI middleware: security headers on every response, bearer authentication before anything else, then
the refusal of a URL spelling U+0000, then the body cap (after gzip).

Authentication runs first so a caller without a valid token always gets 401, whatever its body. The body
cap counts decompressed bytes and stops inflating as soon as the cap is passed (a gzip bomb costs at most
the cap in memory).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_plus

from sync.server.errors import ApiError

__all__ = [
    "DESK_CSP",
    "AuthMiddleware",
    "BodyLimitMiddleware",
    "NulInUrlMiddleware",
    "SecurityHeadersMiddleware",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PATHS = frozenset({"/v1/health", "/v1/auth/login", "/v1/auth/refresh"})


async def _send_error(
    send: Send,
    status: int,
    error: str,
    message: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    body = {"error": error, "message": message, "details": []}
    body.update(extra or {})
    raw = json.dumps(body, ensure_ascii=False).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    hdrs += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": raw})


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k.lower() == name:
            return str(v.decode("latin-1"))
    return None


class AuthMiddleware:
    """Resolve `Authorization: Bearer` on every /v1 path but the public ones; 401 stops the request."""

    def __init__(self, app: ASGIApp, resolve: Callable[[str, str], Awaitable[Any]]) -> None:
        self.app = app
        self.resolve = resolve

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1/") or path in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        auth = _header(scope, b"authorization") or ""
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > 512:
            await _send_error(
                send,
                401,
                "invalid_token",
                "missing or invalid access token",
                headers={"WWW-Authenticate": "Bearer"},
            )
            return
        try:
            principal = await self.resolve(token, path)
        except ApiError as exc:
            await _send_error(
                send, exc.status, exc.error, exc.message, exc.extra, headers={"WWW-Authenticate": "Bearer"}
            )
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Buffer the request body up to `limit` bytes after gzip decoding; 413 beyond, 400 for broken gzip."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        encoding = (_header(scope, b"content-encoding") or "").strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip"):
            await _send_error(
                send, 415, "unsupported_media_type", f"unsupported Content-Encoding {encoding!r}"
            )
            return
        gzip = encoding in ("gzip", "x-gzip")
        length = _header(scope, b"content-length")
        if not gzip and length and length.isascii() and length.isdigit() and int(length) > self.limit:
            await _send_error(send, 413, "payload_too_large", f"the body exceeds {self.limit} bytes")
            return
        try:
            body = await self._read(receive, gzip)
        except _TooLarge:
            await _send_error(send, 413, "payload_too_large", f"the body exceeds {self.limit} bytes")
            return
        except zlib.error:
            await _send_error(send, 400, "bad_request", "the gzip body is not valid")
            return
        if gzip:
            headers = [
                (k, v)
                for k, v in scope["headers"]
                if k.lower() not in (b"content-encoding", b"content-length")
            ]
            headers.append((b"content-length", str(len(body)).encode()))
            scope = dict(scope, headers=headers)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive, gzip: bool) -> bytes:
        limit = self.limit
        out = bytearray()
        raw_size = 0
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        in_member = False  # bytes of a gzip member were fed and its end not yet seen
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            more = bool(message.get("more_body", False))
            raw_size += len(chunk)
            if raw_size > limit:  # the raw (or compressed) bytes alone already pass the cap
                raise _TooLarge
            if not gzip:
                out += chunk
                continue
            data = chunk
            while data:
                in_member = True
                out += inflater.decompress(data, limit + 1 - len(out))
                if len(out) > limit:
                    raise _TooLarge
                data = inflater.unconsumed_tail
                if inflater.eof:
                    data = inflater.unused_data  # a further gzip member may follow
                    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    in_member = False
        if in_member:
            raise zlib.error("truncated gzip stream")
        return bytes(out)


# The desk is plain HTML with one script and one stylesheet from this server. Its bars size themselves with
# style attributes (style-src-attr), photos and downloads are blob: URLs of fetched bytes; nothing may frame
# it, embed plugins, change its base URL or post a form elsewhere.
DESK_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' blob: data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))


def _nul_locs(scope: Scope) -> list[list[str]]:
    """Where a URL spells U+0000: `["path"]`, and `["query", name]` for each query parameter that does."""
    locs: list[list[str]] = [["path"]] if "\x00" in scope.get("path", "") else []
    for pair in scope.get("query_string", b"").split(b"&"):
        name = pair.partition(b"=")[0]
        if b"%00" in pair or b"\x00" in pair:
            locs.append(["query", unquote_plus(name.decode("latin-1")).replace("\x00", "\\u0000")])
    return locs or [["query"]]


class NulInUrlMiddleware:
    """422 for a path or query string that spells U+0000 (`%00`): no ID or filter holds it, and PostgreSQL
    text cannot hold it at all, so the request never reaches a handler on either backend."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = scope.get("query_string", b"")
            if "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query:
                await _send_error(
                    send,
                    422,
                    "validation",
                    "the URL contains the NUL character (U+0000)",
                    {
                        "details": [
                            {"loc": loc, "msg": "contains the NUL character (U+0000)"}
                            for loc in _nul_locs(scope)
                        ]
                    },
                )
                return
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """`X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer` on every response; HTML pages also
    get a Content-Security-Policy (the desk's unless the page set its own) and `X-Frame-Options: DENY`."""

    def __init__(self, app: ASGIApp, csp: str = DESK_CSP) -> None:
        self.app = app
        self.csp = csp.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = [(k, v) for k, v in _ALWAYS if k not in present]
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if ctype.lower().startswith(b"text/html"):
                    if b"content-security-policy" not in present:
                        extra.append((b"content-security-policy", self.csp))
                    if b"x-frame-options" not in present:
                        extra.append((b"x-frame-options", b"DENY"))
                message = dict(message, headers=headers + extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)
