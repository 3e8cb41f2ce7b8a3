"""Fixtures for the server tests: a fresh app on a temporary database with the demo users of two teams."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.canonical import content_sha256
from models.demo_data import demo_users, generate_import_records
from models.report import VisitReport
from sync.server import Settings, create_app
from tests.helpers.pg_fixtures import (  # noqa: F401 - fixtures the server fixture uses
    BACKENDS,
    backend,
    backend_settings,
    database_location,
    pg_cluster,
    pg_url,
)

from .s3_local import local_s3  # noqa: F401 - a fixture the blob tests use


def fast_settings(db: Path | str, **kw: Any) -> Settings:
    return Settings(db=str(db), argon2_time_cost=1, argon2_memory_kib=64, **kw)


@dataclass
class Server:
    client: TestClient
    users: dict[str, str] = field(default_factory=dict)  # username -> user id
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def login(self, username: str, device_name: str = "phone") -> dict[str, Any]:
        r = self.client.post(
            "/v1/auth/login", json={"username": username, "password": "demo1234", "device_name": device_name}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        body["headers"] = {"Authorization": f"Bearer {body['access_token']}"}
        self.sessions[username] = body
        return body

    def h(self, username: str) -> dict[str, str]:
        if username not in self.sessions:
            self.login(username)
        return dict(self.sessions[username]["headers"])

    def import_records(self, records: list[dict[str, Any]], as_user: str = "sup.a") -> dict[str, Any]:
        r = self.client.post("/v1/visits/import", json={"records": records}, headers=self.h(as_user))
        assert r.status_code == 200, r.text
        return r.json()

    def new_visit(
        self,
        *,
        team: str = "hz-a",
        assign: tuple[str, str] | None = ("inv.a1", "inv.a2"),
        planned_date: str | None = "2026-11-20",
        **overrides: Any,
    ) -> str:
        rec = generate_import_records(1, seed=7, team=team, start=1 + len(self._made))[0]
        rec["external_id"] = f"{team}-T-{uuid.uuid4().hex[:10]}"
        # The loan the example report's plan restructures (a pay-later line, 12,000.00 at 1.5% a month), so
        # the example is a clean report on it for the rule book; tests override what they probe.
        rec.update(product_type="consumer_instalment", outstanding_principal="12000.00", monthly_rate="0.015")
        rec.update(overrides)
        self._made.append(rec["external_id"])
        out = self.import_records([rec], as_user="sup.a" if team == "hz-a" else "sup.b")
        assert not out["errors"], out
        vid = out["visits"][0]["visit_id"]
        if assign:
            sup = "sup.a" if team == "hz-a" else "sup.b"
            r = self.client.post(
                f"/v1/visits/{vid}/assign",
                headers=self.h(sup),
                json={"investigator_ids": [self.users[u] for u in assign], "planned_date": planned_date},
            )
            assert r.status_code == 200, r.text
        return vid

    _made: list[str] = field(default_factory=list)


def example_report(visit_id: str, report_id: str | None = None, **changes: Any) -> dict[str, Any]:
    extra = VisitReport.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    rep: dict[str, Any] = copy.deepcopy(extra["examples"][0])  # type: ignore[index, arg-type]
    rep["report_id"] = report_id or str(uuid.uuid4())
    rep["visit_id"] = visit_id
    rep.update(changes)
    return rep


def mutation(
    mid: int,
    report: dict[str, Any],
    *,
    base_version: int = 0,
    version_id: str | None = None,
    kind: str = "submit_report",
    blobs: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "mutation_id": mid,
        "kind": kind,
        "report_id": report["report_id"],
        "version_id": version_id or str(uuid.uuid4()),
        "base_version": base_version,
        "content_sha256": content_sha256(report),
        "blobs": blobs or [],
        "report": report,
    }


def push(server: Server, username: str, mutations: list[dict[str, Any]]) -> Any:
    s = server.sessions.get(username) or server.login(username)
    return server.client.post(
        "/v1/sync/push",
        headers=server.h(username),
        json={"device_id": s["device_id"], "server_epoch": s["server_epoch"], "mutations": mutations},
    )


# The blob tests run on both blob stores: the file system (the default) and an S3-compatible service.
BOTH_BLOB_STORES = ("test_pull_blobs", "test_resumable_uploads")
# The protocol tests run on both database backends: SQLite and PostgreSQL.
BOTH_BACKENDS: tuple[str, ...] = (
    "test_push",
    "test_push_atomic",
    "test_auth",
    "test_review",
    "test_visits",
    "test_pull_blobs",
    "test_sign_off",
    "test_rulebook_e2e",
    "test_strict_values",
    "test_tracking_e2e",
    "test_wire_contract",
    "test_users",
    "test_hardening",
    "test_shared_state",
    "test_desk",
    "test_refresh_grace",
    "test_security",
    "test_resumable_uploads",
    "test_blob_store",
    "test_tracking_evaluate",
    "test_cli_evaluate",
    "test_desk_tracking_labels",
    "test_malformed_input",
    "test_upload_pieces",
    "test_push_confirms_caller",
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "blob_settings" in metafunc.fixturenames and metafunc.module.__name__.endswith(BOTH_BLOB_STORES):
        metafunc.parametrize("blob_settings", ["file", "s3"], indirect=True)
    if "backend" in metafunc.fixturenames and metafunc.module.__name__.endswith(BOTH_BACKENDS):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def blob_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings of the blob store: none (the directory beside the database) or a fresh bucket on the
    local S3 server."""
    if getattr(request, "param", "file") != "s3":
        return {}
    s3 = request.getfixturevalue("local_s3")
    return {"blob_url": f"s3://{s3.new_bucket()}/blobs", "s3_endpoint": s3.endpoint}


@pytest.fixture
def server(
    tmp_path: Path,
    blob_settings: dict[str, Any],
    backend: str,  # noqa: F811 - the fixture imported above
    database_location: str,  # noqa: F811
) -> Iterator[Server]:
    app = create_app(
        fast_settings(
            database_location, **(backend_settings(backend, database_location, tmp_path) | blob_settings)
        ),
        clock=lambda: datetime(2026, 11, 20, 4, 0, tzinfo=UTC),
    )
    ctx = app.state.ctx
    users = {name: row["id"] for name, row in ctx.add_users(demo_users(), now=datetime.now(UTC)).items()}
    with TestClient(app) as client:
        yield Server(client=client, users=users)
