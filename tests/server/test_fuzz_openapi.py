"""Property-based fuzzing of a running `fieldvisit serve` from its own OpenAPI schema (schemathesis).

No generated request may produce a 5xx, and every documented response must match its schema.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.core.result import Err

from models.demo_data import generate_import_records
from tests.helpers.pg_fixtures import BACKENDS
from tests.helpers.postgres import PgCluster

FIELDVISIT = [str(Path(sys.executable).with_name("fieldvisit"))]
# A deeper, random run: FIELDVISIT_FUZZ_EXAMPLES=300 FIELDVISIT_FUZZ_RANDOM=1 pytest tests/server/test_fuzz_openapi.py
EXAMPLES = int(os.environ.get("FIELDVISIT_FUZZ_EXAMPLES", "25"))
DERANDOMIZE = os.environ.get("FIELDVISIT_FUZZ_RANDOM", "") != "1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, Any]]:
    """`fieldvisit serve` on a SQLite file or on a fresh PostgreSQL database (blobs in a temporary
    directory), with sup.a, inv.a1, inv.a2 and 20 visits of team hz-a."""
    tmp = tmp_path_factory.mktemp("fuzz")
    env = dict(os.environ, FIELDVISIT_ARGON2_TIME_COST="1", FIELDVISIT_ARGON2_MEMORY_KIB="1024")
    cluster: PgCluster | None = None
    if request.param == "postgres":
        cluster = request.getfixturevalue("pg_cluster")
        db = cluster.new_database()
        where = ["--database-url", db]
        env["FIELDVISIT_BLOB_URL"] = (tmp / "blobs").resolve().as_uri()
    else:
        db = str(tmp / "fv.db")
        where = ["--db", db]
        env["FIELDVISIT_DB"] = db
    try:
        yield from _serve(tmp, where, env)
    finally:
        if cluster is not None:
            cluster.drop_database(db)


def _serve(tmp: Path, where: list[str], env: dict[str, str]) -> Iterator[dict[str, Any]]:
    for name, role in (("sup.a", "supervisor"), ("inv.a1", "investigator"), ("inv.a2", "investigator")):
        subprocess.run(
            [
                *FIELDVISIT,
                "users",
                "add",
                name,
                "--password",
                "demo1234",
                "--role",
                role,
                "--team",
                "hz-a",
                "--district",
                "西湖区,上城区,拱墅区,余杭区",
                *where,
            ],
            check=True,
            env=env,
            capture_output=True,
        )
    file = tmp / "visits.json"
    file.write_text(json.dumps({"records": generate_import_records(20, team="hz-a")}, ensure_ascii=False))
    subprocess.run([*FIELDVISIT, "import", str(file), *where], check=True, env=env, capture_output=True)
    port = _free_port()
    proc = subprocess.Popen(
        [*FIELDVISIT, "serve", "--host", "127.0.0.1", "--port", str(port), *where],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("fieldvisit serve did not start")
    token = httpx.post(
        url + "/v1/auth/login", json={"username": "sup.a", "password": "demo1234", "device_name": "fuzz"}
    ).json()["access_token"]
    try:
        yield {"url": url, "headers": {"Authorization": f"Bearer {token}"}}
    finally:
        proc.terminate()
        proc.wait(10)


def _operations() -> dict[str, Any]:
    import tempfile

    from sync.server import Settings, create_app

    with tempfile.TemporaryDirectory() as d:
        spec = create_app(Settings(db=str(Path(d) / "schema.db"))).openapi()
    loaded = schemathesis.openapi.from_dict(spec)
    operations = {}
    for result in loaded.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations[result.ok().label] = result.ok()
    return operations


@schemathesis.serializer("application/offset+octet-stream")
def _upload_chunk(ctx: Any, value: Any) -> Any:
    """A resumable upload's chunk is raw bytes, as for application/octet-stream."""
    from schemathesis.transport.requests import binary_serializer

    return binary_serializer(ctx, value)


OPERATIONS = _operations()


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_api_answers_without_5xx_and_within_schema_when_fuzzed(label: str, live: dict[str, Any]) -> None:
    operation = OPERATIONS[label]
    statuses: list[int] = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE
    )
    def fuzz(case: Any) -> None:
        if case.path == "/v1/devices/{device_id}/revoke":
            # Revoking the fuzzer's own device would end the run; other device ids are fuzzed as usual.
            case.path_parameters = {
                "device_id": "fuzz-" + str(case.path_parameters.get("device_id", ""))[:20]
            }
        response = case.call_and_validate(
            base_url=live["url"],
            headers=live["headers"],
            checks=[not_a_server_error, response_schema_conformance],
        )
        statuses.append(response.status_code)

    fuzz()
    assert statuses, label
    if label not in ("POST /v1/auth/refresh", "POST /v1/auth/login"):
        # The fuzzer really reached the handlers: not every answer was the authentication gate's 401.
        assert any(code != 401 for code in statuses), (label, statuses)
