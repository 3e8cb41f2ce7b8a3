"""Small shared building blocks: test ids, touch-sized buttons, bucket chips, labelled rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flet as ft

__all__ = ["MIN_TOUCH", "bucket_chip", "info_row", "section", "sem", "tap_button", "text_button"]

# Material's minimum touch target (Android and iOS guidelines both ask for about 48 dp).
MIN_TOUCH = 48

_BUCKET_COLORS = {
    0: ft.Colors.GREEN_700,
    1: ft.Colors.LIGHT_GREEN_800,
    2: ft.Colors.AMBER_800,
    3: ft.Colors.ORANGE_800,
    4: ft.Colors.DEEP_ORANGE_700,
    5: ft.Colors.RED_700,
    6: ft.Colors.RED_900,
    7: ft.Colors.PURPLE_900,
}


def sem(identifier: str, control: ft.Control, **kw: Any) -> ft.Semantics:
    """Wraps a control so browser tests find it as [flt-semantics-identifier=...]."""
    return ft.Semantics(identifier=identifier, content=control, **kw)


def tap_button(
    label: str,
    on_click: Callable[..., Any] | None,
    *,
    icon: Any = None,
    ident: str | None = None,
    filled: bool = True,
    disabled: bool = False,
    expand: bool | int | None = None,
) -> ft.Control:
    cls = ft.FilledButton if filled else ft.OutlinedButton
    button = cls(
        content=label, icon=icon, on_click=on_click, disabled=disabled, height=MIN_TOUCH, expand=expand
    )
    # The wrapper must expand too, or the button cannot fill its row.
    return sem(ident, button, expand=expand) if ident else button


def text_button(
    label: str, on_click: Callable[..., Any] | None, *, ident: str | None = None, icon: Any = None
) -> ft.Control:
    button = ft.TextButton(content=label, icon=icon, on_click=on_click, height=MIN_TOUCH)
    return sem(ident, button) if ident else button


def bucket_chip(label: str, bucket: int) -> ft.Control:
    return ft.Container(
        content=ft.Text(label, color=ft.Colors.WHITE, size=12, weight=ft.FontWeight.BOLD),
        bgcolor=_BUCKET_COLORS.get(bucket, ft.Colors.GREY_700),
        padding=ft.Padding.symmetric(horizontal=8, vertical=2),
        border_radius=10,
    )


def info_row(label: str, value: str, *, value_ident: str | None = None) -> ft.Control:
    text = ft.Text(value, selectable=False, expand=True)
    return ft.Row(
        [
            ft.Text(label, color=ft.Colors.ON_SURFACE_VARIANT, width=110),
            sem(value_ident, text) if value_ident else text,
        ],
        vertical_alignment=ft.CrossAxisAlignment.START,
    )


def section(title: str, controls: list[ft.Control]) -> ft.Control:
    return ft.Card(
        content=ft.Container(
            ft.Column([ft.Text(title, weight=ft.FontWeight.BOLD, size=16), *controls], spacing=8),
            padding=12,
        )
    )
