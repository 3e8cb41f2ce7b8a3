"""PUT|HEAD|GET /v1/blobs/{sha256}: content-addressed photos and documents."""

from __future__ import annotations

import hashlib
import re

from fastapi import APIRouter, Request, Response

from sync.server.context import Actor, Ctx
from sync.server.errors import ApiError
from sync.server.store.blobs import blob_size_for, put_blob, read_blob

router = APIRouter(tags=["blobs"])
_SHA = re.compile(r"^[0-9a-f]{64}$")


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
        200: {"description": "already present (201 when present but outside the caller's scope)"},
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
    created = await ctx.db.write(put_blob, actor=actor, sha256=sha, data=data, now=ctx.clock())
    return Response(status_code=201 if created else 200)


@router.head(
    "/v1/blobs/{sha256}",
    responses={404: {"description": "not stored yet, or outside the caller's scope (the same answer)"}},
)
async def head(sha256: str, actor: Actor, ctx: Ctx) -> Response:
    size = await ctx.db.read(blob_size_for, actor=actor, sha256=_digest(sha256))
    if size is None:
        return Response(status_code=404)
    return Response(status_code=200, headers={"Content-Length": str(size)})


@router.get(
    "/v1/blobs/{sha256}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def get(sha256: str, actor: Actor, ctx: Ctx) -> Response:
    data = await ctx.db.read(read_blob, actor=actor, sha256=_digest(sha256))
    if data is None:
        raise ApiError(404, "not_found", "no such blob")
    return Response(content=data, media_type="application/octet-stream")
