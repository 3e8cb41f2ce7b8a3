"""POST /v1/dispatch/suggest: who should visit which open case on a date (applied later with assign)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from models.messages import request_lang
from models.strict import wire_date
from models.wire import SuggestRequest
from sync.server.context import Actor, Ctx
from sync.server.errors import ApiError
from sync.server.store.dispatch import DispatchPolicy, suggest
from sync.server.store.tracking import TrackingPolicy, sweep
from sync.server.wirejson import WireJsonRoute

router = APIRouter(tags=["dispatch"], route_class=WireJsonRoute)


@router.post("/v1/dispatch/suggest")
async def suggest_(body: SuggestRequest, request: Request, actor: Actor, ctx: Ctx) -> dict[str, Any]:
    """Reasons follow the caller's Accept-Language (Chinese first: Chinese; otherwise English)."""
    if actor.is_investigator:
        raise ApiError(403, "forbidden", "only supervisors and admins dispatch")
    try:
        day = wire_date(body.date)
    except ValueError as exc:
        raise ApiError(
            422,
            "validation",
            "date must be YYYY-MM-DD",
            [{"loc": ["body", "date"], "msg": "date must be YYYY-MM-DD"}],
        ) from exc
    team = body.team or (None if actor.is_admin else actor.team)
    if team is None:
        raise ApiError(
            422, "validation", "name the team", [{"loc": ["body", "team"], "msg": "required for admins"}]
        )
    if actor.is_supervisor and team != actor.team:
        raise ApiError(404, "not_found", "no such team")
    s = ctx.settings
    policy = DispatchPolicy(
        capacity=s.dispatch_capacity, high_balance=s.dispatch_high_balance, high_bucket=s.dispatch_high_bucket
    )
    lang = request_lang(request.headers.get("accept-language"))
    await ctx.db.write(sweep, now=ctx.clock(), policy=TrackingPolicy.from_settings(s))
    return await ctx.db.read(
        suggest, team=team, day=day, policy=policy, lang=lang, rules=TrackingPolicy.from_settings(s)
    )
