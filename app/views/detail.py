"""Case detail: masked profile with a logged "show full data" tap, loan, repayment history, the account's
plans and promises with their outcome, earlier visits, maps link and distance, third-party shield
(R-12/D-7), and the "start visit" button."""

from __future__ import annotations

import contextlib
import logging
from typing import Any
from zoneinfo import ZoneInfo

import flet as ft

from app.contexts import AppCtx, SessionCtx, ViewportCtx
from app.format import fmt_date, fmt_datetime, fmt_km, fmt_money
from app.i18n import label, t
from app.services.device import LocationRefused, services_for
from app.state.detail import DetailState
from app.views.widgets import bucket_chip, info_row, section, sem, tap_button, text_button
from models.privacy import DEFAULT_TZ
from models.risk import bucket_label

__all__ = ["DetailScreen"]

log = logging.getLogger(__name__)


async def _launch(url: str) -> None:
    with contextlib.suppress(Exception):
        await ft.UrlLauncher().launch_url(url)


async def _locate(state: DetailState) -> None:
    fix = await services_for(ft.context.page).location.current()
    if isinstance(fix, LocationRefused):
        log.info("position unavailable: %s", fix.reason)
        return
    state.position = (fix.lat, fix.lon)


def _profile(state: DetailState, user_id: str | None, web: bool) -> ft.Control:
    b = state.borrower

    # Flet awaits only handlers that are coroutine functions, so these are not lambdas.
    async def open_map(_e: Any) -> None:
        await _launch(state.maps_url(web=web))

    async def locate(_e: Any) -> None:
        await _locate(state)

    reveal = (
        text_button(t("detail.hide"), lambda _e: state.hide(), ident="hide-pii", icon=ft.Icons.VISIBILITY_OFF)
        if state.revealed
        else text_button(
            t("detail.show_full"),
            lambda _e: state.reveal(user_id),
            ident="reveal-pii",
            icon=ft.Icons.VISIBILITY,
        )
    )
    distance = state.distance_km()
    return section(
        t("detail.borrower"),
        [
            info_row(t("detail.name"), state.name, value_ident="detail-name"),
            info_row(t("detail.phone"), state.phone, value_ident="detail-phone"),
            info_row(t("detail.id_number"), state.id_number, value_ident="detail-id"),
            ft.Row([reveal], alignment=ft.MainAxisAlignment.END),
            info_row(t("detail.address"), b.address),
            info_row(
                t("detail.distance"), fmt_km(distance) if distance is not None else t("detail.no_position")
            ),
            ft.Row(
                [
                    text_button(
                        t("detail.open_map"),
                        open_map,
                        ident="open-map",
                        icon=ft.Icons.MAP,
                    ),
                    text_button(t("detail.locate"), locate, icon=ft.Icons.MY_LOCATION),
                ],
                wrap=True,
            ),
        ],
    )


def _loan(visit: Any) -> ft.Control:
    loan = visit.loan
    return section(
        t("detail.loan"),
        [
            ft.Row(
                [bucket_chip(bucket_label(loan.bucket), loan.bucket), ft.Text(t("queue.dpd", dpd=loan.dpd))]
            ),
            info_row(t("detail.product"), label("product", loan.product_type)),
            info_row(t("detail.account"), visit.external_id),
            info_row(t("detail.overdue"), fmt_money(loan.overdue_amount)),
            info_row(t("detail.outstanding"), fmt_money(loan.outstanding_principal)),
            info_row(t("detail.instalment"), fmt_money(loan.contractual_instalment)),
            info_row(t("detail.broken_ptp"), str(visit.broken_ptp_count)),
        ],
    )


def _history(visit: Any) -> ft.Control:
    rows = [
        ft.DataRow(
            [
                ft.DataCell(ft.Text(fmt_date(r.due_date))),
                ft.DataCell(ft.Text(fmt_money(r.amount_due))),
                ft.DataCell(ft.Text(fmt_money(r.amount_paid))),
                ft.DataCell(ft.Text(fmt_date(r.paid_on))),
            ]
        )
        for r in visit.loan.repayment_history
    ]
    if not rows:
        return section(t("detail.history"), [ft.Text(t("detail.none"))])
    table = ft.DataTable(
        columns=[
            ft.DataColumn(label=ft.Text(t(k)))
            for k in ("detail.due", "detail.amount_due", "detail.paid", "detail.paid_on")
        ],
        rows=rows,
        column_spacing=16,
        heading_row_height=36,
        data_row_min_height=32,
        data_row_max_height=40,
    )
    return section(t("detail.history"), [ft.Row([table], scroll=ft.ScrollMode.AUTO)])


_STATE_COLOURS = {
    "performing": ft.Colors.PRIMARY,
    "completed": ft.Colors.PRIMARY,
    "kept": ft.Colors.PRIMARY,
    "open": ft.Colors.ON_SURFACE_VARIANT,
    "missed_1": ft.Colors.TERTIARY,
    "lapsed": ft.Colors.ERROR,
    "broken": ft.Colors.ERROR,
}


