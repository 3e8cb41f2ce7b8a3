"""Settings: language, idle-lock timeout, account details and sign-out (warns about unsynced items)."""

from __future__ import annotations

import contextlib
from typing import Any

import flet as ft

from app.contexts import SessionCtx, SettingsCtx
from app.i18n import LANGUAGES, label, t
from app.state.settings import LOCK_CHOICES
from app.views.shell import tab_view
from app.views.widgets import info_row, section, sem, tap_button

__all__ = ["SettingsScreen"]


@ft.component
def SettingsScreen() -> ft.View:
    session = ft.use_context(SessionCtx)
    settings = ft.use_context(SettingsCtx)
    confirm, set_confirm = ft.use_state(0)

    def set_language(lang: str) -> None:
        session.touch()
        settings.set_language(lang)

    def sign_out(_e: Any = None) -> None:
        n = session.unsynced_count()
        if n and not confirm:
            set_confirm(n)
            return
        set_confirm(0)
        session.sign_out()

    language = section(
        t("settings.language"),
        [
            sem(
                "language-choice",
                ft.RadioGroup(
                    value=settings.language,
                    on_change=lambda e: set_language(e.control.value),
                    content=ft.Column(
                        [ft.Radio(value=lang, label=t(f"lang.name.{lang}")) for lang in LANGUAGES]
                    ),
                ),
            )
        ],
    )
    lock = section(
        t("settings.lock"),
        [
            sem(
                "lock-minutes",
                ft.Dropdown(
                    value=str(settings.lock_minutes),
                    dense=True,
                    options=[
                        ft.DropdownOption(key=str(m), text=t("settings.minutes", n=m)) for m in LOCK_CHOICES
                    ],
                    on_select=lambda e: settings.set_lock_minutes(int(e.control.value)),
                ),
                label=t("settings.lock"),
            ),
            ft.Text(t("settings.lock_help"), size=12, color=ft.Colors.ON_SURFACE_VARIANT),
        ],
    )
    user = session.user
    account_rows: list[ft.Control] = [
        info_row(t("settings.user"), f"{user.name} ({session.username})" if user else "—"),
        info_row(t("settings.role"), label("role", user.role) if user else "—"),
        info_row(t("settings.team"), user.team if user else "—"),
        info_row(t("settings.server"), session.server_url),
    ]
    if confirm:
        account_rows.append(
            sem("signout-warning", ft.Text(t("signout.confirm", n=confirm), color=ft.Colors.ERROR))
        )
        account_rows.append(
            ft.Row(
                [
                    ft.TextButton(t("common.cancel"), on_click=lambda _e: set_confirm(0), height=48),
                    tap_button(
                        t("signout.confirm_button"),
                        sign_out,
                        ident="signout-confirm",
                        icon=ft.Icons.DELETE_FOREVER,
                    ),
                ],
                alignment=ft.MainAxisAlignment.END,
            )
        )
    else:
        account_rows.append(
            tap_button(t("settings.sign_out"), sign_out, ident="sign-out", filled=False, icon=ft.Icons.LOGOUT)
        )
    if user and user.role in ("supervisor", "admin") and session.server_url:
        # Supervisors review, dispatch and export on the desk the central server serves.
        desk_url = f"{session.server_url}/desk/"

        async def open_desk(_e: Any) -> None:
            with contextlib.suppress(Exception):  # no browser on this platform: the URL is shown above
                await ft.UrlLauncher().launch_url(desk_url)

        account_rows.append(
            tap_button(t("settings.open_desk"), open_desk, ident="open-desk", icon=ft.Icons.DASHBOARD)
        )
    account_rows.append(
        tap_button(
            t("settings.lock_now"),
            lambda _e: session.lock(),
            ident="lock-now",
            filled=False,
            icon=ft.Icons.LOCK,
        )
    )
    body = ft.Column(
        [language, lock, section(t("settings.account"), account_rows)],
        scroll=ft.ScrollMode.AUTO,
        horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
        expand=True,
    )
    return tab_view("/settings", t("settings.title"), body)
