"""The translation API and the catalogues: both languages complete, formatting, per-session language."""

from __future__ import annotations

import re

import pytest

from app import i18n


def test_catalogue_languages_have_same_keys_when_merged():
    cat = i18n.catalogue()
    assert set(cat) == {"zh-CN", "en"}
    assert set(cat["zh-CN"]) == set(cat["en"])
    assert len(cat["zh-CN"]) > 100


def test_catalogue_placeholders_match_between_languages():
    cat = i18n.catalogue()
    for key, zh in cat["zh-CN"].items():
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", cat["en"][key])), key


def test_every_key_used_by_the_shell_exists():
    from pathlib import Path

    root = Path(i18n.__file__).resolve().parent.parent
    used: set[str] = set()
    for path in root.rglob("*.py"):
        if "views/visit" in str(path) or path.name.startswith("catalog_"):
            continue
        used |= set(re.findall(r'\bt\(\s*"([a-z_.A-Z0-9-]+)"', path.read_text(encoding="utf-8")))
    missing = used - set(i18n.catalogue()["zh-CN"])
    assert not missing


def test_t_formats_and_switches_language_outside_a_session():
    try:
        assert i18n.t("queue.dpd", dpd=75) == "逾期 75 天"
        i18n.set_language("en")
        assert i18n.get_language() == "en"
        assert i18n.t("queue.dpd", dpd=75) == "75 DPD"
    finally:
        i18n.set_language("zh-CN")


def test_t_returns_key_when_missing():
    assert i18n.t("no.such.key") == "no.such.key"


def test_label_falls_back_to_code_when_unknown():
    assert i18n.label("outcome", "MET_BORROWER", "en") == "Met the borrower"
    assert i18n.label("sync_error", "weird_code") == "weird_code"


def test_message_uses_validation_catalogue():
    assert i18n.message("fv.phone_invalid", "en") == "must be an 11-digit mainland mobile number"
    assert i18n.message("fv.phone_invalid", "zh-CN").startswith("手机号")


def test_set_language_refuses_unknown_language():
    with pytest.raises(ValueError):
        i18n.set_language("fr")


def test_code_labels_come_from_models_labels_when_merged():
    from app.i18n import catalog_core, catalog_labels, catalog_visit
    from models.labels import LABELS

    # No screen catalogue keeps its own wording for a code, a flag or a rule ...
    own = set(catalog_core.MESSAGES) | set(catalog_visit.PAIRS)
    assert not own & set(catalog_labels.MESSAGES)
    # ... and every label reads as models.labels says, under its own key and the screens' keys.
    cat = i18n.catalogue()
    for key, (zh, en) in LABELS.items():
        assert (cat["zh-CN"][key], cat["en"][key]) == (zh, en), key
    for prefix, kind in catalog_labels.SCREEN_KEYS.items():
        for key, (zh, en) in LABELS.items():
            if key.startswith(kind + "."):
                code = key.split(".", 1)[1]
                assert (cat["zh-CN"][f"{prefix}.{code}"], cat["en"][f"{prefix}.{code}"]) == (zh, en)
    assert i18n.label("flag", "over_capacity", "zh-CN") == LABELS["flag.over_capacity"][0]
