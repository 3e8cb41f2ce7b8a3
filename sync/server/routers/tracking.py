"""Repayments from the loan system, the desk's board of plans and promises, and the day's routes."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request

from models.messages import request_lang
from models.route import Stop, order_route
from models.strict import wire_date
from sync.server.context import Actor, Ctx
from sync.server.errors import ApiError
from sync.server.store.common import loads
from sync.server.store.tracking import (
    REPAYMENT_EXAMPLE,
    RepaymentsBody,
    TrackingPolicy,
    post_repayments,
    sweep,
    tracking_board,
)
from sync.server.wirejson import WireJsonRoute, records_body

router = APIRouter(tags=["tracking"], route_class=WireJsonRoute)

_CSV_EXAMPLE = "payment_id,external_id,paid_on,amount\nPAY-20261215-0001,LN-0000001,2026-12-15,1100.16\n"


def _csv_rows(text: str) -> list[dict[str, Any]]:
    """CSV cells are text; blank cells are absent, so validation names the missing column."""
    out = []
    for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff"))):
        out.append(
            {k.strip(): v for k, v in row.items() if k is not None and v is not None and v.strip() != ""}
        )
    return out


@router.post(
    "/v1/repayments",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": RepaymentsBody.model_json_schema(ref_template="#/components/schemas/{model}"),
                    "example": {"records": [REPAYMENT_EXAMPLE]},
                },
                "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
            },
        }
    },
)
async def repayments(request: Request, actor: Actor, ctx: Ctx) -> dict[str, Any]:
    """Repayments by account (`external_id`), idempotent by `payment_id`: `{"created","duplicates","errors"}`
    with row errors `{"row","field","code","msg"}` (`validation`, `unknown_account`, `payment_id_reused`).
    The accounts' plans and promises are evaluated at once."""
    if actor.is_investigator:
        raise ApiError(403, "forbidden", "only supervisors and admins post repayments")
    records = await records_body(request, RepaymentsBody, _csv_rows)
    return await ctx.db.write(
        post_repayments,
        actor=actor,
        records=records,
        now=ctx.clock(),
        policy=TrackingPolicy.from_settings(ctx.settings),
        lang=request_lang(request.headers.get("accept-language")),
    )


@router.get("/v1/tracking")
async def tracking(actor: Actor, ctx: Ctx, team: str | None = None) -> dict[str, Any]:
    """The desk's board: approved plans (`performing|missed_1|lapsed|completed`) and promises
    (`open|kept|broken`) with counts, the cases reopened for dispatch and the accounts recommended for
    legal escalation (domain §5.5) with their reasons; the decision stays the supervisor's."""
    if actor.is_investigator:
        raise ApiError(403, "forbidden", "for supervisors and admins")
    policy = TrackingPolicy.from_settings(ctx.settings)
    await ctx.db.write(sweep, now=ctx.clock(), policy=policy)
    return await ctx.db.read(tracking_board, actor=actor, policy=policy, team=team)


def _routes(db: Any, *, team: str, day: date) -> list[dict[str, Any]]:
    pairs: dict[tuple[str, ...], list[Stop]] = {}
    missing: dict[tuple[str, ...], list[str]] = {}
    for r in db.query(
        "SELECT v.id, v.data, (SELECT json_group_array(user_id) FROM (SELECT user_id FROM visit_assignees a "
        "WHERE a.visit_id = v.id AND a.active = 1 ORDER BY position, user_id) AS ranked) AS ids FROM visits v "
        "WHERE v.team = ? AND v.planned_date = ? AND v.status != 'closed' ORDER BY v.id",
        [team, day.isoformat()],
    ):
        ids = tuple(loads(r["ids"], []))
        if not ids:
            continue
        borrower = (loads(r["data"], {}) or {}).get("borrower") or {}
        try:
            pairs.setdefault(ids, []).append(Stop(r["id"], float(borrower["lat"]), float(borrower["lon"])))
        except (KeyError, TypeError, ValueError):
            missing.setdefault(ids, []).append(r["id"])
    out = []
    for ids in sorted(set(pairs) | set(missing)):
        route = order_route(pairs.get(ids, []))
        out.append(
            {
                "investigator_ids": list(ids),
                "visit_ids": route.order,
                "without_position": missing.get(ids, []),
                "distance_km": str(route.distance_km.quantize(Decimal("0.1"))),
            }
        )
    return out


@router.get("/v1/dispatch/routes")
async def routes(actor: Actor, ctx: Ctx, date: str, team: str | None = None) -> dict[str, Any]:
    """Each pair's visits planned for `date` in visiting order (nearest neighbour + 2-opt) and the route's
    length in km; visits without coordinates are listed apart."""
    if actor.is_investigator:
        raise ApiError(403, "forbidden", "for supervisors and admins")
    try:
        day = _date(date)
    except ValueError as exc:
        raise ApiError(
            422, "validation", "date must be YYYY-MM-DD", [{"loc": ["query", "date"], "msg": "YYYY-MM-DD"}]
        ) from exc
    scope = team if actor.is_admin and team else actor.team
    if actor.is_supervisor and team and team != actor.team:
        raise ApiError(404, "not_found", "no such team")
    return {"date": day.isoformat(), "team": scope, "routes": await ctx.db.read(_routes, team=scope, day=day)}


_date = wire_date
