"""The shipped fonts: the app's font (scripts/make_font.py) draws GB2312 whole and every character the app's own
text uses, the rare characters' font every other hanzi of GBK, the PDF's TrueType copy what the app's font
draws; the Simplified Chinese fallback slices the web page answers with the app's font hold only characters it
draws; the emoji slices are the COLRv1 fonts Chromium's canvas draws."""

from __future__ import annotations

import functools
import json
import re
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


def _ranges(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().removeprefix("U+").partition("-")
        out.update(range(int(low, 16), int(high or low, 16) + 1))
    return out


def test_sc_fallback_slices_answered_with_the_app_font_hold_only_characters_it_draws() -> None:
    page = (ROOT / "assets" / "index.html").read_text(encoding="utf-8")
    found = re.search(r"const common = .*\\.11\[(\d)-(\d)\]\\.woff2", page)
    assert found, "the page names the slices it answers with the app's font"
    numbers = range(110 + int(found.group(1)), 110 + int(found.group(2)) + 1)
    slices = json.loads((ROOT / "scripts" / "data" / "notosanssc-slices.json").read_text())["slices"]
    app = _drawn("NotoSansSC-FieldVisit-Regular.otf")
    for n in numbers:
        wanted = {c for c in _ranges(slices[str(n)]) if c > 0x7E}
        assert wanted and not wanted - app, n
    # A slice of rarer characters holds some the app's font lacks: it is answered with the rare font.
    assert {c for c in _ranges(slices["100"]) if c > 0x7E} - app


def test_emoji_slices_are_colrv1_fonts_that_draw_common_emoji() -> None:
    paths = sorted((FONTS / "emoji").glob("NotoColorEmoji-*.woff2"))
    assert sorted(int(p.stem.rsplit("-", 1)[1]) for p in paths) == list(range(11))
    drawn: set[int] = set()
    for path in paths:
        font = TTFont(str(path), lazy=True)
        assert "COLR" in font and "CPAL" in font, path.name
        drawn |= set(font.getBestCmap())
    assert {ord(c) for c in "😀😂👍🙏❤✅📞💰🏠🚗😭🎉"} <= drawn
    assert "SIL Open Font License" in (FONTS / "emoji" / "OFL.txt").read_text()
