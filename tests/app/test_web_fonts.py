"""The web page's font manifest: the shipped CJK font is registered before the first frame under the theme's
family and Flutter's fallback family, and every font of the web client's own manifest stays registered."""

from __future__ import annotations

import json
from pathlib import Path

import flet_web

from app.main import FONT_FAMILY, FONTS

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "assets" / "assets" / "FontManifest.json"


def _families(entries: list[dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in entries:
        out.setdefault(e["family"], []).extend(f["asset"] for f in e["fonts"])
    return out


def test_manifest_registers_the_shipped_font_for_the_theme_and_the_fallback_when_the_page_loads() -> None:
    families = _families(json.loads(MANIFEST.read_text(encoding="utf-8")))
    # Flutter fetches manifest assets from assets/<asset>: "../fonts/X" is the file the theme loads too.
    shipped = "../fonts/" + Path(FONTS[FONT_FAMILY]).name
    assert (ROOT / "assets" / "fonts" / Path(FONTS[FONT_FAMILY]).name).is_file()
    assert shipped in families[FONT_FAMILY] and shipped in families["Roboto"]


def test_manifest_keeps_every_font_of_the_web_client_when_it_replaces_the_clients_manifest() -> None:
    client = Path(flet_web.__file__).parent / "web" / "assets" / "FontManifest.json"
    ours = _families(json.loads(MANIFEST.read_text(encoding="utf-8")))
    for family, assets in _families(json.loads(client.read_text(encoding="utf-8"))).items():
        assert set(assets) <= set(ours.get(family, [])), family
