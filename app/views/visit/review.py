"""Review and submit tab: every problem (tap to go to its field), check-out, notes and the submit button."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import flet as ft

from app.i18n import LANGUAGES, t
from app.state.visit_form import VisitFormState
from app.views.visit._ui import MIN_TOUCH, card, field, msg, sem, warn
from app.views.visit.checkin import PositionFields
from app.views.widgets import tap_button

__all__ = ["ReviewSection", "comment_target", "field_label", "problem_text"]


# Which input a generic message ("required", "not a number") is about, so the list reads on its own.
_FIELD_LABELS = {
    "third_party.relation": "visit.tp.relation",
    "interview.promise.amount": "visit.iv.ptp_amount",
    "interview.promise.date": "visit.iv.ptp_date",
    "interview.dispute.type": "visit.iv.dispute_type",
    "assessment.incomes.#.amount": "visit.as.amount",
    "assessment.incomes.#.evidence": "visit.as.evidence",
    "assessment.incomes.#.source": "visit.as.source",
    "assessment.expenses.#.amount": "visit.as.amount",
    "assessment.expenses.#.category": "visit.as.category",
    "assessment.other_debts.#.balance": "visit.as.balance",
    "assessment.other_debts.#.monthly_payment": "visit.as.monthly",
    "plan.principal": "visit.plan.principal",
    "plan.term_months": "visit.plan.term",
    "plan.monthly_rate": "visit.plan.rate",
    "plan.upfront_fee": "visit.plan.fee",
    "plan.first_due_date": "visit.plan.first_due",
    "plan.holiday_months": "visit.plan.holiday_months",
    "plan.step_payments": "visit.plan.steps",
    "plan.settlement_amount": "visit.plan.settlement",
    "plan.total_due": "visit.plan.total_due",
    "checkin.position.lat": "visit.checkin.lat",
    "checkin.position.lon": "visit.checkin.lon",
    "checkout.position.lat": "visit.checkin.lat",
    "checkout.position.lon": "visit.checkin.lon",
}


# Words a supervisor's comment may use for a tab, besides the tab's own title (both languages).
_SECTION_WORDS: dict[str, tuple[str, ...]] = {
    "plan": ("方案", "分期", "月供", "期数", "利率", "plan", "instalment", "term", "rate"),
    "assessment": ("收入", "支出", "收支", "负债", "income", "expense", "debt"),
    "interview": ("访谈", "原因", "承诺", "interview", "reason", "promise"),
    "attachments": ("照片", "附件", "文件", "photo", "attachment"),
    "checkin": ("签到", "定位", "位置", "check-in", "position"),
    "outcome": ("接触结果", "outcome"),
}


def _words(key: str) -> list[str]:
    """A label in both languages without its bracketed unit or example ("本金（元）" → "本金")."""
    out = []
    for lang in LANGUAGES:
        core = re.split(r"[（(]", t(key, lang))[0].strip().lower()
        if len(core) >= 2:
            out.append(core)
    return out


def comment_target(comments: list[str], sections: list[str]) -> tuple[str, str | None]:
    """Where a returned report opens: the field or tab the newest comment names (a field label such as
    "月利率", else a tab's title or a word for it); a comment naming neither opens the review tab, where the
    comment stands on top and the open problems are listed."""
    text = (comments[-1] if comments else "").lower()
    if text:
        for path, key in _FIELD_LABELS.items():
            section = _PATH_SECTIONS.get(path.split(".")[0])
            if section in sections and "#" not in path and any(w in text for w in _words(key)):
                return section, path
        for section in sections:
            words = [*_words(f"visit.tab.{section}"), *_SECTION_WORDS.get(section, ())]
            if any(w in text for w in words):
                return section, None
    return "review", None


_PATH_SECTIONS = {"plan": "plan", "assessment": "assessment", "interview": "interview", "checkin": "checkin",
                  "checkout": "review", "third_party": "outcome"}  # fmt: skip


def field_label(path: str) -> str | None:
    """A field's label without its unit, for "opens at" lines."""
    key = _FIELD_LABELS.get(re.sub(r"\.\d+\.", ".#.", path))
    return re.split(r"[（(]", t(key))[0].strip() if key else None


def problem_text(section: str, path: str, code: str) -> str:
    key = _FIELD_LABELS.get(re.sub(r"\.\d+\.", ".#.", path))
    if key is None:
        return t("visit.rv.section", section=t(f"visit.tab.{section}"), message=msg(code))
    return t("visit.rv.field", section=t(f"visit.tab.{section}"), field=t(key), message=msg(code))


def _problem_row(form: VisitFormState, i: int, section: str, path: str, code: str) -> ft.Control:
    text = problem_text(section, path, code)
    row = ft.Container(
        ft.Row(
            [
                ft.Icon(ft.Icons.ERROR_OUTLINE, color=ft.Colors.ERROR),
                ft.Text(text, expand=True),
                ft.Icon(ft.Icons.CHEVRON_RIGHT),
            ]
        ),
        height=MIN_TOUCH,
        on_click=lambda _e: form.goto(section, path),
        ink=True,
    )
    return sem(f"problem-{i}", row, button=True)


@ft.component
def ReviewSection(form: VisitFormState, on_submit: Callable[[], Any] | None = None) -> ft.Control:
    problems = form.problems()
    if problems:
        head: ft.Control = ft.Text(
            t("visit.rv.problems", n=len(problems)), weight=ft.FontWeight.BOLD, size=16
        )
        rows = [_problem_row(form, i, p.section, p.field, p.code) for i, p in enumerate(problems)]
        status = card(None, [sem("review-problems", head), *rows])
    else:
        status = card(
            None, [sem("review-ready", ft.Text(t("visit.rv.ready"), size=16, color=ft.Colors.GREEN_800))]
        )
    notices = [warn(msg(n.code) or n.code, ident=f"notice-{i}") for i, n in enumerate(form.notices())]
    if notices:
        status = ft.Column([status, card(t("visit.rv.notices"), notices, ident="review-notices")], spacing=8)
    out_at = form.local_time_text("checkout.at")
    if out_at:
        checkout: list[ft.Control] = [
            sem("checkout-time", ft.Text(t("visit.rv.checkout_at", time=out_at), size=16)),
            PositionFields(form, "checkout"),
        ]
    else:
        checkout = [tap_button(t("visit.rv.checkout_btn"), lambda _e: form.check_out(), icon=ft.Icons.LOGOUT,
                               ident="checkout-btn", filled=False, expand=True)]  # fmt: skip
    controls: list[ft.Control] = [
        status,
        card(None, checkout),
        card(None, [field(form, "notes", t("visit.rv.notes"), ident="report-notes", multiline=True)]),
    ]
    if form.submit_failed:
        controls.append(warn(t("visit.err.submit_failed"), ident="submit-failed"))
    controls.append(
        ft.Row([tap_button(t("visit.rv.submit"), lambda _e: on_submit() if on_submit else form.submit(),
                           icon=ft.Icons.SEND, ident="submit-btn", disabled=bool(problems), expand=True)])
    )  # fmt: skip
    return ft.Column(controls, spacing=8, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
