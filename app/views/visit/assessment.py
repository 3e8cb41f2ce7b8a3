"""Income and expenses tab (§4): lines with evidence, other debts, live totals and a budget chart."""

from __future__ import annotations

from decimal import Decimal

import flet as ft
import flet_charts as fch

from app.i18n import t
from app.state.visit_form import VisitFormState, amount_text
from app.views.visit._ui import card, choice, field, note, sem, warn
from app.views.visit.interview import locked_notice
from app.views.widgets import text_button
from models.codes import EvidenceLevel, ExpenseCategory, IncomeSource
from models.money import percent_text

__all__ = ["AssessmentSection", "BudgetChart", "Totals"]

_BAR_COLORS = {"income": ft.Colors.GREEN_600, "DEBT": ft.Colors.RED_400}


def _remove(form: VisitFormState, name: str, i: int, ident: str) -> ft.Control:
    btn = ft.IconButton(
        ft.Icons.DELETE_OUTLINE, tooltip=t("visit.remove"), on_click=lambda _e: form.remove_line(name, i)
    )
    return ft.Semantics(identifier=ident, content=btn)


def _incomes(form: VisitFormState) -> list[ft.Control]:
    rows: list[ft.Control] = []
    sources = [(s.value, t(f"visit.as.source.{s.value}")) for s in IncomeSource]
    levels = [(e.value, t(f"visit.as.evidence.{e.value}")) for e in EvidenceLevel]
    for i, _line in enumerate(form.get("assessment.incomes", [])):
        base = f"assessment.incomes.{i}"
        rows.append(ft.Column([
            ft.Row([field(form, f"{base}.amount", t("visit.as.amount"), ident=f"income-amount-{i}", number=True,
                          expand=True),
                    _remove(form, "incomes", i, f"income-remove-{i}")]),
            # One under the other: side by side, a 360 px phone cuts the chosen evidence and its message.
            choice(form, f"{base}.source", t("visit.as.source"), sources, ident=f"income-source-{i}", expand=None),
            choice(form, f"{base}.evidence", t("visit.as.evidence"), levels, ident=f"income-evidence-{i}",
                   expand=None),
            ft.Divider(height=1),
        ], spacing=6))  # fmt: skip
    rows.append(ft.Row([text_button(t("visit.as.add_income"), lambda _e: form.add_line("incomes"), ident="income-add",
                                    icon=ft.Icons.ADD)]))  # fmt: skip
    return rows


def _expenses(form: VisitFormState) -> list[ft.Control]:
    """One labelled amount per category (the first line of each category), so nothing reads as an empty row
    to skip; further lines (a second rent, say) choose their category. A line stays in the draft's shape:
    `{amount, category}`."""
    lines = form.get("assessment.expenses", [])
    cats = [(c.value, t(f"visit.as.cat.{c.value}")) for c in ExpenseCategory]
    names = dict(cats)
    filled = [_dec(line.get("amount")) for line in lines]
    entered = [x for x in filled if x is not None]
    if entered:
        summary = t("visit.as.expenses_filled", n=len(entered), amount=amount_text(sum(entered, Decimal(0))))
        rows: list[ft.Control] = [note(summary, ident="expenses-summary", italic=False)]
    else:
        rows = [_empty_state(t("visit.as.expenses_empty"))]
    rows.append(note(t("visit.as.expenses_hint")))
    seen: set[str] = set()
    for i, line in enumerate(lines):
        base = f"assessment.expenses.{i}"
        category = line.get("category")
        if category in names and category not in seen:
            seen.add(category)
            rows.append(ft.Row([
                field(form, f"{base}.amount", t("visit.as.expense_line", category=names[category]),
                      ident=f"expense-amount-{i}", number=True, expand=True),
                _remove(form, "expenses", i, f"expense-remove-{i}"),
            ]))  # fmt: skip
            continue
        # Stacked, not side by side: at 360 px the amount's label would be cut.
        rows.append(ft.Column([
            ft.Row([choice(form, f"{base}.category", t("visit.as.category"), cats, ident=f"expense-category-{i}"),
                    _remove(form, "expenses", i, f"expense-remove-{i}")]),
            field(form, f"{base}.amount", t("visit.as.amount"), ident=f"expense-amount-{i}", number=True),
        ], spacing=6))  # fmt: skip
    rows.append(ft.Row([text_button(t("visit.as.add_expense"), lambda _e: form.add_line("expenses"), ident="expense-add",
                                    icon=ft.Icons.ADD)]))  # fmt: skip
    return rows


