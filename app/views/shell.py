"""Top-level screens' frame: bottom NavigationBar on phones, NavigationRail with wider content on tablets
and desktops, and the offline / sync banner on every screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flet as ft

from app.contexts import SyncCtx, ViewportCtx
from app.format import fmt_datetime
from app.i18n import t
from app.views.widgets import sem

__all__ = ["TABS", "SyncBanner", "tab_view"]

# (route, icon, selected icon, i18n key, test id)
TABS: tuple[tuple[str, Any, Any, str, str], ...] = (
    ("/", ft.Icons.LIST_ALT_OUTLINED, ft.Icons.LIST_ALT, "nav.queue", "nav-queue"),
    ("/sync", ft.Icons.SYNC_OUTLINED, ft.Icons.SYNC, "nav.sync", "nav-sync"),
    ("/settings", ft.Icons.SETTINGS_OUTLINED, ft.Icons.SETTINGS, "nav.settings", "nav-settings"),
)


def _go(index: int) -> None:
    ft.context.page.navigate(TABS[index][0])


@ft.component
def SyncBanner() -> ft.Control:
    """Offline banner with the pending count; a slim progress bar while a sync runs."""
    sync = ft.use_context(SyncCtx)
    if sync is None:
        return ft.Container(visible=False)
    items: list[ft.Control] = []
    if sync.offline:
        text = t("banner.offline", pending=sync.pending, last=fmt_datetime(sync.last_sync_at))
        items.append(
            sem(
                "offline-banner",
                ft.Container(
                    ft.Row(
                        [
                            ft.Icon(ft.Icons.CLOUD_OFF, color=ft.Colors.ON_ERROR_CONTAINER, size=18),
                            ft.Text(text, color=ft.Colors.ON_ERROR_CONTAINER, size=13, expand=True),
                        ]
                    ),
                    bgcolor=ft.Colors.ERROR_CONTAINER,
                    padding=ft.Padding.symmetric(horizontal=12, vertical=8),
                    border_radius=8,
                ),
            )
        )
    elif sync.pending:
        items.append(
            sem(
                "pending-banner",
                ft.Text(
                    t("banner.pending", pending=sync.pending), size=13, color=ft.Colors.ON_SURFACE_VARIANT
                ),
            )
        )
    if sync.in_progress:
        items.append(ft.ProgressBar(height=3))
    return ft.Column(items, spacing=4, visible=bool(items))


def tab_view(
    route: str,
    title: str,
    body: ft.Control,
    *,
    actions: list[ft.Control] | None = None,
    fab: ft.FloatingActionButton | None = None,
) -> ft.View:
    """A top-level destination: the same content, framed for the phone or the wide layout."""
    viewport = ft.use_context(ViewportCtx)
    wide = bool(viewport and viewport.wide)
    index = next(i for i, tab in enumerate(TABS) if tab[0] == route)
    content = ft.Column([SyncBanner(), body], expand=True, spacing=8)
    appbar = ft.AppBar(title=ft.Text(title), actions=actions or [], automatically_imply_leading=False)
    if wide:
        rail = ft.NavigationRail(
            selected_index=index,
            label_type=ft.NavigationRailLabelType.ALL,
            min_width=88,
            destinations=[
                ft.NavigationRailDestination(icon=icon, selected_icon=sel, label=t(key))
                for _, icon, sel, key, _ in TABS
            ],
            on_change=lambda e: _go(int(e.control.selected_index or 0)),
        )
        body_row = ft.Row(
            [
                rail,
                ft.VerticalDivider(width=1),
                ft.Container(content, expand=True, padding=ft.Padding.symmetric(horizontal=16)),
            ],
            expand=True,
            vertical_alignment=ft.CrossAxisAlignment.START,
        )
        return ft.View(route=route, appbar=appbar, controls=[body_row], padding=0, floating_action_button=fab)
    nav = ft.NavigationBar(
        selected_index=index,
        destinations=[
            ft.NavigationBarDestination(icon=icon, selected_icon=sel, label=t(key))
            for _, icon, sel, key, _ in TABS
        ],
        on_change=lambda e: _go(int(e.control.selected_index)),
    )
    return ft.View(
        route=route,
        appbar=appbar,
        controls=[content],
        navigation_bar=nav,
        padding=ft.Padding.all(8),
        floating_action_button=fab,
    )


def on_tap(handler: Callable[[], Any], touch: Callable[[], None]) -> Callable[..., Any]:
    """Event handler that records activity (idle lock) before running `handler`."""

    def run(_e: Any = None) -> Any:
        touch()
        return handler()

    return run
