"""User settings (language, lock timeout) and the window width that picks the phone or wide layout."""

from __future__ import annotations

from dataclasses import dataclass

import flet as ft

from app import i18n
from app.services.prefs import Prefs

__all__ = ["LOCK_CHOICES", "WIDE_MIN_WIDTH", "SettingsState", "Viewport"]

LOCK_CHOICES = (1, 5, 10, 30)
# Below this width the phone layout (bottom navigation bar) is used; above it a navigation rail.
WIDE_MIN_WIDTH = 720


@ft.observable
@dataclass
class SettingsState:
    prefs: Prefs
    language: str = i18n.DEFAULT_LANGUAGE
    lock_minutes: int = 10

    def __post_init__(self) -> None:
        lang = self.prefs.get("language")
        self.language = lang if lang in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE
        self.lock_minutes = int(self.prefs.get("lock_minutes") or 10)

    def apply(self) -> None:
        """Makes the stored language the session's language (called once per session start)."""
        i18n.set_language(self.language)

    def set_language(self, lang: str) -> None:
        i18n.set_language(lang)
        self.prefs.set("language", lang)
        self.language = lang

    def set_lock_minutes(self, minutes: int) -> None:
        self.prefs.set("lock_minutes", int(minutes))
        self.lock_minutes = int(minutes)


@ft.observable
@dataclass
class Viewport:
    width: float = 390

    @property
    def wide(self) -> bool:
        return self.width >= WIDE_MIN_WIDTH
