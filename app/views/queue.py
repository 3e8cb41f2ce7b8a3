"""The visit queue: priority-sorted cards with masked personal data (D-6), search, filters, counts, paging;
or the day's visits as a route from the investigator's position, with its length."""

from __future__ import annotations

from typing import Any

import flet as ft

from app.contexts import QueueCtx, SessionCtx, SyncCtx, ViewportCtx
from app.format import fmt_date, fmt_km, fmt_money
from app.i18n import label, t
from app.services.device import LocationRefused, services_for
from app.state.settings import WIDE_MIN_WIDTH
from app.views.shell import tab_view
from app.views.widgets import bucket_chip, sem, tap_button

__all__ = ["QueueScreen", "visit_card"]

_BUCKETS = range(1, 8)
_STATUSES = ("open", "assigned", "visited", "closed")
_ALL = "__all__"
# Start loading the next page this many pixels before the end of the list.
_PREFETCH_PX = 400


def visit_card(item: Any, on_open: Any) -> ft.Control:
    """One queue card; every value comes from the store's QueueItem (name and phone already masked)."""
    status = item.status
    if item.report_status and status in ("open", "assigned"):
        # A report on the device means the visit took place; the dispatched status is the case's past.
        status = "visited"
    status_text = label("visit_status", status)
    if item.report_status:
        status_text = f"{status_text} · {label('report_status', item.report_status)}"
    badges: list[ft.Control] = [
        sem(f"status-{item.visit_id}", ft.Text(status_text, size=12, color=ft.Colors.ON_SURFACE_VARIANT))
    ]
    if item.has_draft:
        badges.append(
            sem(
                f"draft-{item.visit_id}",
                ft.Container(
                    ft.Text(t("queue.draft"), size=12, color=ft.Colors.ON_TERTIARY_CONTAINER),
                    bgcolor=ft.Colors.TERTIARY_CONTAINER,
                    padding=ft.Padding.symmetric(horizontal=6, vertical=1),
                    border_radius=6,
                ),
            )
        )
    body = ft.Column(
        [
            ft.Row(
                [
                    bucket_chip(item.bucket_label, item.bucket),
                    ft.Text(t("queue.dpd", dpd=item.dpd), size=13),
                    ft.Container(expand=True),
                    ft.Text(fmt_money(item.overdue_amount), weight=ft.FontWeight.BOLD, color=ft.Colors.ERROR),
                ],
            ),
            ft.Row(
                [
                    ft.Text(item.masked_name, size=16, weight=ft.FontWeight.W_600),
                    sem(f"phone-{item.visit_id}", ft.Text(item.masked_phone, size=14)),
                ],
                spacing=16,
            ),
            ft.Text(f"{item.district} · {item.address_short}", size=13, color=ft.Colors.ON_SURFACE_VARIANT),
            ft.Row(
                [
                    ft.Icon(ft.Icons.EVENT, size=14),
                    ft.Text(t("queue.planned", date=fmt_date(item.planned_date)), size=12),
                    *badges,
                ],
                spacing=8,
                wrap=True,
            ),
        ],
        spacing=4,
    )
    return sem(
        f"visit-card-{item.visit_id}",
        ft.Card(content=ft.Container(body, padding=12, on_click=lambda _e: on_open(item.visit_id), ink=True)),
        button=True,
    )


def _dropdown(
    ident: str,
    label_text: str,
    value: str | None,
    options: list[tuple[str, str]],
    on_select: Any,
    width: float,
) -> ft.Control:
    # The dropdown reads as a bare "button" to a screen reader: the wrapper gives it the filter's name.
    return sem(
        ident,
        ft.Dropdown(
            label=label_text,
            value=value or _ALL,
            dense=True,
            width=width,
            options=[ft.DropdownOption(key=_ALL, text=t("filter.all"))]
            + [ft.DropdownOption(key=k, text=v) for k, v in options],
            on_select=lambda e: on_select(None if e.control.value == _ALL else e.control.value),
        ),
        label=label_text,
        value=dict(options).get(value or "", t("filter.all")),
    )


def _order_choice(queue: Any, on_select: Any, width: float) -> ft.Control:
    options = [("priority", t("queue.sort_priority")), ("route", t("queue.sort_route"))]
    return sem(
        "queue-order",
        ft.Dropdown(
            label=t("queue.sort"),
            value=queue.order,
            dense=True,
            width=width,
            options=[ft.DropdownOption(key=k, text=v) for k, v in options],
            on_select=on_select,
        ),
        label=t("queue.sort"),
        value=dict(options)[queue.order],
    )


