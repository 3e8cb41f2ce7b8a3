"""One wire format on both sides: the device queues `models.wire.Mutation`, the server's push body is made
of it, and a pull page's changes parse into their typed shapes (`models.wire.typed_changes`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from models.entities import TRUSTED, Visit
from models.report import VisitReport
from models.tracking import RECOMMENDATION_REASONS
from models.wire import (
    Change,
    Mutation,
    OtherChange,
    PullResponse,
    ReviewDel,
    ReviewPut,
    ReviewState,
    VisitDel,
    VisitPut,
    typed_changes,
)
from storage.store import DeviceStore
from sync.server.desk.stats import RISK_CSV_COLUMNS
from sync.server.schemas import PushBody
from tests.server.test_tracking_e2e import FACT_KEYS

from .conftest import Server, example_report, mutation, push
from .test_pull_blobs import pull


def _queued_rows(store: DeviceStore) -> list[dict[str, Any]]:
    """The outbox as stored on the device, opened (it is sealed at rest) and parsed as plain JSON: what a
    push body's elements are."""
    return [
        json.loads(store._open(r["mutation"], "outbox.mutation", r["version_id"]))
        for r in store.db.query("SELECT mutation, version_id FROM outbox ORDER BY mutation_id")
    ]


def test_push_body_documents_the_wire_mutation_when_openapi_is_read(server: Server) -> None:
    spec = server.client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert schemas["PushBody"]["properties"]["mutations"]["items"] == {
        "$ref": "#/components/schemas/Mutation"
    }
    assert schemas["Mutation"]["properties"]["report_id"]["anyOf"][0]["maxLength"] == 64
    assert "PushMutation" not in schemas


def test_feed_and_risk_csv_document_the_events_and_columns_when_openapi_is_read(server: Server) -> None:
    spec = server.client.get("/openapi.json").json()
    feed = spec["paths"]["/v1/feed"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert feed == {"$ref": "#/components/schemas/FeedPage"}
    schemas = spec["components"]["schemas"]
    assert set(schemas["FeedEvent"]["properties"]["type"]["enum"]) == {
        "report_approved", "legal_escalated", "report_rejected", "plan_lapsed", "ptp_broken"}  # fmt: skip
    facts = set(schemas["FeedEventData"]["properties"])
    assert FACT_KEYS | {"sign_off_reason", "plan", "plan_status"} <= facts
    assert schemas["FeedRecommendation"]["properties"]["reasons"]["items"]["enum"] == list(
        RECOMMENDATION_REASONS
    )
    risk = spec["paths"]["/v1/exports/risk.csv"]["get"]
    assert all(f"`{c}`" in risk["description"] for c in RISK_CSV_COLUMNS)
    assert "text/csv" in risk["responses"]["200"]["content"]


def test_server_applies_the_devices_outbox_entry_when_pushed_as_stored(server: Server) -> None:
    vid = server.new_visit()
    store = DeviceStore(None)
    entry = store.submit_report(VisitReport.model_validate(example_report(vid)))
    [row] = _queued_rows(store)

    assert PushBody.model_validate({"mutations": [row]}).mutations == [entry.mutation]
    result = push(server, "inv.a1", [row]).json()["results"][0]
    assert (result["status"], result["server_version"]) == ("applied", 1)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mutation_id", 0),
        ("kind", ""),
        ("report_id", "r" * 65),
        ("version_id", ""),
        ("version_id", "v" * 65),
        ("base_version", -1),
        ("content_sha256", "a" * 65),
        ("blobs", ["0" * 64] * 101),
    ],
)
def test_push_is_422_when_the_wire_mutation_refuses_a_field(server: Server, field: str, value: Any) -> None:
    vid = server.new_visit()
    bad = mutation(1, example_report(vid)) | {field: value}

    with pytest.raises(ValidationError):
        Mutation.model_validate(bad)
    r = push(server, "inv.a1", [bad])
    assert r.status_code == 422, r.text
    assert any(field in d["loc"] for d in r.json()["details"])


def test_push_rejects_only_that_mutation_when_report_is_not_an_object(server: Server) -> None:
    vid = server.new_visit()
    odd = mutation(1, example_report(vid)) | {"report": ["not", "a", "report"], "content_sha256": None}
    good = mutation(2, example_report(vid))

    assert Mutation.model_validate(odd).report == ["not", "a", "report"]
    results = push(server, "inv.a1", [odd, good]).json()["results"]
    assert [(r["status"], r["error"]) for r in results] == [("rejected", "validation"), ("applied", None)]


def test_pull_page_changes_parse_into_typed_data_when_server_sends_them(server: Server) -> None:
    vid = server.new_visit()
    rep = example_report(vid)
    push(server, "inv.a1", [mutation(1, rep)])

    page = PullResponse.model_validate_json(pull(server, "inv.a1").content)
    changes = typed_changes(page.changes, context=TRUSTED)

    assert [type(c) for c in changes] == [VisitPut, ReviewPut]
    visit, review = changes
    assert isinstance(visit, VisitPut) and isinstance(visit.data, Visit) and visit.data.visit_id == vid
    assert isinstance(review, ReviewPut) and isinstance(review.data, ReviewState)
    assert (review.data.status, review.data.server_version, review.data.visit_id) == ("submitted", 1, vid)
    assert review.data.report == rep


def test_pull_page_changes_parse_into_dels_when_visit_is_reassigned_away(server: Server) -> None:
    vid = server.new_visit()
    rep = example_report(vid)
    push(server, "inv.a1", [mutation(1, rep)])
    cursor = pull(server, "inv.a1").json()["cursor"]
    server.client.post(
        f"/v1/visits/{vid}/assign",
        headers=server.h("sup.a"),
        json={"investigator_ids": [server.users["inv.a2"], server.users["inv.a3"]]},
    )

    page = PullResponse.model_validate_json(pull(server, "inv.a1", cursor).content)
    changes = typed_changes(page.changes)

    assert {(type(c), c.id) for c in changes} == {(VisitDel, vid), (ReviewDel, rep["report_id"])}


def test_typed_changes_keep_a_change_as_other_when_its_type_is_unknown() -> None:
    later = Change(seq=7, type="visit_note", op="put", id="n-1", data={"text": "later protocol"})

    [change] = typed_changes([later])

    assert isinstance(change, OtherChange) and change.data == {"text": "later protocol"}


def test_typed_changes_refuse_the_page_when_a_review_status_is_unknown() -> None:
    bogus = Change(
        seq=1, type="report_review", op="put", id="r-1", data={"status": "lost", "server_version": 1}
    )

    with pytest.raises(ValidationError):
        typed_changes([bogus])
