"""The supervisor desk: a browser UI served by the central server, plus its dashboard, CSV and PDF calls.

Supervisors need only a browser; every rule stays in the API the desk calls.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from models.codes import PlanOption
from models.finance import PlanPreviewRequest, p4_check, preview_plan
from sync.server.context import Actor, Ctx
from sync.server.desk.pdf import FONT_PATH, render_report_pdf
from sync.server.desk.stats import dashboard, risk_csv
from sync.server.errors import ApiError
from sync.server.store.common import audit, loads
from sync.server.store.reports import get_report

__all__ = ["install_desk", "plan_p4", "recompute_plan", "router"]

STATIC = Path(__file__).with_name("static")
router = APIRouter(tags=["desk"])


def _supervisor(actor: Any) -> None:
    if actor.is_investigator:
        raise ApiError(403, "forbidden", "for supervisors and admins")


_NOT_RESTRUCTURES = (PlanOption.PTP.value, PlanOption.SETTLE.value)
_PREVIEW_FIELDS = (
    "method",
    "principal",
    "term_months",
    "monthly_rate",
    "upfront_fee",
    "holiday_months",
    "holiday_mode",
    "step_payments",
    "first_due_date",
)


def _preview_fields(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan preview request held in a report's plan (its JSON form)."""
    return {k: plan[k] for k in _PREVIEW_FIELDS if plan.get(k) is not None}


def recompute_plan(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The server's own schedule, APR and affordability for a report's plan (None when it has none)."""
    plan = (report or {}).get("plan")
    if not plan:
        return None
    assessment = (report or {}).get("assessment")
    req = _preview_fields(plan)
    if assessment:
        req["assessment"] = {
            "incomes": assessment.get("incomes") or [],
            "expenses": assessment.get("expenses") or [],
            "buffer": assessment.get("buffer", "0.80"),
            "dsr_limit": assessment.get("dsr_limit", "0.50"),
        }
    try:
        return preview_plan(PlanPreviewRequest.model_validate(req)).model_dump(mode="json")
    except (ValueError, ArithmeticError):
        return None


@router.get("/v1/stats")
async def stats(actor: Actor, ctx: Ctx, days: int = 30, team: str | None = None) -> dict[str, Any]:
    """Dashboard figures over the last `days` days of visits in the caller's team."""
    _supervisor(actor)
    days = max(1, min(days, 366))
    today = ctx.clock().date()
    return await ctx.db.read(dashboard, actor=actor, today=today, days=days, team=team)


@router.get("/v1/exports/risk.csv", response_class=Response)
async def export_risk_csv(actor: Actor, ctx: Ctx, team: str | None = None) -> Response:
    """Approved plans and legal escalations as CSV (the same events as the risk feed)."""
    _supervisor(actor)
    text = await ctx.db.read(risk_csv, actor=actor, team=team)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="fieldvisit-risk.csv"'},
    )


def checkin_distance_m(report: dict[str, Any] | None, borrower: dict[str, Any]) -> int | None:
    """Great-circle distance between the check-in position and the borrower's address (metres)."""
    pos = ((report or {}).get("checkin") or {}).get("position") or {}
    try:
        lat1, lon1 = math.radians(float(pos["lat"])), math.radians(float(pos["lon"]))
        lat2, lon2 = math.radians(float(borrower["lat"])), math.radians(float(borrower["lon"]))
    except (KeyError, TypeError, ValueError):
        return None
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return round(2 * 6_371_000 * math.asin(math.sqrt(h)))


def _case(db: Any, visit_id: str) -> dict[str, Any]:
    row = db.execute("SELECT data FROM visits WHERE id = ?", [visit_id]).fetchone()
    return (loads(row[0], {}) or {}) if row else {}


def plan_p4(
    report: dict[str, Any] | None, loan: dict[str, Any], total_repayable: str | None, *, today: date
) -> dict[str, Any] | None:
    """P-4 for a report's plan (its recomputed `total_repayable`) against its case's loan: None for a promise
    to pay or a settlement, or when the loan's contractual rate or outstanding balance is unknown."""
    plan = (report or {}).get("plan") or {}
    if not plan or total_repayable is None or plan.get("option") in _NOT_RESTRUCTURES:
        return None
    try:
        outstanding = Decimal(str(loan["outstanding_principal"]))
        rate = Decimal(str(loan["monthly_rate"]))
        req = PlanPreviewRequest.model_validate(_preview_fields(plan))
        return p4_check(
            req, Decimal(total_repayable), outstanding=outstanding, contractual_monthly_rate=rate, today=today
        ).model_dump(mode="json")
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None


@router.get("/v1/reports/{report_id}/recomputed")
async def recomputed(report_id: str, actor: Actor, ctx: Ctx) -> dict[str, Any]:
    """The server's recomputation of a report's plan (schedule, APR, affordability) and the check-in distance."""
    detail = await ctx.db.read(get_report, actor=actor, report_id=report_id)
    case = await ctx.db.read(_case, detail["visit_id"])
    borrower = case.get("borrower") or {}
    position = {"lat": borrower.get("lat"), "lon": borrower.get("lon")}
    plan = recompute_plan(detail["report"])
    total = plan["total_payment"] if plan else None
    return {
        "report_id": detail["report_id"],
        "recomputed": plan,
        "p4": plan_p4(detail["report"], case.get("loan") or {}, total, today=ctx.clock().date()),
        "checkin_distance_m": checkin_distance_m(detail["report"], position),
    }


@router.get("/v1/reports/{report_id}/pdf", response_class=Response)
async def report_pdf(report_id: str, actor: Actor, ctx: Ctx) -> Response:
    """A visit report as a PDF (Chinese text embedded with the shipped font); the read is audited."""
    _supervisor(actor)
    detail = await ctx.db.read(get_report, actor=actor, report_id=report_id)
    now = ctx.clock()
    await ctx.db.write(
        lambda db: audit(
            db,
            at=now.isoformat(),
            actor=actor,
            action="export.pdf",
            entity="report",
            entity_id=detail["report_id"],
        )
    )
    pdf = render_report_pdf(
        report=detail["report"] or {},
        status=detail["status"],
        server_version=detail["server_version"],
        external_id=detail["visit"]["external_id"],
        flags=detail["flags"],
        comments=detail["comments"],
        recomputed=recompute_plan(detail["report"]),
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="report-{detail["report_id"]}.pdf"'},
    )


def install_desk(app: FastAPI) -> None:
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/desk/")

    @app.get("/desk", include_in_schema=False)
    async def desk_redirect() -> RedirectResponse:
        return RedirectResponse("/desk/")

    @app.get("/desk/font.ttf", include_in_schema=False)
    async def font() -> FileResponse:
        return FileResponse(FONT_PATH, media_type="font/ttf")

    app.mount("/desk", StaticFiles(directory=STATIC, html=True), name="desk")
