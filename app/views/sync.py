"""Sync screen: connection, pending count, last successful sync, sync button with progress, rejected and
conflicting reports with their reasons, and reports returned for rework with the supervisor's comments."""

from __future__ import annotations

from typing import Any

import flet as ft

from app.contexts import SessionCtx, SyncCtx
from app.format import fmt_datetime
from app.i18n import label, message, t
from app.state.visit_form import SECTIONS
from app.views.shell import tab_view
from app.views.visit.review import comment_target, field_label
from app.views.widgets import info_row, section, sem, tap_button, text_button
from models.privacy import mask_name

__all__ = ["SyncScreen", "fix_route"]


def fix_route(report: Any) -> str:
    """Where a report is opened to be fixed: the visit's report form, told which report to load."""
    return f"/visit/{report.visit_id}/report?report_id={report.report_id}"


def _reasons(report: Any) -> list[str]:
    out: list[str] = []
    if report.sync_status == "conflict":
        out.append(t("sync.reason.conflict"))
    if report.error:
        out.append(label("sync_error", report.error))
    for d in report.details or []:
        if isinstance(d, dict):
            where = ".".join(str(p) for p in d.get("loc", []) if p != "report")
            code = str(d.get("type") or "")
            text = message(code) if code and message(code) != code else str(d.get("msg", ""))
            out.append(f"{where}: {text}" if where else text)
    for flag in report.flags or []:
        out.append(label("flag", flag))
    return out


def _case_line(report: Any, store: Any) -> str | None:
    """Which case a report is about: the account number and the borrower's masked name (D-6)."""
    visit = store.get_visit(report.visit_id) if store is not None and report.visit_id else None
    if visit is None:
        return None
    return t("sync.report_case", case=visit.external_id, name=mask_name(visit.borrower.name))


def _place(report: Any) -> str:
    """The tab (and field) a returned report opens at, as the form will choose it."""
    texts = [
        str(c.get("comment") or c.get("text") or "") for c in report.comments or [] if isinstance(c, dict)
    ]
    section, path = comment_target([x for x in texts if x], list(SECTIONS))
    place = t(f"visit.tab.{section}")
    label = field_label(path) if path else None
    return f"{place} · {label}" if label else place


def _report_tile(report: Any, kind: str, store: Any = None) -> ft.Control:
    lines: list[ft.Control] = []
    case = _case_line(report, store)
    if case:
        lines.append(sem(f"report-case-{report.report_id}", ft.Text(case, weight=ft.FontWeight.W_600)))
    lines.append(
        ft.Text(
            t(
                "sync.report_line",
                status=label("report_status", report.status),
                at=fmt_datetime(report.updated_at),
            ),
            size=13,
        ),
    )
    if kind == "returned":
        for c in report.comments or []:
            if c.get("action") not in (None, "return"):
                continue
            text = c.get("comment") or c.get("text") or ""
            who = c.get("author_name") or c.get("by_name") or c.get("by") or ""
            line = (
                t("sync.comment_by", text=text, who=who, at=fmt_datetime(c.get("at"))) if who else f"“{text}”"
            )
            lines.append(ft.Text(line, italic=True, size=13))
        lines.append(
            sem(f"opens-at-{report.report_id}", ft.Text(t("sync.opens_at", place=_place(report)), size=13))
        )
    else:
        lines += [ft.Text("• " + r, size=13, color=ft.Colors.ERROR) for r in _reasons(report)]
    open_btn = text_button(
        t("sync.open_fix"),
        lambda _e: ft.context.page.navigate(fix_route(report)),
        ident=f"fix-{report.report_id}",
        icon=ft.Icons.EDIT,
    )
    return ft.Container(
        ft.Column([*lines, ft.Row([open_btn], alignment=ft.MainAxisAlignment.END)], spacing=2),
        padding=8,
        border=ft.Border.all(1, ft.Colors.OUTLINE_VARIANT),
        border_radius=8,
    )


@ft.component
def SyncScreen() -> ft.View:
    session = ft.use_context(SessionCtx)
    sync = ft.use_context(SyncCtx)

    def sync_now(_e: Any = None) -> None:
        session.touch()
        sync.sync_now(session.engine)

    state_text = t("sync.offline") if sync.offline else t("sync.online")
    status = section(
        t("sync.status"),
        [
            info_row(t("sync.connection"), state_text, value_ident="sync-connection"),
            info_row(t("sync.pending"), str(sync.pending), value_ident="sync-pending"),
            info_row(t("sync.last_sync"), fmt_datetime(sync.last_sync_at), value_ident="sync-last"),
            info_row(t("sync.last_error"), label("sync_error", sync.last_error) if sync.last_error else "—"),
            ft.ProgressBar(visible=sync.in_progress),
            # Photos going up in the background (n of m, bytes); a semantics node needs visible content.
            *([sem("sync-photos", ft.Text(sync.photo_progress, size=13))] if sync.photo_progress else []),
            tap_button(
                t("sync.running") if sync.in_progress else t("sync.now"),
                sync_now,
                ident="sync-now",
                icon=ft.Icons.SYNC,
                disabled=sync.in_progress or session.engine is None,
            ),
        ],
    )
    problems = section(
        t("sync.problems", n=len(sync.problems)),
        [_report_tile(r, "problem", session.store) for r in sync.problems] or [ft.Text(t("sync.none"))],
    )
    returned = section(
        t("sync.returned", n=len(sync.returned)),
        [_report_tile(r, "returned", session.store) for r in sync.returned] or [ft.Text(t("sync.none"))],
    )
    body = ft.Column(
        [status, sem("sync-problems", problems), sem("sync-returned", returned)],
        scroll=ft.ScrollMode.AUTO,
        horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
        expand=True,
    )
    return tab_view("/sync", t("sync.title"), body)
