"""Interview tab (§5.2–5.4, borrower met): results, reasons with one primary, willingness, hardship,
dispute, promise to pay, official payment reference and notes."""

from __future__ import annotations

import flet as ft

from app.i18n import t
from app.state.visit_form import VisitFormState
from app.views.visit._ui import card, check, chips, field, msg, note
from models.codes import SENSITIVE_REASONS, DisputeType, InterviewResult, Reason, Willingness

__all__ = ["InterviewSection", "locked_notice"]


def locked_notice() -> ft.Control:
    return card(
        None, [ft.Row([ft.Icon(ft.Icons.LOCK), note(t("visit.iv.locked"), ident="interview-locked")])]
    )


def _error_text(form: VisitFormState, path: str) -> list[ft.Control]:
    code = form.error(path)
    return [] if code in (None, "missing") else [ft.Text(msg(code) or "", color=ft.Colors.ERROR, size=12)]


@ft.component
def InterviewSection(form: VisitFormState) -> ft.Control:
    if form.interview_locked:
        return locked_notice()
    results = form.get("interview.results", [])
    reasons = form.get("interview.reasons", [])
    primary = form.get("interview.primary_reason", None)
    willing = form.get("interview.willingness", None)
    # D-3: health and similar reasons are sensitive personal information; the chip says so.
    sensitive = {r.value: ft.Icons.HEALTH_AND_SAFETY for r in SENSITIVE_REASONS}
    blocks: list[ft.Control] = [
        card(
            t("visit.iv.results"),
            [
                chips(
                    [(r.value, t(f"visit.iv.result.{r.value}"), r.value in results) for r in InterviewResult],
                    form.toggle_result,
                    ident="result",
                    multi=True,
                ),
            ],
        ),
        card(
            t("visit.iv.reasons"),
            [
                chips(
                    [(r.value, t(f"visit.iv.reason.{r.value}"), r.value in reasons) for r in Reason],
                    form.toggle_reason,
                    ident="reason",
                    multi=True,
                    icons=sensitive,
                ),
                *(
                    [note(t("visit.sensitive"), ident="reason-sensitive")]
                    if SENSITIVE_REASONS & set(reasons)
                    else []
                ),
                *(
                    [
                        ft.Text(t("visit.iv.primary"), weight=ft.FontWeight.BOLD),
                        chips(
                            [(r, t(f"visit.iv.reason.{r}"), r == primary) for r in reasons],
                            form.set_primary_reason,
                            ident="primary",
                        ),
                    ]
                    if reasons
                    else []
                ),
                *_error_text(form, "interview.primary_reason"),
            ],
        ),
        card(
            t("visit.iv.willingness"),
            [
                chips(
                    [
                        (w.value, t(f"visit.iv.willingness.{w.value}"), willing == w.value)
                        for w in Willingness
                    ],
                    lambda v: form.set("interview.willingness", v),
                    ident="willingness",
                ),
                check(form, "interview.hardship", t("visit.iv.hardship"), ident="hardship"),
                *(
                    [
                        field(
                            form,
                            "interview.hardship_note",
                            t("visit.iv.hardship_note"),
                            ident="hardship-note",
                            multiline=True,
                        )
                    ]
                    if form.get("interview.hardship", False)
                    else []
                ),
            ],
        ),
    ]
    if InterviewResult.DISPUTE.value in results:
        kind = form.get("interview.dispute.type", None)
        blocks.append(card(t("visit.iv.dispute_type"), [
            chips([(d.value, t(f"visit.iv.dispute.{d.value}"), kind == d.value) for d in DisputeType],
                  lambda v: form.set("interview.dispute.type", v), ident="dispute"),
            *_error_text(form, "interview.dispute.type"),
            field(form, "interview.dispute.note", t("visit.iv.dispute_note"), ident="dispute-note", multiline=True),
        ]))  # fmt: skip
    if InterviewResult.PTP.value in results:
        blocks.append(card(t("visit.iv.result.PTP"), [
            field(form, "interview.promise.amount", t("visit.iv.ptp_amount"), ident="ptp-amount", number=True),
            field(form, "interview.promise.date", t("visit.iv.ptp_date"), ident="ptp-date"),
        ]))  # fmt: skip
    if InterviewResult.PAID_VIA_OFFICIAL_CHANNEL.value in results:
        blocks.append(
            card(None, [field(form, "interview.paid_reference", t("visit.iv.paid_ref"), ident="paid-ref")])
        )
    blocks.append(card(None, [field(form, "interview.notes", t("visit.iv.notes"), ident="interview-notes",
                                    multiline=True)]))  # fmt: skip
    return ft.Column(blocks, spacing=8, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
