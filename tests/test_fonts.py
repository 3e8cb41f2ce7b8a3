"""The shipped Chinese fonts (scripts/make_font.py): the app's font draws GB2312 whole and every character the
app's own text uses, the rare characters' font draws every other hanzi of GBK, and the PDF's TrueType copy
draws what the app's font draws."""

from __future__ import annotations

import functools
from pathlib import Path

from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parents[1]
FONTS = ROOT / "assets" / "fonts"


@functools.cache
def _drawn(name: str) -> frozenset[int]:
    return frozenset(TTFont(str(FONTS / name), lazy=True).getBestCmap())


def _hanzi(codec: str, rows: range, cells: range) -> set[int]:
    out: set[int] = set()
    for hi in rows:
        for lo in cells:
            try:
                ch = bytes([hi, lo]).decode(codec)
            except UnicodeDecodeError:
                continue
            if 0x4E00 <= ord(ch) <= 0x9FFF:
                out.add(ord(ch))
    return out


def test_app_font_draws_both_levels_of_gb2312_hanzi() -> None:
    gb2312 = _hanzi("gb2312", range(0xB0, 0xF8), range(0xA1, 0xFF))
    assert len(gb2312) == 6763
    # Level-2 characters common in given names and places: 梓 萱 睿 昊 瑾 衢 亳 嵊.
    assert {ord(c) for c in "梓萱睿昊瑾衢亳嵊"} <= gb2312
    assert gb2312 <= _drawn("NotoSansSC-FieldVisit-Regular.otf")


def test_app_font_draws_every_character_of_the_apps_own_text() -> None:
    used: set[int] = set()
    for folder in ("app", "models", "cli"):
        for path in (ROOT / folder).rglob("*.py"):
            used.update(ord(ch) for ch in path.read_text(encoding="utf-8") if 0x4E00 <= ord(ch) <= 0x9FFF)
    assert used and used <= _drawn("NotoSansSC-FieldVisit-Regular.otf")


def test_rare_font_draws_every_other_hanzi_of_gbk_and_none_the_app_font_has() -> None:
    app, rare = _drawn("NotoSansSC-FieldVisit-Regular.otf"), _drawn("NotoSansSC-FieldVisit-Rare.woff2")
    gbk = _hanzi("gbk", range(0x81, 0xFF), range(0x40, 0xFF))
    assert len(gbk) == 20902
    assert {ord(c) for c in "喆堃犇骉垚琇"} <= rare
    assert gbk <= app | rare
    assert not {c for c in rare if 0x4E00 <= c <= 0x9FFF} & app


def test_pdf_font_draws_what_the_app_font_draws() -> None:
    assert _drawn("NotoSansSC-FieldVisit-Regular.ttf") == _drawn("NotoSansSC-FieldVisit-Regular.otf")
