"""POST /v1/plans/preview: the same plan calculation the app runs offline."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from pydantic import ValidationError

from models.finance import PlanPreview, PlanPreviewRequest, preview_plan
from models.privacy import business_day
from sync.server.context import Actor, Ctx
from sync.server.errors import ApiError
from sync.server.wirejson import WireJsonRoute

router = APIRouter(tags=["plans"], route_class=WireJsonRoute)


@router.post("/v1/plans/preview", response_model=PlanPreview)
async def preview(body: PlanPreviewRequest, actor: Actor, ctx: Ctx) -> Any:
    try:
        result = await asyncio.to_thread(preview_plan, body, today=business_day(ctx.clock()))
    except ValidationError as exc:
        # Well-formed terms whose schedule or totals reach amounts no money field holds (≥ 1e12).
        raise ApiError(
            422,
            "validation",
            "the plan's amounts are too large to compute",
            [{"loc": ["body", "principal"], "msg": "the plan's amounts are too large"}],
        ) from exc
    except (ValueError, ArithmeticError) as exc:
        # A schedule that would run past the calendar (year 9999).
        raise ApiError(
            422,
            "validation",
            "the plan's schedule runs past the last representable date",
            [{"loc": ["body", "first_due_date"], "msg": "too far in the future"}],
        ) from exc
    return result.model_dump(mode="json")