def _state_chip(ident: str, text: str, state: str) -> ft.Control:
    colour = _STATE_COLOURS.get(state, ft.Colors.ON_SURFACE_VARIANT)
    return sem(
        ident,
        ft.Container(
            ft.Text(text, size=12, color=colour, weight=ft.FontWeight.W_600),
            border=ft.Border.all(1, colour),
            padding=ft.Padding.symmetric(horizontal=6, vertical=1),
            border_radius=6,
        ),
        label=text,
        value=text,
    )


def _tracking(state: DetailState) -> ft.Control:
    """Each approved plan and each promise of the account with its outcome (server's evaluation)."""
    items: list[ft.Control] = []
    for p in state.plans:
        line = t(
            "detail.tracked_plan",
            approved=fmt_date(p.approved_at.astimezone(ZoneInfo(DEFAULT_TZ)).date())
            if p.approved_at
            else "—",
            paid=fmt_money(p.paid),
            due=fmt_money(p.due_to_date),
        )
        extra = []
        if p.missed:
            extra.append(t("detail.tracked_plan_missed", missed=p.missed))
        if p.next_due_date is not None and p.state not in ("lapsed", "completed"):
            extra.append(t("detail.tracked_plan_next", date=fmt_date(p.next_due_date)))
        items.append(
            ft.Row(
                [
                    _state_chip(f"plan-{p.report_id}", label("plan_state", p.state), p.state),
                    ft.Text(" · ".join([line, *extra]), size=13, expand=True),
                ],
                spacing=8,
            )
        )
    for pr in state.promises:
        items.append(
            ft.Row(
                [
                    _state_chip(f"promise-{pr.report_id}", label("promise_state", pr.state), pr.state),
                    ft.Text(
                        t("detail.tracked_promise", amount=fmt_money(pr.amount), date=fmt_date(pr.date)),
                        size=13,
                        expand=True,
                    ),
                ],
                spacing=8,
            )
        )
    return section(t("detail.tracking"), items or [ft.Text(t("detail.tracking_none"))])


def _earlier(state: DetailState) -> ft.Control:
    items: list[ft.Control] = []
    for pv in state.visit.previous_visits if state.visit is not None else []:
        line = f"{fmt_datetime(pv.visited_at)} · {label('outcome', pv.outcome) if pv.outcome else '—'}"
        if pv.promise_amount is not None:
            line += " · " + t(
                "detail.promise", amount=fmt_money(pv.promise_amount), date=fmt_date(pv.promise_date)
            )
        items.append(ft.Text(line, size=13))
    for r in state.reports:
        items.append(ft.Text(t("detail.local_report", status=label("report_status", r.status)), size=13))
        for c in getattr(r, "comments", None) or []:
            items.append(ft.Text(f"  “{c.get('comment') or c.get('text') or ''}”", size=13, italic=True))
    if state.drafts:
        items.append(ft.Text(t("detail.has_draft"), size=13, color=ft.Colors.TERTIARY))
    return section(t("detail.earlier"), items or [ft.Text(t("detail.none"))])


@ft.component
def DetailScreen() -> ft.View:
    params = ft.use_route_params()
    visit_id = params.get("visit_id", "")
    session = ft.use_context(SessionCtx)
    viewport = ft.use_context(ViewportCtx)
    model = ft.use_context(AppCtx)
    # flet's hook typing cannot infer the state type from a factory
    state, _ = ft.use_state(
        lambda: DetailState(visit_id=visit_id, audit=model.record_detail_read if model is not None else None)  # type: ignore[arg-type,return-value]
    )
    shield, set_shield = ft.use_state(False)
    ft.use_effect(lambda: state.load(session.store), dependencies=[visit_id, session.data_version])
    route = f"/visit/{visit_id}"
    appbar = ft.AppBar(title=ft.Text(t("detail.title")))
    if state.visit is None:
        return ft.View(route=route, appbar=appbar, controls=[ft.Text(t("detail.loading"))])
    page = ft.context.page
    user_id = session.user.id if session.user else None
    shield_switch = sem(
        "third-party-shield",
        ft.Switch(
            label=t("detail.third_party_mode"),
            value=shield,
            on_change=lambda e: set_shield(bool(e.control.value)),
        ),
    )
    start = tap_button(
        t("detail.start_visit"),
        lambda _e: page.navigate(f"/visit/{visit_id}/report"),
        ident="start-visit",
        icon=ft.Icons.PLAY_ARROW,
        expand=True,
    )
    if shield:
        # R-12/D-7: with a third party looking at the screen, no amounts, product or delinquency status.
        sections = [
            section(
                t("detail.borrower"),
                [ft.Text(state.visit.borrower.address), ft.Text(t("detail.third_party_note"), italic=True)],
            )
        ]
    else:
        sections = [
            _profile(state, user_id, bool(page.web)),
            _loan(state.visit),
            _history(state.visit),
            _tracking(state),
            _earlier(state),
        ]
    wide = bool(viewport and viewport.wide)
    if wide:
        grid = ft.ResponsiveRow([ft.Container(s, col={"md": 6}) for s in sections])
        content: list[ft.Control] = [shield_switch, grid]
    else:
        content = [shield_switch, *sections]
    return ft.View(
        route=route,
        appbar=appbar,
        controls=[
            ft.Column(
                content,
                scroll=ft.ScrollMode.AUTO,
                expand=True,
                horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            ),
            ft.Row([start]),
        ],
        padding=ft.Padding.all(8),
    )
