"""GET /v1/health: liveness and the server epoch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sync.server.context import Ctx

router = APIRouter(tags=["health"])


@router.get("/v1/health")
async def health(ctx: Ctx) -> dict[str, Any]:
    return {"status": "ok", "server_epoch": ctx.epoch, "protocol": 1}
