"""Repayment plan tab (§3): option, figures, the schedule, APR (P-2), totals and fees, affordability with
the minimum term, the P-3 override reason, the P-1 product maximum and how the plan was agreed (P-6)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import flet as ft

from app.i18n import t
from app.state.visit_form import VisitFormState, amount_text
from app.views.visit._ui import card, chips, field, msg, note, sem, warn
from app.views.visit.interview import locked_notice
from models.codes import AgreementMethod, HolidayMode, InterviewResult, PlanMethod, PlanOption
from models.finance import PlanPreview
from models.money import percent_text

__all__ = ["APR_SIMPLE_SIZE", "APR_SIZE", "MONTHLY_RATE_SIZE", "PlanSection", "PlanSummary", "Schedule"]

# P-2: the annual rate is never less prominent than the monthly one; the monthly rate (typed and echoed)
# uses the smallest of these sizes.
APR_SIZE = 28
APR_SIMPLE_SIZE = 20
MONTHLY_RATE_SIZE = 16


def _pct(x: Decimal) -> str:
    return percent_text(x)


def _inputs(form: VisitFormState) -> list[ft.Control]:
    option = form.get("plan.option", None)
    method = form.get("plan.method", "annuity")
    controls: list[ft.Control] = [
        chips([(o.value, t(f"visit.plan.option.{o.value}"), option == o.value) for o in PlanOption],
              form.set_plan_option, ident="plan-option"),
        chips([(m.value, t(f"visit.plan.method.{m.value}"), method == m.value) for m in PlanMethod],
              lambda v: form.set("plan.method", v), ident="plan-method"),
    ]  # fmt: skip
    # One field per line: side by side, a 360 px phone cuts the labels (月利率, 首期还款日).
    loan = form.loan_defaults()
    prefilled = [p for p, v in loan.items() if form.get(p) == v]
    if option is not None and prefilled:
        controls.append(note(t("visit.plan.prefilled"), ident="plan-prefilled"))

    def from_loan(path: str, otherwise: str | None = None) -> str | None:
        return t("visit.plan.from_loan") if path in prefilled else otherwise

    controls += [
        field(form, "plan.principal", t("visit.plan.principal"), ident="plan-principal", number=True,
              helper=from_loan("plan.principal")),
        field(form, "plan.term_months", t("visit.plan.term"), ident="plan-term", number=True,
              helper=from_loan("plan.term_months")),  # the product's maximum is the note below
        field(form, "plan.monthly_rate", t("visit.plan.rate"), ident="plan-rate", number=True,
              size=MONTHLY_RATE_SIZE, helper=from_loan("plan.monthly_rate", t("visit.plan.rate_hint"))),
        note(t("visit.plan.product_max", n=form.product_max_term), ident="plan-product-max"),
        field(form, "plan.upfront_fee", t("visit.plan.fee"), ident="plan-fee", number=True),
        field(form, "plan.first_due_date", t("visit.plan.first_due"), ident="plan-first-due",
              hint=form.first_due_default.isoformat(), helper=t("visit.plan.date_format")),
    ]  # fmt: skip
    if option == PlanOption.DEFER.value:
        mode = form.get("plan.holiday_mode", "capitalise")
        controls += [
            field(form, "plan.holiday_months", t("visit.plan.holiday_months"), ident="plan-holiday", number=True),
            chips([(h.value, t(f"visit.plan.holiday_mode.{h.value}"), mode == h.value) for h in HolidayMode],
                  lambda v: form.set("plan.holiday_mode", v), ident="plan-holiday-mode"),
        ]  # fmt: skip
    if option in (PlanOption.STEP.value, PlanOption.TOKEN.value):
        steps = ", ".join(form.get("plan.step_payments", []))
        code = form.error("plan.step_payments")
        controls.append(sem("plan-steps", ft.TextField(
            label=t("visit.plan.steps"), value=steps, on_change=lambda e: form.set_steps(e.control.value),
            error=msg(code) if code else None)))  # fmt: skip
    if option in (PlanOption.WAIVE.value, PlanOption.SETTLE.value):
        controls.append(ft.Text(t("visit.plan.waiver"), weight=ft.FontWeight.BOLD))
        for item in ("penalty", "fees", "interest", "principal"):
            controls.append(field(form, f"plan.waiver.{item}", t(f"visit.plan.waiver.{item}"),
                                  ident=f"plan-waiver-{item}", number=True))  # fmt: skip
    if option == PlanOption.SETTLE.value:
        controls += [
            field(form, "plan.total_due", t("visit.plan.total_due"), ident="plan-total-due", number=True),
            field(
                form,
                "plan.settlement_amount",
                t("visit.plan.settlement"),
                ident="plan-settlement",
                number=True,
            ),
        ]
        waived = form.waiver_total()
        if waived:
            controls.append(sem("plan-waiver-total", ft.Text(
                t("visit.plan.waiver_total", amount=amount_text(waived[0]), pct=_pct(waived[1])))))  # fmt: skip
    return controls


@ft.component
def PlanSummary(form: VisitFormState, prev: PlanPreview) -> ft.Control:
    """APR first and largest (P-2), then instalments, totals, fees and the affordability verdict."""
    fee = _dec(form.get("plan.upfront_fee")) or Decimal(0)
    rate = _dec(form.get("plan.monthly_rate"))
    n = len(prev.schedule)
    controls: list[ft.Control] = [
        ft.Text(t("visit.plan.apr_compound"), size=14),
        sem("apr-compound", ft.Text(_pct(prev.apr_compound), size=APR_SIZE, weight=ft.FontWeight.BOLD)),
        ft.Row(
            [
                ft.Text(t("visit.plan.apr_simple"), size=14),
                sem("apr-simple", ft.Text(_pct(prev.apr_simple), size=APR_SIMPLE_SIZE)),
            ]
        ),
    ]
    if rate is not None:
        controls.append(sem("monthly-rate", ft.Text(t("visit.plan.monthly_rate_shown", rate=_pct(rate)),
                                                    size=MONTHLY_RATE_SIZE)))  # fmt: skip
    controls += [
        sem(
            "plan-instalment",
            ft.Text(t("visit.plan.instalment", amount=amount_text(prev.instalment)), size=18),
        ),
        ft.Text(t("visit.plan.count", n=n)),
        sem("plan-total", ft.Text(t("visit.plan.total_payment", amount=amount_text(prev.total_payment)))),
        sem(
            "plan-interest", ft.Text(t("visit.plan.total_interest", amount=amount_text(prev.total_interest)))
        ),
        sem("plan-fees", ft.Text(t("visit.plan.fees", amount=amount_text(fee)))),
    ]
    p4 = form.p4()
    if p4 is not None and not p4.within:
        controls.append(
            warn(
                t(
                    "visit.plan.p4_over",
                    total=amount_text(p4.total_repayable),
                    ceiling=amount_text(p4.ceiling),
                ),
                ident="plan-p4",
            )
        )
    elif p4 is not None:
        controls.append(note(t("visit.plan.p4_within", ceiling=amount_text(p4.ceiling)), ident="plan-p4"))
    aff = prev.affordability
    if aff is None:
        controls.append(note(t("visit.plan.no_assessment"), ident="plan-verdict"))
    else:
        ok = aff.verdict == "pass"
        controls.append(sem("plan-verdict", ft.Text(t(f"visit.plan.verdict.{aff.verdict}"), size=16,
                                                    color=ft.Colors.GREEN_800 if ok else ft.Colors.ERROR,
                                                    weight=ft.FontWeight.BOLD)))  # fmt: skip
        min_term = (t("visit.plan.min_term", n=aff.min_term_months) if aff.min_term_months
                    else t("visit.plan.min_term_none"))  # fmt: skip
        controls.append(sem("plan-min-term", ft.Text(min_term)))
        if form.needs_override:
            controls += [
                warn(
                    t(
                        "visit.plan.over_capacity",
                        instalment=amount_text(prev.instalment),
                        capacity=amount_text(aff.capacity),
                    ),
                    ident="plan-over-capacity",
                ),
                field(
                    form,
                    "plan.override_reason",
                    t("visit.plan.override_reason"),
                    ident="plan-override",
                    multiline=True,
                ),
            ]
    return card(None, controls, ident="plan-summary")


def _dec(v: Any) -> Decimal | None:
    try:
        return None if v in (None, "") else Decimal(str(v))
    except ArithmeticError:
        return None


def _labelled(key: str, value: str) -> ft.Control:
    return ft.Text(f"{t(f'visit.plan.col.{key}')} {value}", size=13, color=ft.Colors.ON_SURFACE_VARIANT)


@ft.component
def Schedule(prev: PlanPreview) -> ft.Control:
    """One block of two lines per instalment, so a 360 px phone shows it without sideways scrolling:
    number, due date and payment; then principal, interest and the balance left."""
    rows: list[ft.Control] = []
    for r in prev.schedule:
        rows.append(
            ft.Column(
                [
                    ft.Row(
                        [
                            ft.Text(f"{r.n}", weight=ft.FontWeight.BOLD, width=28),
                            ft.Text(r.due_date.isoformat(), expand=True),
                            ft.Text(amount_text(r.payment), weight=ft.FontWeight.BOLD),
                        ]
                    ),
                    ft.Row(
                        [
                            ft.Container(width=28),
                            _labelled("principal", amount_text(r.principal)),
                            _labelled("interest", amount_text(r.interest)),
                            _labelled("balance", amount_text(r.balance)),
                        ],
                        wrap=True,
                        spacing=10,
                    ),
                    ft.Divider(height=1),
                ],
                spacing=2,
            )
        )
    return card(t("visit.plan.schedule"), [sem("plan-schedule", ft.Column(rows, spacing=4))])


def _agreement(form: VisitFormState) -> ft.Control:
    agreed = form.get("plan.agreement", None)
    sha = form.get("plan.agreement_attachment", None)
    names = [
        a.get("filename") or a["sha256"][:12] for a in form.get("attachments", []) if a.get("sha256") == sha
    ]
    return card(t("visit.plan.agreement"), [
        chips([(m.value, t(f"visit.plan.agreement.{m.value}"), agreed == m.value) for m in AgreementMethod],
              lambda v: form.set("plan.agreement", v), ident="plan-agreement"),
        note(f"{t('visit.plan.agreement_attachment')}: {names[0] if names else t('visit.none')}",
             ident="plan-agreement-attachment"),
    ])  # fmt: skip


@ft.component
def PlanSection(form: VisitFormState) -> ft.Control:
    if form.interview_locked:
        return locked_notice()
    blocks: list[ft.Control] = []
    if InterviewResult.PLAN_PROPOSED.value not in form.get("interview.results", []):
        blocks.append(note(t("visit.plan.not_included"), ident="plan-not-included"))
    blocks.append(card(t("visit.plan.option"), _inputs(form)))
    prev = form.preview()
    if prev is not None:
        blocks += [PlanSummary(form, prev), Schedule(prev)]
    elif form.get("plan.option", None):
        blocks.append(warn(t("visit.err.plan_invalid"), ident="plan-invalid"))
    blocks.append(_agreement(form))
    return ft.Column(blocks, spacing=8, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
