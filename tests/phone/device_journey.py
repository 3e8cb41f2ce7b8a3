"""An investigator's day on the device code alone, run by the interpreter of a virtual environment that holds
only the base dependencies (what a phone build installs): sign in on the sign-in screen, pull the queue, fill
and submit a report, sync it. Prints one JSON line with what it saw; exits non-zero on any failure.

    python device_journey.py SERVER_URL USERNAME PASSWORD PARTNER_USER_ID DATA_DIR
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "helpers"))

# Installed only by the extras (server, web, dev): none of them may be importable here.
EXTRAS = (
    "orjson",
    "fastapi",
    "uvicorn",
    "starlette",
    "flet_web",
    "pydantic_settings",
    "argon2",
    "fpdf",
    "pytest",
)


async def journey(
    url: str, username: str, password: str, partner_id: str, data_dir: Path
) -> dict[str, object]:
    from flet_headless import HeadlessApp

    from app.config import AppConfig
    from app.runtime import AppModel
    from app.services.default_backend import DefaultBackend
    from app.state.visit_form import VisitFormState
    from app.views.app import App

    config = AppConfig(data_dir=data_dir, default_server_url=url)
    model = AppModel.create(config, DefaultBackend(sync_interval=3600, retry_cap=2))
    model.viewport.width = 390
    h = HeadlessApp()
    await h.start(component=App, views=True, args=(model,), width=390, route="/")
    try:
        await h.type_into(h.by_id("signin-username"), username)
        await h.type_into(h.by_id("signin-password"), password)
        await h.click(h.by_id("signin-submit"))
        store = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            await h.settle(5)
            store = model.session.store
            if model.session.phase == "active" and store is not None and store.queue_count() > 0:
                break
        assert store is not None and store.queue_count() > 0, f"nothing pulled (phase {model.session.phase})"
        user_id = store.sync_state().user_id
        visit_id = store.queue()[0].visit_id

        await h.navigate(f"/visit/{visit_id}")
        await h.settle(20)
        detail_texts = len(h.texts())

        form = VisitFormState(store, visit_id, user_id=user_id)
        form.check_in()
        if form.within_hours is False:
            form.set("compliance.outside_hours_consent", True)
            form.set("compliance.outside_hours_consent_note", "borrower asked for an evening visit")
        form.set_position("checkin", 30.2741, 120.1551, 12.0)
        form.toggle_collector(partner_id)
        form.set("compliance.id_shown", True)
        form.set("compliance.recording_on", True)
        form.set("compliance.consent_to_enter", True)
        form.set_outcome("MET_BORROWER")
        for source, amount in [("salary", "6000"), ("spouse", "3000")]:
            i = form.add_line("incomes", source=source, evidence="payslip")
            form.set(f"assessment.incomes.{i}.amount", amount)
        for cat, amount in [("HOUS", "2500"), ("FOOD", "1800"), ("EDUC", "600"), ("MEDI", "300"),
                            ("TRAN", "400"), ("UTIL", "300"), ("DEBT", "800")]:  # fmt: skip
            form.set(f"assessment.expenses.{form.expense_index(cat)}.amount", amount)
        form.toggle_reason("INCOME_REDUCTION")
        form.set("interview.willingness", "cooperative")
        form.set_plan_option("P-INSTAL")
        form.set("plan.principal", "12000")
        form.set("plan.term_months", "12")
        form.set("plan.monthly_rate", "0.015")
        form.set("plan.agreement", "recorded_verbal")
        form.check_out()
        entry = form.submit()
        assert entry is not None, f"report refused on the device: {[p.code for p in form.problems()]}"

        await h.navigate("/sync")
        await h.settle(10)
        await h.click(h.by_id("sync-now"))
        deadline = time.monotonic() + 60
        pending = -1
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            model.tick()
            await h.settle(5)
            pending = store.pending_count()
            if pending == 0 and not model.sync.in_progress:
                break
        assert pending == 0, f"report not sent: {pending} pending, error {model.sync.last_error}"
        return {
            "user_id": user_id,
            "visit_id": visit_id,
            "report_id": form.report_id,
            "queue": store.queue_count(),
            "detail_texts": detail_texts,
            "crashes": [str(c) for c in h.crashes()],
        }
    finally:
        await h.close()
        model.shutdown()


def main() -> None:
    present = [m for m in EXTRAS if importlib.util.find_spec(m) is not None]
    if present:
        raise SystemExit(f"not a device-only environment: {present} importable")
    url, username, password, partner_id, data_dir = sys.argv[1:6]
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    result = asyncio.run(journey(url, username, password, partner_id, Path(data_dir)))
    result["loaded_extras"] = sorted(m for m in EXTRAS if m in sys.modules)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
