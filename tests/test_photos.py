"""Photos made for the link when attached (storage/photos.py): size, orientation, EXIF kept and dropped,
documents untouched."""

from __future__ import annotations

import hashlib
import io
import time

from PIL import Image

from storage.photos import MAX_BYTES, MAX_EDGE, prepare_attachment
from storage.store import DeviceStore
from tests.helpers.camera_photos import CAPTURED, camera_jpeg

_GPS, _EXIF_IFD = 0x8825, 0x8769


def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_camera_photo_becomes_a_1600px_jpeg_under_600kb_when_prepared() -> None:
    original = camera_jpeg(seed=1)
    started = time.monotonic()

    out = prepare_attachment(original, mime="image/jpeg", filename="IMG_0001.JPG")

    elapsed = time.monotonic() - started
    img = _open(out.data)
    assert len(original) > 2_000_000 and out.original_bytes == len(original)
    assert out.reencoded and out.mime == "image/jpeg" and out.filename == "IMG_0001.jpg"
    assert img.format == "JPEG" and max(img.size) == MAX_EDGE and img.size == (1600, 1200)
    assert len(out.data) <= MAX_BYTES and len(out.data) < len(original) // 5
    assert elapsed < 10, elapsed


def test_prepared_photo_is_upright_when_the_camera_wrote_a_rotation_in_exif() -> None:
    out = prepare_attachment(camera_jpeg(seed=2, orientation=6), mime="image/jpeg", filename="p.jpg")

    img = _open(out.data)
    assert img.size == (1200, 1600)
    assert img.getexif().get(0x0112) in (None, 1)


def test_prepared_photo_keeps_only_the_capture_time_when_exif_has_gps_and_camera() -> None:
    original = _open(camera_jpeg(seed=3)).getexif()
    assert original.get_ifd(_GPS) and original.get(0x010F) == "FieldCam"

    exif = _open(prepare_attachment(camera_jpeg(seed=3), mime="image/jpeg").data).getexif()

    assert exif.get_ifd(_GPS) == {}
    assert exif.get(0x010F) is None and exif.get(0x0110) is None
    kept = exif.get_ifd(_EXIF_IFD)
    assert kept.get(36867) == CAPTURED and kept.get(36881) == "+08:00"
    assert 0xA431 not in kept  # the camera's serial number


def test_pdf_is_stored_byte_for_byte_when_attached() -> None:
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 400 + b"\n%%EOF\n"

    out = prepare_attachment(pdf, mime="application/pdf", filename="payslip.pdf")

    assert (out.data, out.mime, out.filename, out.reencoded) == (pdf, "application/pdf", "payslip.pdf", False)


def test_unreadable_image_is_kept_as_picked_when_it_cannot_be_decoded() -> None:
    broken = b"\xff\xd8\xff\xe0 not really a jpeg" * 10

    out = prepare_attachment(broken, mime="image/jpeg", filename="x.jpg")

    assert out.data == broken and not out.reencoded


def test_transparent_png_is_flattened_onto_white_when_prepared() -> None:
    png = io.BytesIO()
    Image.new("RGBA", (2400, 1200), (255, 0, 0, 0)).save(png, "PNG")

    out = prepare_attachment(png.getvalue(), mime="", filename="screen.png")

    img = _open(out.data)
    assert out.filename == "screen.jpg" and img.size == (1600, 800)
    assert img.convert("RGB").getpixel((10, 10)) == (255, 255, 255)


def test_stored_hash_is_of_the_prepared_bytes_when_a_photo_is_attached() -> None:
    out = prepare_attachment(camera_jpeg(seed=4), mime="image/jpeg", filename="p.jpg")
    store = DeviceStore(None)

    meta = store.register_attachment(out.data, kind="visit_photo", mime=out.mime, filename=out.filename)

    assert meta.sha256 == hashlib.sha256(out.data).hexdigest() and meta.size_bytes == len(out.data)
    assert store.blob_bytes(meta.sha256) == out.data
    store.close()
