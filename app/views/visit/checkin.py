"""Check-in tab: time (R-1 consent outside 08:00–22:00), collectors (R-2), ID (R-3), entry (R-4),
position (GPS or typed) and the recording notice (R-7)."""

from __future__ import annotations

import logging
from typing import Any, cast

import flet as ft

from app.i18n import t
from app.services.device import Fix, Location, LocationRefused, refusal_text, services_for
from app.state.visit_form import VisitFormState
from app.views.visit._ui import card, check, chips, field, msg, note, sem, warn
from app.views.widgets import tap_button

__all__ = ["CheckinSection", "PositionFields", "read_gps"]

log = logging.getLogger(__name__)


async def read_gps(location: Location) -> Fix | LocationRefused:
    """One fix from the device's position service, or the reason there is none (shown in words; the
    investigator can always type the position)."""
    return await location.current()


@ft.component
def PositionFields(form: VisitFormState, which: str) -> ft.Control:
    """GPS button plus hand-typed latitude / longitude / accuracy (the web app has no GPS guarantee)."""
    refusal, set_refusal = ft.use_state("")

    async def locate(_e: Any) -> None:
        fix = await read_gps(services_for(ft.context.page).location)
        if isinstance(fix, LocationRefused):
            set_refusal(fix.reason)
            return
        set_refusal("")
        form.set_position(which, fix.lat, fix.lon, fix.accuracy_m)

    base = f"{which}.position"
    pos_error = form.error(base)
    controls: list[ft.Control] = [
        # In a Row so the stretched column leaves the button its own width.
        ft.Row([tap_button(t("visit.checkin.gps_btn"), locate, icon=ft.Icons.MY_LOCATION, ident=f"{which}-gps-btn",
                           filled=False)]),
    ]  # fmt: skip
    if refusal:
        # The reason is kept, not the sentence, so a change of language re-words it.
        controls.append(note(refusal_text(LocationRefused(cast(Any, refusal))), ident=f"{which}-gps-failed"))
    controls.append(
        ft.Row(
            [
                field(
                    form, f"{base}.lat", t("visit.checkin.lat"), ident=f"{which}-lat", number=True, expand=1
                ),
                field(
                    form, f"{base}.lon", t("visit.checkin.lon"), ident=f"{which}-lon", number=True, expand=1
                ),
            ]
        )
    )
    controls.append(field(form, f"{base}.accuracy_m", t("visit.checkin.accuracy"), ident=f"{which}-accuracy",
                          number=True))  # fmt: skip
    if pos_error:
        controls.append(ft.Text(msg(pos_error) or "", color=ft.Colors.ERROR, size=12))
    return ft.Column(controls, spacing=8, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)


def _collector_text(form: VisitFormState, user_id: str, index: int, me: bool) -> str:
    """A collector by name (sent with the visit); without one, "colleague n", never the user id."""
    name = form.collector_name(user_id)
    if me:
        return t("visit.checkin.me", name=name) if name else t("visit.checkin.me_unnamed")
    return name or t("visit.checkin.colleague", n=index + 1)


@ft.component
def CheckinSection(form: VisitFormState) -> ft.Control:
    user = form.user_id
    at = form.local_time_text("checkin.at")
    if at:
        when: ft.Control = sem("checkin-time", ft.Text(t("visit.checkin.at", time=at), size=16))
    else:
        when = tap_button(t("visit.checkin.btn"), lambda _e: form.check_in(), icon=ft.Icons.LOGIN,
                          ident="checkin-btn", expand=True)  # fmt: skip
    time_controls: list[ft.Control] = [when]
    if form.within_hours is False:
        time_controls += [
            warn(t("visit.checkin.outside_hours"), ident="outside-hours-warning"),
            check(
                form,
                "compliance.outside_hours_consent",
                t("visit.checkin.consent"),
                ident="outside-hours-consent",
            ),
            field(
                form,
                "compliance.outside_hours_consent_note",
                t("visit.checkin.consent_note"),
                ident="outside-hours-note",
            ),
        ]
    collectors = [
        (c, _collector_text(form, c, i, c == user), c in form.get("compliance.collector_ids", []))
        for i, c in enumerate(form.collector_options())
    ]
    collector_error = form.error("compliance.collector_ids")
    staff: list[ft.Control] = [
        note(t("visit.checkin.collectors"), italic=False),
        chips(collectors, form.toggle_collector, ident="collector", multi=True),
    ]
    if collector_error and form.get("checkin.at"):
        staff.append(ft.Text(msg(collector_error) or "", color=ft.Colors.ERROR, size=12))
    staff.append(check(form, "compliance.id_shown", t("visit.checkin.id_shown"), ident="id-shown"))
    if form.get("agency_id"):
        staff.append(
            check(form, "compliance.authorisation_shown", t("visit.checkin.auth_shown"), ident="auth-shown")
        )
    consent = form.get("compliance.consent_to_enter", None)
    entry: list[ft.Control] = [
        note(t("visit.checkin.consent_enter"), italic=False),
        chips(
            [("yes", t("visit.yes"), consent is True), ("no", t("visit.no"), consent is False)],
            lambda v: form.set("compliance.consent_to_enter", v == "yes"),
            ident="consent-enter",
        ),
    ]
    if consent is False:
        kind = form.get("compliance.location_kind", None)
        entry += [
            note(t("visit.checkin.location"), italic=False),
            chips(
                [(k, t(f"visit.location.{k}"), kind == k) for k in ("doorstep", "public_place")],
                lambda v: form.set("compliance.location_kind", v),
                ident="location",
            ),
        ]
    entry.append(check(form, "compliance.recording_on", t("visit.checkin.recording"), ident="recording-on"))
    sections = [card(None, time_controls), card(None, staff), card(None, entry)]
    if at:
        sections.append(card(t("visit.checkin.position"), [PositionFields(form, "checkin")]))
    return ft.Column(sections, spacing=8, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
