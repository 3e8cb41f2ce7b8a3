"""Plans and promises evaluated against the server's clock outside the feed: before the desk's dashboard and
risk export are read, and what the collectors' devices receive with the visit (protocol.md v1.1
"Repayments, plans and promises tracked")."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from models.demo_data import demo_users
from models.entities import TRUSTED, Visit
from sync.server import create_app
from sync.server.desk.stats import dashboard
from sync.server.store.common import Principal
from tests.helpers.pg_fixtures import backend_settings
from tests.server.conftest import Server, example_report, fast_settings, mutation
from tests.server.tracking_live import promise_report

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Clocked:
    server: Server
    now: list[datetime]
    db: str

    def at(self, when: datetime) -> None:
        self.now[0] = when

    def promise_visit(self, checkin: datetime, amount: str, on: str) -> tuple[str, str]:
        """A visit assigned to inv.a1 + inv.a2 where the borrower promised `amount` by `on`."""
        day = checkin.astimezone(SHANGHAI).date().isoformat()
        vid = self.server.new_visit(planned_date=day)
        rep = promise_report(vid, checkin.astimezone(SHANGHAI).isoformat(), amount, on)
        s = self.server.sessions.get("inv.a1") or self.server.login("inv.a1")
        r = self.server.client.post(
            "/v1/sync/push",
            headers=self.server.h("inv.a1"),
            json={
                "device_id": s["device_id"],
                "server_epoch": s["server_epoch"],
                "mutations": [mutation(s.setdefault("next", 1), rep)],
            },
        )
        s["next"] += 1
        assert r.status_code == 200 and r.json()["results"][0]["status"] == "applied", r.text
        return vid, rep["report_id"]

    def get(self, path: str, **params: Any) -> Any:
        r = self.server.client.get(path, params=params, headers=self.server.h("sup.a"))
        assert r.status_code == 200, r.text
        return r


def _clocked(tmp_path: Path, backend: str, db: str, start: datetime) -> Iterator[Clocked]:
    now = [start]
    # Tokens outlive the clock's jumps.
    settings = fast_settings(
        db,
        access_ttl_seconds=10**9,
        refresh_ttl_seconds=10**9,
        **backend_settings(backend, db, tmp_path),
    )
    app = create_app(settings, clock=lambda: now[0])
    users = {n: row["id"] for n, row in app.state.ctx.add_users(demo_users(), now=datetime.now(UTC)).items()}
    with TestClient(app) as client:
        yield Clocked(Server(client=client, users=users), now, db)


@pytest.fixture
def clocked(tmp_path: Path, backend: str, database_location: str) -> Iterator[Clocked]:
    # 10:00 in Shanghai
    yield from _clocked(tmp_path, backend, database_location, datetime(2026, 11, 20, 2, 0, tzinfo=UTC))


def test_risk_csv_lists_broken_promise_when_the_clock_passed_its_date_before_any_feed_read(
    clocked: Clocked,
) -> None:
    vid, rid = clocked.promise_visit(clocked.now[0], "500.00", "2026-11-25")
    assert [p["state"] for p in clocked.get(f"/v1/visits/{vid}").json()["promises"]] == ["open"]
    assert "ptp_broken" not in clocked.get("/v1/exports/risk.csv").text

    clocked.at(datetime(2026, 11, 29, 4, 0, tzinfo=UTC))  # 25 November + 3 days of grace have passed
    rows = list(csv.DictReader(io.StringIO(clocked.get("/v1/exports/risk.csv").text.lstrip("\ufeff"))))
    broken = [r for r in rows if r["event"] == "ptp_broken"]
    assert [(r["report_id"], r["visit_id"], r["promise_state"]) for r in broken] == [(rid, vid, "broken")]


def test_dashboard_counts_promise_broken_when_the_clock_passed_its_date_before_any_feed_read(
    clocked: Clocked,
) -> None:
    vid, _rid = clocked.promise_visit(clocked.now[0], "500.00", "2026-11-25")
    clocked.get(f"/v1/visits/{vid}")
    assert clocked.get("/v1/stats").json()["promises"] == {"kept": 0, "broken": 0, "open": 1}

    clocked.at(datetime(2026, 11, 29, 4, 0, tzinfo=UTC))
    assert clocked.get("/v1/stats").json()["promises"] == {"kept": 0, "broken": 1, "open": 0}


def test_dashboard_counts_promise_kept_when_paid_between_the_visit_and_the_promise_date(
    clocked: Clocked,
) -> None:
    vid, _rid = clocked.promise_visit(clocked.now[0], "500.00", "2026-11-25")
    ext = clocked.get(f"/v1/visits/{vid}").json()["external_id"]
    posted = clocked.server.client.post(
        "/v1/repayments",
        headers=clocked.server.h("sup.a"),
        json={
            "records": [
                {"payment_id": "K-1", "external_id": ext, "paid_on": "2026-11-24", "amount": "500.00"}
            ]
        },
    )
    assert posted.json()["created"] == 1
    clocked.at(datetime(2026, 11, 29, 4, 0, tzinfo=UTC))
    assert clocked.get("/v1/stats").json()["promises"] == {"kept": 1, "broken": 0, "open": 0}


def test_dashboard_judges_a_promise_the_tracker_has_not_evaluated_by_the_trackers_rule(
    clocked: Clocked,
) -> None:
    vid, _rid = clocked.promise_visit(clocked.now[0], "500.00", "2026-11-25")
    ext = clocked.get(f"/v1/visits/{vid}").json()["external_id"]
    records = [
        # Paid in full two days before the promise date, then a later instalment: the promise was kept.
        {"payment_id": "E-1", "external_id": ext, "paid_on": "2026-11-23", "amount": "500.00"},
        {"payment_id": "E-2", "external_id": ext, "paid_on": "2026-12-10", "amount": "100.00"},
    ]
    posted = clocked.server.client.post(
        "/v1/repayments", headers=clocked.server.h("sup.a"), json={"records": records}
    )
    assert posted.json()["created"] == 2
    ctx = clocked.server.client.app.state.ctx  # type: ignore[attr-defined]
    ctx.db.write_sync(lambda db: db.execute("DELETE FROM promise_tracking"))  # not evaluated yet
    sup = Principal(clocked.server.users["sup.a"], "sup.a", "sup.a", "supervisor", "hz-a", "desk")
    figures = ctx.db.read_sync(dashboard, actor=sup, today=date(2026, 12, 15))
    assert figures["promises"] == {"kept": 1, "broken": 0, "open": 0}


def test_plan_preview_counts_from_the_shanghai_day_when_utc_is_still_the_day_before(clocked: Clocked) -> None:
    clocked.at(datetime(2026, 1, 31, 20, 0, tzinfo=UTC))  # 1 February, 04:00 in Shanghai
    r = clocked.server.client.post(
        "/v1/plans/preview",
        headers=clocked.server.h("inv.a1"),
        json={"method": "annuity", "principal": "1200.00", "term_months": 2, "monthly_rate": "0.01"},
    )
    assert r.status_code == 200, r.text
    # The default first due date is a month after today where the visit takes place (as the app counts).
    assert r.json()["schedule"][0]["due_date"] == "2026-03-01"


def test_pull_carries_the_accounts_promises_with_their_state_when_a_collector_syncs(
    clocked: Clocked,
) -> None:
    vid, rid = clocked.promise_visit(clocked.now[0], "500.00", "2026-11-25")
    clocked.get(f"/v1/visits/{vid}")  # evaluated
    s = clocked.server.sessions["inv.a1"]
    page = clocked.server.client.post(
        "/v1/sync/pull",
        headers=clocked.server.h("inv.a1"),
        json={"device_id": s["device_id"], "cursor": None},
    ).json()
    [data] = [c["data"] for c in page["changes"] if c["type"] == "visit" and c["id"] == vid]
    assert data["promises"] == [{"report_id": rid, "amount": "500.00", "date": "2026-11-25", "state": "open"}]
    assert data["plans"] == []
    visit = Visit.model_validate(data, context=TRUSTED)
    assert [(p.report_id, p.state) for p in visit.promises] == [(rid, "open")]


def test_feed_lists_report_approved_before_plan_lapsed_when_the_plan_is_lapsed_at_approval(
    clocked: Clocked,
) -> None:
    server = clocked.server
    vid = server.new_visit(planned_date="2026-11-20")
    rep = example_report(vid)  # checked in 2026-11-20, first instalment due 2026-12-20
    s = server.sessions.get("inv.a1") or server.login("inv.a1")
    pushed = server.client.post(
        "/v1/sync/push",
        headers=server.h("inv.a1"),
        json={
            "device_id": s["device_id"],
            "server_epoch": s["server_epoch"],
            "mutations": [mutation(1, rep)],
        },
    )
    assert pushed.json()["results"][0]["status"] == "applied", pushed.text
    clocked.at(datetime(2027, 3, 1, 4, 0, tzinfo=UTC))  # three instalments unpaid past the grace
    etag = clocked.get(f"/v1/reports/{rep['report_id']}").headers["ETag"]

    approved = server.client.post(
        f"/v1/reports/{rep['report_id']}/review",
        headers=server.h("sup.a") | {"If-Match": etag},
        json={"action": "approve", "sign_off_reason": "agreed with the household"},
    )
    events = clocked.get("/v1/feed").json()["events"]

    assert approved.status_code == 200, approved.text
    assert [(e["type"], e["report_id"]) for e in events] == [
        ("report_approved", rep["report_id"]),
        ("plan_lapsed", rep["report_id"]),
    ]
    assert events[1]["data"]["plan_status"]["state"] == "lapsed"
