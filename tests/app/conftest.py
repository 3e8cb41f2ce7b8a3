"""Fixtures for the app's client-less tests: a stub backend over a real DeviceStore, demo visits, the harness."""

from __future__ import annotations

import sys
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "helpers"))
# The repository root, for `tests.sync.harness` (the real central server used by the backend tests).
sys.path.append(str(Path(__file__).resolve().parent.parent.parent))

from app.config import AppConfig
from app.services.backend import EngineStatus, LoginFailed, LoginResult, SignedInUser
from models.demo_data import generate_import_records
from models.entities import Borrower, LoanAccount, Visit
from models.risk import bucket, priority_score

GOOD_PASSWORD = "demo1234"
USER = SignedInUser("u-inv-a1", "陈志刚", "investigator", "hz-a", "inv.a1")


def make_visits(n: int, *, seed: int = 7, planned: date | None = None) -> list[Visit]:
    """Visits built from the seeded demo import records, with the server's bucket and priority rules."""
    visits = []
    for rec in generate_import_records(n, seed=seed):
        b = bucket(rec["dpd"])
        loan = LoanAccount(
            external_id=rec["external_id"],
            product_type=rec["product_type"],
            outstanding_principal=rec["outstanding_principal"],
            overdue_amount=rec["overdue_amount"],
            dpd=rec["dpd"],
            bucket=b,
            contractual_instalment=rec["contractual_instalment"],
            monthly_rate=rec["monthly_rate"],
            repayment_history=rec["repayment_history"],
        )
        borrower = Borrower(
            name=rec["borrower_name"],
            phone=rec["phone"],
            id_number=rec["id_number"],
            address=rec["address"],
            district=rec["district"],
            lat=rec["lat"],
            lon=rec["lon"],
        )
        score = priority_score(
            bucket=b,
            balance=Decimal(rec["outstanding_principal"]),
            broken_ptp=rec["broken_ptp_count"],
            contact_lost=rec["contact_lost"],
            days_since_last_contact=rec["days_since_last_contact"] or 0,
        )
        visits.append(
            Visit(
                visit_id=str(uuid.UUID(int=len(visits) + 1)),
                external_id=rec["external_id"],
                team="hz-a",
                status="assigned",
                borrower=borrower,
                loan=loan,
                priority=score,
                planned_date=planned,
                broken_ptp_count=rec["broken_ptp_count"],
                investigator_ids=[USER.id, "u-inv-a2"],
            )
        )
    return visits


class FakeEngine:
    def __init__(self) -> None:
        self.state = EngineStatus(pending=0)
        self.sync_calls = 0
        self.online_calls: list[bool] = []
        self.stopped = False

    def status(self) -> EngineStatus:
        return self.state

    def sync_now(self) -> None:
        self.sync_calls += 1

    def set_online(self, online: bool) -> None:
        self.online_calls.append(online)

    def stop(self) -> None:
        self.stopped = True


class StubBackend:
    """Signs in `inv.a1` / GOOD_PASSWORD; opens real DeviceStores; the engine is a FakeEngine."""

    def __init__(self, visits: list[Visit] | None = None, *, offline: bool = False) -> None:
        self.visits = visits or []
        self.offline = offline
        self.logins: list[tuple[str, str]] = []
        self.engines: list[FakeEngine] = []
        self.stores: list[Any] = []

    def login(
        self, server_url: str, username: str, password: str, device_name: str, store: Any | None = None
    ) -> LoginResult:
        self.logins.append((server_url, username))
        if self.offline:
            raise LoginFailed("offline")
        if username != USER.username or password != GOOD_PASSWORD:
            raise LoginFailed("invalid_credentials")
        return LoginResult(user=USER, device_id="dev-1", server_epoch="epoch-1")

    def adopt(self, result: LoginResult, store: Any) -> None:
        store.update_sync_state(device_id=result.device_id, user_id=result.user.id)

    def open_store(self, path: Path, key: Any) -> Any:
        from storage.store import DeviceStore

        store = DeviceStore(path, blob_dir=path.with_name(path.stem + "-blobs"), key=key)
        if self.visits and store.get_visit(self.visits[0].visit_id) is None:
            store.upsert_visits(self.visits)
        self.stores.append(store)
        return store

    def start_engine(self, store: Any, server_url: str, login: LoginResult | None) -> FakeEngine:
        engine = FakeEngine()
        self.engines.append(engine)
        return engine


@pytest.fixture
def app_config(tmp_path: Path) -> AppConfig:
    # A cheaper scrypt than the phone's (2**15) keeps the many sign-ins of these tests quick.
    return AppConfig(data_dir=tmp_path, default_server_url="http://127.0.0.1:9", kdf_cost=2**12)


@pytest.fixture(scope="session")
def demo_visits() -> list[Visit]:
    return make_visits(120)


@pytest.fixture
def stub_backend(demo_visits: list[Visit]) -> StubBackend:
    return StubBackend(demo_visits)


@pytest.fixture
async def headless():
    from flet_headless import HeadlessApp

    h = HeadlessApp()
    yield h
    await h.close()
