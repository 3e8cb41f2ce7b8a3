"""POST /v1/sync/push and /v1/sync/pull."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic_core import to_json

from models.wire import PullRequest, PullResponse, PushResponse
from sync.server.context import Actor, Ctx
from sync.server.errors import ApiError
from sync.server.schemas import PushBody
from sync.server.store.pull import cursor_seq, record_pull
from sync.server.store.pull import pull as pull_changes
from sync.server.store.push import MutationIn, VisitCase, apply_push, prepare, visit_cases
from sync.server.wirejson import WireJsonRoute, nul_in_handler

log = logging.getLogger("fieldvisit.server.sync")

router = APIRouter(tags=["sync"], route_class=WireJsonRoute)


def _check_device(actor_device: str, device_id: str | None) -> None:
    if device_id is not None and device_id != actor_device:
        raise ApiError(403, "device_mismatch", "device_id is not the device of the access token")


@router.post(
    "/v1/sync/push",
    response_model=PushResponse,
    responses={
        409: {"description": "mutation_gap: `expected` is the next mutation_id the server expects"},
        410: {"description": "reset_required: the server epoch changed"},
    },
)
@nul_in_handler  # text holding U+0000 makes its mutation rejected, not the push refused (store.push.prepare)
async def push(body: PushBody, actor: Actor, ctx: Ctx) -> Any:
    _check_device(actor.device_id, body.device_id)
    # The caller, its device and the epoch are confirmed inside the push's transaction (apply_push).
    now = ctx.clock()
    mutations = [MutationIn(m) for m in body.mutations]

    def prepare_all(cases: dict[str, VisitCase] | None) -> None:
        for m in mutations:
            try:
                prepare(m, now=now, rules=ctx.settings.rules, cases=cases)
            except Exception as exc:  # a defect met by one report: the writer meets it again, alone
                log.error("preparing mutation %s failed: %s", m.mutation_id, type(exc).__name__)
                m.prepared = None

    def read_and_prepare_all() -> None:
        visit_ids = [
            r["visit_id"].lower()
            for m in mutations
            if isinstance(r := m.report, dict) and type(r.get("visit_id")) is str
        ]
        prepare_all(ctx.db.read_here(visit_cases, visit_ids=visit_ids, user_id=actor.user_id))

    # Hashing, validation and the rule book need no writer: a big batch is prepared on a worker thread
    # against its visits as read there (the writer reuses each evaluation when its visit is unchanged);
    # a small one on the event loop, its rules then evaluated by the writer.
    if len(mutations) > 4:
        await asyncio.to_thread(read_and_prepare_all)
    else:
        prepare_all(None)
    result = await ctx.db.write(
        apply_push,
        actor=actor,
        mutations=mutations,
        now=ctx.clock(),
        rules=ctx.settings.rules,
        server_epoch=body.server_epoch,
    )
    if result["gap"] is not None:
        return JSONResponse(
            {
                "error": "mutation_gap",
                "message": f"expected mutation_id {result['gap']}",
                "details": [],
                "expected": result["gap"],
                "last_mutation_id": result["last_mutation_id"],
                "results": result["results"],
            },
            status_code=409,
        )
    # The results are built to PushResponse's shape by apply_push; serialising them directly spares
    # re-validating every result against the response model (pydantic-core writes the same JSON as
    # JSONResponse, faster).
    return Response(
        to_json(
            {
                "last_mutation_id": result["last_mutation_id"],
                "server_epoch": result["server_epoch"],
                "results": result["results"],
            }
        ),
        media_type="application/json",
    )


@router.post(
    "/v1/sync/pull",
    response_model=PullResponse,
    response_model_exclude_none=False,
    responses={410: {"description": "reset_required: pull a snapshot with cursor null"}},
)
async def pull(body: PullRequest, actor: Actor, ctx: Ctx) -> Any:
    _check_device(actor.device_id, body.device_id)
    page = await ctx.db.read(
        pull_changes, actor=actor, cursor=body.cursor, limit=body.limit, epoch=body.server_epoch
    )
    visit_ids = [c["id"] for c in page["changes"] if c["type"] == "visit" and c["op"] == "put"]
    await ctx.db.write(
        record_pull, actor=actor, visit_ids=visit_ids, now=ctx.clock(), acked_seq=cursor_seq(body.cursor)
    )
    # A snapshot page is megabytes of plain JSON values: pydantic-core's encoder writes the same UTF-8 JSON
    # as JSONResponse (non-ASCII kept, no whitespace) several times faster than the json module.
    return Response(to_json(page), media_type="application/json")
