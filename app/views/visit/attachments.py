"""Photos and documents tab: take a photo or pick files (bytes read on the device or in the browser), make
photos fit the mobile link (`storage.photos.prepare_attachment`), store them by hash
(`store.register_attachment`) and list them with their kind."""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from pathlib import Path
from typing import Any, cast

import flet as ft
from flet.components.hooks.use_ref import MutableRef

from app.i18n import t
from app.services.device import CameraRefused, refusal_text, services_for
from app.state.visit_form import VisitFormState
from app.views.visit._ui import card, chips, note, sem, warn
from app.views.widgets import tap_button
from models.codes import AttachmentKind
from storage.photos import prepare_attachment

__all__ = ["AttachmentsSection", "file_bytes", "kinds_for"]

log = logging.getLogger(__name__)

# Payslips, statements and agreements are about the debt; a third party's presence limits the choice.
_THIRD_PARTY_KINDS = (AttachmentKind.VISIT_PHOTO, AttachmentKind.DOCUMENT)
_SENSITIVE_KINDS = {
    AttachmentKind.PAYSLIP.value,
    AttachmentKind.BANK_STATEMENT.value,
    AttachmentKind.ID_SHOWN.value,
}


def kinds_for(form: VisitFormState) -> list[str]:
    if form.third_party_mode:
        return [k.value for k in _THIRD_PARTY_KINDS]
    return [k.value for k in AttachmentKind if k is not AttachmentKind.AUDIO]


def file_bytes(f: Any) -> bytes | None:
    """The picked file's content: in memory with `with_data`, else read from its path (desktop)."""
    if getattr(f, "bytes", None):
        return bytes(f.bytes)
    path = getattr(f, "path", None)
    if path:
        try:
            return Path(path).read_bytes()
        except OSError:
            log.warning("picked file could not be read")
    return None


@ft.component
def AttachmentsSection(form: VisitFormState) -> ft.Control:
    kinds = kinds_for(form)
    kind, set_kind = ft.use_state(kinds[0])
    failed, set_failed = ft.use_state(False)
    camera_refused, set_camera_refused = ft.use_state("")
    picker: MutableRef[Any] = ft.use_ref(None)
    if kind not in kinds:
        kind = kinds[0]

    async def pick(_e: Any) -> None:
        if picker.current is None:
            picker.current = ft.FilePicker()
        try:
            files = await picker.current.pick_files(allow_multiple=True, with_data=True)
        except Exception:
            log.warning("file picker failed", exc_info=True)
            set_failed(True)
            return
        bad = False
        for f in files or []:
            data = file_bytes(f)
            if not data:
                bad = True
                continue
            mime = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
            await attach(data, mime, f.name)
        set_failed(bad)

    async def attach(data: bytes, mime: str, filename: str) -> None:
        # A 12 MP photo takes a moment to re-encode: off the UI loop.
        ready = await asyncio.to_thread(prepare_attachment, data, mime=mime, filename=filename)
        form.add_attachment(ready.data, kind=kind, mime=ready.mime, filename=ready.filename)

    async def take_photo(_e: Any) -> None:
        shot = await services_for(ft.context.page).camera.take_photo()
        if isinstance(shot, CameraRefused):
            set_camera_refused(shot.reason)
            return
        set_camera_refused("")
        if shot is not None:
            await attach(shot.data, shot.mime, shot.filename)

    items: list[ft.Control] = []
    for i, a in enumerate(form.get("attachments", [])):
        icon = ft.Icons.IMAGE if str(a.get("mime", "")).startswith("image/") else ft.Icons.DESCRIPTION
        label = t(f"visit.att.kind.{a.get('kind')}")
        size = t("visit.att.size", size=max(1, int(a.get("size_bytes", 0)) // 1024))
        row = ft.Row([
            ft.Icon(icon),
            ft.Column([ft.Text(a.get("filename") or a.get("sha256", "")[:12]), ft.Text(f"{label} · {size}", size=12)],
                      expand=True, spacing=2),
            ft.IconButton(ft.Icons.DELETE_OUTLINE, tooltip=t("visit.remove"),
                          on_click=lambda _e, i=i: form.remove_attachment(i)),
        ])  # fmt: skip
        items.append(sem(f"attachment-{i}", row))
    controls: list[ft.Control] = [
        note(t("visit.att.kind"), italic=False),
        chips([(k, t(f"visit.att.kind.{k}"), k == kind) for k in kinds], set_kind, ident="attachment-kind"),
    ]
    if kind in _SENSITIVE_KINDS:
        controls.append(note(t("visit.sensitive"), ident="attachment-sensitive"))
    controls.append(
        ft.Row(
            [
                tap_button(
                    t("device.camera.take"), take_photo, icon=ft.Icons.CAMERA_ALT, ident="attachment-camera"
                ),
                tap_button(t("visit.att.pick"), pick, icon=ft.Icons.ATTACH_FILE, ident="attachment-pick"),
            ],
            wrap=True,
        )
    )
    if camera_refused:
        controls.append(
            warn(refusal_text(CameraRefused(cast(Any, camera_refused))), ident="attachment-camera-refused")
        )
    if failed:
        controls.append(warn(t("visit.att.failed"), ident="attachment-failed"))
    return ft.Column(
        [card(None, controls), card(None, items or [note(t("visit.att.empty"), ident="attachments-empty")])],
        spacing=8,
        horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
    )
