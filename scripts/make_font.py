"""Regenerates assets/fonts/NotoSansSC-FieldVisit.otf: Noto Sans CJK SC subset for offline Chinese text.

Keeps GB2312 (symbols + level-1 hanzi), ASCII, Latin-1, CJK/fullwidth punctuation and every non-ASCII
character in the app's catalogues, models and demo data, so the web client never needs a CDN fallback font.
"""

from __future__ import annotations

import argparse
from pathlib import Path

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
    """Rows 1-9 (symbols) and 16-55 (level-1 hanzi, 3,755 characters) of GB2312."""
    out: set[str] = set()
    rows = [*range(0xA1, 0xAA), *range(0xB0, 0xD8)]
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


def build(weight: str, out_dir: Path) -> Path:
    collection = TTCollection(str(SOURCES[weight]))
    font = next(f for f in collection.fonts if f["name"].getDebugName(1) == SC_FACE_NAME)
    options = subset.Options()
    options.layout_features = ["kern", "liga", "locl", "vert", "palt", "halt"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=wanted_codepoints())
    subsetter.subset(font)
    out = out_dir / f"NotoSansSC-FieldVisit-{weight}.otf"
    font.save(str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "fonts")
    parser.add_argument("--weights", default="Regular", help="comma-separated: Regular,Bold")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for weight in args.weights.split(","):
        path = build(weight.strip(), args.out)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
