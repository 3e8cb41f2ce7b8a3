"""The visit report screen (`/visit/{visit_id}/report`): case header, one tab per section, and submit
handing over to the queue and the sync engine."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import flet as ft

from app.contexts import SessionCtx, SettingsCtx, StoreCtx, SyncCtx
from app.i18n import t
from app.state.visit_form import VisitFormState
from app.views.visit._ui import card, sem, warn
from app.views.visit.assessment import AssessmentSection
from app.views.visit.attachments import AttachmentsSection
from app.views.visit.checkin import CheckinSection
from app.views.visit.interview import InterviewSection
from app.views.visit.outcome import OutcomeSection
from app.views.visit.plan import PlanSection
from app.views.visit.review import ReviewSection, comment_target
from app.views.widgets import bucket_chip

__all__ = ["VisitHeader", "VisitReportScreen", "open_form"]

log = logging.getLogger(__name__)

_SECTIONS: dict[str, Callable[..., Any]] = {
    "checkin": CheckinSection,
    "outcome": OutcomeSection,
    "interview": InterviewSection,
    "assessment": AssessmentSection,
    "plan": PlanSection,
    "attachments": AttachmentsSection,
}


def open_form(store: Any, visit_id: str, session: Any, report_id: str | None = None) -> VisitFormState | None:
    """The visit's draft (resumed, new, or a returned report reopened) for the signed-in user; None
    without a store or visit."""
    if store is None or store.get_visit(visit_id) is None:
        return None
    user = getattr(session, "user", None)
    # The configured clock (AppConfig.clock; tests may fix it through FIELDVISIT_NOW), else the real time.
    clock = getattr(getattr(session, "config", None), "clock", None)
    extra = {"clock": clock} if callable(clock) else {}
    form = VisitFormState(store, visit_id, user_id=getattr(user, "id", None), report_id=report_id, **extra)
    if report_id and form.review_comments:
        # A returned report opens where the supervisor's comment points (else on the review tab).
        form.goto(*comment_target(form.review_comments, form.sections()))
    return form


def _route_report_id() -> str | None:
    # The sync screen's "fix" link names the returned report: /visit/{id}/report?report_id=...
    query = parse_qs(urlparse(ft.context.page.route or "").query)
    found = query.get("report_id")
    return found[0] if found else None


@ft.component
def VisitHeader(form: VisitFormState) -> ft.Control:
    """Who and where; in third-party mode only the address and the R-12 banner (D-7)."""
    h = form.header()
    if form.third_party_mode:
        return ft.Column([warn(t("visit.third_party_banner"), ident="third-party-banner"),
                          sem("visit-address", ft.Text(h.get("address", ""), size=13))], spacing=4)  # fmt: skip
    if not h:
        return ft.Container()
    loan = form.visit.loan
    return card(None, [
        ft.Row([sem("visit-name", ft.Text(h["name"], weight=ft.FontWeight.BOLD, size=16)),
                bucket_chip(t("visit.header.status", bucket=h["bucket"], dpd=h["dpd"]), loan.bucket),
                ft.Text(t(f"visit.header.product.{h['product']}"), size=12)], wrap=True),
        sem("visit-address", ft.Text(h["address"], size=13)),
        ft.Row([sem("visit-overdue", ft.Text(t("visit.header.overdue", amount=h["overdue"]), size=13)),
                ft.Text(t("visit.header.outstanding", amount=h["outstanding"]), size=13)], wrap=True),
    ], ident="visit-header")  # fmt: skip


def _tabs(form: VisitFormState) -> ft.Control:
    secs = form.sections()
    index = secs.index(form.section) if form.section in secs else 0

    def changed(e: Any) -> None:
        try:
            i = int(e.data)
        except (TypeError, ValueError):
            i = e.control.selected_index
        form.goto(secs[i])

    return ft.Tabs(
        key="tabs-" + "-".join(secs),  # the tab set changes with the outcome: rebuild rather than patch
        length=len(secs),
        selected_index=index,
        on_change=changed,
        content=ft.TabBar(
            tabs=[ft.Tab(label=sem(f"tab-{s}", ft.Text(t(f"visit.tab.{s}")))) for s in secs],
            scrollable=True,
            tab_alignment=ft.TabAlignment.START,
        ),
    )


@ft.component
def VisitReportScreen(visit_id: str, form: VisitFormState | None = None) -> ft.View:
    """The route component; `form` lets tests and previews inject a prepared state."""
    store = ft.use_context(StoreCtx)
    session = ft.use_context(SessionCtx)
    sync = ft.use_context(SyncCtx)
    ft.use_context(SettingsCtx)  # a language switch re-renders the form
    # flet's hook typing cannot infer the state type from a factory
    state, _ = ft.use_state(
        lambda: form or open_form(store, visit_id, session, _route_report_id())  # type: ignore[arg-type,return-value]
    )
    route = f"/visit/{visit_id}/report"
    appbar = ft.AppBar(title=ft.Text(t("visit.title")))
    if state is None:
        return ft.View(
            route=route, appbar=appbar, controls=[sem("visit-not-found", ft.Text(t("visit.not_found")))]
        )

    def submit() -> None:
        if state.submit() is None:
            return
        page = ft.context.page
        if session is not None:
            session.data_version += 1  # the queue and detail screens reload from the store
            if sync is not None:
                sync.sync_now(getattr(session, "engine", None))
        # It times out even with a screen reader on (persist=False): the pending banner says what is left.
        page.show_dialog(ft.SnackBar(ft.Text(t("visit.submitted")), persist=False))
        page.navigate("/")

    section = state.section if state.section in state.sections() else "checkin"
    body = ReviewSection(state, submit) if section == "review" else _SECTIONS[section](state)
    top: list[ft.Control] = [VisitHeader(state)]
    if state.review_comments:
        top.append(
            warn(t("visit.returned", comments="；".join(state.review_comments)), ident="review-comments")
        )
    if state.save_failed:
        top.append(warn(t("visit.save_failed"), ident="save-failed"))
    return ft.View(
        route=route,
        appbar=appbar,
        controls=[
            *top,
            _tabs(state),
            ft.Column(
                [body],
                # One scrollable per tab: a new tab starts at its top, and its semantics (screen readers,
                # browser tests) never keep the previous, longer tab's scroll offset.
                key=f"section-{section}",
                scroll=ft.ScrollMode.AUTO,
                expand=True,
                horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            ),
        ],
        padding=ft.Padding.all(8),
        spacing=6,
        horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
    )
