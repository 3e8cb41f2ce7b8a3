"""Supervisor review: GET /v1/reports, GET /v1/reports/{id} (ETag), POST /v1/reports/{id}/review (If-Match)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from models.codes import ReportStatus
from models.wire import ReviewRequest
from sync.server.context import Actor, Ctx
from sync.server.store.common import audit
from sync.server.store.reports import ReportFilters, get_report, list_reports, parse_bucket, review_report
from sync.server.store.tracking import TrackingPolicy
from sync.server.wirejson import WireJsonRoute

router = APIRouter(tags=["reports"], route_class=WireJsonRoute)


@router.get("/v1/reports")
async def reports(
    actor: Actor,
    ctx: Ctx,
    status: ReportStatus | None = None,
    investigator_id: str | None = None,
    team: str | None = None,
    bucket: str | None = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    outcome: str | None = None,
    verdict: Literal["pass", "fail", "hardship"] | None = None,
    limit: Annotated[int, Query(ge=1)] = 100,  # larger values are capped (ctx.limit)
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> dict[str, Any]:
    filters = ReportFilters(
        status=status.value if status else None,
        investigator_id=investigator_id,
        team=team,
        bucket=parse_bucket(bucket) if bucket else None,
        date_from=date_from,
        date_to=date_to,
        q=q or None,
        outcome=outcome,
        verdict=verdict,
    )
    return await ctx.db.read(
        list_reports, actor=actor, filters=filters, limit=ctx.limit(limit), offset=offset
    )


def _read_audit(db: Any, *, actor: Any, report_id: str, now: Any) -> None:
    audit(db, at=now.isoformat(), actor=actor, action="read.report", entity="report", entity_id=report_id)


@router.get(
    "/v1/reports/{report_id}", responses={200: {"headers": {"ETag": {"description": '"v<server_version>"'}}}}
)
async def report(report_id: str, actor: Actor, ctx: Ctx) -> JSONResponse:
    detail = await ctx.db.read(get_report, actor=actor, report_id=report_id, rules=ctx.settings.rules)
    # Reading a report is reading personal data: it is audited before the data leaves.
    await ctx.db.write(_read_audit, actor=actor, report_id=detail["report_id"], now=ctx.clock())
    return JSONResponse(detail, headers={"ETag": f'"v{detail["server_version"]}"'})


@router.post(
    "/v1/reports/{report_id}/review",
    responses={
        409: {"description": "invalid_transition"},
        412: {"description": "stale If-Match"},
        428: {"description": "If-Match missing"},
    },
)
async def review(
    report_id: str,
    body: ReviewRequest,
    actor: Actor,
    ctx: Ctx,
    if_match: Annotated[str | None, Header(description='"v<server_version>" from the ETag')] = None,
) -> JSONResponse:
    state = await ctx.db.write(
        review_report,
        actor=actor,
        report_id=report_id,
        if_match=if_match,
        action=body.action.value,
        comment=body.comment,
        route=body.route.value if body.route else None,
        now=ctx.clock(),
        sign_off_reason=body.sign_off_reason,
        policy=TrackingPolicy.from_settings(ctx.settings),
    )
    return JSONResponse(state, headers={"ETag": f'"v{state["server_version"]}"'})
