"""Translation API for every screen: `t(key, **kw)` in the session's language (zh-CN default, en).

Catalogues: `catalog_core` (shell screens), `catalog_visit` (visit forms), `catalog_labels` (code lists,
flags and rules, taken from `models.labels`, the catalogue the desk and the PDF use too), `catalog_device`
(the camera and the position: refusals in words) and `catalog_tracking` (plans and promises on the case, the
day's route), `catalog_sync` (the photos' upload progress). Each may define
`CATALOG = {"zh-CN": {...}, "en": {...}}` or `MESSAGES = {key: (zh, en)}`.
"""

from __future__ import annotations

import importlib
import logging
from functools import cache
from typing import Any

from flet.controls.context import _context_page

from models.messages import message_for

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "catalogue",
    "get_language",
    "label",
    "message",
    "set_language",
    "t",
]

log = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
_SESSION_KEY = "fieldvisit.language"
_CATALOGUE_MODULES = (
    "app.i18n.catalog_core",
    "app.i18n.catalog_visit",
    "app.i18n.catalog_labels",
    "app.i18n.catalog_device",
    "app.i18n.catalog_tracking",
    "app.i18n.catalog_sync",
)

# Outside a Flet session (state-class tests, CLI) the process-wide language applies.
_process_language = DEFAULT_LANGUAGE


def _normalise(module: Any) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    by_lang = getattr(module, "CATALOG", None)
    if isinstance(by_lang, dict):
        for lang in LANGUAGES:
            out[lang].update(by_lang.get(lang, {}))
    pairs = getattr(module, "MESSAGES", None)
    if isinstance(pairs, dict):
        for key, (zh, en) in pairs.items():
            out["zh-CN"][key] = zh
            out["en"][key] = en
    return out


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """All catalogues merged: {language: {key: text}}. A missing optional catalogue is skipped."""
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for name in _CATALOGUE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        for lang, texts in _normalise(module).items():
            merged[lang].update(texts)
    return merged


def _session_store() -> Any:
    page = _context_page.get()
    if page is None:
        return None
    try:
        return page.session.store
    except RuntimeError:
        return None


def get_language() -> str:
    store = _session_store()
    if store is not None:
        lang = store.get(_SESSION_KEY)
        if lang in LANGUAGES:
            return lang
    return _process_language


def set_language(lang: str) -> None:
    """Sets the language of the current session (or of the process outside a session)."""
    global _process_language
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}")
    store = _session_store()
    if store is not None:
        store.set(_SESSION_KEY, lang)
    else:
        _process_language = lang


def t(key: str, lang: str | None = None, **kw: Any) -> str:
    """The text for `key`, formatted with `kw`; falls back to the default language, then to the key."""
    lang = lang or get_language()
    texts = catalogue()
    text = texts.get(lang, {}).get(key) or texts[DEFAULT_LANGUAGE].get(key)
    if text is None:
        log.warning("missing i18n key %s", key)
        return key
    if kw:
        try:
            return text.format(**kw)
        except (KeyError, IndexError, ValueError):
            log.warning("bad i18n arguments for %s", key)
            return text
    return text


def label(kind: str, code: object, lang: str | None = None) -> str:
    """A code list's label, e.g. label("outcome", "MET_BORROWER") → key "outcome.MET_BORROWER"; an unknown
    code is shown as itself."""
    value = str(getattr(code, "value", code))
    key = f"{kind}.{value}"
    texts = catalogue()
    if key not in texts.get(lang or get_language(), {}) and key not in texts[DEFAULT_LANGUAGE]:
        return value
    return t(key, lang)


def message(code: str, lang: str | None = None) -> str:
    """A validation message (models/messages.py) in the session's language."""
    return message_for(code, "zh" if (lang or get_language()).startswith("zh") else "en")
