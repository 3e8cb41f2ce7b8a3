"""POST /v1/plans/preview: the same plan calculation the app runs offline."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from models.finance import PlanPreview, PlanPreviewRequest, preview_plan
from sync.server.context import Actor, Ctx
from sync.server.wirejson import WireJsonRoute

router = APIRouter(tags=["plans"], route_class=WireJsonRoute)


@router.post("/v1/plans/preview", response_model=PlanPreview)
async def preview(body: PlanPreviewRequest, actor: Actor, ctx: Ctx) -> Any:
    result = await asyncio.to_thread(preview_plan, body, today=ctx.clock().date())
    return result.model_dump(mode="json")
