"""GET /v1/health: liveness and the server epoch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sync.server.context import Ctx
from sync.server.store.common import server_epoch

router = APIRouter(tags=["health"])


@router.get("/v1/health")
async def health(ctx: Ctx) -> dict[str, Any]:
    # Read afresh: a restore's new epoch shows here from the next request.
    ctx.epoch = await ctx.db.read(server_epoch)
    return {"status": "ok", "server_epoch": ctx.epoch, "protocol": 1}
