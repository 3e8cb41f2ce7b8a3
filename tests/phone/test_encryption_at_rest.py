"""Encryption at rest, end to end against a real `fieldvisit serve` process: after signing in, pulling 1,000
visits and submitting reports with photos, no file under the app's storage folder (databases with their WAL
and SHM files, attachments, keys, settings, logs) holds a borrower's name, phone, ID number or address in
UTF-8; the idle lock and a restart open the data with the password, and search still finds the visits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.config import AppConfig
from app.runtime import AppModel
from app.services.default_backend import DefaultBackend
from app.state.visit_form import VisitFormState
from models.demo_data import generate_import_records
from tests.app.journey_helpers import FIELDVISIT, Central

PASSWORD = "at-rest-1"
TEAM = "hz-a"
VISITS = 1000


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Central, list[dict[str, Any]]]]:
    if not FIELDVISIT.exists():
        pytest.skip("the fieldvisit command is not installed in this environment")
    c = Central(folder=Path(tmp_path_factory.mktemp("at-rest")), password=PASSWORD)
    c.add_user("sup.a", "supervisor", TEAM, "Supervisor A")
    c.add_user("inv.a1", "investigator", TEAM, "Investigator A1")
    c.add_user("inv.a2", "investigator", TEAM, "Investigator A2")
    records = generate_import_records(VISITS, seed=23, team=TEAM)
    c.import_records(records)
    c.start()
    api = c.api("sup.a")
    try:
        ids = [v["visit_id"] for v in api.visits()]
        api.assign(ids, [c.users["inv.a1"], c.users["inv.a2"]], date.today() + timedelta(days=1))
    finally:
        api.close()
    yield c, records
    c.stop()


async def _until(check: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _submit_with_photo(store: Any, visit_id: str, user_id: str, partner_id: str, photo: bytes) -> None:
    form = VisitFormState(store, visit_id, user_id=user_id)
    form.check_in()
    if form.within_hours is False:
        form.set("compliance.outside_hours_consent", True)
        form.set("compliance.outside_hours_consent_note", "borrower asked for an evening visit")
    form.set_position("checkin", 30.2741, 120.1551, 12.0)
    form.toggle_collector(partner_id)
    for box in ("compliance.id_shown", "compliance.recording_on", "compliance.consent_to_enter"):
        form.set(box, True)
    form.set_outcome("MET_BORROWER")
    for source, amount in [("salary", "6000"), ("spouse", "3000")]:
        i = form.add_line("incomes", source=source, evidence="payslip")
        form.set(f"assessment.incomes.{i}.amount", amount)
    for cat, amount in [("HOUS", "2500"), ("FOOD", "1800"), ("EDUC", "600"), ("MEDI", "300"),
                        ("TRAN", "400"), ("UTIL", "300"), ("DEBT", "800")]:  # fmt: skip
        form.set(f"assessment.expenses.{form.expense_index(cat)}.amount", amount)
    form.toggle_reason("INCOME_REDUCTION")
    form.set("interview.willingness", "cooperative")
    form.add_attachment(photo, kind="visit_photo", mime="image/jpeg", filename="door.jpg")
    form.set_plan_option("P-INSTAL")
    form.set("plan.principal", "12000")
    form.set("plan.term_months", "12")
    form.set("plan.monthly_rate", "0.015")
    form.set("plan.agreement", "recorded_verbal")
    form.check_out()
    assert form.submit() is not None, [p.code for p in form.problems()]


async def test_storage_holds_no_borrower_data_in_utf8_when_visits_are_synced_and_reports_submitted(
    central: tuple[Central, list[dict[str, Any]]], tmp_path: Path
) -> None:
    c, records = central
    folder = tmp_path / "device"
    config = AppConfig(data_dir=folder, default_server_url=c.url, lock_after_s=600)
    model = AppModel.create(config, DefaultBackend(sync_interval=3600, retry_cap=2))
    session = model.session
    try:
        assert await session.sign_in(c.url, "inv.a1", PASSWORD)
        store = session.store
        assert store is not None
        await _until(lambda: store.queue_count() == VISITS, "the 1,000 visits")
        user_id = store.sync_state().user_id
        by_account = {r["external_id"]: r for r in records}
        picked = store.queue(limit=3)
        for item in picked:
            r = by_account[item.external_id]
            # A photo of the door with the borrower's name and phone written on it, as bytes.
            photo = b"\xff\xd8JPEG " + f"{r['borrower_name']} {r['phone']}".encode() + b" \xff\xd9"
            _submit_with_photo(store, item.visit_id, user_id, c.users["inv.a2"], photo)
        assert session.engine is not None
        session.engine.sync_now()
        await _until(lambda: store.pending_count() == 0 and not store.pending_blobs(), "the reports sent")

        # Search still finds the borrowers: by name, phone tail and a piece of the address.
        probe = by_account[picked[0].external_id]
        assert picked[0].visit_id in {i.visit_id for i in store.queue(search=probe["borrower_name"])}
        assert picked[0].visit_id in {i.visit_id for i in store.queue(search=probe["phone"][-4:])}
        assert picked[0].visit_id in {i.visit_id for i in store.queue(search=probe["address"][-10:-3])}

        # The idle lock, then the password.
        session.lock()
        assert session.unlock(PASSWORD) and session.phase == "active"
        files = [p for p in folder.rglob("*") if p.is_file()]
        names = {p.name for p in files}
        assert any(n.endswith(".db-wal") for n in names) and any(n.endswith(".key") for n in names)
        assert sum(1 for p in files if p.parent.name.endswith("-blobs")) == len(picked)
        data = b"\n".join(p.read_bytes() for p in files)
        found = [
            (r["external_id"], field)
            for r in records
            for field in ("borrower_name", "phone", "id_number", "address")
            if r[field].encode("utf-8") in data
        ]
        assert found == [], found[:10]
    finally:
        model.shutdown()

    # A restart: locked, then the password opens the store offline.
    again = AppModel.create(config, DefaultBackend(sync_interval=3600, retry_cap=2))
    again.session.restore()
    try:
        assert again.session.phase == "locked" and again.session.store is None
        assert again.session.unlock(PASSWORD)
        assert again.session.store is not None and again.session.store.queue_count() == VISITS
        assert len(again.session.store.reports()) == len(picked)
    finally:
        again.shutdown()
