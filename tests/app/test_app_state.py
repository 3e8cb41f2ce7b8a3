"""State classes as plain Python: queue paging on a real DeviceStore, sync status, lock, prefs, detail."""

from __future__ import annotations

from decimal import Decimal

from conftest import GOOD_PASSWORD, USER, FakeEngine, make_visits

from app.config import AppConfig, db_path
from app.runtime import AppModel
from app.services.backend import EngineStatus
from app.services.prefs import Prefs, check_verifier, make_verifier
from app.state.detail import DetailState, distance_km, maps_url
from app.state.queue import QueueState
from app.state.sync_status import SyncStatusState
from storage.store import DeviceStore


def _store(visits):
    s = DeviceStore(None)
    s.upsert_visits(visits)
    return s


def test_queue_pages_in_priority_order_when_loading_more():
    visits = make_visits(130, seed=3)
    q = QueueState(page_size=50)
    q.bind(_store(visits), 0)
    assert (len(q.items), q.total) == (50, 130)
    q.load_more()
    q.load_more()
    assert len(q.items) == 130 and not q.has_more
    priorities = [i.priority for i in q.items]
    assert priorities == sorted(priorities, reverse=True)


def test_queue_search_by_id_tail_and_name_finds_borrower():
    visits = make_visits(60, seed=4)
    q = QueueState()
    q.bind(_store(visits), 0)
    target = visits[11]
    q.set_search(target.borrower.id_number[-4:])
    assert target.visit_id in {i.visit_id for i in q.items}
    q.set_search(target.borrower.name)
    assert target.visit_id in {i.visit_id for i in q.items}
    assert all(target.borrower.name not in i.masked_name or len(target.borrower.name) < 2 for i in q.items)


def test_queue_filters_combine_and_clear():
    visits = make_visits(80, seed=5)
    q = QueueState()
    q.bind(_store(visits), 0)
    district = visits[0].borrower.district
    q.set_filters(district=district, bucket=str(visits[0].loan.bucket))
    expected = [
        v for v in visits if v.borrower.district == district and v.loan.bucket == visits[0].loan.bucket
    ]
    assert q.total == len(expected) and q.filtered
    q.clear_filters()
    assert q.total == 80 and not q.filtered


def test_queue_reloads_when_data_version_changes():
    store = _store(make_visits(5))
    q = QueueState()
    q.bind(store, 0)
    store.upsert_visits(make_visits(8)[5:])
    q.bind(store, 0)
    assert q.total == 5
    q.bind(store, 1)
    assert q.total == 8


def test_sync_status_back_online_triggers_sync_once():
    now = [0.0]
    s = SyncStatusState(monotonic=lambda: now[0])
    engine = FakeEngine()
    s.set_network(False, engine)
    assert s.offline and engine.sync_calls == 0
    s.set_network(True, engine)
    assert not s.offline and engine.sync_calls == 1
    s.set_network(True, engine)
    assert engine.sync_calls == 1


def test_sync_status_auto_sync_waits_for_interval_and_network():
    now = [0.0]
    s = SyncStatusState(monotonic=lambda: now[0])
    engine = FakeEngine()
    assert s.maybe_auto_sync(engine, 60)  # first tick after start
    s.in_progress = False
    now[0] = 30
    assert not s.maybe_auto_sync(engine, 60)
    now[0] = 61
    s.network = False
    assert not s.maybe_auto_sync(engine, 60)
    s.network = True
    assert s.maybe_auto_sync(engine, 60)


def test_sync_status_marks_offline_on_transport_error_code():
    s = SyncStatusState(monotonic=lambda: 0.0)
    engine = FakeEngine()
    engine.state = EngineStatus(pending=2, last_error="offline")
    s.refresh(engine, None)
    assert s.offline and s.pending == 2
    engine.state = EngineStatus(pending=0, last_error="server_error")
    s.refresh(engine, None)
    assert not s.offline


