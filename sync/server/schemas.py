"""Request bodies the server accepts beyond `models.wire`, and the examples `/openapi.json` documents."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.entities import VisitImportRecord
from models.report import VisitReport
from models.wire import Mutation

__all__ = ["IMPORT_EXAMPLE", "PUSH_EXAMPLE", "ImportBody", "PushBody"]


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
