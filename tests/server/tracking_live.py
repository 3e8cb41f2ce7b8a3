"""A live central server on a movable clock (tests/server/serve_clock.py) and the calls the tracking tests
make of it: the loan system's import and repayments, a supervisor's assignment and review, devices' pushes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from models.demo_data import DEMO_PASSWORD, generate_import_records
from sync.server.schemas import FeedPage
from tests.helpers.pg_fixtures import shared_blob_url
from tests.server.conftest import example_report, mutation

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    folder: Path
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[bytes] | None = None
    clients: dict[str, httpx.Client] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    made: int = 0
    # A SQLite file in `folder` unless a PostgreSQL URL is given.
    database: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def clock_file(self) -> Path:
        return self.folder / "clock.txt"

    def set_clock(self, when: str) -> None:
        tmp = self.clock_file.with_suffix(".tmp")
        tmp.write_text(datetime.fromisoformat(when).isoformat(), encoding="utf-8")
        os.replace(tmp, self.clock_file)

    def start(self, when: str) -> Live:
        self.set_clock(when)
        log = open(self.folder / "server.log", "ab")
        db = self.database or str(self.folder / "fv.db")
        blobs = shared_blob_url(db)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.server.serve_clock", db, str(self.port), str(self.clock_file)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **({"FIELDVISIT_BLOB_URL": blobs} if blobs else {})},
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError((self.folder / "server.log").read_text(errors="replace")[-2000:])
        users = self.api("sup.a").get("/v1/users").json()
        self.users = {u["username"]: u["id"] for u in users.get("items", users) if isinstance(u, dict)}
        return self

    def stop(self) -> None:
        for c in self.clients.values():
            c.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def api(self, username: str) -> httpx.Client:
        if username not in self.clients:
            c = httpx.Client(base_url=self.url, timeout=30)
            r = c.post("/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD,
                                               "device_name": f"{username}-test"})  # fmt: skip
            assert r.status_code == 200, r.text
            c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            self.devices[username] = {**r.json(), "next": 1}
            self.clients[username] = c
        return self.clients[username]

    # -- the loan system and the supervisor ---------------------------------------------------------------
    def import_visit(self, **overrides: Any) -> tuple[str, str]:
        self.made += 1
        rec = generate_import_records(1, seed=11, team="hz-a", start=self.made)[0]
        rec.update(
            external_id=f"TRK-{uuid.uuid4().hex[:10]}",
            product_type="consumer_instalment",
            outstanding_principal="12000.00",
            monthly_rate="0.015",
            contractual_instalment="1100.16",
            dpd=40,
            broken_ptp_count=0,
            contact_lost=False,
            days_since_last_contact=5,
        )
        rec.update(overrides)
        r = self.api("sup.a").post("/v1/visits/import", json={"records": [rec]})
        assert r.status_code == 200 and not r.json()["errors"], r.text
        return r.json()["visits"][0]["visit_id"], rec["external_id"]

    def assign(
        self,
        visit_id: str,
        planned: str,
        *,
        pair: tuple[str, str] = ("inv.a1", "inv.a2"),
        purpose: str = "debtor",
    ) -> httpx.Response:
        return self.api("sup.a").post(
            f"/v1/visits/{visit_id}/assign",
            json={
                "investigator_ids": [self.users[u] for u in pair],
                "planned_date": planned,
                "purpose": purpose,
            },
        )

    def approve(self, report_id: str, sign_off_reason: str = "") -> dict[str, Any]:
        c = self.api("sup.a")
        etag = c.get(f"/v1/reports/{report_id}").headers["ETag"]
        r = c.post(
            f"/v1/reports/{report_id}/review",
            headers={"If-Match": etag},
            json={"action": "approve", "comment": "agreed", "sign_off_reason": sign_off_reason},
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    def visit(self, visit_id: str, as_user: str = "sup.a") -> httpx.Response:
        return self.api(as_user).get(f"/v1/visits/{visit_id}")

    def feed(self) -> list[dict[str, Any]]:
        r = self.api("sup.a").get("/v1/feed", params={"limit": 1000})
        assert r.status_code == 200, r.text
        FeedPage.model_validate(r.json())  # the shape /openapi.json documents
        return list(r.json()["events"])

    # -- a device -------------------------------------------------------------------------------------------
    def push(self, username: str, report: dict[str, Any]) -> dict[str, Any]:
        c = self.api(username)
        dev = self.devices[username]
        m = mutation(dev["next"], report)
        dev["next"] += 1
        r = c.post("/v1/sync/push", json={"device_id": dev["device_id"], "server_epoch": dev["server_epoch"],
                                          "mutations": [m]})  # fmt: skip
        assert r.status_code == 200, r.text
        res = r.json()["results"][0]
        assert res["status"] == "applied", res
        return dict(res)


def report_on(visit_id: str, checkin: str, **changes: Any) -> dict[str, Any]:
    """The protocol's example report on a visit, checked in at `checkin` (collectors inv.a1 and inv.a2)."""
    rep = example_report(visit_id)
    rep["checkin"]["at"] = checkin
    rep["checkout"] = None
    for key, value in changes.items():
        if value is None:
            rep.pop(key, None)
        else:
            rep[key] = value
    return rep


def promise_report(visit_id: str, checkin: str, amount: str, on: str) -> dict[str, Any]:
    """A visit where the borrower promises to pay `amount` by `on` (no plan)."""
    rep = report_on(visit_id, checkin, plan=None)
    rep["interview"]["results"] = ["PTP"]
    rep["interview"]["promise"] = {"amount": amount, "date": on}
    return rep


def absent_report(visit_id: str, checkin: str, outcome: str = "NO_ONE_HOME") -> dict[str, Any]:
    """An attempt that did not reach the borrower: no interview, household or plan."""
    return report_on(visit_id, checkin, outcome=outcome, interview=None, assessment=None, plan=None)
