"""Synthetic camera photos for tests and benchmarks: 12 MP JPEGs of about 3 MB with the EXIF a phone writes
(orientation, GPS position, make and model, capture time)."""

from __future__ import annotations

import io

from PIL import Image

__all__ = ["CAPTURED", "camera_jpeg"]

CAPTURED = "2026:04:02 10:15:00"


def camera_jpeg(
    *, seed: int = 0, size: tuple[int, int] = (4000, 3000), orientation: int = 1, quality: int = 85
) -> bytes:
    """A landscape camera frame (gradients, sensor noise, a few shapes that make each seed differ)."""
    w, h = size
    noise = Image.effect_noise((w, h), 14)
    red = Image.linear_gradient("L").resize((w, h))
    blue = Image.radial_gradient("L").resize((w, h))
    img = Image.merge("RGB", (red, noise, blue))
    # A seeded block of solid colour: different bytes (and hashes) per seed.
    box = (seed * 97 % (w // 2), seed * 53 % (h // 2))
    img.paste((seed * 37 % 256, 90, 200), (*box, box[0] + w // 5, box[1] + h // 5))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "FieldCam"
    exif[0x0110] = "FC-12"
    exif.get_ifd(0x8769).update({36867: CAPTURED, 36881: "+08:00", 0xA431: "SN-123456"})
    exif.get_ifd(0x8825).update({1: "N", 2: (30.0, 16.0, 26.76), 3: "E", 4: (120.0, 9.0, 16.2)})
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, exif=exif.tobytes())
    return buf.getvalue()
