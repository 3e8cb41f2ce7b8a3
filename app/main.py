"""Builds one app session on a page: theme and bundled CJK font, the app model, background tick,
connectivity and lifecycle hooks, then renders the root component."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import flet as ft

from app.config import AppConfig
from app.runtime import AppModel
from app.services.backend import Backend
from app.services.device import is_phone, services_for
from app.views.app import App

__all__ = ["FONTS", "FONT_FAMILY", "configure_page", "main", "make_model"]

log = logging.getLogger(__name__)

FONT_FAMILY = "NotoSansSC"
# Relative to the assets folder; the subset (GB2312 whole, and every character of the app's own text) is built
# by scripts/make_font.py. In the browser the same file is also registered before the first frame by
# assets/assets/FontManifest.json (the web client's manifest plus this font as "NotoSansSC" and as "Roboto", the
# family Flutter falls back to): text drawn before the theme's font has loaded then still finds its Chinese
# glyphs. For a character this font lacks (a rare hanzi of a name or a place), Flutter's font fallback asks for
# a Noto CJK slice; assets/index.html answers it inside the page with the rare characters' font
# (fonts/NotoSansSC-FieldVisit-Rare.woff2, every other unified ideograph), fetched only then. On a phone the
# system's fonts draw such a character.
FONTS = {FONT_FAMILY: "/fonts/NotoSansSC-FieldVisit-Regular.otf"}


def configure_page(page: ft.Page) -> None:
    page.title = "FieldVisit"
    page.fonts = dict(FONTS)
    theme = ft.Theme(font_family=FONT_FAMILY, color_scheme_seed=ft.Colors.INDIGO, use_material3=True)
    page.theme = theme
    page.dark_theme = ft.Theme(
        font_family=FONT_FAMILY, color_scheme_seed=ft.Colors.INDIGO, use_material3=True
    )
    page.theme_mode = ft.ThemeMode.LIGHT
    page.padding = 0


def make_model(config: AppConfig | None = None, backend: Backend | None = None) -> AppModel:
    config = config or AppConfig.from_env()
    if backend is None:
        from app.services.default_backend import DefaultBackend

        backend = DefaultBackend(retry_cap=config.sync_retry_cap_s)
    model = AppModel.create(config, backend)
    model.session.restore()
    return model


async def _ticker(model: AppModel, stopped: asyncio.Event) -> None:
    while not stopped.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stopped.wait(), timeout=model.config.tick_s)
        if stopped.is_set():
            break
        try:
            model.tick()
        except Exception:
            log.exception("tick failed")


async def _watch_connectivity(model: AppModel) -> Any:
    conn = ft.Connectivity(on_change=lambda e: model.on_connectivity(e.connectivity))
    try:
        model.on_connectivity(await asyncio.wait_for(conn.get_connectivity(), timeout=5))
    except Exception:
        log.info("connectivity state unknown; assuming online")
    return conn


async def main(page: ft.Page, model: AppModel | None = None) -> None:
    configure_page(page)
    model = model or make_model()
    if is_phone(page):
        # The data key is kept in the Keystore/Keychain too (app/services/data_keys.py).
        model.session.secure_store = services_for(page).secure_store
    model.settings.apply()
    model.viewport.width = page.width or 390
    stopped = asyncio.Event()

    def on_resize(e: Any) -> None:
        model.viewport.width = e.width

    def on_close(_e: Any = None) -> None:
        stopped.set()
        model.shutdown()

    page.on_resize = on_resize
    page.on_close = on_close
    page.on_app_lifecycle_state_change = lambda e: model.on_lifecycle(e.state)
    page.render_views(App, model)
    # Held on the page so the service (and its on_change) lives as long as the session.
    page.data = {"connectivity": await _watch_connectivity(model)}
    page.run_task(_ticker, model, stopped)
