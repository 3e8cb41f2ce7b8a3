"""The phone's own features behind one small interface: the camera, the device's position and the platform's
secure storage.

`services_for(page)` chooses the implementations at run time, once per page: on Android and iOS the phone
ones (flet-camera with flet-permission-handler, flet-geolocator, flet-secure-storage); in the browser mode
(`fieldvisit app`, the tests) a camera that picks an image file, the same geolocator (the browser's position
API) and a secure store kept beside the device database, which in that mode lives in the app's server
process too. Views only see the protocols; tests may `install()` their own.

A refusal is never an exception to the screen: `Location.current()` answers a `LocationRefused` whose
reason `refusal_text()` turns into words in the user's language, and `Camera.take_photo()` answers None
when the investigator cancels or `CameraRefused` when there is no camera or no permission.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import flet as ft

from app.i18n import t
from storage.private_file import write_private_json

__all__ = [
    "Camera",
    "CameraRefused",
    "DeviceServices",
    "FileSecureStore",
    "Fix",
    "GeolocatorLocation",
    "Location",
    "LocationRefused",
    "PhoneCamera",
    "PhoneSecureStore",
    "Photo",
    "PickerCamera",
    "SecureStore",
    "browser_services",
    "install",
    "is_phone",
    "phone_services",
    "refusal_text",
    "services_for",
]

log = logging.getLogger(__name__)

RefusalReason = Literal["denied", "denied_forever", "service_off", "timeout", "unavailable"]
#: The secure-storage entry of the device's own key (for encrypting what the device keeps at rest).
TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Photo:
    data: bytes
    mime: str
    filename: str


@dataclass(frozen=True)
class Fix:
    lat: float
    lon: float
    accuracy_m: float | None


@dataclass(frozen=True)
class LocationRefused:
    reason: RefusalReason


@dataclass(frozen=True)
class CameraRefused:
    reason: Literal["denied", "unavailable"]


class Camera(Protocol):
    async def take_photo(self) -> Photo | CameraRefused | None: ...


class Location(Protocol):
    async def current(self) -> Fix | LocationRefused: ...


class SecureStore(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...

    async def delete(self, key: str) -> None: ...


@dataclass
class DeviceServices:
    kind: Literal["phone", "browser"]
    camera: Camera
    location: Location
    secure_store: SecureStore


def refusal_text(refusal: LocationRefused | CameraRefused) -> str:
    """What the screen says, in the user's language (device.location.* / device.camera.*)."""
    area = "location" if isinstance(refusal, LocationRefused) else "camera"
    return t(f"device.{area}.{refusal.reason}")


# ------------------------------------------------------------------------------------------------ location
def _status(value: Any) -> str:
    return str(getattr(value, "value", value))


def _geolocator() -> Any:
    import flet_geolocator as ftg

    return ftg.Geolocator()


class GeolocatorLocation:
    """flet-geolocator: the phone's GPS, or the browser's position API in the browser mode. Asks for the
    permission when it has not been given yet."""

    def __init__(self, make: Callable[[], Any] = _geolocator, *, timeout_s: float = TIMEOUT_S) -> None:
        self._make, self.timeout_s = make, timeout_s
        self._geo: Any = None

    async def _call(self, coro: Any) -> Any:
        return await asyncio.wait_for(coro, self.timeout_s)

    async def current(self) -> Fix | LocationRefused:
        try:
            if self._geo is None:
                self._geo = self._make()
            geo = self._geo
            if not await self._call(geo.is_location_service_enabled()):
                return LocationRefused("service_off")
            status = _status(await self._call(geo.get_permission_status()))
            if status in ("denied", "unableToDetermine"):
                status = _status(await self._call(geo.request_permission()))
            if status == "denied":
                return LocationRefused("denied")
            if status == "deniedForever":
                return LocationRefused("denied_forever")
            pos = await self._call(geo.get_current_position())
        except TimeoutError:
            return LocationRefused("timeout")
        except Exception:
            log.info("no position", exc_info=True)
            return LocationRefused("unavailable")
        if pos is None or pos.latitude is None or pos.longitude is None:
            return LocationRefused("unavailable")
        accuracy = float(pos.accuracy) if pos.accuracy is not None else None
        return Fix(float(pos.latitude), float(pos.longitude), accuracy)


# -------------------------------------------------------------------------------------------------- camera
def _photo_name(now: datetime | None = None) -> str:
    return f"photo-{(now or datetime.now(UTC)).strftime('%Y%m%d-%H%M%S')}.jpg"


def _file_bytes(f: Any) -> bytes | None:
    if getattr(f, "bytes", None):
        return bytes(f.bytes)
    path = getattr(f, "path", None)
    if path:
        with contextlib.suppress(OSError):
            return Path(path).read_bytes()
    return None


class PickerCamera:
    """The browser mode's camera: the investigator picks an image file (a phone's browser offers the camera
    for it)."""

    def __init__(self, make: Callable[[], Any] = ft.FilePicker) -> None:
        self._make = make
        self._picker: Any = None

    async def take_photo(self) -> Photo | CameraRefused | None:
        if self._picker is None:
            self._picker = self._make()
        try:
            files = await self._picker.pick_files(file_type=ft.FilePickerFileType.IMAGE, with_data=True)
        except Exception:
            log.warning("image picker failed", exc_info=True)
            return CameraRefused("unavailable")
        for f in files or []:
            data = _file_bytes(f)
            if data:
                name = str(getattr(f, "name", "") or _photo_name())
                return Photo(data, mimetypes.guess_type(name)[0] or "image/jpeg", name)
        return None


