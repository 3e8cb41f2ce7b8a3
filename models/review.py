"""Review comments and audit events (the supervisor's side of a report, and the append-only log)."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from models.codes import LegalRoute, ReportStatus, ReviewAction

__all__ = ["AuditEvent", "ReviewComment", "ReviewState"]


class ReviewComment(BaseModel):
    at: AwareDatetime
    author_id: str
    author_name: str = ""
    action: ReviewAction
    comment: str = Field(default="", max_length=4000)
    route: LegalRoute | None = None
    server_version: int | None = None


class ReviewState(BaseModel):
    """What a device learns of a report's review (the `report_review` change of a pull)."""

    report_id: str
    visit_id: str | None = None
    server_version: int
    status: ReportStatus
    comments: list[ReviewComment] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    current_version_id: str | None = None
    missing_blobs: list[str] = Field(default_factory=list)


class AuditEvent(BaseModel):
    """One line of the append-only audit log; carries IDs only, never personal data."""

    at: AwareDatetime
    actor_id: str | None
    action: str
    entity: str
    entity_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
