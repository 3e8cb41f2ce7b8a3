"""Regenerates the shipped Chinese fonts, subsets of Noto Sans CJK SC (Debian's fonts-noto-cjk):

- assets/fonts/NotoSansSC-FieldVisit-Regular.otf, the app's font: GB2312 whole (its symbols and both levels of
  hanzi, 6,763 characters: the names, addresses and words of nearly every case), ASCII, Latin-1, CJK and
  fullwidth punctuation and every non-ASCII character in the app's catalogues, models and demo data;
- assets/fonts/NotoSansSC-FieldVisit-Rare.woff2, every other CJK unified ideograph the source font draws
  (U+4E00–U+9FFF, about 14,200 more: the rarer characters of personal and place names, such as 喆, 堃 or
  犇), loaded only when a text needs one: by the web client as its fallback font (assets/index.html), by the
  desk's pages and by the report PDF.

Then `scripts/otf2ttf.py` turns the app's font into the TrueType copy the PDF embeds. Writing WOFF2 needs the
`brotli` module (in the `server` extra).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fontTools import subset
from fontTools.ttLib import TTCollection

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {
    "Regular": Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    "Bold": Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
}
# Source folders whose text reaches the screen (catalogues, message codes, demo names and addresses).
SCANNED = ("app", "models", "cli")
SC_FACE_NAME = "Noto Sans CJK SC"


def gb2312_chars() -> set[str]:
    """Rows 1-9 (symbols), 16-55 (level-1 hanzi, 3,755 characters) and 56-87 (level-2, 3,008) of GB2312."""
    out: set[str] = set()
    rows = [*range(0xA1, 0xAA), *range(0xB0, 0xF8)]
    for hi in rows:
        for lo in range(0xA1, 0xFF):
            try:
                out.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return out


def source_chars() -> set[str]:
    out: set[str] = set()
    for folder in SCANNED:
        for path in (ROOT / folder).rglob("*.py"):
            out.update(ch for ch in path.read_text(encoding="utf-8") if ord(ch) > 0x7E)
    return out


def wanted_codepoints() -> set[int]:
    chars = gb2312_chars() | source_chars()
    points = {ord(c) for c in chars}
    points |= set(range(0x20, 0x7F)) | set(range(0xA0, 0x100))
    points |= set(range(0x2000, 0x2070)) | set(range(0x3000, 0x3040)) | set(range(0xFF00, 0xFFF0))
    points |= {0x2190, 0x2192, 0x2193, 0x2191, 0x00D7, 0x2026, 0x2116, 0x2103, 0x25CF, 0x2713}
    return points


def rare_codepoints(font: Any, wanted: set[int]) -> set[int]:
    """The unified ideographs the source font draws that the app's font (`wanted`) leaves out."""
    return {c for c in font.getBestCmap() if 0x4E00 <= c <= 0x9FFF} - wanted


def _source(weight: str) -> Any:
    collection = TTCollection(str(SOURCES[weight]))
    return next(f for f in collection.fonts if f["name"].getDebugName(1) == SC_FACE_NAME)


def build(weight: str, out_dir: Path, wanted: set[int], *, rare: bool = False) -> Path:
    """The app's font of `weight` (the `wanted` code points), or with `rare` the rare characters' font."""
    font = _source(weight)
    points = rare_codepoints(font, wanted) if rare else wanted
    options = subset.Options()
    options.layout_features = ["kern", "liga", "locl", "vert", "palt", "halt"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=points)
    subsetter.subset(font)
    if rare:
        font.flavor = "woff2"
        out = out_dir / "NotoSansSC-FieldVisit-Rare.woff2"
    else:
        out = out_dir / f"NotoSansSC-FieldVisit-{weight}.otf"
    font.save(str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "fonts")
    parser.add_argument("--weights", default="Regular", help="comma-separated: Regular,Bold")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = wanted_codepoints()  # reads every source file once
    paths = [build(weight.strip(), args.out, wanted) for weight in args.weights.split(",")]
    paths.append(build("Regular", args.out, wanted, rare=True))
    for path in paths:
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
