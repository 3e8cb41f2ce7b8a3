"""Encryption at rest in the device store: the crypto helpers refuse what they must, sealed rows cannot be
swapped, the blind index finds what the trigram index found, and a database from before is sealed in place."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlite_utils import Database

from storage import crypto
from storage.crypto import OVERHEAD, CryptoError, DataKey, WrongPassword, unwrap_key, wrap_key
from storage.keyfile import KeyFile
from storage.migrations import migrations
from storage.store import DeviceStore
from tests.test_store_factories import StepClock, make_report, make_visit, seq_ids, uid

CHEAP = 2**10  # scrypt cost for tests; the app uses 2**15


def _files_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


# -- the helpers ---------------------------------------------------------------------------------------


def test_open_returns_plaintext_when_key_and_associated_data_match() -> None:
    key = DataKey.generate()
    sealed = key.seal(b"borrower", b"t.c:1")
    assert b"borrower" not in sealed and len(sealed) == len(b"borrower") + OVERHEAD
    assert key.open(sealed, b"t.c:1") == b"borrower"


def test_open_refuses_when_a_byte_is_tampered() -> None:
    key = DataKey.generate()
    sealed = bytearray(key.seal(b"borrower", b"t.c:1"))
    sealed[20] ^= 0x01
    with pytest.raises(CryptoError):
        key.open(bytes(sealed), b"t.c:1")


def test_open_refuses_when_the_key_is_another() -> None:
    sealed = DataKey.generate().seal(b"borrower", b"t.c:1")
    with pytest.raises(CryptoError):
        DataKey.generate().open(sealed, b"t.c:1")


def test_open_refuses_when_associated_data_names_another_row() -> None:
    key = DataKey.generate()
    sealed = key.seal(b"borrower", b"visits.card:1")
    with pytest.raises(CryptoError):
        key.open(sealed, b"visits.card:2")


def test_unwrap_refuses_when_password_or_owner_differs() -> None:
    key = DataKey.generate()
    record = wrap_key(key, "right", n=CHEAP, context="u-1")
    assert "right" not in json.dumps(record)
    assert unwrap_key(record, "right", context="u-1").raw == key.raw
    with pytest.raises(WrongPassword):
        unwrap_key(record, "wrong", context="u-1")
    with pytest.raises(WrongPassword):
        unwrap_key(record, "right", context="u-2")


def test_key_file_counts_failures_durably_and_destroy_removes_it_when_asked(tmp_path: Path) -> None:
    kf = KeyFile(tmp_path / "s.db.key")
    key = kf.create("pw", context="u-1", n=CHEAP)
    assert kf.note_failure() == 1 and KeyFile(kf.path).note_failure() == 2
    assert KeyFile(kf.path).failures() == 2 and kf.matches(key) and not kf.matches(DataKey.generate())
    assert kf.unlock("pw", context="u-1").raw == key.raw
    kf.destroy()
    assert not kf.path.exists()
    with pytest.raises(WrongPassword):
        kf.unlock("pw", context="u-1")


def test_search_tokens_differ_when_keys_differ() -> None:
    a, b = DataKey.generate(), DataKey.generate()
    assert a.token("n3:王建国") == a.token("n3:王建国") != b.token("n3:王建国")
    assert len(a.token("x")) == 16


def test_search_token_is_keyed_blake2b_of_the_term_when_taken_from_the_memo_or_computed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = DataKey.generate()
    index_key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"fieldvisit/search-index/v1"
    ).derive(key.raw)
    expected = hashlib.blake2b("n3:王建国".encode(), key=index_key, digest_size=8).hexdigest()
    assert key.token("n3:王建国") == expected
    terms = ["王建国", "建国路", "王建国"]
    cold = key.tokens("n3:", terms)
    assert cold == key.tokens("n3:", terms) == [key.token("n3:" + t) for t in terms]
    monkeypatch.setattr(crypto, "_TOKEN_MEMO", 2)  # a full memo starts again and still answers right
    assert key.tokens("a3:", ["学院路", "院路9"]) == [key.token("a3:学院路"), key.token("a3:院路9")]
    assert key.tokens("n3:", terms) == cold


def test_seal_many_opens_each_value_with_its_own_associated_data_when_sealed_in_one_batch() -> None:
    key = DataKey.generate()
    sealed = key.seal_many([(b"card", b"visits.card:1"), (b"card", b"visits.card:2")])
    assert [key.open(v, f"visits.card:{i}".encode()) for i, v in enumerate(sealed, start=1)] == [b"card"] * 2
    assert sealed[0][1:13] != sealed[1][1:13]  # each value has its own nonce
    with pytest.raises(CryptoError):
        key.open(sealed[0], b"visits.card:2")
    assert key.seal_many([]) == []


# -- the store -----------------------------------------------------------------------------------------


def test_store_files_hold_no_personal_value_when_visits_drafts_reports_and_photos_are_written(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "user"
    store = DeviceStore(folder / "s.db", clock=StepClock(), new_id=seq_ids(), key=DataKey.generate())
    store.upsert_visits(
        [make_visit(1, name="欧阳修远", phone="13912345678", address="杭州市滨江区江南大道 88 号")]
    )
    photo = store.register_attachment(
        b"PHOTO-OF-DOOR-13912345678", kind="visit_photo", filename="欧阳修远.jpg"
    )
    store.save_draft(uid(2, "r"), uid(1), {"notes": "欧阳修远 说"})
    store.submit_report(make_report(1, visit=1, notes="欧阳修远 收入下降", attachments=[photo]))
    assert store.blob_bytes(photo.sha256) == b"PHOTO-OF-DOOR-13912345678"
    assert store.outbox()[0].mutation.report["notes"] == "欧阳修远 收入下降"
    store.close()
    data = _files_bytes(folder)
    for secret in ("欧阳修远", "13912345678", "5678", "江南大道", "330106198507120"):
        assert secret.encode() not in data, secret


def test_get_visit_refuses_when_sealed_rows_are_swapped(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path / "s.db", key=DataKey.generate())
    store.upsert_visits([make_visit(1, name="张三丰"), make_visit(2, name="李四光")])
    conn = store.db.conn
    docs = dict(conn.execute("SELECT visit_id, data FROM visit_docs"))
    conn.execute("UPDATE visit_docs SET data = ? WHERE visit_id = ?", [docs[uid(2)], uid(1)])
    with pytest.raises(CryptoError):
        store.get_visit(uid(1))
    assert store.get_visit(uid(2)) is not None and store.get_visit(uid(2)).borrower.name == "李四光"  # type: ignore[union-attr]


def test_store_refuses_to_read_when_opened_with_another_key(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with DeviceStore(path, key=DataKey.generate()) as store:
        store.upsert_visits([make_visit(1)])
    with DeviceStore(path, key=DataKey.generate()) as other, pytest.raises(CryptoError):
        other.queue()


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("欧阳修远", [1]),  # full name
        ("修远", [1]),  # two characters: the given name
        ("欧", [1]),  # one character: names only
        ("滨江区江南", [1]),  # address substring (several trigrams, confirmed)
        ("江南大道", [1]),  # visit 3 holds both trigrams apart: refused by confirmation
        ("西湖区", [2, 3]),  # one trigram: exact without confirmation
        ("5678", [1]),  # phone tail
        ("021X", [3]),  # ID tail, X in any case
        ("021x", [3]),
        ("LN-0000002", [2]),  # account number
        ("滨江大道", []),
    ],
)
def test_queue_search_finds_the_right_visits_when_searched_through_the_blind_index(
    store: DeviceStore, search: str, expected: list[int]
) -> None:
    store.upsert_visits(
        [
            make_visit(
                1,
                name="欧阳修远",
                phone="13912345678",
                address="杭州市滨江区江南大道 88 号",
                district="滨江区",
            ),
            make_visit(2, name="王建国", address="杭州市西湖区文三路 100 号"),
            make_visit(
                3, name="李大江", id_no="33010619850712021X", address="杭州市西湖区江南大厦旁南大道 2 号"
            ),
        ]
    )
    found = [i.visit_id for i in store.queue(search=search)]
    assert sorted(found) == sorted(uid(n) for n in expected)
    assert store.queue_count(search=search) == len(expected)


def test_queue_search_pages_confirmed_hits_in_priority_order_when_candidates_need_confirmation(
    store: DeviceStore,
) -> None:
    store.upsert_visits(
        [make_visit(i, priority=str(i), address=f"杭州市西湖区文三路 {i} 号") for i in range(1, 8)]
        + [make_visit(9, priority="99", address="西湖区文 区文三 湖区文")]  # every trigram, never together
    )
    first = store.queue(search="西湖区文三", limit=3)
    second = store.queue(search="西湖区文三", limit=3, offset=3)
    assert [i.visit_id for i in first + second] == [uid(n) for n in (7, 6, 5, 4, 3, 2)]
    assert store.queue_count(search="西湖区文三") == 7


def test_queue_search_forgets_old_tokens_when_a_visit_changes_or_goes(store: DeviceStore) -> None:
    store.upsert_visits([make_visit(1, name="欧阳修远"), make_visit(2, name="王建国")])
    store.upsert_visits([make_visit(1, name="赵子龙")])
    assert store.queue(search="欧阳") == [] and [i.visit_id for i in store.queue(search="子龙")] == [uid(1)]
    store.delete_visit(uid(1))
    assert store.queue(search="子龙") == [] and store.queue_count() == 1


def test_queue_search_finds_a_visit_until_it_goes_when_an_update_leaves_its_name_and_address() -> None:
    key = DataKey.generate()
    store = DeviceStore(clock=StepClock(), new_id=seq_ids(), key=key)

    def indexed(term: str) -> list[int]:
        sql = "SELECT rowid FROM visit_index WHERE visit_index MATCH ?"
        return [r[0] for r in store.db.execute(sql, [key.token(term)]).fetchall()]

    store.upsert_visits([make_visit(1, name="欧阳修远", priority="10"), make_visit(2)])
    store.upsert_visits([make_visit(1, name="欧阳修远", priority="80", dpd=90), make_visit(2)])
    assert [i.visit_id for i in store.queue(search="欧阳")] == [uid(1)] and len(indexed("n3:欧阳修")) == 1
    assert store.queue(search="欧阳")[0].dpd == 90
    store.delete_visit(uid(1))
    assert store.queue(search="欧阳") == [] and indexed("n3:欧阳修") == [] and len(indexed("n3:王建国")) == 1
    store.close()


def test_open_seals_rows_and_files_in_place_when_the_database_predates_encryption(tmp_path: Path) -> None:
    folder = tmp_path / "user"
    folder.mkdir()
    path = folder / "s.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="0005_encryption_at_rest")
    db["visits"].insert(
        {"visit_id": "v-old", "status": "assigned", "priority_milli": 1, "bucket": 1, "name": "欧阳修远"}
    )
    db["drafts"].insert(
        {"report_id": "r-1", "visit_id": "v-old", "data": '{"notes":"欧阳修远"}', "updated_at": "x"}
    )
    db.execute("UPDATE sync_state SET pull_cursor = 'c-9' WHERE id = 1")
    db.conn.commit()
    db.close()
    (folder / "blobs").mkdir()
    photo = b"OLD PHOTO 13912345678"
    import hashlib

    sha = hashlib.sha256(photo).hexdigest()
    (folder / "blobs" / sha).write_bytes(photo)

    store = DeviceStore(path, key=DataKey.generate())
    assert store.get_draft("r-1") == {"notes": "欧阳修远"}
    assert store.blob_bytes(sha) == photo
    assert store.queue_count() == 0 and store.sync_state().pull_cursor is None  # pulled again
    store.close()
    data = _files_bytes(folder)
    assert "欧阳修远".encode() not in data and b"13912345678" not in data


def test_wipe_destroys_the_key_file_when_the_device_is_wiped(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    key = KeyFile.for_store(path).create("pw", n=CHEAP)
    with DeviceStore(path, key=key) as store:
        store.upsert_visits([make_visit(1)])
        store.wipe()
        assert store.queue_count() == 0
    assert not KeyFile.for_store(path).exists()
