"""The phone's own features behind app/services/device.py: position with its refusals in words, the camera
(picked image in the browser mode), the secure store and the device key, and the choice made at run time."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_visit_state import VISIT_ID, Clock, make_visit

from app import i18n
from app.services import device
from app.services.device import (
    CameraRefused,
    FileSecureStore,
    Fix,
    GeolocatorLocation,
    LocationRefused,
    PhoneSecureStore,
    Photo,
    PickerCamera,
    refusal_text,
)
from app.state.visit_form import VisitFormState
from app.views.visit import VisitReportScreen
from storage.store import DeviceStore


class FakeGeolocator:
    def __init__(self, *, service: bool = True, status: str = "whileInUse", asked: str = "whileInUse",
                 position: Any = None, slow: bool = False) -> None:  # fmt: skip
        self.service, self.status, self.asked, self.position, self.slow = (
            service,
            status,
            asked,
            position,
            slow,
        )
        self.requests = 0

    async def is_location_service_enabled(self) -> bool:
        return self.service

    async def get_permission_status(self) -> str:
        return self.status

    async def request_permission(self) -> str:
        self.requests += 1
        return self.asked

    async def get_current_position(self) -> Any:
        if self.slow:
            await asyncio.sleep(5)
        return self.position


@pytest.fixture
def language():
    yield i18n.set_language
    i18n.set_language(i18n.DEFAULT_LANGUAGE)


def _position(lat: float = 30.2741, lon: float = 120.1551, accuracy: float | None = 8.0) -> Any:
    return SimpleNamespace(latitude=lat, longitude=lon, accuracy=accuracy)


async def test_location_answers_the_fix_when_permission_is_given() -> None:
    geo = FakeGeolocator(position=_position())
    assert await GeolocatorLocation(lambda: geo).current() == Fix(30.2741, 120.1551, 8.0)
    assert geo.requests == 0


async def test_location_asks_then_answers_when_permission_was_not_yet_given() -> None:
    geo = FakeGeolocator(status="denied", asked="whileInUse", position=_position(accuracy=None))
    assert await GeolocatorLocation(lambda: geo).current() == Fix(30.2741, 120.1551, None)
    assert geo.requests == 1


@pytest.mark.parametrize(
    ("geo", "reason"),
    [
        (FakeGeolocator(status="denied", asked="denied"), "denied"),
        (FakeGeolocator(status="deniedForever"), "denied_forever"),
        (FakeGeolocator(service=False), "service_off"),
        (FakeGeolocator(position=None), "unavailable"),
    ],
)
async def test_location_answers_the_reason_when_no_fix_can_be_had(geo: FakeGeolocator, reason: str) -> None:
    assert await GeolocatorLocation(lambda: geo).current() == LocationRefused(reason)  # type: ignore[arg-type]


async def test_location_answers_timeout_when_the_fix_takes_too_long() -> None:
    geo = FakeGeolocator(position=_position(), slow=True)
    assert await GeolocatorLocation(lambda: geo, timeout_s=0.05).current() == LocationRefused("timeout")


async def test_location_answers_unavailable_when_the_plugin_fails() -> None:
    def broken() -> Any:
        raise RuntimeError("no plugin")

    assert await GeolocatorLocation(broken).current() == LocationRefused("unavailable")


def test_refusal_is_worded_in_chinese_first_and_english_when_permission_is_denied(language) -> None:
    assert refusal_text(LocationRefused("denied")).startswith("未获得定位权限")
    assert "设置" in refusal_text(LocationRefused("denied_forever"))
    assert refusal_text(CameraRefused("denied")).startswith("未获得相机权限")
    language("en")
    assert refusal_text(LocationRefused("denied")).startswith("Location permission was refused")
    for reason in ("denied", "denied_forever", "service_off", "timeout", "unavailable"):
        assert not refusal_text(LocationRefused(reason)).startswith("device.")  # type: ignore[arg-type]


async def test_picker_camera_answers_the_picked_image_when_one_is_chosen() -> None:
    picked = [SimpleNamespace(name="door.png", bytes=b"\x89PNG", path=None)]

    class Picker:
        async def pick_files(self, **kw: Any) -> Any:
            assert str(getattr(kw["file_type"], "value", kw["file_type"])) == "image"
            return picked

    assert await PickerCamera(Picker).take_photo() == Photo(b"\x89PNG", "image/png", "door.png")
    picked.clear()
    assert await PickerCamera(Picker).take_photo() is None


async def test_file_secure_store_keeps_values_for_its_owner_only_when_set(tmp_path: Path) -> None:
    store = FileSecureStore(tmp_path)
    assert await store.get("k") is None
    await store.set("k", "v1")
    await store.set("k", "v2")
    assert await FileSecureStore(tmp_path).get("k") == "v2"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    await store.delete("k")
    assert await store.get("k") is None


async def test_phone_secure_store_uses_the_platform_storage_when_on_a_phone() -> None:
    values: dict[str, str] = {}

    class Storage:
        async def get(self, key: str) -> str | None:
            return values.get(key)

        async def set(self, key: str, value: str) -> None:
            values[key] = value

        async def remove(self, key: str) -> None:
            values.pop(key, None)

    store = PhoneSecureStore(Storage)
    await store.set("a", "1")
    assert values == {"a": "1"} and await store.get("a") == "1"
    await store.delete("a")
    assert values == {}


class Page:
    def __init__(self, platform: str, web: bool) -> None:
        self.platform, self.web = SimpleNamespace(value=platform), web


def test_services_are_the_phones_when_the_packaged_app_runs_on_android_or_ios(tmp_path: Path) -> None:
    for platform in ("android", "ios"):
        chosen = device.services_for(Page(platform, web=False), tmp_path)
        assert chosen.kind == "phone"
        assert isinstance(chosen.camera, device.PhoneCamera)
        assert isinstance(chosen.secure_store, PhoneSecureStore)


def test_services_are_the_browsers_when_the_app_runs_in_a_browser(tmp_path: Path) -> None:
    page = Page("android", web=True)  # a phone's browser is the browser mode
    chosen = device.services_for(page, tmp_path)
    assert chosen.kind == "browser"
    assert isinstance(chosen.camera, PickerCamera) and isinstance(chosen.secure_store, FileSecureStore)
    assert device.services_for(page) is chosen
    assert device.services_for(Page("linux", web=False), tmp_path).kind == "browser"


@pytest.fixture
def store() -> DeviceStore:
    s = DeviceStore(None)
    s.upsert_visits([make_visit()])
    return s


async def _checkin(headless, store: DeviceStore) -> VisitFormState:
    form = VisitFormState(store, VISIT_ID, user_id="inv-a1", clock=Clock())
    form.check_in()
    form.section = "checkin"
    await headless.start(component=VisitReportScreen, views=True, args=(VISIT_ID, form), width=390,
                         route=f"/visit/{VISIT_ID}/report")  # fmt: skip
    return form


async def test_checkin_shows_the_refusal_in_words_when_location_permission_is_denied(headless, store) -> None:
    headless.client.location_permission = "denied"
    headless.client.location_permission_asked = "denied"
    form = await _checkin(headless, store)
    await headless.click(headless.by_id("checkin-gps-btn"))
    await headless.settle(30)
    assert headless.by_id("checkin-gps-failed").value.startswith("未获得定位权限")
    assert form.get("checkin.position", None) in (None, {})
    assert headless.crashes() == []


async def test_checkin_records_the_position_when_location_permission_is_given(headless, store) -> None:
    headless.client.position = {"latitude": 30.2741, "longitude": 120.1551, "accuracy": 9.5}
    form = await _checkin(headless, store)
    await headless.click(headless.by_id("checkin-gps-btn"))
    await headless.settle(30)
    assert not headless.has_id("checkin-gps-failed")
    assert form.get("checkin.position.lat") == "30.2741"
    assert headless.crashes() == []


async def test_attachments_show_the_camera_refusal_when_the_camera_is_unavailable(headless, store) -> None:
    form = VisitFormState(store, VISIT_ID, user_id="inv-a1", clock=Clock())
    form.section = "attachments"

    async def refuse(_a: Any) -> Any:
        raise RuntimeError("no picker")

    headless.client.method_handlers[("FilePicker", "pick_files")] = refuse
    await headless.start(component=VisitReportScreen, views=True, args=(VISIT_ID, form), width=390,
                         route=f"/visit/{VISIT_ID}/report")  # fmt: skip
    await headless.click(headless.by_id("attachment-camera"))
    await headless.settle(30)
    assert headless.has_id("attachment-camera-refused")
    assert "相机不可用，请选择已有照片" in headless.texts()
    assert form.get("attachments", []) == []


async def test_attachments_store_the_photo_when_the_camera_answers_one(headless, store) -> None:
    form = VisitFormState(store, VISIT_ID, user_id="inv-a1", clock=Clock())
    form.section = "attachments"
    headless.client.method_handlers[("FilePicker", "pick_files")] = lambda a: [
        {"id": 0, "name": "visit.jpg", "size": 4, "path": None, "bytes": b"\xff\xd8\xff\xe0"}
    ]
    await headless.start(component=VisitReportScreen, views=True, args=(VISIT_ID, form), width=390,
                         route=f"/visit/{VISIT_ID}/report")  # fmt: skip
    await headless.click(headless.by_id("attachment-camera"))
    await headless.settle(30)
    assert [(a["filename"], a["mime"]) for a in form.get("attachments")] == [("visit.jpg", "image/jpeg")]
