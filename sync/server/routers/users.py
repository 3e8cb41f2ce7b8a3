"""GET /v1/users: a supervisor's investigators (admins see everyone)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sync.server.context import Actor, Ctx
from sync.server.errors import ApiError
from sync.server.store.users import list_users

router = APIRouter(tags=["users"])


@router.get("/v1/users")
async def users(actor: Actor, ctx: Ctx, team: str | None = None) -> dict[str, Any]:
    if actor.is_investigator:
        raise ApiError(403, "forbidden", "only supervisors and admins list users")
    items = await ctx.db.read(list_users, actor=actor, team=team)
    return {"items": items, "total": len(items)}
