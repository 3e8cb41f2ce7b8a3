"""GET /v1/users: a supervisor's investigators (admins see everyone); POST /v1/users: an admin adds one."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from sync.server.accounts import NewUser
from sync.server.context import Actor, Ctx
from sync.server.errors import ApiError
from sync.server.store.common import audit
from sync.server.store.users import add_user, list_users
from sync.server.wirejson import WireJsonRoute

router = APIRouter(tags=["users"], route_class=WireJsonRoute)


@router.get("/v1/users")
async def users(actor: Actor, ctx: Ctx, team: str | None = None) -> dict[str, Any]:
    if actor.is_investigator:
        raise ApiError(403, "forbidden", "only supervisors and admins list users")
    items = await ctx.db.read(list_users, actor=actor, team=team)
    return {"items": items, "total": len(items)}


@router.post(
    "/v1/users",
    status_code=201,
    responses={
        201: {"description": "the user was created"},
        403: {"description": "only admins add users"},
        409: {"description": "username_taken"},
    },
)
async def create_user(body: NewUser, actor: Actor, ctx: Ctx) -> Any:
    """Add an account (admins only); an existing username is 409 `username_taken` (the CLI updates)."""
    if not actor.is_admin:
        raise ApiError(403, "forbidden", "only admins add users")
    password_hash = await asyncio.to_thread(ctx.passwords.hash, body.password)
    now = ctx.clock()

    def create(db: Any) -> dict[str, Any] | None:
        if db.execute("SELECT 1 FROM users WHERE username = ?", [body.username]).fetchone():
            return None
        row = add_user(
            db,
            username=body.username,
            password_hash=password_hash,
            role=body.role,
            team=body.team,
            name=body.name,
            districts=[d.strip() for d in body.districts if d.strip()],
            experience_years=body.experience_years,
            now=now,
        )
        audit(db, at=now.isoformat(), actor=actor, action="user.create", entity="user", entity_id=row["id"])
        return row

    row = await ctx.db.write(create)
    if row is None:
        raise ApiError(409, "username_taken", "a user with this username exists")
    return JSONResponse(
        {
            "id": row["id"],
            "username": body.username,
            "name": body.name or body.username,
            "role": body.role,
            "team": body.team,
            "districts": [d.strip() for d in body.districts if d.strip()],
            "experience_years": body.experience_years,
        },
        status_code=201,
    )
