"""Visits: import from the loan system (JSON or CSV), list, detail and assignment."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from models.messages import request_lang
from models.strict import wire_date
from models.wire import AssignRequest
from sync.server.context import Actor, Ctx
from sync.server.errors import ApiError
from sync.server.routers.tracking import router as tracking_router
from sync.server.schemas import IMPORT_EXAMPLE, ImportBody
from sync.server.store.common import audit
from sync.server.store.contact import clear_contact_stop
from sync.server.store.state import visit_payload
from sync.server.store.tracking import TrackingPolicy, account_view, evaluate_accounts, sweep
from sync.server.store.visits import assign_visit, csv_records, get_visit, import_visits, list_visits
from sync.server.wirejson import WireJsonRoute, parse_body, records_body

router = APIRouter(tags=["visits"], route_class=WireJsonRoute)

_CSV_EXAMPLE = (
    "external_id,team,borrower_name,phone,id_number,address,district,product_type,outstanding_principal,"
    "overdue_amount,dpd\nLN-0000002,hz-a,李梅,13912345678,330106199003150022,杭州市西湖区文三路 1 号,西湖区,"
    "cash_loan,8000.00,900.00,40\n"
)


def _forbid_investigator(actor: Any, what: str) -> None:
    if actor.is_investigator:
        raise ApiError(403, "forbidden", f"only supervisors and admins {what}")


@router.post(
    "/v1/visits/import",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": ImportBody.model_json_schema(ref_template="#/components/schemas/{model}"),
                    "example": IMPORT_EXAMPLE,
                },
                "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
            },
        }
    },
)
async def import_(request: Request, actor: Actor, ctx: Ctx) -> dict[str, Any]:
    _forbid_investigator(actor, "import visits")
    records = await records_body(request, ImportBody, csv_records)
    lang = request_lang(request.headers.get("accept-language"))  # row errors in the caller's language
    out = await ctx.db.write(import_visits, actor=actor, records=records, now=ctx.clock(), lang=lang)
    # A re-imported repayment_history may keep or break the accounts' plans and promises.
    await ctx.db.write(
        evaluate_accounts,
        visit_ids=[v["visit_id"] for v in out["visits"]],
        now=ctx.clock(),
        policy=TrackingPolicy.from_settings(ctx.settings),
    )
    return out


@router.get("/v1/visits")
async def visits(
    actor: Actor,
    ctx: Ctx,
    status: str | None = None,
    district: str | None = None,
    unassigned: bool = False,
    team: str | None = None,
    limit: Annotated[int, Query(ge=1)] = 100,  # larger values are capped (ctx.limit)
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> dict[str, Any]:
    _forbid_investigator(actor, "list visits")
    await ctx.db.write(sweep, now=ctx.clock(), policy=TrackingPolicy.from_settings(ctx.settings))
    return await ctx.db.read(
        list_visits,
        actor=actor,
        status=status,
        district=district,
        unassigned=unassigned,
        team=team,
        limit=ctx.limit(limit),
        offset=offset,
    )


def _read_visit(db: Any, *, actor: Any, visit_id: str, now: Any, policy: TrackingPolicy) -> dict[str, Any]:
    """The visit with its account's plans and promises evaluated against the clock; the read is audited."""
    get_visit(db, actor=actor, visit_id=visit_id)  # 404 outside the caller's scope
    evaluate_accounts(db, visit_ids=[visit_id], now=now, policy=policy)
    row = next(iter(db.query("SELECT * FROM visits WHERE id = ?", [visit_id])))
    payload = visit_payload(db, row)
    payload.update(account_view(db, visit_id=visit_id, policy=policy))
    audit(db, at=now.isoformat(), actor=actor, action="read.visit", entity="visit", entity_id=visit_id)
    return payload


@router.get("/v1/visits/{visit_id}")
async def visit(visit_id: str, actor: Actor, ctx: Ctx) -> dict[str, Any]:
    """The visit, with `plan_status` (the account's latest approved plan, or null), `plans`, `promises`, the
    §5.4 `segment`, the §5.5 `recommendation`, `contact_stop` (R-14) and why it was `reopened`."""
    policy = TrackingPolicy.from_settings(ctx.settings)
    return await ctx.db.write(_read_visit, actor=actor, visit_id=visit_id, now=ctx.clock(), policy=policy)


@router.post(
    "/v1/visits/{visit_id}/clear-contact-stop",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["comment"],
                        "properties": {"comment": {"type": "string", "minLength": 1, "maxLength": 2000}},
                    },
                    "example": {"comment": "借款人来电同意继续沟通还款安排"},
                }
            },
        }
    },
)
async def clear_stop(visit_id: str, request: Request, actor: Actor, ctx: Ctx) -> dict[str, Any]:
    """R-14: a supervisor lifts the stop a refusal of contact or a dispute put on the account (audited)."""
    raw = await request.body()
    try:
        body = parse_body(raw.decode("utf-8")) if raw else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(422, "validation", "invalid JSON", [{"loc": ["body"], "msg": "invalid JSON"}]) from exc
    comment = body.get("comment") if isinstance(body, dict) else None
    if comment is not None and not isinstance(comment, str):
        raise ApiError(
            422, "validation", "comment must be text", [{"loc": ["body", "comment"], "msg": "text"}]
        )
    return await ctx.db.write(
        clear_contact_stop, actor=actor, visit_id=visit_id, comment=(comment or "")[:2000], now=ctx.clock()
    )


@router.post(
    "/v1/visits/{visit_id}/assign",
    responses={
        409: {"description": "`contact_rule` (R-11, R-13, R-14; `details` name each rule), `visit_closed`"}
    },
)
async def assign(
    visit_id: str, body: AssignRequest, request: Request, actor: Actor, ctx: Ctx
) -> dict[str, Any]:
    planned: date | None = None
    if body.planned_date:
        try:
            planned = wire_date(body.planned_date)
        except ValueError as exc:
            raise ApiError(
                422,
                "validation",
                "planned_date must be YYYY-MM-DD",
                [{"loc": ["body", "planned_date"], "msg": "date must be YYYY-MM-DD"}],
            ) from exc
    return await ctx.db.write(
        assign_visit,
        actor=actor,
        visit_id=visit_id,
        investigator_ids=body.investigator_ids,
        planned_date=planned,
        now=ctx.clock(),
        purpose=body.purpose,
        policy=TrackingPolicy.from_settings(ctx.settings),
        lang=request_lang(request.headers.get("accept-language")),
    )


# The account's follow-up after the visit (repayments, plans and promises, the day's routes) is served with
# the visits it belongs to.
router.include_router(tracking_router)
