"""The visit report forms: check-in, outcome, interview, income and expenses, plan, photos, review."""

from app.views.visit.screen import VisitHeader, VisitReportScreen, open_form

__all__ = ["VisitHeader", "VisitReportScreen", "open_form"]
