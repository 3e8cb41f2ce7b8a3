"""Contact outcome tab (§5.1); a family member or third party switches to the R-12 contact record."""

from __future__ import annotations

import flet as ft

from app.i18n import t
from app.state.visit_form import VisitFormState
from app.views.visit._ui import card, check, chips, field, msg, tile
from models.codes import ContactOutcome

__all__ = ["OutcomeSection", "ThirdPartyForm"]

RELATIONS = ("family", "co_resident", "neighbour", "property_management", "employer", "other")


@ft.component
def ThirdPartyForm(form: VisitFormState) -> ft.Control:
    """R-12: only contact details, a message passed, a refusal, and the no-disclosure attestation."""
    relation = form.get("third_party.relation", None)
    controls: list[ft.Control] = [
        ft.Text(t("visit.tp.relation")),
        chips(
            [(r, t(f"visit.tp.relation.{r}"), relation == r) for r in RELATIONS],
            lambda v: form.set("third_party.relation", v),
            ident="tp-relation",
        ),
        field(form, "third_party.contact_details", t("visit.tp.contact_details"), ident="tp-contact"),
        check(form, "third_party.message_passed", t("visit.tp.message_passed"), ident="tp-message"),
        check(form, "third_party.refused_further_contact", t("visit.tp.refused"), ident="tp-refused"),
        field(
            form,
            "third_party.volunteered_info",
            t("visit.tp.volunteered"),
            ident="tp-volunteered",
            multiline=True,
        ),
        check(form, "compliance.no_disclosure_attested", t("visit.tp.attest"), ident="tp-attest"),
    ]
    return card(t("visit.tp.title"), controls, ident="third-party-form")


@ft.component
def OutcomeSection(form: VisitFormState) -> ft.Control:
    current = form.outcome
    tiles = [
        tile(
            t(f"visit.outcome.{o.value}"),
            current == o.value,
            lambda _e, v=o.value: form.set_outcome(v),
            ident=f"outcome-{o.value}",
        )
        for o in ContactOutcome
    ]
    controls: list[ft.Control] = [card(t("visit.outcome.title"), tiles)]
    code = form.error("outcome")
    if code and code != "missing":
        controls.append(ft.Text(msg(code) or "", color=ft.Colors.ERROR))
    if form.third_party_mode:
        controls.append(ThirdPartyForm(form))
    return ft.Column(controls, spacing=8, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
