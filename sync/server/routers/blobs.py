"""PUT|PATCH|HEAD|GET /v1/blobs/{sha256}: content-addressed photos and documents.

PATCH and HEAD also speak the tus 1.0 core protocol (protocol.md v1.1 "Resumable blob uploads"): an
upload cut mid-way resumes at the offset the server holds.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from sqlite_utils import Database
from starlette.concurrency import run_in_threadpool

from sync.server.context import Actor, Ctx, ServerContext
from sync.server.errors import ApiError
from sync.server.store.blobs import blob_exists, blob_size_for, check_blob_scope, legacy_blob_data, put_blob
from sync.server.store.common import Principal
from sync.server.store.uploads import (
    Partial,
    PartialStore,
    begin_upload,
    discard_upload,
    expire_uploads,
    finish_upload,
    partial_for,
    partial_store,
    record_offset,
)

router = APIRouter(tags=["blobs"])


def _scoped_partial(db: Database, *, actor: Principal, sha256: str, live_after: str | None) -> Partial | None:
    """404 for a blob stored outside the caller's scope (`check_blob_scope`), else the caller's partial."""
    check_blob_scope(db, actor=actor, sha256=sha256)
    return partial_for(db, user_id=actor.user_id, sha256=sha256, live_after=live_after)


_SHA = re.compile(r"^[0-9a-f]{64}$")
_DIGITS = re.compile(r"[0-9]+")
_HUGE = 10**18
log = logging.getLogger("fieldvisit.server.blobs")

TUS_VERSION = "1.0.0"
TUS = {"Tus-Resumable": TUS_VERSION}
OFFSET_TYPE = "application/offset+octet-stream"
# One PATCH at a time per caller and hash: a retry waits for the cut request it replaces to be recorded.
_locks: dict[tuple[str, str], asyncio.Lock] = {}


def _digest(sha256: str) -> str:
    sha = sha256.lower()
    if not _SHA.match(sha):
        raise ApiError(
            422,
            "validation",
            "not a SHA-256 hex digest",
            [{"loc": ["path", "sha256"], "msg": "64 hexadecimal characters"}],
        )
    return sha


@router.put(
    "/v1/blobs/{sha256}",
    status_code=201,
    responses={
        200: {"description": "already present"},
        404: {"description": "already present, but outside the caller's scope (as GET answers it)"},
        413: {"description": "too large"},
        422: {"description": "hash_mismatch: the bytes do not hash to the path"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"},
                    "example": "raw bytes",
                }
            },
        }
    },
)
async def put(sha256: str, request: Request, actor: Actor, ctx: Ctx) -> Response:
    sha = _digest(sha256)
    data = await request.body()
    if hashlib.sha256(data).hexdigest() != sha:
        raise ApiError(422, "hash_mismatch", "the bytes do not match the SHA-256 in the path")
    # The bytes reach the blob store before the row names them; an already stored blob is not sent again.
    if await ctx.db.read(blob_exists, sha) is None:
        await run_in_threadpool(ctx.blobs.put, sha, data)
    created = await ctx.db.write(put_blob, actor=actor, sha256=sha, size=len(data), now=ctx.clock())
    return Response(status_code=201 if created else 200)


@router.head(
    "/v1/blobs/{sha256}",
    responses={
        200: {"description": "stored (and in the caller's scope)"},
        404: {
            "description": "not stored, or outside the caller's scope (the same answer); for the caller's "
            "partial upload with Upload-Offset (bytes held) and Upload-Length"
        },
    },
)
async def head(sha256: str, actor: Actor, ctx: Ctx) -> Response:
    sha = _digest(sha256)
    size = await ctx.db.read(blob_size_for, actor=actor, sha256=sha)
    if size is not None:
        return Response(status_code=200, headers={"Content-Length": str(size), **TUS})
    lock = _locks.get((actor.user_id, sha))
    if lock is not None:
        async with lock:  # a PATCH being recorded (a cut one, say) answers first
            pass
    partial = await ctx.db.read(partial_for, user_id=actor.user_id, sha256=sha, live_after=_live_after(ctx))
    headers = {**TUS, "Cache-Control": "no-store"}
    if partial is not None:
        headers |= {"Upload-Offset": str(partial.offset), "Upload-Length": str(partial.length)}
    return Response(status_code=404, headers=headers)


@router.options(
    "/v1/blobs/{sha256}",
    status_code=204,
    responses={204: {"description": "tus 1.0 core: the version spoken and the largest upload"}},
)
async def options(sha256: str, actor: Actor, ctx: Ctx) -> Response:
    _digest(sha256)
    headers = {**TUS, "Tus-Version": TUS_VERSION, "Tus-Max-Size": str(ctx.settings.body_limit)}
    return Response(status_code=204, headers=headers)


@router.get(
    "/v1/blobs/{sha256}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def get(sha256: str, actor: Actor, ctx: Ctx) -> Response:
    sha = _digest(sha256)
    size = await ctx.db.read(blob_size_for, actor=actor, sha256=sha)
    if size is None:
        raise ApiError(404, "not_found", "no such blob")
    legacy = await ctx.db.read(legacy_blob_data, sha)
    if legacy is not None:
        return Response(content=legacy, media_type="application/octet-stream")
    pieces = await run_in_threadpool(ctx.blobs.iter, sha)
    if pieces is None:
        log.error("blob %s has a row but no bytes in the blob store", sha)
        raise ApiError(404, "not_found", "no such blob")
    # Streamed from the store piece by piece: a large document never sits whole in memory.
    return StreamingResponse(
        pieces, media_type="application/octet-stream", headers={"Content-Length": str(size)}
    )


def _files(ctx: ServerContext) -> PartialStore:
    return partial_store(ctx.blobs, ctx.settings.uploads_path)


def _header_int(request: Request, name: str, *, required: bool) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        if required:
            raise ApiError(400, "bad_request", f"{name} is required", headers=TUS)
        return None
    digits = raw.strip()
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not _DIGITS.fullmatch(digits):
        raise ApiError(400, "bad_request", f"{name} must be a non-negative integer", headers=TUS)
    digits = digits.lstrip("0") or "0"
    # Past any body cap or offset held; int() refuses strings of more than 4,300 digits.
    return _HUGE if len(digits) > 18 else int(digits)


def _offset_conflict(offset: int, length: int) -> ApiError:
    return ApiError(
        409,
        "offset_mismatch",
        "Upload-Offset differs from the bytes the server holds",
        extra={"upload_offset": offset},
        headers={**TUS, "Upload-Offset": str(offset), "Upload-Length": str(length)},
    )


@router.patch(
    "/v1/blobs/{sha256}",
    status_code=204,
    responses={
        200: {"description": "complete, and the blob was already stored in the caller's scope"},
        404: {"description": "the blob is stored, but outside the caller's scope (as GET answers it)"},
        201: {"description": "complete: the bytes hash to the path and are stored"},
        204: {"description": "appended; Upload-Offset is the bytes now held"},
        400: {"description": "Upload-Offset or Upload-Length missing or malformed, or past the length"},
        409: {"description": "offset_mismatch: Upload-Offset differs from the server's (in the answer)"},
        412: {"description": "a Tus-Resumable version other than 1.0.0"},
        413: {"description": "Upload-Length above the body cap"},
        415: {"description": "Content-Type is not application/offset+octet-stream"},
        422: {
            "description": "hash_mismatch: the complete bytes do not hash to the path; the partial is gone"
        },
    },
    openapi_extra={
        "parameters": [
            {"name": "Upload-Offset", "in": "header", "required": True, "schema": {"type": "integer"}},
            {"name": "Upload-Length", "in": "header", "required": False, "schema": {"type": "integer"}},
            {"name": "Tus-Resumable", "in": "header", "required": False, "schema": {"type": "string"}},
        ],
        "requestBody": {
            "required": True,
            "content": {
                OFFSET_TYPE: {"schema": {"type": "string", "format": "binary"}, "example": "raw bytes"}
            },
        },
    },
)
async def patch(sha256: str, request: Request, actor: Actor, ctx: Ctx) -> Response:
    sha = _digest(sha256)
    version = request.headers.get("Tus-Resumable")
    if version is not None and version != TUS_VERSION:
        raise ApiError(
            412,
            "precondition_failed",
            "only tus 1.0.0 is spoken here",
            headers={**TUS, "Tus-Version": TUS_VERSION},
        )
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != OFFSET_TYPE:
        raise ApiError(415, "unsupported_media_type", f"Content-Type must be {OFFSET_TYPE}", headers=TUS)
    offset = _header_int(request, "Upload-Offset", required=True)
    length = _header_int(request, "Upload-Length", required=False)
    assert offset is not None
    if length is not None and length > ctx.settings.body_limit:
        raise ApiError(
            413, "payload_too_large", f"uploads are capped at {ctx.settings.body_limit} bytes", headers=TUS
        )
    # The body middleware hands over what arrived: all of it, or the part before a cut connection.
    data = await request.body()
    if len(_locks) > 10_000:
        for key in [k for k, v in _locks.items() if not v.locked()]:
            del _locks[key]
    async with _locks.setdefault((actor.user_id, sha), asyncio.Lock()):
        return await _append(ctx, actor, sha, offset, length, data)


async def _append(
    ctx: ServerContext, actor: Principal, sha: str, offset: int, length: int | None, data: bytes
) -> Response:
    files = _files(ctx)
    now = ctx.clock()
    # One read: the blob's scope, as GET answers an existing blob, then the caller's partial (an expired one
    # is gone for the caller, so a resume is told offset 0, before the sweep drops it).
    partial = await ctx.db.read(_scoped_partial, actor=actor, sha256=sha, live_after=_live_after(ctx))
    if partial is None:
        if length is None:
            raise ApiError(400, "bad_request", "Upload-Length is required to start an upload", headers=TUS)
        if offset != 0:
            raise _offset_conflict(0, length)
        await _expire(ctx)
        partial = await ctx.db.write(begin_upload, user_id=actor.user_id, sha256=sha, length=length, now=now)
    if length is not None and length != partial.length:
        raise ApiError(400, "bad_request", "Upload-Length differs from the upload's length", headers=TUS)
    if offset != partial.offset:
        raise _offset_conflict(partial.offset, partial.length)
    if offset + len(data) > partial.length:
        raise ApiError(400, "bad_request", "the body goes past Upload-Length", headers=TUS)
    if data or offset == 0:  # an empty upload's file exists too, for the hash check below
        held = await run_in_threadpool(files.append, actor.user_id, sha, offset, data)
        moved = await ctx.db.write(
            record_offset, user_id=actor.user_id, sha256=sha, was=offset, offset=held, now=now
        )
        if moved is not None:  # another request (another worker's) got there first
            raise _offset_conflict(moved.offset, moved.length or partial.length)
    else:
        held = offset
    if held < partial.length:
        return Response(status_code=204, headers={**TUS, "Upload-Offset": str(held)})
    # Hash-checked and, unless the blob is held already, stored in one pass over the bytes.
    blobs = None if await ctx.db.read(blob_exists, sha) is not None else ctx.blobs
    if not await run_in_threadpool(files.complete, actor.user_id, sha, partial.length, blobs):
        await ctx.db.write(discard_upload, user_id=actor.user_id, sha256=sha)
        await run_in_threadpool(files.remove, actor.user_id, sha)
        log.warning("upload of blob %s by user %s did not match its hash; discarded", sha, actor.user_id)
        raise ApiError(
            422, "hash_mismatch", "the uploaded bytes do not match the SHA-256 in the path", headers=TUS
        )
    created = await ctx.db.write(finish_upload, actor=actor, sha256=sha, size=partial.length, now=now)
    await run_in_threadpool(files.remove, actor.user_id, sha)
    return Response(status_code=201 if created else 200, headers={**TUS, "Upload-Offset": str(held)})


def _live_after(ctx: ServerContext) -> str:
    """The oldest last touch a partial upload may have and still be resumed (the expiry period)."""
    return (ctx.clock() - timedelta(days=ctx.settings.upload_expiry_days)).isoformat()


async def _expire(ctx: ServerContext) -> None:
    """Partials untouched for the expiry period go when a new upload starts (and in `fieldvisit retention`)."""
    gone = await ctx.db.write(expire_uploads, now=ctx.clock(), days=ctx.settings.upload_expiry_days)
    files = _files(ctx)
    for user_id, sha in gone:
        await run_in_threadpool(files.remove, user_id, sha)