def _route_bar(queue: Any) -> ft.Control:
    """The route's day (with the days before and after), its length and where it starts."""
    day = fmt_date(queue.day)
    if queue.items:
        summary = t(
            "queue.route_summary", date=day, stops=len(queue.items), km=fmt_km(float(queue.route_km or 0))
        )
        summary += " · " + (t("queue.route_from_here") if queue.start else t("queue.route_from_first"))
    else:
        summary = t("queue.route_empty", date=day)
    lines: list[ft.Control] = [sem("route-summary", ft.Text(summary, size=13, weight=ft.FontWeight.W_600))]
    if queue.route_missing:
        lines.append(
            sem(
                "route-missing",
                ft.Text(t("queue.route_missing", n=queue.route_missing), size=12, color=ft.Colors.TERTIARY),
            )
        )
    return ft.Row(
        [
            sem(
                "route-prev",
                ft.IconButton(
                    ft.Icons.CHEVRON_LEFT,
                    tooltip=t("queue.route_prev"),
                    on_click=lambda _e: queue.shift_day(-1),
                ),
                button=True,
                label=t("queue.route_prev"),
            ),
            sem("route-day", ft.Text(day, size=14), label=t("queue.route_day"), value=day),
            sem(
                "route-next",
                ft.IconButton(
                    ft.Icons.CHEVRON_RIGHT,
                    tooltip=t("queue.route_next"),
                    on_click=lambda _e: queue.shift_day(1),
                ),
                button=True,
                label=t("queue.route_next"),
            ),
            ft.Column(lines, spacing=2, expand=True),
        ],
        spacing=4,
    )


@ft.component
def QueueScreen() -> ft.View:
    session = ft.use_context(SessionCtx)
    queue = ft.use_context(QueueCtx)
    sync = ft.use_context(SyncCtx)
    queue.bind(session.store, session.data_version + sync.finished_syncs)

    def open_visit(visit_id: str) -> None:
        session.touch()
        ft.context.page.navigate(f"/visit/{visit_id}")

    def on_scroll(e: Any) -> None:
        if queue.has_more and e.pixels >= e.max_scroll_extent - _PREFETCH_PX:
            queue.load_more()

    def search(e: Any) -> None:
        session.touch()
        queue.set_search(e.control.value or "")

    async def choose_order(e: Any) -> None:
        session.touch()
        if e.control.value != "route":
            queue.set_order("priority")
            return
        # The route starts where the investigator stands; without a fix, at the day's first visit.
        fix = await services_for(ft.context.page).location.current()
        queue.set_order("route", start=None if isinstance(fix, LocationRefused) else (fix.lat, fix.lon))

    viewport = ft.use_context(ViewportCtx)
    vw = viewport.width if viewport else 390
    # Phone: three dropdowns share the row; wide layouts give each a comfortable fixed width.
    dd_width = 200 if vw >= WIDE_MIN_WIDTH else max(104, (vw - 40) / 3)
    filters = ft.Row(
        [
            _dropdown(
                "filter-bucket",
                t("filter.bucket"),
                None if queue.bucket is None else str(queue.bucket),
                [(str(b), label("bucket", b)) for b in _BUCKETS],
                lambda v: queue.set_filters(bucket=v),
                dd_width,
            ),
            _dropdown(
                "filter-status",
                t("filter.status"),
                queue.status,
                [(s, label("visit_status", s)) for s in _STATUSES],
                lambda v: queue.set_filters(status=v),
                dd_width,
            ),
            _dropdown(
                "filter-district",
                t("filter.district"),
                queue.district,
                [(d, d) for d in queue.districts],
                lambda v: queue.set_filters(district=v),
                dd_width,
            ),
        ],
        spacing=6,
    )
    # Alone on its row on a phone: wide enough that the chosen order (按优先级) is not cut.
    choice = _order_choice(queue, choose_order, dd_width if vw >= WIDE_MIN_WIDTH else min(vw - 16, 180))
    if queue.order != "route":
        order_rows: list[ft.Control] = [choice]
    elif vw >= WIDE_MIN_WIDTH:
        order_rows = [
            ft.Row(
                [choice, ft.Container(_route_bar(queue), expand=True)],
                spacing=6,
                vertical_alignment=ft.CrossAxisAlignment.CENTER,
            )
        ]
    else:
        order_rows = [choice, _route_bar(queue)]
    counts = ft.Row(
        [
            sem("queue-count", ft.Text(t("queue.count", shown=len(queue.items), total=queue.total), size=13)),
            *(
                [ft.TextButton(t("filter.clear"), on_click=lambda _e: queue.clear_filters())]
                if queue.filtered
                else []
            ),
        ],
        alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
    )
    cards: list[ft.Control] = [visit_card(item, open_visit) for item in queue.items]
    if queue.has_more:
        cards.append(
            tap_button(
                t("queue.load_more"), lambda _e: queue.load_more(), ident="queue-load-more", filled=False
            )
        )
    elif not queue.items and queue.order != "route":  # an empty route says so in its own bar
        cards.append(
            ft.Container(
                ft.Text(
                    t("queue.empty_filtered") if queue.filtered else t("queue.empty"),
                    color=ft.Colors.ON_SURFACE_VARIANT,
                ),
                padding=24,
                alignment=ft.Alignment.CENTER,
            )
        )
    body = ft.Column(
        [
            sem(
                "queue-search",
                ft.TextField(
                    label=t("queue.search"),
                    hint_text=t("queue.search_hint"),
                    value=queue.search,
                    dense=True,
                    prefix_icon=ft.Icons.SEARCH,
                    on_change=search,
                ),
            ),
            filters,
            *order_rows,
            counts,
            ft.ListView(cards, expand=True, spacing=6, on_scroll=on_scroll, scroll_interval=200),
        ],
        expand=True,
        spacing=8,
        horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
    )
    return tab_view("/", t("queue.title"), body)
