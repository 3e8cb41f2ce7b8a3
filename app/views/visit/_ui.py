"""Form building blocks bound to VisitFormState paths: text fields with inline errors, chips, tiles.

Every control that browser tests need carries `ft.Semantics(identifier=...)`; touch targets are ≥ 48 px.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import flet as ft

from app.i18n import message, t
from app.state.visit_form import VisitFormState
from app.views.widgets import MIN_TOUCH, sem

__all__ = ["MIN_TOUCH", "card", "check", "chips", "choice", "field", "msg", "note", "sem", "tile", "warn"]


def msg(code: str | None) -> str | None:
    """A problem code as text in the session's language (app codes, then the models' messages)."""
    if not code:
        return None
    if code.startswith("visit."):
        return t(code)
    return message(code)


def _inline(form: VisitFormState, path: str) -> str | None:
    # "required" is listed on the review tab; inline messages are for what was typed wrongly.
    code = form.error(path)
    return None if code in (None, "missing") else msg(code)


def field(
    form: VisitFormState,
    path: str,
    label: str,
    *,
    ident: str | None = None,
    number: bool = False,
    multiline: bool = False,
    size: int | None = None,
    expand: bool | int | None = None,
    hint: str | None = None,
    error_path: str | None = None,
    helper: str | None = None,
) -> ft.Control:
    """A text field that saves on every keystroke and shows its own validation message (and, below it, a
    helper line such as where a prefilled value came from)."""
    tf = ft.TextField(
        label=label,
        value=str(form.get(path) or ""),
        on_change=lambda e: form.set(path, e.control.value),
        helper=helper,
        helper_max_lines=2,
        error=_inline(form, error_path or path),
        keyboard_type=ft.KeyboardType.NUMBER if number else ft.KeyboardType.TEXT,
        multiline=multiline,
        min_lines=2 if multiline else None,
        text_size=size,
        expand=expand,
        hint_text=hint,
        autofocus=form.focus == path,
    )
    # The wrapper, not the field, is the Row's child: it has to carry the expansion.
    return sem(ident, tf, expand=expand) if ident else tf


def check(form: VisitFormState, path: str, label: str, *, ident: str | None = None) -> ft.Control:
    code = form.error(path)
    box = ft.Checkbox(
        label=label,
        value=bool(form.get(path, False)),
        on_change=lambda e: form.set(path, bool(e.control.value)),
        # Unticked is not yet wrong before the check-in: nothing has been done that the box could miss.
        error=code is not None and code != "missing" and bool(form.get("checkin.at")),
    )
    row = ft.Container(box, height=MIN_TOUCH, alignment=ft.Alignment.CENTER_LEFT)
    return sem(ident, row) if ident else row


def chips(
    items: Iterable[tuple[str, str, bool]],
    on_pick: Callable[[str], Any],
    *,
    ident: str,
    icons: dict[str, Any] | None = None,
    multi: bool = False,
) -> ft.Control:
    """Choice chips: (value, text, selected) each; `ident` is the prefix of each chip's identifier.

    Single choice unless `multi`: tapping the chosen chip again keeps it chosen."""
    return ChipGroup(list(items), on_pick, ident, icons, multi)


@ft.component
def ChipGroup(
    items: list[tuple[str, str, bool]],
    on_pick: Callable[[str], Any],
    ident: str,
    icons: dict[str, Any] | None,
    multi: bool,
) -> ft.Control:
    # A chip flips itself on the device when tapped. Tapping the chosen one of a single choice changes
    # nothing in the form, so nothing would redraw it: the chip is then rebuilt (a new key) as selected.
    redraws, set_redraws = ft.use_state(0)
    out: list[ft.Control] = []
    for value, text, selected in items:

        def picked(_e: Any, v: str = value, again: bool = selected and not multi) -> None:
            on_pick(v)
            if again:
                set_redraws(redraws + 1)

        chip = ft.Chip(
            label=ft.Text(text),
            selected=selected,
            leading=ft.Icon(icons[value], size=16) if icons and value in icons else None,
            on_select=picked,
            key=f"{value}-{redraws}" if selected else value,
        )
        out.append(sem(f"{ident}-{value}", chip, selected=selected))
    return ft.Row(out, wrap=True, spacing=6, run_spacing=6)


def choice(
    form: VisitFormState,
    path: str,
    label: str,
    options: Iterable[tuple[str, str]],
    *,
    ident: str | None = None,
    expand: bool | int | None = True,
) -> ft.Control:
    code = form.error(path)
    options = list(options)
    chosen = next((txt for v, txt in options if v == form.get(path, None)), None)
    dd = ft.Dropdown(
        label=label,
        value=form.get(path, None),
        options=[ft.DropdownOption(key=v, text=txt) for v, txt in options],
        on_select=lambda e: form.set(path, e.control.value),
        error_text=None if code is None else msg(code),
        expand=expand,
    )
    # The dropdown reads as a bare "button" to a screen reader: the wrapper gives it its field's name.
    return ft.Semantics(identifier=ident, label=label, value=chosen, content=dd, expand=expand)


def tile(text: str, selected: bool, on_click: Callable[..., Any], *, ident: str) -> ft.Control:
    """A full-width single-choice row, easy to hit with a thumb."""
    icon = ft.Icons.RADIO_BUTTON_CHECKED if selected else ft.Icons.RADIO_BUTTON_UNCHECKED
    row = ft.Container(
        ft.Row([ft.Icon(icon, color=ft.Colors.PRIMARY if selected else None), ft.Text(text, expand=True)]),
        height=MIN_TOUCH,
        padding=ft.Padding.symmetric(horizontal=8),
        border_radius=8,
        bgcolor=ft.Colors.SECONDARY_CONTAINER if selected else None,
        on_click=on_click,
        ink=True,
    )
    return sem(ident, row, selected=selected, button=True)


def card(title: str | None, controls: list[ft.Control], *, ident: str | None = None) -> ft.Control:
    head = [ft.Text(title, weight=ft.FontWeight.BOLD, size=16)] if title else []
    c = ft.Card(
        ft.Container(
            ft.Column([*head, *controls], spacing=8, horizontal_alignment=ft.CrossAxisAlignment.STRETCH),
            padding=12,
        )
    )
    return sem(ident, c) if ident else c


def note(text: str, *, ident: str | None = None, italic: bool = True) -> ft.Control:
    txt = ft.Text(text, size=13, italic=italic, color=ft.Colors.ON_SURFACE_VARIANT)
    return sem(ident, txt) if ident else txt


def warn(text: str, *, ident: str | None = None) -> ft.Control:
    box = ft.Container(
        ft.Row(
            [
                ft.Icon(ft.Icons.WARNING_AMBER, color=ft.Colors.ON_ERROR_CONTAINER),
                ft.Text(text, expand=True, color=ft.Colors.ON_ERROR_CONTAINER),
            ]
        ),
        bgcolor=ft.Colors.ERROR_CONTAINER,
        padding=8,
        border_radius=8,
    )
    return sem(ident, box) if ident else box
