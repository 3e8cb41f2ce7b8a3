"""Sign-in and token refresh (rotation with reuse detection); sign-in failures are rate-limited."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from models.wire import LoginRequest, LoginResponse, RefreshRequest
from sync.server.context import Ctx, TooManyAttempts
from sync.server.errors import ApiError
from sync.server.store.users import Revoked, issue_device, refresh_tokens, user_for_login
from sync.server.wirejson import WireJsonRoute

router = APIRouter(tags=["auth"], route_class=WireJsonRoute)


@router.post("/v1/auth/login", response_model=LoginResponse)
async def login(body: LoginRequest, request: Request, ctx: Ctx) -> dict[str, Any]:
    client = request.client.host if request.client else "-"
    username = body.username.strip()
    try:
        async with ctx.limiter.attempt(client, username.lower()) as outcome:
            user = await ctx.db.read(user_for_login, username)
            stored = user["password_hash"] if user else None
            ok = await asyncio.to_thread(ctx.passwords.verify, stored, body.password)
            outcome(ok and user is not None)
    except TooManyAttempts as exc:
        raise ApiError(
            429,
            "too_many_requests",
            "too many failed sign-ins; try again later",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    if not ok or user is None:
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    s = ctx.settings
    pair = await ctx.db.write(
        issue_device,
        user=user,
        device_name=body.device_name,
        secret=ctx.secret,
        now=ctx.clock(),
        access_ttl=s.access_ttl_seconds,
        refresh_ttl=s.refresh_ttl_seconds,
    )
    return pair.body()


@router.post("/v1/auth/refresh", response_model=LoginResponse)
async def refresh(body: RefreshRequest, ctx: Ctx) -> dict[str, Any]:
    s = ctx.settings
    result = await ctx.db.write(
        refresh_tokens,
        refresh_token=body.refresh_token,
        secret=ctx.secret,
        now=ctx.clock(),
        access_ttl=s.access_ttl_seconds,
        refresh_ttl=s.refresh_ttl_seconds,
        grace_seconds=s.refresh_grace_seconds,
    )
    if isinstance(result, Revoked):
        raise ApiError(
            401,
            "device_revoked",
            "a rotated refresh token was reused; the device is revoked",
            extra={"wipe": result.wipe},
        )
    return result.body()
