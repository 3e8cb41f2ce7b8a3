"""The supervisor desk: a browser UI served by the central server, plus its dashboard, CSV and PDF calls.

Supervisors need only a browser; every rule stays in the API the desk calls.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from models.attestations import attestations
from models.labels import labels
from models.privacy import business_day
from models.rules import DEFAULT_SETTINGS, RuleSettings
from sync.server.context import Actor, Ctx
from sync.server.desk.pdf import FONT_PATH, RARE_FONT_PATH, render_report_pdf
from sync.server.desk.stats import RISK_CSV_COLUMNS, dashboard, risk_csv
from sync.server.errors import ApiError
from sync.server.store.common import audit, loads
from sync.server.store.reports import get_report
from sync.server.store.rulebook import evaluate_stored
from sync.server.store.tracking import TrackingPolicy, sweep

__all__ = ["book_figures", "desk_labels", "install_desk", "router"]

STATIC = Path(__file__).with_name("static")
router = APIRouter(tags=["desk"])


def _supervisor(actor: Any) -> None:
    if actor.is_investigator:
        raise ApiError(403, "forbidden", "for supervisors and admins")


def book_figures(
    db: Any, detail: dict[str, Any], rules: RuleSettings = DEFAULT_SETTINGS
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The rule book's figures for a report's current plan: its schedule and APR with the household's
    affordability by the server's settings, and P-4 against the case's loan (None for a promise to pay or a
    settlement, or a loan without a contractual rate). (None, None) when the report has no computable plan."""
    current = next((v for v in detail["history"] if v["version_id"] == detail["current_version_id"]), None)
    found = evaluate_stored(
        db,
        report=detail["report"],
        visit_id=detail["visit_id"],
        investigator_id=detail["investigator_id"],
        received_at=current["received_at"] if current else None,
        rules=rules,
    )
    if found is None or found[2].plan is None or found[2].plan.preview is None:
        return None, None
    ev = found[2]
    assert ev.plan is not None and ev.plan.preview is not None
    preview = ev.plan.preview.model_copy(update={"affordability": ev.affordability})
    return preview.model_dump(mode="json"), ev.p4.model_dump(mode="json") if ev.p4 else None


@router.get("/v1/stats")
async def stats(actor: Actor, ctx: Ctx, days: int = 30, team: str | None = None) -> dict[str, Any]:
    """Dashboard figures over the last `days` days of visits in the caller's team."""
    _supervisor(actor)
    days = max(1, min(days, 366))
    now = ctx.clock()
    today = business_day(now)
    # Plans and promises evaluated against the clock first, as before the feed.
    policy = TrackingPolicy.from_settings(ctx.settings)
    await ctx.db.write(sweep, now=now, policy=policy)
    return await ctx.db.read(
        dashboard, actor=actor, today=today, days=days, team=team, grace_days=policy.grace_days
    )


@router.get(
    "/v1/exports/risk.csv",
    response_class=Response,
    description="The risk feed's events as CSV (UTF-8 with a byte-order mark, one row per event, cells that "
    "a spreadsheet would read as a formula neutralised), for the same scope. Columns: "
    + ", ".join(f"`{c}`" for c in RISK_CSV_COLUMNS)
    + ". Money columns are 2-decimal amounts, `dsr_after` a rate; lists (`flags`, `other_reasons`, "
    "`recommendation_reasons`) are separated by spaces.",
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": ",".join(RISK_CSV_COLUMNS) + "\r\n"}
            }
        }
    },
)
async def export_risk_csv(actor: Actor, ctx: Ctx, team: str | None = None) -> Response:
    _supervisor(actor)
    # The lapses and broken promises due by now are in the export, as in the feed.
    await ctx.db.write(sweep, now=ctx.clock(), policy=TrackingPolicy.from_settings(ctx.settings))
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


@router.get("/v1/reports/{report_id}/recomputed")
async def recomputed(report_id: str, actor: Actor, ctx: Ctx) -> dict[str, Any]:
    """The server's recomputation of a report's plan (schedule, APR, affordability), the check-in distance and
    the attestations that apply to the visit."""
    rules = ctx.settings.rules
    detail = await ctx.db.read(get_report, actor=actor, report_id=report_id, rules=rules)
    case = await ctx.db.read(_case, detail["visit_id"])
    borrower = case.get("borrower") or {}
    position = {"lat": borrower.get("lat"), "lon": borrower.get("lon")}
    plan, p4 = await ctx.db.read(book_figures, detail, rules)
    return {
        "report_id": detail["report_id"],
        "recomputed": plan,
        "p4": p4,
        "checkin_distance_m": checkin_distance_m(detail["report"], position),
        # What the report attests, only where it applies, each as a key of the labels catalogue.
        "attestations": attestations(detail["report"], detail["flags"]),
    }


@router.get("/v1/reports/{report_id}/pdf", response_class=Response)
async def report_pdf(report_id: str, actor: Actor, ctx: Ctx) -> Response:
    """A visit report as a PDF (Chinese text embedded with the shipped font); the read is audited."""
    _supervisor(actor)
    rules = ctx.settings.rules
    detail = await ctx.db.read(get_report, actor=actor, report_id=report_id, rules=rules)
    recomputed_plan, _p4 = await ctx.db.read(book_figures, detail, rules)
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
        history=detail["history"],
        current_version_id=detail["current_version_id"],
        external_id=detail["visit"]["external_id"],
        flags=detail["flags"],
        comments=detail["comments"],
        recomputed=recomputed_plan,
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="report-{detail["report_id"]}.pdf"'},
    )


def desk_labels(lang: str = "zh-CN") -> dict[str, str]:
    """The labels the desk shows for codes, flags and rules (models.labels) in `lang` (zh-CN unless "en")."""
    return labels("en" if lang.lower().startswith("en") else "zh-CN")


def install_desk(app: FastAPI) -> None:
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/desk/")

    @app.get("/desk", include_in_schema=False)
    async def desk_redirect() -> RedirectResponse:
        return RedirectResponse("/desk/")

    @app.get("/desk/labels.json", include_in_schema=False)
    async def labels_json(lang: str = "zh-CN") -> JSONResponse:
        # Public words only (no case data), so no token: the sign-in page needs them too.
        return JSONResponse(desk_labels(lang), headers={"Cache-Control": "no-cache"})

    @app.get("/desk/font.ttf", include_in_schema=False)
    async def font() -> FileResponse:
        return FileResponse(FONT_PATH, media_type="font/ttf")

    @app.get("/desk/font-rare.woff2", include_in_schema=False)
    async def font_rare() -> FileResponse:
        # The rare hanzi of names and places (the desk's second font: a browser fetches it only for a page
        # with a character the first one lacks).
        return FileResponse(RARE_FONT_PATH, media_type="font/woff2")

    app.mount("/desk", StaticFiles(directory=STATIC, html=True), name="desk")