def test_detail_reveal_records_audit_before_showing():
    visits = make_visits(2)
    calls = []
    d = DetailState(visit_id=visits[0].visit_id, audit=lambda vid, uid: calls.append((vid, uid)))
    d.load(_store(visits))
    assert d.phone != visits[0].borrower.phone
    d.reveal("u-1")
    assert d.phone == visits[0].borrower.phone and calls == [(visits[0].visit_id, "u-1")]


def test_detail_stays_masked_when_audit_fails():
    visits = make_visits(1)

    def broken(_vid, _uid):
        raise OSError("disk full")

    d = DetailState(visit_id=visits[0].visit_id, audit=broken)
    d.load(_store(visits))
    try:
        d.reveal("u-1")
    except OSError:
        pass
    assert not d.revealed


def test_distance_and_maps_links():
    assert round(distance_km((30.2741, 120.1551), (30.2850, 120.1330)), 2) == 2.44
    assert maps_url(Decimal("30.1"), Decimal("120.2"), "x", web=False) == "geo:30.1,120.2?q=30.1,120.2"
    assert maps_url(Decimal("30.1"), Decimal("120.2"), "x", web=True).startswith(
        "https://uri.amap.com/marker"
    )
    assert "keyword=" in maps_url(None, None, "杭州市", web=True)


def test_prefs_persist_and_verifier_checks_password(tmp_path):
    p = Prefs(tmp_path)
    p.set("language", "en")
    assert Prefs(tmp_path).get("language") == "en"
    v = make_verifier("secret")
    assert check_verifier("secret", v) and not check_verifier("Secret", v)
    assert "secret" not in p.path.read_text() + str(v)


def test_db_path_is_per_user_and_file_name_safe(tmp_path):
    assert db_path(tmp_path, "u/../x").name == "fieldvisit-u_.._x.db"


def test_config_reads_server_and_lock_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("FIELDVISIT_APP_SERVER", "http://10.0.0.5:8765")
    monkeypatch.setenv("FIELDVISIT_APP_LOCK_MINUTES", "2")
    monkeypatch.setenv("FLET_APP_STORAGE_DATA", str(tmp_path))
    c = AppConfig.from_env()
    assert (c.default_server_url, c.lock_after_s, c.data_dir) == ("http://10.0.0.5:8765", 120.0, tmp_path)


async def test_lifecycle_hidden_longer_than_timeout_locks(app_config, stub_backend):
    now = [0.0]
    model = AppModel.create(app_config, stub_backend, monotonic=lambda: now[0])
    assert await model.session.sign_in("http://x", USER.username, GOOD_PASSWORD)
    model.on_lifecycle("hide")
    now[0] = 30
    model.on_lifecycle("show")
    assert model.session.phase == "active"
    model.on_lifecycle("hide")
    now[0] = 30 + model.session.lock_after_s + 1
    model.on_lifecycle("resume")
    assert model.session.phase == "locked"


async def test_connectivity_none_then_wifi_syncs(app_config, stub_backend):
    model = AppModel.create(app_config, stub_backend)
    assert await model.session.sign_in("http://x", USER.username, GOOD_PASSWORD)
    engine = stub_backend.engines[-1]
    model.on_connectivity(["none"])
    assert model.sync.offline and engine.online_calls == [False]
    model.on_connectivity(["wifi"])
    assert engine.sync_calls == 1 and engine.online_calls == [False, True]


def test_sync_status_detects_sync_finished_between_ticks():
    from datetime import UTC, datetime

    s = SyncStatusState(monotonic=lambda: 0.0)
    engine = FakeEngine()
    s.refresh(engine, None)
    before = s.finished_syncs
    engine.state = EngineStatus(last_sync_at=datetime(2026, 4, 1, tzinfo=UTC))
    s.refresh(engine, None)
    assert s.finished_syncs == before + 1
    s.refresh(engine, None)
    assert s.finished_syncs == before + 1
