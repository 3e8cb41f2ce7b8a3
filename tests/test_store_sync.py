"""Device store: submitting reports, applying push answers and pull pages, snapshot reset, new epochs, wipe."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.canonical import content_sha256
from models.codes import ReportStatus
from storage.store import DeviceStore, UnknownAttachmentError
from tests.test_store_factories import (
    make_report,
    make_visit,
    pull_page,
    push_response,
    uid,
)


def _counts(s: DeviceStore) -> dict[str, int]:
    return {t: s.db[t].count for t in ("reports", "report_versions", "outbox", "drafts")}


# -- submit --------------------------------------------------------------------------------------------


def test_submit_report_writes_version_and_outbox_together_when_called(store: DeviceStore) -> None:
    photo = store.register_attachment(b"photo", kind="visit_photo", mime="image/jpeg")
    report = make_report(1, attachments=[photo])
    store.save_draft(report.report_id, report.visit_id, {"notes": "draft"})
    entry = store.submit_report(report)

    content = report.model_dump(mode="json")
    m = entry.mutation
    assert (m.mutation_id, m.kind, m.base_version, m.blobs) == (
        1,
        "submit_report",
        0,
        [photo.sha256],
    )
    assert m.content_sha256 == content_sha256(content) and m.report == content
    assert m.report_id == report.report_id and m.version_id == entry.version_id
    assert store.sync_state().next_mutation_id == 2
    assert store.get_draft(report.report_id) is None
    local = store.get_report(report.report_id)
    assert local is not None and (local.status, local.sync_status) == ("pending", "pending")
    assert local.content == content and local.current_version_id == entry.version_id
    assert [e.mutation for e in store.outbox()] == [m]


def test_submit_report_writes_nothing_when_attachment_unregistered(store: DeviceStore) -> None:
    other = DeviceStore(None)
    stranger = other.register_attachment(b"elsewhere", kind="visit_photo")
    report = make_report(1, attachments=[stranger])
    store.save_draft(report.report_id, report.visit_id, {"notes": "keep me"})
    with pytest.raises(UnknownAttachmentError):
        store.submit_report(report)
    assert _counts(store) == {"reports": 0, "report_versions": 0, "outbox": 0, "drafts": 1}
    assert store.sync_state().next_mutation_id == 1


def test_submit_report_rolls_back_version_when_outbox_write_fails(
    store: DeviceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store, "_insert_outbox", broken)
    with pytest.raises(OSError):
        store.submit_report(make_report(1))
    assert _counts(store) == {"reports": 0, "report_versions": 0, "outbox": 0, "drafts": 0}
    assert store.sync_state().next_mutation_id == 1


def test_submit_report_numbers_mutations_in_order_when_several(store: DeviceStore) -> None:
    ids = [store.submit_report(make_report(n)).mutation_id for n in range(1, 4)]
    assert ids == [1, 2, 3]
    assert [e.mutation_id for e in store.outbox()] == [1, 2, 3] and store.pending_count() == 3
    assert [e.mutation_id for e in store.outbox(limit=2)] == [1, 2]


def test_submit_report_bases_on_known_server_version_when_resubmitting(store: DeviceStore) -> None:
    report = make_report(1)
    store.submit_report(report)
    store.apply_push_response(push_response({"mutation_id": 1, "status": "applied", "server_version": 1}))
    store.apply_pull_page(
        pull_page(
            {
                "type": "report_review",
                "op": "put",
                "id": report.report_id,
                "data": {
                    "server_version": 2,
                    "status": "returned",
                    "comments": [{"comment": "补充收入证明"}],
                },
            }
        )
    )
    entry = store.submit_report(report.model_copy(update={"notes": "已补充"}))
    assert (entry.kind, entry.mutation.base_version, entry.mutation_id) == ("resubmit_report", 2, 2)


# -- push ----------------------------------------------------------------------------------------------


def test_apply_push_response_marks_submitted_when_applied(store: DeviceStore) -> None:
    report = make_report(1)
    store.submit_report(report)
    store.apply_push_response(
        push_response(
            {"mutation_id": 1, "status": "applied", "server_version": 1, "flags": ["plan_mismatch"]}
        )
    )
    local = store.get_report(report.report_id)
    assert local is not None
    assert (local.status, local.sync_status, local.review_status, local.server_version) == (
        "submitted",
        "synced",
        ReportStatus.SUBMITTED,
        1,
    )
    assert local.flags == ["plan_mismatch"] and store.outbox() == [] and not local.needs_action


def test_apply_push_response_uses_original_when_duplicate(store: DeviceStore) -> None:
    report = make_report(1)
    store.submit_report(report)
    original = {"status": "conflict", "server_version": 3, "error": None}
    store.apply_push_response(
        push_response({"mutation_id": 1, "status": "duplicate", "server_version": 3, "original": original})
    )
    local = store.get_report(report.report_id)
    assert local is not None and (local.status, local.server_version) == ("conflict", 3)
    assert store.pending_count() == 0


def test_apply_push_response_keeps_server_copy_when_conflict(store: DeviceStore) -> None:
    report = make_report(1)
    store.submit_report(report)
    copy = {"report_id": report.report_id, "server_version": 4, "notes": "partner's version"}
    store.apply_push_response(
        push_response({"mutation_id": 1, "status": "conflict", "server_version": 4, "server_copy": copy})
    )
    local = store.get_report(report.report_id)
    assert local is not None and local.status == "conflict" and local.needs_action
    assert local.server_copy == copy and local.server_version == 4
    # Resolving is a new version based on the server's current one.
    assert store.submit_report(report).mutation.base_version == 4


def test_apply_push_response_keeps_error_when_rejected(store: DeviceStore) -> None:
    report = make_report(1)
    store.submit_report(report)
    details = [{"loc": ["report", "plan", "term_months"], "msg": "too long"}]
    store.apply_push_response(
        push_response({"mutation_id": 1, "status": "rejected", "error": "validation", "details": details})
    )
    local = store.get_report(report.report_id)
    assert local is not None and (local.status, local.error, local.details) == (
        "rejected",
        "validation",
        details,
    )
    assert local.needs_action and store.pending_count() == 0
    # Fixed and resubmitted as a new version: pending again, error cleared.
    entry = store.submit_report(report.model_copy(update={"notes": "fixed"}))
    again = store.get_report(report.report_id)
    assert again is not None and (again.status, again.error, again.current_version_id) == (
        "pending",
        None,
        entry.version_id,
    )


def test_apply_push_response_keeps_pending_when_newer_version_waits(store: DeviceStore) -> None:
    report = make_report(1)
    store.submit_report(report)
    store.submit_report(report.model_copy(update={"notes": "amended"}))
    store.apply_push_response(push_response({"mutation_id": 1, "status": "applied", "server_version": 1}))
    local = store.get_report(report.report_id)
    assert local is not None and (local.status, local.server_version) == ("pending", 1)
    assert [e.mutation_id for e in store.outbox()] == [2]


def test_apply_push_response_drops_rows_when_server_already_counts_them(store: DeviceStore) -> None:
    for n in (1, 2, 3):
        store.submit_report(make_report(n))
    store.apply_push_response(
        push_response({"mutation_id": 3, "status": "applied", "server_version": 1}, last=3)
    )
    assert store.outbox() == []
    assert {r.sync_status for r in store.reports()} == {"synced"}


def test_apply_push_response_moves_counter_past_server_when_server_is_ahead(store: DeviceStore) -> None:
    store.apply_push_response(push_response(last=7))
    assert store.sync_state().next_mutation_id == 8
    assert store.submit_report(make_report(1)).mutation_id == 8


def test_apply_push_response_ignores_result_when_row_already_acknowledged(store: DeviceStore) -> None:
    store.submit_report(make_report(1))
    resp = push_response({"mutation_id": 1, "status": "applied", "server_version": 1})
    store.apply_push_response(resp)
    store.apply_push_response(resp)
    local = store.get_report(uid(1, "r"))
    assert local is not None and (local.status, local.server_version) == ("submitted", 1)


# -- pull ----------------------------------------------------------------------------------------------


def test_apply_pull_page_puts_and_deletes_visits_and_stores_cursor_when_applied(store: DeviceStore) -> None:
    store.upsert_visits([make_visit(2)])
    store.apply_pull_page(
        pull_page(
            {"type": "visit", "op": "put", "id": uid(1), "data": make_visit(1).model_dump(mode="json")},
            {"type": "visit", "op": "del", "id": uid(2)},
            {"type": "future_thing", "op": "put", "id": "x", "data": {}},
            cursor="c42",
        )
    )
    assert [i.visit_id for i in store.queue()] == [uid(1)]
    state = store.sync_state()
    assert state.pull_cursor == "c42" and state.last_sync_at is not None


def test_apply_pull_page_changes_nothing_when_a_change_is_invalid(store: DeviceStore) -> None:
    store.update_sync_state(pull_cursor="c1")
    bad = make_visit(2).model_dump(mode="json") | {"borrower": {"name": ""}}
    with pytest.raises(ValueError):
        store.apply_pull_page(
            pull_page(
                {"type": "visit", "op": "put", "id": uid(1), "data": make_visit(1).model_dump(mode="json")},
                {"type": "visit", "op": "put", "id": uid(2), "data": bad},
                cursor="c2",
            )
        )
    assert store.queue_count() == 0 and store.sync_state().pull_cursor == "c1"


def test_apply_pull_page_changes_nothing_when_a_review_state_is_malformed(store: DeviceStore) -> None:
    store.update_sync_state(pull_cursor="c1")
    with pytest.raises(ValueError):
        store.apply_pull_page(
            pull_page(
                {"type": "visit", "op": "put", "id": uid(1), "data": make_visit(1).model_dump(mode="json")},
                {"type": "report_review", "op": "put", "id": uid(1, "r"), "data": {"status": "lost"}},
                cursor="c2",
            )
        )
    assert store.queue_count() == 0 and store.reports() == []
    assert store.sync_state().pull_cursor == "c1"


def test_apply_pull_page_updates_review_when_report_returned(store: DeviceStore) -> None:
    report = make_report(1)
    store.submit_report(report)
    store.apply_push_response(push_response({"mutation_id": 1, "status": "applied", "server_version": 1}))
    comments = [
        {"at": "2026-04-02T10:00:00+08:00", "author_id": "sup", "action": "return", "comment": "补充"}
    ]
    store.apply_pull_page(
        pull_page(
            {
                "type": "report_review",
                "op": "put",
                "id": report.report_id,
                "data": {"server_version": 2, "status": "returned", "comments": comments},
            }
        )
    )
    local = store.get_report(report.report_id)
    assert local is not None and (local.status, local.server_version, local.comments) == (
        "returned",
        2,
        comments,
    )
    assert local.needs_action and [r.report_id for r in store.reports(status="returned")] == [
        report.report_id
    ]


def test_apply_pull_page_records_partner_report_when_unknown_locally(store: DeviceStore) -> None:
    rid = uid(9, "r")
    store.apply_pull_page(
        pull_page(
            {
                "type": "report_review",
                "op": "put",
                "id": rid,
                "data": {"server_version": 1, "status": "submitted", "visit_id": uid(1)},
            }
        )
    )
    local = store.get_report(rid)
    assert local is not None and (local.status, local.visit_id, local.content) == ("submitted", uid(1), None)
    store.apply_pull_page(pull_page({"type": "report_review", "op": "del", "id": rid}, cursor="c2"))
    assert store.get_report(rid) is None


def test_apply_pull_page_keeps_pending_status_when_review_arrives_first(store: DeviceStore) -> None:
    report = make_report(1)
    store.submit_report(report)
    store.apply_pull_page(
        pull_page(
            {
                "type": "report_review",
                "op": "put",
                "id": report.report_id,
                "data": {"server_version": 1, "status": "submitted"},
            },
            {"type": "report_review", "op": "del", "id": report.report_id},
        )
    )
    local = store.get_report(report.report_id)
    assert local is not None and local.status == "pending" and store.pending_count() == 1


# -- resets --------------------------------------------------------------------------------------------


def test_reset_for_snapshot_keeps_outbox_and_drafts_when_visits_cleared(store: DeviceStore) -> None:
    store.upsert_visits([make_visit(1), make_visit(2)])
    store.update_sync_state(pull_cursor="c9")
    store.submit_report(make_report(1))
    store.save_draft(uid(2, "r"), uid(2), {"notes": "half"})
    store.apply_pull_page(
        pull_page(
            {
                "type": "report_review",
                "op": "put",
                "id": uid(7, "r"),
                "data": {"server_version": 1, "status": "submitted"},
            }
        )
    )
    store.reset_for_snapshot()
    assert store.queue_count() == 0 and store.queue(search="王建国") == []
    assert store.sync_state().pull_cursor is None
    assert store.pending_count() == 1 and store.get_draft(uid(2, "r")) == {"notes": "half"}
    assert [r.report_id for r in store.reports()] == [uid(1, "r")]


def test_rebase_outbox_renumbers_unapproved_versions_when_epoch_changes(store: DeviceStore) -> None:
    store.update_sync_state(device_id="dev-old")
    a, b, c = make_report(1), make_report(2), make_report(3)
    store.submit_report(a)  # 1
    store.submit_report(b)  # 2
    store.submit_report(c)  # 3
    store.apply_push_response(
        push_response(*({"mutation_id": n, "status": "applied", "server_version": 1} for n in (1, 2, 3)))
    )
    store.apply_pull_page(
        pull_page(
            {
                "type": "report_review",
                "op": "put",
                "id": b.report_id,
                "data": {"server_version": 2, "status": "approved"},
            }
        )
    )
    store.submit_report(a.model_copy(update={"notes": "amended"}))  # 4, still in the outbox
    before = {v["version_id"]: v for v in store.db["report_versions"].rows}

    queued = store.rebase_outbox_for_new_device("dev-new", server_epoch="ep-2")

    entries = store.outbox()
    assert queued == 3 and [e.mutation_id for e in entries] == [1, 2, 3]
    assert [e.report_id for e in entries] == [a.report_id, c.report_id, a.report_id]
    for e in entries:
        assert e.mutation.mutation_id == e.mutation_id
        assert e.mutation.content_sha256 == before[e.version_id]["content_sha256"]
        assert e.mutation.content_sha256 == content_sha256(e.mutation.report)
    state = store.sync_state()
    assert (state.device_id, state.server_epoch, state.next_mutation_id) == ("dev-new", "ep-2", 4)
    assert store.submit_report(c).mutation_id == 4


def test_wipe_removes_every_row_and_blob_when_revoked(disk_store: DeviceStore) -> None:
    s = disk_store
    s.update_sync_state(device_id="dev-1", user_id="u-1", pull_cursor="c1")
    s.upsert_visits([make_visit(1, name="王建国")])
    meta = s.register_attachment(b"photo bytes", kind="visit_photo")
    s.submit_report(make_report(1, attachments=[meta]))
    s.save_draft("r-2", uid(1), {"notes": "x"})
    s.wipe()
    tables = ["visits", "visit_docs", "drafts", "attachments", "reports", "report_versions", "outbox"]
    assert {t: s.db[t].count for t in tables} == dict.fromkeys(tables, 0)
    assert s.queue(search="王建国") == [] and s.blob_bytes(meta.sha256) is None
    state = s.sync_state()
    assert (state.device_id, state.user_id, state.pull_cursor, state.next_mutation_id) == (
        None,
        None,
        None,
        1,
    )
    assert s.path is not None and not any((s.path.parent / "blobs").iterdir())
    raw = Path(s.path).read_bytes()
    assert "王建国".encode() not in raw
