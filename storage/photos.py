"""Photos made for a mobile link when they are attached: a camera's 12 MP JPEG (about 3 MB) becomes a
1,600-pixel JPEG of about 200 KB, never above 600 KB, before it is stored and hashed.

The orientation the camera wrote in EXIF is applied to the pixels. Of the rest of EXIF only the capture
time stays (when the photo was taken is part of the visit's record, R-6/R-7); the position goes (the
check-in records where the visit happened, and a photo's GPS would be a location trace of whoever is in it,
sensitive under D-3), and so do the camera's make, model, serial number, maker notes and thumbnail.
Documents (PDF and anything that is not an image) are stored as they are; an image that cannot be read
is kept as picked, so the investigator's evidence is never lost.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from pathlib import PurePath

from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["MAX_BYTES", "MAX_EDGE", "QUALITY", "Prepared", "prepare_attachment"]

log = logging.getLogger(__name__)

MAX_EDGE = 1600
QUALITY = 78
MAX_BYTES = 600 * 1024
# Tried in turn when a photo is still above MAX_BYTES (fine detail, noise at night); then the edge shrinks.
_FALLBACK_QUALITIES = (70, 62, 55)
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 36867
_OFFSET_TIME_ORIGINAL = 36881
_DATETIME = 306
# A 12 MP photo is 12 million pixels; a picture this large is not a photo from a phone (decompression bomb).
_MAX_PIXELS = 80_000_000


@dataclass(frozen=True, slots=True)
class Prepared:
    """What gets stored and uploaded; `original_bytes` is the size as picked or shot."""

    data: bytes
    mime: str
    filename: str
    original_bytes: int
    reencoded: bool


def _is_image(data: bytes, mime: str) -> bool:
    if mime.startswith("image/"):
        return True
    # A picker may not say; JPEG, PNG, WebP and GIF are recognised by their first bytes.
    return data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n" or data[8:12] == b"WEBP"


def prepare_attachment(data: bytes, *, mime: str, filename: str = "") -> Prepared:
    """The bytes to store for an attachment: images re-encoded for the link, everything else unchanged."""
    unchanged = Prepared(data, mime, filename, len(data), reencoded=False)
    if not data or not _is_image(data, mime.lower()):
        return unchanged
    try:
        out = _reencode(data)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        log.warning("an image of %d bytes could not be read; kept as picked", len(data))
        return unchanged
    name = str(PurePath(filename).with_suffix(".jpg")) if filename else ""
    return Prepared(out, "image/jpeg", name, len(data), reencoded=True)


def _reencode(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        if img.width * img.height > _MAX_PIXELS:
            raise ValueError("image too large")
        exif = img.getexif()
        kept = _kept_exif(exif)
        scale = MAX_EDGE / max(img.size)
        if scale < 1 and img.format in ("JPEG", "MPO"):
            # Decode at a reduced DCT scale (½, ¼, ⅛) still at least MAX_EDGE wide: a quarter of the work.
            img.draft("RGB", (math.ceil(img.width * scale), math.ceil(img.height * scale)))
        upright = ImageOps.exif_transpose(img)
        pixels = _flatten(upright)
    edge = MAX_EDGE
    while True:
        if max(pixels.size) > edge:
            pixels.thumbnail((edge, edge), Image.Resampling.LANCZOS, reducing_gap=2.0)
        for quality in (QUALITY, *_FALLBACK_QUALITIES):
            out = _jpeg(pixels, quality, kept)
            if len(out) <= MAX_BYTES:
                return out
        edge = int(max(pixels.size) * 0.8)


def _flatten(img: Image.Image) -> Image.Image:
    """JPEG holds RGB or grey: transparency goes onto white, palettes and CMYK become RGB."""
    if img.mode in ("RGB", "L"):
        return img.copy()
    if img.mode in ("RGBA", "LA", "P", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return img.convert("RGB")


def _kept_exif(exif: Image.Exif) -> Image.Exif:
    """Only the capture time (and its UTC offset) of the camera's EXIF; empty when it has none."""
    kept = Image.Exif()
    source = exif.get_ifd(_EXIF_IFD)
    taken = source.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if taken:
        ifd = kept.get_ifd(_EXIF_IFD)
        ifd[_DATETIME_ORIGINAL] = str(taken)
        if source.get(_OFFSET_TIME_ORIGINAL):
            ifd[_OFFSET_TIME_ORIGINAL] = str(source[_OFFSET_TIME_ORIGINAL])
    return kept


def _jpeg(img: Image.Image, quality: int, exif: Image.Exif) -> bytes:
    buf = io.BytesIO()
    raw = exif.tobytes() if exif.get_ifd(_EXIF_IFD) else b""
    img.save(buf, "JPEG", quality=quality, optimize=True, exif=raw)
    return buf.getvalue()
