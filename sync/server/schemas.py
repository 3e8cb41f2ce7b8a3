"""Request bodies the server accepts beyond `models.wire`, and the examples `/openapi.json` documents."""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.codes import LegalRoute, Willingness
from models.entities import VisitImportRecord
from models.report import VisitReport
from models.tracking import RECOMMENDATION_REASONS
from models.wire import Mutation

__all__ = ["IMPORT_EXAMPLE", "PUSH_EXAMPLE", "FeedPage", "ImportBody", "PushBody"]


def _first_example(model: type[BaseModel]) -> dict[str, Any]:
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    examples = extra["examples"]
    assert isinstance(examples, list) and isinstance(examples[0], dict)
    return copy.deepcopy(examples[0])


# The example is usable as it stands for any visit assigned to the caller once the report's `report_id`
# and `visit_id` are replaced: `device_id` defaults to the token's device, and without `version_id` and
# `content_sha256` the server assigns a version ID and hashes the report as received. Devices send all
# three so that resends are recognised (idempotent replay) and corruption is caught (hash_mismatch).
PUSH_EXAMPLE: dict[str, Any] = {
    "mutations": [
        {
            "mutation_id": 1,
            "kind": "submit_report",
            "base_version": 0,
            "blobs": [],
            "report": _first_example(VisitReport),
        }
    ]
}

IMPORT_EXAMPLE: dict[str, Any] = {"records": [_first_example(VisitImportRecord)]}


class PushBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PUSH_EXAMPLE]})

    device_id: str | None = Field(default=None, description="must be the token's device; defaults to it")
    server_epoch: str | None = None
    mutations: list[Mutation] = Field(max_length=1000)


class ImportBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [IMPORT_EXAMPLE]})

    records: list[Any] = Field(max_length=100_000)


# -- the risk feed's answer, as /openapi.json documents it (the route answers plain JSON of this shape) ------


class FeedReasons(BaseModel):
    primary: str | None = Field(description="the primary reason code (domain §5.3), or null")
    others: list[str] = Field(description="the other reason codes")


class FeedRecommendation(BaseModel):
    """Domain §5.5, computed by the server for the account; the decision stays the supervisor's."""

    escalate_legal: bool
    reasons: list[str] = Field(
        description="the conditions that hold, in this order",
        json_schema_extra={"items": {"type": "string", "enum": list(RECOMMENDATION_REASONS)}},
    )


class FeedAssessment(BaseModel):
    """The server's assessment of the household (as `server_assessment` of `GET /v1/reports/{id}`)."""

    net_income: str
    essential_expenses: str
    debt_service: str
    disposable_income: str
    capacity: str
    dsr_after: str | None = Field(description="a rate with 4 places, e.g. 0.2185; null without income")
    verdict: Literal["pass", "fail", "hardship"]


class FeedPromise(BaseModel):
    report_id: str
    amount: str
    date: str = Field(description="YYYY-MM-DD")
    state: Literal["open", "kept", "broken"]


class FeedPlanStatus(BaseModel):
    report_id: str
    state: Literal["performing", "missed_1", "lapsed", "completed"]
    paid: str
    due_to_date: str
    missed: int
    next_due_date: str | None


class FeedEventData(BaseModel):
    model_config = ConfigDict(extra="allow")

    plan: dict[str, Any] | None = Field(
        description="the report's plan as submitted (VisitReport.plan), or null"
    )
    route: LegalRoute | None = Field(description="legal_escalated: the route the supervisor chose")
    comment: str | None = Field(description="the supervisor's comment on the final transition")
    flags: list[str] = Field(description="the report's flags (the rule book's and the v1 ones)")
    sign_off_reason: str | None = Field(description="the reason given when a flagged plan was approved")
    reasons: FeedReasons
    willingness: Willingness | None = Field(description="the investigator's rating")
    ability: Literal["able", "unable"] | None = Field(
        description="able when the server's capacity covers the contractual instalment; null without both"
    )
    segment: Literal["willing_able", "willing_unable", "unwilling_able", "unwilling_unable"] | None = Field(
        description="willingness × ability (refuses counts as unwilling); null when either is null"
    )
    assessment: FeedAssessment | None
    promise: FeedPromise | None = Field(description="the report's promise to pay with its state, or null")
    recommendation: FeedRecommendation
    plan_status: FeedPlanStatus | None = Field(
        default=None, description="plan_lapsed events only: the approved plan's state when it lapsed"
    )


class FeedEvent(BaseModel):
    seq: int = Field(description="the event's position; the page's cursor is the last one's")
    type: Literal["report_approved", "legal_escalated", "report_rejected", "plan_lapsed", "ptp_broken"]
    report_id: str
    visit_id: str
    external_id: str | None = Field(description="the loan system's account ID")
    team: str
    at: str = Field(description="RFC 3339 with offset")
    data: FeedEventData


class FeedPage(BaseModel):
    """`GET /v1/feed`: final review transitions (approved, escalated, rejected), lapsed plans and broken
    promises, oldest first; ask again with `since=cursor` while `has_more`."""

    cursor: str
    has_more: bool
    events: list[FeedEvent]
