"""Devices: the supervisor's list (last sync, last mutation) and revocation with remote wipe."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from models.wire import RevokeRequest
from sync.server.context import Actor, Ctx
from sync.server.errors import ApiError
from sync.server.store.users import list_devices, revoke_device
from sync.server.wirejson import WireJsonRoute

router = APIRouter(tags=["devices"], route_class=WireJsonRoute)


@router.get("/v1/devices")
async def devices(actor: Actor, ctx: Ctx) -> dict[str, Any]:
    if actor.is_investigator:
        raise ApiError(403, "forbidden", "only supervisors and admins list devices")
    items = await ctx.db.read(list_devices, actor=actor)
    return {"items": items, "total": len(items)}


@router.post("/v1/devices/{device_id}/revoke")
async def revoke(device_id: str, actor: Actor, ctx: Ctx, body: RevokeRequest | None = None) -> dict[str, Any]:
    wipe = True if body is None else body.wipe
    result = await ctx.db.write(revoke_device, actor=actor, device_id=device_id, wipe=wipe, now=ctx.clock())
    return result
