"""Device store: opening and migrations, the visit queue (order, filters, search, masking), drafts, blobs."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path

import pytest

from models.codes import VisitStatus
from storage.migrations import migrations
from storage.store import DeviceStore
from tests.test_store_factories import (
    StepClock,
    make_report,
    make_visit,
    seq_ids,
    uid,
)

# -- opening -------------------------------------------------------------------------------------------


def test_open_applies_every_migration_once_when_reopened(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    DeviceStore(path).close()
    s = DeviceStore(path)
    applied = [m.name for m in migrations.applied(s.db)]
    s.close()
    assert applied == [m.name for m in migrations._migrations]
    assert len(applied) == len(set(applied)) >= 3


def test_open_sets_wal_and_full_sync_when_on_disk(disk_store: DeviceStore) -> None:
    db = disk_store.db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_update_sync_state_refuses_unknown_field_when_misspelt(store: DeviceStore) -> None:
    with pytest.raises(TypeError):
        store.update_sync_state(devce_id="x")
    state = store.update_sync_state(device_id="dev-1", server_epoch="ep")
    assert (state.device_id, state.server_epoch, state.next_mutation_id) == ("dev-1", "ep", 1)


# -- queue ---------------------------------------------------------------------------------------------


def test_queue_sorts_by_priority_descending_when_priorities_differ(store: DeviceStore) -> None:
    store.upsert_visits([make_visit(i, priority=p) for i, p in enumerate(["5", "46.5", "12.25", "46.49"], 1)])
    items = store.queue()
    assert [i.priority for i in items] == [Decimal("46.5"), Decimal("46.49"), Decimal("12.25"), Decimal("5")]


@pytest.mark.parametrize("status", [None, VisitStatus.ASSIGNED])
def test_queue_orders_equal_priorities_by_account_whatever_order_they_arrived_in(
    store: DeviceStore, status: VisitStatus | None
) -> None:
    for n in (7, 3, 9, 1, 5):  # one page at a time, in no particular order
        store.upsert_visits([make_visit(n, priority="80", district="上城区" if n % 2 else "西湖区")])
    store.upsert_visits([make_visit(2, priority="90")])
    items = store.queue(status=status)
    assert [i.external_id for i in items] == ["LN-0000002", *(f"LN-{n:07d}" for n in (1, 3, 5, 7, 9))]
    assert [i.external_id for i in store.queue(district="上城区")] == [f"LN-{n:07d}" for n in (1, 3, 5, 7, 9)]
    assert [i.external_id for i in store.queue(limit=2, offset=2)] == ["LN-0000003", "LN-0000005"]


def test_queue_masks_name_phone_and_id_when_listing(store: DeviceStore) -> None:
    v = make_visit(1, name="张三明", phone="13812345678")
    store.upsert_visits([v])
    (item,) = store.queue()
    assert (item.masked_name, item.masked_phone) == ("张*明", "138****5678")
    shown = " ".join(str(x) for x in asdict(item).values())
    assert "张三明" not in shown and "13812345678" not in shown and v.borrower.id_number not in shown


def test_queue_item_carries_card_fields_when_listing(store: DeviceStore) -> None:
    store.upsert_visits([make_visit(1, dpd=75, overdue="3300.48", district="西湖区")])
    (item,) = store.queue()
    assert (item.bucket, item.bucket_label, item.dpd, item.overdue_amount) == (
        3,
        "M3",
        75,
        Decimal("3300.48"),
    )
    assert (item.district, item.status, item.product_type.value) == (
        "西湖区",
        VisitStatus.ASSIGNED,
        "cash_loan",
    )
    assert item.planned_date is not None and item.external_id == "LN-0000001"
    assert (item.has_draft, item.report_status) == (False, None)


def test_queue_filters_combine_when_status_bucket_and_district_given(store: DeviceStore) -> None:
    store.upsert_visits(
        [
            make_visit(1, district="西湖区", dpd=75),
            make_visit(2, district="西湖区", dpd=20),
            make_visit(3, district="滨江区", dpd=75),
            make_visit(4, district="西湖区", dpd=75, status=VisitStatus.VISITED),
        ]
    )
    got = store.queue(status=VisitStatus.ASSIGNED, bucket=3, district="西湖区")
    assert [i.visit_id for i in got] == [uid(1)]
    assert store.queue_count(district="西湖区") == 3
    assert store.queue_count(bucket=3) == 3


def test_queue_pages_without_overlap_when_offset_given(store: DeviceStore) -> None:
    store.upsert_visits([make_visit(i, priority=str(i)) for i in range(1, 8)])
    first, second = store.queue(limit=4), store.queue(limit=4, offset=4)
    assert len(first) == 4 and len(second) == 3
    assert {i.visit_id for i in first}.isdisjoint(i.visit_id for i in second)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("欧阳明", {1}),  # full name (trigram index)
        ("阳明", {1}),  # two-character given name
        ("欧", {1}),  # surname only
        ("5678", {1}),  # phone tail
        ("005x", {2}),  # ID tail, typed lower-case
        ("文三路", {1, 2}),  # address substring
        ("滨盛路 8", {3}),
        ("LN-0000003", {3}),  # the loan account number
    ],
)
def test_queue_search_finds_visits_when_query_matches(
    store: DeviceStore, query: str, expected: set[int]
) -> None:
    store.upsert_visits(
        [
            make_visit(1, name="欧阳明华", phone="13912345678", address="杭州市西湖区文三路 100 号"),
            make_visit(2, name="李四", id_no="33010619850712005X", address="杭州市西湖区文三路 8 号"),
            make_visit(3, name="Zhang Wei", address="杭州市滨江区滨盛路 8 号", district="滨江区"),
        ]
    )
    assert {i.visit_id for i in store.queue(search=query)} == {uid(n) for n in expected}
    assert store.queue_count(search=query) == len(expected)


def test_queue_search_ignores_case_when_name_is_latin(store: DeviceStore) -> None:
    store.upsert_visits([make_visit(1, name="Zhang Wei"), make_visit(2, name="Li Na")])
    assert [i.visit_id for i in store.queue(search="zhang")] == [uid(1)]
    assert [i.visit_id for i in store.queue(search="wE")] == [uid(1)]


def test_queue_search_treats_wildcards_literally_when_query_has_them(store: DeviceStore) -> None:
    store.upsert_visits([make_visit(1, name="王建国"), make_visit(2, name="王_%")])
    assert [i.visit_id for i in store.queue(search="_%")] == [uid(2)]
    assert [i.visit_id for i in store.queue(search='"王')] == []


def test_queue_search_follows_update_when_visit_renamed(store: DeviceStore) -> None:
    store.upsert_visits([make_visit(1, name="王建国")])
    store.upsert_visits([make_visit(1, name="赵德柱", address="杭州市上城区解放路 9 号")])
    assert store.queue(search="王建国") == []
    assert store.queue(search="文三路") == []
    assert [i.visit_id for i in store.queue(search="赵德柱")] == [uid(1)]
    assert store.queue_counts()["all"] == 1


def test_queue_search_forgets_visit_when_deleted(store: DeviceStore) -> None:
    store.upsert_visits([make_visit(1, name="王建国"), make_visit(2, name="王建军")])
    store.delete_visit(uid(1))
    assert [i.visit_id for i in store.queue(search="王建")] == [uid(2)]
    assert [i.visit_id for i in store.queue(search="文三路")] == [uid(2)]
    assert store.get_visit(uid(1)) is None


def test_queue_search_keeps_priority_order_when_many_match(store: DeviceStore) -> None:
    store.upsert_visits(
        [make_visit(i, priority=str(i % 4), name=f"王建{'国军华'[i % 3]}") for i in range(1, 10)]
    )
    got = store.queue(search="王建")
    assert len(got) == 9
    assert [i.priority for i in got] == sorted((i.priority for i in got), reverse=True)


def test_queue_counts_lists_every_status_when_some_are_empty(store: DeviceStore) -> None:
    store.upsert_visits([make_visit(1), make_visit(2, status=VisitStatus.VISITED)])
    assert store.queue_counts() == {"all": 2, "open": 0, "assigned": 1, "visited": 1, "closed": 0}


def test_districts_lists_each_once_sorted_when_repeated(store: DeviceStore) -> None:
    store.upsert_visits(
        [make_visit(1, district="西湖区"), make_visit(2, district="滨江区"), make_visit(3, district="西湖区")]
    )
    assert store.districts() == sorted(["西湖区", "滨江区"])


def test_get_visit_returns_full_visit_when_stored(store: DeviceStore) -> None:
    v = make_visit(1)
    store.upsert_visits([v])
    assert store.get_visit(uid(1)) == v


def test_queue_item_shows_draft_and_report_status_when_present(store: DeviceStore) -> None:
    store.upsert_visits([make_visit(1), make_visit(2)])
    store.save_draft(uid(1, "r"), uid(1), {"notes": "typing"})
    store.submit_report(make_report(2, visit=2))
    by_id = {i.visit_id: i for i in store.queue()}
    assert (by_id[uid(1)].has_draft, by_id[uid(1)].report_status) == (True, None)
    assert (by_id[uid(2)].has_draft, by_id[uid(2)].report_status) == (False, "pending")


# -- drafts --------------------------------------------------------------------------------------------


def test_save_draft_replaces_content_when_saved_again(store: DeviceStore) -> None:
    store.save_draft("r1", uid(1), {"notes": "a"})
    store.save_draft("r1", uid(1), {"notes": "ab", "checkin": None, "half": {"typed": "3"}})
    assert store.get_draft("r1") == {"notes": "ab", "checkin": None, "half": {"typed": "3"}}
    assert len(store.drafts()) == 1


def test_drafts_lists_newest_first_when_filtered_by_visit(store: DeviceStore) -> None:
    store.save_draft("r1", uid(1), {"n": 1})
    store.save_draft("r2", uid(2), {"n": 2})
    store.save_draft("r3", uid(1), {"n": 3})
    assert [d.report_id for d in store.drafts(uid(1))] == ["r3", "r1"]
    store.delete_draft("r3")
    assert [d.report_id for d in store.drafts()] == ["r2", "r1"]
    assert store.get_draft("r3") is None


# -- attachments ---------------------------------------------------------------------------------------


def test_register_attachment_writes_sealed_file_named_by_plain_hash_when_on_disk(
    disk_store: DeviceStore,
) -> None:
    data = b"\xff\xd8 jpeg bytes"
    meta = disk_store.register_attachment(data, kind="visit_photo", mime="image/jpeg", filename="a.jpg")
    assert disk_store.path is not None
    blob = disk_store.path.parent / "blobs" / meta.sha256
    on_disk = blob.read_bytes()
    assert data not in on_disk and len(on_disk) == len(data) + 29
    assert meta.sha256 == hashlib.sha256(data).hexdigest()
    assert meta.size_bytes == len(data) and disk_store.blob_bytes(meta.sha256) == data
    assert not list(blob.parent.glob(".*.tmp"))


def test_blob_state_moves_to_uploaded_when_marked(store: DeviceStore) -> None:
    meta = store.register_attachment(b"x" * 10, kind="document")
    assert store.blob_state(meta.sha256) == "pending" and store.pending_blobs() == [meta.sha256]
    store.mark_blob_uploaded(meta.sha256)
    assert store.blob_state(meta.sha256) == "uploaded" and store.pending_blobs() == []
    assert store.blob_state("0" * 64) == "missing"


def test_register_attachment_keeps_one_row_when_same_bytes_twice(store: DeviceStore) -> None:
    a = store.register_attachment(b"same", kind="document")
    b = store.register_attachment(b"same", kind="document")
    assert a.sha256 == b.sha256 and store.db["attachments"].count == 1


def test_store_is_usable_from_another_thread_when_shared(tmp_path: Path) -> None:
    import threading

    s = DeviceStore(tmp_path / "t.db", clock=StepClock(), new_id=seq_ids())
    errors: list[BaseException] = []

    def work() -> None:
        try:
            s.upsert_visits([make_visit(9)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert errors == [] and s.queue_count() == 1
    s.close()
    # The committed data is visible to any later reader of the file.
    assert sqlite3.connect(tmp_path / "t.db").execute("SELECT count(*) FROM visits").fetchone()[0] == 1
