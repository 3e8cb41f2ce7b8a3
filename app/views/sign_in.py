"""Sign-in (server address, username, password) and the lock screen that asks for the password again."""

from __future__ import annotations

import flet as ft

from app.contexts import SessionCtx, SettingsCtx, ViewportCtx
from app.i18n import LANGUAGES, t
from app.views.widgets import sem, tap_button, text_button

__all__ = ["LockScreen", "SignInScreen"]


def _frame(route: str, controls: list[ft.Control]) -> ft.View:
    viewport = ft.use_context(ViewportCtx)
    width = min(440, (viewport.width if viewport else 390) - 16)
    card = ft.Container(
        ft.Column(controls, spacing=14, tight=True, horizontal_alignment=ft.CrossAxisAlignment.STRETCH),
        width=width,
        padding=ft.Padding.symmetric(horizontal=12, vertical=8),
    )
    return ft.View(
        route=route,
        controls=[ft.Row([card], alignment=ft.MainAxisAlignment.CENTER)],
        scroll=ft.ScrollMode.AUTO,
        padding=ft.Padding.only(top=48, left=8, right=8, bottom=8),
    )


@ft.component
def LanguageToggle() -> ft.Control:
    settings = ft.use_context(SettingsCtx)
    other = next(lang for lang in LANGUAGES if lang != settings.language)
    return text_button(
        t(f"lang.switch_to.{other}"),
        lambda _e: settings.set_language(other),
        ident="lang-toggle",
        icon=ft.Icons.TRANSLATE,
    )


def _header(subtitle: str) -> list[ft.Control]:
    return [
        ft.Row(
            [
                ft.Icon(ft.Icons.HOME_WORK, size=36, color=ft.Colors.PRIMARY),
                ft.Text(t("app.title"), size=26, weight=ft.FontWeight.BOLD),
            ]
        ),
        ft.Text(subtitle, color=ft.Colors.ON_SURFACE_VARIANT),
    ]


def _error(key: str | None) -> ft.Control:
    # Semantics needs visible content, so no error means no wrapper at all.
    if not key:
        return ft.Container(height=0)
    return sem("form-error", ft.Text(t(key), color=ft.Colors.ERROR))


@ft.component
def SignInScreen() -> ft.View:
    session = ft.use_context(SessionCtx)
    server, set_server = ft.use_state(session.server_url)
    username, set_username = ft.use_state(session.username)
    password, set_password = ft.use_state("")

    async def submit(_e=None) -> None:
        if session.busy:
            return
        if await session.sign_in(server, username, password):
            set_password("")

    return _frame(
        "/signin",
        [
            *_header(t("signin.subtitle")),
            sem(
                "signin-server",
                ft.TextField(
                    label=t("signin.server"),
                    value=server,
                    on_change=lambda e: set_server(e.control.value),
                    keyboard_type=ft.KeyboardType.URL,
                    prefix_icon=ft.Icons.DNS,
                ),
            ),
            sem(
                "signin-username",
                ft.TextField(
                    label=t("signin.username"),
                    value=username,
                    on_change=lambda e: set_username(e.control.value),
                    prefix_icon=ft.Icons.PERSON,
                    autofocus=not username,
                ),
            ),
            sem(
                "signin-password",
                ft.TextField(
                    label=t("signin.password"),
                    value=password,
                    password=True,
                    can_reveal_password=True,
                    on_change=lambda e: set_password(e.control.value),
                    on_submit=submit,
                    prefix_icon=ft.Icons.LOCK,
                    autofocus=bool(username),
                ),
            ),
            _error(session.error_key),
            tap_button(
                t("signin.busy") if session.busy else t("signin.submit"),
                submit,
                ident="signin-submit",
                disabled=session.busy,
                icon=ft.Icons.LOGIN,
            ),
            ft.ProgressBar(visible=session.busy),
            ft.Row([LanguageToggle()], alignment=ft.MainAxisAlignment.END),
        ],
    )


@ft.component
def LockScreen() -> ft.View:
    session = ft.use_context(SessionCtx)
    password, set_password = ft.use_state("")
    confirm, set_confirm = ft.use_state(False)

    def unlock(_e=None) -> None:
        if session.unlock(password):
            set_password("")

    def sign_out(_e=None) -> None:
        if not confirm and session.unsynced_count():
            set_confirm(True)
            return
        session.sign_out()

    user = session.user
    controls: list[ft.Control] = [
        *_header(t("lock.subtitle", name=user.name if user else "")),
        sem(
            "lock-password",
            ft.TextField(
                label=t("signin.password"),
                value=password,
                password=True,
                can_reveal_password=True,
                autofocus=True,
                on_change=lambda e: set_password(e.control.value),
                on_submit=unlock,
                prefix_icon=ft.Icons.LOCK,
            ),
        ),
        _error(session.error_key),
        tap_button(t("lock.unlock"), unlock, ident="lock-unlock", icon=ft.Icons.LOCK_OPEN),
    ]
    if confirm:
        controls.append(ft.Text(t("signout.confirm", n=session.unsynced_count()), color=ft.Colors.ERROR))
    controls.append(
        text_button(
            t("signout.confirm_button") if confirm else t("lock.other_user"),
            sign_out,
            ident="lock-signout",
            icon=ft.Icons.LOGOUT,
        )
    )
    return _frame("/lock", controls)
