"""The root component: context providers, the sign-in / lock gate, and the Router with every route.

Routes: `/` queue, `/sync`, `/settings` (top-level tabs), `/visit/:visit_id` case detail and
`/visit/:visit_id/report` the visit forms (`app.views.visit.VisitReportScreen(visit_id)`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from typing import Any

import flet as ft

from app.contexts import AppCtx, QueueCtx, SessionCtx, SettingsCtx, StoreCtx, SyncCtx, ViewportCtx
from app.i18n import t
from app.views.detail import DetailScreen
from app.views.queue import QueueScreen
from app.views.settings import SettingsScreen
from app.views.sign_in import LockScreen, SignInScreen
from app.views.sync import SyncScreen

__all__ = ["App", "ReportRoute", "report_screen"]

log = logging.getLogger(__name__)


@cache
def report_screen() -> Callable[..., Any] | None:
    """The visit forms' screen when that package is installed and imports cleanly, else None."""
    try:
        from app.views.visit import VisitReportScreen
    except Exception:
        log.warning("visit report forms are not available", exc_info=True)
        return None
    return VisitReportScreen


@ft.component
def ReportRoute() -> Any:
    visit_id = ft.use_route_params().get("visit_id", "")
    screen = report_screen()
    if screen is not None:
        return screen(visit_id)
    return ft.View(
        route=f"/visit/{visit_id}/report",
        appbar=ft.AppBar(title=ft.Text(t("report.title"))),
        controls=[
            ft.Semantics(
                identifier="report-unavailable",
                content=ft.Column(
                    [ft.Icon(ft.Icons.CONSTRUCTION, size=48), ft.Text(t("report.unavailable"), size=16)],
                    horizontal_alignment=ft.CrossAxisAlignment.CENTER,
                ),
            )
        ],
        horizontal_alignment=ft.CrossAxisAlignment.CENTER,
        vertical_alignment=ft.MainAxisAlignment.CENTER,
    )


@ft.component
def NotFound() -> ft.Control:
    return ft.Column(
        [
            ft.Text(t("common.not_found")),
            ft.TextButton(t("nav.queue"), on_click=lambda _e: ft.context.page.navigate("/")),
        ]
    )


ROUTES = [
    ft.Route(path="sync", component=SyncScreen),
    ft.Route(path="settings", component=SettingsScreen),
    ft.Route(
        component=QueueScreen,
        children=[
            ft.Route(
                path="visit/:visit_id",
                component=DetailScreen,
                children=[ft.Route(path="report", component=ReportRoute)],
            )
        ],
    ),
]


# Flutter's own words (the back button, date pickers, text selection) follow the app's language.
_LOCALES = {"zh-CN": ft.Locale("zh", "CN"), "en": ft.Locale("en", "US")}


def _localize(language: str) -> None:
    page = ft.context.page
    page.locale_configuration = ft.LocaleConfiguration(
        supported_locales=list(_LOCALES.values()),
        current_locale=_LOCALES.get(language, _LOCALES["zh-CN"]),
    )
    page.update()


@ft.component
def Shell() -> Any:
    session = ft.use_context(SessionCtx)
    settings = ft.use_context(SettingsCtx)  # a language change re-renders every screen
    language = getattr(settings, "language", "zh-CN")
    ft.use_effect(lambda: _localize(language), [language])
    ft.use_context(ViewportCtx)  # and so does crossing the phone/wide breakpoint
    if session.phase == "signed_out":
        return SignInScreen()
    if session.phase == "locked":
        return LockScreen()
    return StoreCtx(session.store, lambda: ft.Router(ROUTES, manage_views=True, not_found=NotFound))


@ft.component
def App(model: Any) -> Any:
    providers = [
        (AppCtx, model),
        (SessionCtx, model.session),
        (SettingsCtx, model.settings),
        (SyncCtx, model.sync),
        (QueueCtx, model.queue),
        (ViewportCtx, model.viewport),
    ]

    def nest(i: int) -> Any:
        if i == len(providers):
            return Shell()
        ctx, value = providers[i]
        return ctx(value, lambda: nest(i + 1))

    return nest(0)