def _dec(v: object) -> Decimal | None:
    try:
        x = Decimal(str(v).replace(",", "").strip()) if v not in (None, "") else None
    except ArithmeticError:
        return None
    return x if x is not None and x.is_finite() and x > 0 else None


def _empty_state(text: str) -> ft.Control:
    box = ft.Container(
        ft.Row([ft.Icon(ft.Icons.INFO_OUTLINE, color=ft.Colors.ON_TERTIARY_CONTAINER),
                ft.Text(text, expand=True, color=ft.Colors.ON_TERTIARY_CONTAINER, weight=ft.FontWeight.W_600)]),
        bgcolor=ft.Colors.TERTIARY_CONTAINER,
        padding=8,
        border_radius=8,
    )  # fmt: skip
    return sem("expenses-empty", box)


def _debts(form: VisitFormState) -> list[ft.Control]:
    rows: list[ft.Control] = []
    for i, _line in enumerate(form.get("assessment.other_debts", [])):
        base = f"assessment.other_debts.{i}"
        rows.append(ft.Column([
            ft.Row([field(form, f"{base}.lender", t("visit.as.lender"), ident=f"debt-lender-{i}", expand=True),
                    _remove(form, "other_debts", i, f"debt-remove-{i}")]),
            ft.Row([field(form, f"{base}.balance", t("visit.as.balance"), ident=f"debt-balance-{i}", number=True,
                          expand=1),
                    field(form, f"{base}.monthly_payment", t("visit.as.monthly"), ident=f"debt-monthly-{i}",
                          number=True, expand=1)]),
        ], spacing=6))  # fmt: skip
    rows.append(ft.Row([text_button(t("visit.as.add_debt"), lambda _e: form.add_line("other_debts"), ident="debt-add",
                                    icon=ft.Icons.ADD)]))  # fmt: skip
    return rows


def _pct(x: Decimal | None) -> str:
    return "—" if x is None else percent_text(x)


@ft.component
def Totals(form: VisitFormState) -> ft.Control:
    totals = form.totals()
    if totals is None:
        return ft.Container()
    rows = [
        ("ni", amount_text(totals.net_income)),
        ("ee", amount_text(totals.essential_expenses)),
        ("debt", amount_text(totals.debt_service)),
        ("di", amount_text(totals.disposable_income)),
        ("capacity", amount_text(totals.capacity)),
        # The DSR "with the plan" needs a plan: before there is one it would be the household's DSR alone.
        ("dsr", _pct(totals.dsr_after) if form.preview() is not None else "—"),
    ]
    controls: list[ft.Control] = [
        ft.Row(
            [
                ft.Text(t(f"visit.as.{k}"), expand=True),
                sem(f"totals-{k}", ft.Text(v, weight=ft.FontWeight.BOLD, size=16)),
            ]
        )
        for k, v in rows
    ]
    if totals.hardship:
        controls.append(warn(t("visit.as.hardship"), ident="totals-hardship"))
    return card(t("visit.as.totals"), controls, ident="assessment-totals")


@ft.component
def BudgetChart(form: VisitFormState) -> ft.Control:
    """Household income beside each expense category (bars in CNY)."""
    items = form.budget()
    if not items:
        return ft.Container()
    top = max((float(v) for _k, v in items), default=0.0) or 1.0
    groups = [
        fch.BarChartGroup(
            x=i,
            rods=[
                fch.BarChartRod(
                    from_y=0,
                    to_y=float(v),
                    width=14,
                    color=_BAR_COLORS.get(k, ft.Colors.BLUE_400),
                    tooltip=amount_text(v),
                )
            ],
        )
        for i, (k, v) in enumerate(items)
    ]
    names = [t("visit.as.chart.income") if k == "income" else t(f"visit.as.chart.cat.{k}") for k, _v in items]
    chart = fch.BarChart(
        groups=groups,
        max_y=top * 1.1,
        height=220,
        bottom_axis=fch.ChartAxis(
            labels=[fch.ChartAxisLabel(value=i, label=ft.Text(n, size=10)) for i, n in enumerate(names)],
            label_size=28,
        ),
        left_axis=fch.ChartAxis(label_size=44),
        interactive=True,
    )
    return card(t("visit.as.chart"), [sem("budget-chart", chart)])


@ft.component
def AssessmentSection(form: VisitFormState) -> ft.Control:
    if form.interview_locked:
        return locked_notice()
    return ft.Column(
        [
            card(t("visit.as.incomes"), _incomes(form)),
            card(t("visit.as.expenses"), _expenses(form)),
            card(t("visit.as.debts"), _debts(form)),
            Totals(form),
            BudgetChart(form),
        ],
        spacing=8,
        horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
    )
