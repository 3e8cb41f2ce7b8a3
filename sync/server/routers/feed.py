"""GET /v1/feed: final review transitions for risk management, paged by cursor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from sync.server.context import Actor, Ctx
from sync.server.errors import ApiError
from sync.server.schemas import FeedPage
from sync.server.store.feed import read_feed
from sync.server.store.tracking import TrackingPolicy, sweep

router = APIRouter(tags=["feed"])


@router.get(
    "/v1/feed",
    response_model=None,  # answered as read; its shape is documented by the 200 response's model
    responses={
        200: {"model": FeedPage, "description": "a page of events, oldest first"},
        422: {"description": "a malformed `since` (not a cursor this endpoint returned)"},
    },
)
async def feed(
    actor: Actor,
    ctx: Ctx,
    since: str | None = None,
    limit: Annotated[int, Query(ge=1)] = 100,  # larger values are capped (ctx.limit)
) -> dict[str, Any]:
    """Feedback to risk management (supervisor of the team, or admin): one event per final review
    transition (`report_approved`, `legal_escalated`, `report_rejected`) and per lapsed plan or broken
    promise (`plan_lapsed`, `ptp_broken`, which also reopen the case for dispatch). Every event's `data`
    carries the plan, the flags and sign-off reason, the reasons, willingness × ability and its segment, the
    server's assessment, the promise and the §5.5 recommendation. `since` absent or `0` reads from the
    start; plans and promises are evaluated against the clock first."""
    if actor.is_investigator:
        raise ApiError(403, "forbidden", "the feed is for supervisors and admins")
    since_seq = 0
    if since not in (None, "", "0"):
        assert since is not None
        # ASCII digits only: str.isdigit() also takes "²" (int() refuses it) and "１" (not a cursor we write).
        if not (since.isascii() and since.isdigit()) or len(since) > 18:
            raise ApiError(
                422,
                "validation",
                "malformed cursor",
                [{"loc": ["query", "since"], "msg": "a cursor returned by this endpoint"}],
            )
        since_seq = int(since)
    # Plans and promises are evaluated against the clock first, so the events due by now are in the page.
    await ctx.db.write(sweep, now=ctx.clock(), policy=TrackingPolicy.from_settings(ctx.settings))
    return await ctx.db.read(read_feed, actor=actor, since=since_seq, limit=ctx.limit(limit))
