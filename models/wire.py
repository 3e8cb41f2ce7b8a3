"""Request and response bodies of protocol v1 (protocol.md), shared by the server and the client engine."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.codes import LegalRoute, ReviewAction, Role

__all__ = [
    "MUTATION_STATUSES",
    "AssignRequest",
    "Change",
    "ErrorBody",
    "LoginRequest",
    "LoginResponse",
    "Mutation",
    "MutationResult",
    "PullRequest",
    "PullResponse",
    "PushRequest",
    "PushResponse",
    "RefreshRequest",
    "ReviewRequest",
    "RevokeRequest",
    "SuggestRequest",
    "UserPublic",
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
    wipe: bool = True


class Mutation(BaseModel):
    """One outbox entry. `report` is kept as raw JSON: the hash is over the value as received."""

    mutation_id: int = Field(ge=1)
    kind: str = Field(min_length=1, max_length=64)
    report_id: str | None = None
    version_id: str | None = None
    base_version: int = Field(default=0, ge=0)
    content_sha256: str | None = None
    blobs: list[str] = Field(default_factory=list, max_length=100)
    report: dict[str, Any] | None = None


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
    limit: int = Field(default=500, ge=1, le=5000)


class Change(BaseModel):
    seq: int
    type: str
    op: Literal["put", "del"]
    id: str
    data: dict[str, Any] | None = None


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


class AssignRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"investigator_ids": ["u-inv-a1", "u-inv-a2"], "planned_date": "2026-12-01"}]
        }
    )
    investigator_ids: list[str] = Field(min_length=1, max_length=10)
    planned_date: str | None = None


class SuggestRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"date": "2026-12-01", "team": "hz-a"}]})
    date: str
    team: str | None = None
