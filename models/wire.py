"""Request and response bodies of protocol v1 (protocol.md), shared by the server and the client engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictBool, StrictInt, Tag, TypeAdapter

from models.codes import LegalRoute, ReportStatus, ReviewAction, Role
from models.entities import Visit

__all__ = [
    "MUTATION_STATUSES",
    "AssignRequest",
    "Change",
    "ErrorBody",
    "LoginRequest",
    "LoginResponse",
    "Mutation",
    "MutationResult",
    "OtherChange",
    "PullRequest",
    "PullResponse",
    "PushRequest",
    "PushResponse",
    "RefreshRequest",
    "ReviewDel",
    "ReviewPut",
    "ReviewRequest",
    "ReviewState",
    "RevokeRequest",
    "SuggestRequest",
    "TypedChange",
    "UserPublic",
    "VisitDel",
    "VisitPut",
    "typed_changes",
]

MUTATION_STATUSES = ("applied", "duplicate", "conflict", "rejected")


class ErrorBody(BaseModel):
    error: str
    message: str
    details: list[Any] = Field(default_factory=list)


class LoginRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"username": "inv.a1", "password": "demo1234", "device_name": "phone"}]
        }
    )
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    device_name: str = Field(default="device", max_length=100)


class UserPublic(BaseModel):
    id: str
    name: str
    role: Role
    team: str


class LoginResponse(BaseModel):
    device_id: str
    access_token: str
    refresh_token: str
    expires_in: int
    user: UserPublic
    server_epoch: str


class RefreshRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"refresh_token": "r" * 43}]})
    refresh_token: str = Field(min_length=1, max_length=512)


class RevokeRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"wipe": True}]})
    wipe: StrictBool = True


class Mutation(BaseModel):
    """One outbox entry: the element of a push body, written by the device store and read by the server.

    `report` stays the raw parsed JSON (any value): the hash is over the value as received, and a report
    that is not an object is one rejected mutation, not a refused push (protocol "Push").
    """

    mutation_id: StrictInt = Field(ge=1)
    kind: str = Field(min_length=1, max_length=64)
    report_id: str | None = Field(default=None, max_length=64)
    version_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="client-made UUID; assigned by the server when absent",
    )
    base_version: StrictInt = Field(default=0, ge=0)
    content_sha256: str | None = Field(
        default=None,
        max_length=64,
        description="SHA-256 of the canonical JSON of `report`; checked when sent",
    )
    blobs: list[str] = Field(default_factory=list, max_length=100)
    report: Any = None


class PushRequest(BaseModel):
    device_id: str
    server_epoch: str | None = None
    mutations: list[Mutation] = Field(max_length=1000)


class MutationResult(BaseModel):
    mutation_id: int
    status: Literal["applied", "duplicate", "conflict", "rejected"]
    server_version: int | None = None
    missing_blobs: list[str] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    error: str | None = None
    details: list[Any] = Field(default_factory=list)
    server_copy: dict[str, Any] | None = None
    original: dict[str, Any] | None = None


class PushResponse(BaseModel):
    last_mutation_id: int
    server_epoch: str
    results: list[MutationResult]


class PullRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"device_id": "dev-1", "server_epoch": None, "cursor": None, "limit": 500}]
        }
    )
    device_id: str
    server_epoch: str | None = None
    cursor: str | None = None
    limit: StrictInt = Field(default=500, ge=1, le=5000)


class Change(BaseModel):
    """One element of a pull page as it travels: `data` is kept as the raw JSON the server sent (the device
    stores a visit's document as it came). `typed_changes` gives each change its typed shape."""

    seq: int
    type: str
    op: Literal["put", "del"]
    id: str
    data: dict[str, Any] | None = None


class ReviewState(BaseModel):
    """`data` of a `report_review` put: where a report stands with the supervisors (protocol "Pull")."""

    report_id: str | None = None
    visit_id: str | None = None
    server_version: int | None = None
    status: ReportStatus
    comments: list[dict[str, Any]] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    current_version_id: str | None = None
    missing_blobs: list[str] = Field(default_factory=list)
    # The current version's content, raw as stored on the server.
    report: dict[str, Any] | None = None


class VisitPut(BaseModel):
    """A visit assigned to the caller, or changed since: `data` is the whole visit."""

    seq: int
    type: Literal["visit"]
    op: Literal["put"]
    id: str
    data: Visit


class VisitDel(BaseModel):
    """A visit that left the caller's scope (unassigned, reassigned away, closed), with its reports."""

    seq: int
    type: Literal["visit"]
    op: Literal["del"]
    id: str
    data: None = None


class ReviewPut(BaseModel):
    """A report's new current version or review transition."""

    seq: int
    type: Literal["report_review"]
    op: Literal["put"]
    id: str
    data: ReviewState


class ReviewDel(BaseModel):
    """A report that left the caller's scope."""

    seq: int
    type: Literal["report_review"]
    op: Literal["del"]
    id: str
    data: None = None


class OtherChange(BaseModel):
    """A change type of a later protocol addition: skipped by this device, which keeps the cursor moving."""

    seq: int
    type: str
    op: Literal["put", "del"]
    id: str
    data: dict[str, Any] | None = None


_KNOWN_CHANGES = frozenset({"visit.put", "visit.del", "report_review.put", "report_review.del"})


def _change_tag(value: Any) -> str:
    if isinstance(value, dict):
        tag = f"{value.get('type')}.{value.get('op')}"
    else:
        tag = f"{getattr(value, 'type', None)}.{getattr(value, 'op', None)}"
    return tag if tag in _KNOWN_CHANGES else "other"


TypedChange = Annotated[
    Annotated[VisitPut, Tag("visit.put")]
    | Annotated[VisitDel, Tag("visit.del")]
    | Annotated[ReviewPut, Tag("report_review.put")]
    | Annotated[ReviewDel, Tag("report_review.del")]
    | Annotated[OtherChange, Tag("other")],
    Discriminator(_change_tag),
]
_TYPED_CHANGES: TypeAdapter[list[TypedChange]] = TypeAdapter(list[TypedChange])


def typed_changes(changes: Sequence[Change], *, context: dict[str, Any] | None = None) -> list[TypedChange]:
    """A page's changes in their typed shapes, in order, validated in one pass (ValidationError for the
    page when any is malformed). `context` reaches the visit validators (e.g. `models.entities.TRUSTED`)."""
    return _TYPED_CHANGES.validate_python(changes, from_attributes=True, context=context)


class PullResponse(BaseModel):
    cursor: str
    has_more: bool
    last_mutation_id: int
    server_epoch: str
    changes: list[Change]


class ReviewRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"action": "return", "comment": "请补充收入证明", "route": None}]}
    )
    action: ReviewAction
    comment: str = Field(default="", max_length=4000)
    route: LegalRoute | None = None
    # Required to approve a report whose flags need a supervisor's sign-off (protocol.md v1.1).
    sign_off_reason: str = Field(default="", max_length=4000)


class AssignRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"investigator_ids": ["u-inv-a1", "u-inv-a2"], "planned_date": "2026-12-01"}]
        }
    )
    investigator_ids: list[str] = Field(min_length=1, max_length=10)
    planned_date: str | None = None
    # Whom the visit is for: the debtor, or the debtor's contacts and third parties (R-11 allows these only
    # once the debtor cannot be reached).
    purpose: Literal["debtor", "third_party"] = "debtor"


class SuggestRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"date": "2026-12-01", "team": "hz-a"}]})
    date: str
    team: str | None = None