class PhoneCamera:
    """flet-camera on Android and iOS: asks for the camera permission, then shows the rear camera's preview
    in a dialog with a shutter button; the photo is the JPEG the camera encodes."""

    def __init__(self, page: ft.Page) -> None:
        self.page = page

    async def _permitted(self) -> bool:
        import flet_permission_handler as fph

        status = await asyncio.wait_for(fph.PermissionHandler().request(fph.Permission.CAMERA), TIMEOUT_S)
        return _status(status) in ("granted", "limited")

    async def take_photo(self) -> Photo | CameraRefused | None:
        import flet_camera as fc

        try:
            if not await self._permitted():
                return CameraRefused("denied")
            preview = fc.Camera(expand=True, preview_enabled=True)
            done: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()

            async def shoot(_e: Any) -> None:
                if not done.done():
                    try:
                        done.set_result(await preview.take_picture())
                    except Exception as exc:
                        done.set_exception(exc)

            def cancel(_e: Any) -> None:
                if not done.done():
                    done.set_result(None)

            dialog = ft.AlertDialog(
                modal=True,
                content=ft.Container(preview, width=360, height=480),
                actions=[
                    ft.TextButton(t("device.camera.cancel"), on_click=cancel),
                    ft.Button(t("device.camera.shoot"), icon=ft.Icons.CAMERA_ALT, on_click=shoot),
                ],
            )
            self.page.show_dialog(dialog)
            try:
                cameras = await asyncio.wait_for(preview.get_available_cameras(), TIMEOUT_S)
                if not cameras:
                    return CameraRefused("unavailable")
                rear = next((c for c in cameras if _status(c.lens_direction) == "back"), cameras[0])
                await asyncio.wait_for(
                    preview.initialize(rear, fc.ResolutionPreset.HIGH, enable_audio=False), TIMEOUT_S
                )
                data = await done
            finally:
                self.page.pop_dialog()
        except Exception:
            log.warning("camera failed", exc_info=True)
            return CameraRefused("unavailable")
        return Photo(bytes(data), "image/jpeg", _photo_name()) if data else None


# --------------------------------------------------------------------------------------------- secure store
class PhoneSecureStore:
    """flet-secure-storage: the Android Keystore / iOS Keychain."""

    def __init__(self, make: Callable[[], Any] | None = None) -> None:
        self._make = make
        self._storage: Any = None

    def _get(self) -> Any:
        if self._storage is None:
            if self._make is None:
                import flet_secure_storage as fss

                self._make = fss.SecureStorage
            self._storage = self._make()
        return self._storage

    async def get(self, key: str) -> str | None:
        value = await self._get().get(key)
        return None if value is None else str(value)

    async def set(self, key: str, value: str) -> None:
        await self._get().set(key, value)

    async def delete(self, key: str) -> None:
        await self._get().remove(key)


class FileSecureStore:
    """The browser mode's secure store: a file readable by its owner only, beside the device database (in
    that mode the device's data live in the app's server process, not in the browser)."""

    FILE = "secure-store.json"

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / self.FILE

    def _read(self) -> dict[str, str]:
        try:
            return dict(json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return {}

    def _write(self, data: dict[str, str]) -> None:
        write_private_json(self.path, data)

    async def get(self, key: str) -> str | None:
        return self._read().get(key)

    async def set(self, key: str, value: str) -> None:
        data = self._read()
        data[key] = value
        self._write(data)

    async def delete(self, key: str) -> None:
        data = self._read()
        if data.pop(key, None) is not None:
            self._write(data)


# ---------------------------------------------------------------------------------------------- choosing
_PHONES = {"android", "ios", "android_tv"}
_chosen: weakref.WeakKeyDictionary[Any, DeviceServices] = weakref.WeakKeyDictionary()


def is_phone(page: Any) -> bool:
    """Android or iOS running the packaged app (not a phone's browser, which is the browser mode)."""
    if getattr(page, "web", False):
        return False
    return _status(getattr(page, "platform", "")).lower() in _PHONES


def phone_services(page: ft.Page) -> DeviceServices:
    return DeviceServices("phone", PhoneCamera(page), GeolocatorLocation(), PhoneSecureStore())


def browser_services(data_dir: Path) -> DeviceServices:
    return DeviceServices("browser", PickerCamera(), GeolocatorLocation(), FileSecureStore(data_dir))


def install(page: Any, services: DeviceServices) -> None:
    """Use these services on this page (tests, or an app that chose them itself)."""
    _chosen[page] = services


def services_for(page: Any, data_dir: Path | None = None) -> DeviceServices:
    """The page's services, chosen on first use by where the app runs."""
    found = _chosen.get(page)
    if found is None:
        if is_phone(page):
            found = phone_services(page)
        else:
            if data_dir is None:
                from app.config import data_dir as default_data_dir

                data_dir = default_data_dir()
            found = browser_services(data_dir)
        _chosen[page] = found
    return found
