"""`fieldvisit evaluate`, the operator's daily evaluation of plans and promises (protocol.md v1.1
"Repayments, plans and promises tracked"), run on the real clock beside a running server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.main import main as fieldvisit
from tests.helpers.pg_fixtures import backend_settings
from tests.server.test_tracking_evaluate import SHANGHAI, Clocked, _clocked


@pytest.fixture
def recent(tmp_path: Path, backend: str, database_location: str) -> Iterator[Clocked]:
    """A server whose clock stands ten days before the real time (the command runs on the real clock)."""
    yield from _clocked(tmp_path, backend, database_location, datetime.now(UTC) - timedelta(days=10))


def test_evaluate_prints_broken_promise_and_reopened_case_when_the_promise_date_passed(
    recent: Clocked,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
    tmp_path: Path,
) -> None:
    for name, value in backend_settings(backend, str(recent.db), tmp_path).items():
        monkeypatch.setenv(f"FIELDVISIT_{name.upper()}", value)
    # Evaluation touches no blob: on PostgreSQL too it runs without a blob store named.
    monkeypatch.delenv("FIELDVISIT_BLOB_URL", raising=False)
    start = recent.now[0]
    on = (start.astimezone(SHANGHAI).date() + timedelta(days=2)).isoformat()
    vid, rid = recent.promise_visit(start, "500.00", on)
    assert [p["state"] for p in recent.get(f"/v1/visits/{vid}").json()["promises"]] == ["open"]

    # The operator's scheduler runs on the real clock, next to the running server.
    assert fieldvisit(["evaluate", "--database-url", str(recent.db)]) == 0
    out = capsys.readouterr().out
    assert f"promise {rid} (visit {vid}): open -> broken" in out
    assert f"feed ptp_broken {rid} (visit {vid})" in out
    assert f"reopened for dispatch: visit {vid}" in out
    assert "1 changes, 1 feed events, 1 cases back in dispatch" in out

    recent.at(datetime.now(UTC))
    visit = recent.get(f"/v1/visits/{vid}").json()
    assert visit["status"] == "open" and [p["state"] for p in visit["promises"]] == ["broken"]
    printed = visit["borrower"]
    assert printed["name"] not in out and printed["phone"] not in out
    events = recent.get("/v1/feed", limit=100).json()["events"]
    assert [(e["type"], e["report_id"]) for e in events if e["type"] == "ptp_broken"] == [("ptp_broken", rid)]

    # A second run finds nothing new.
    assert fieldvisit(["evaluate", "--database-url", str(recent.db)]) == 0
    again = capsys.readouterr().out
    assert "0 changes, 0 feed events, 0 cases back in dispatch" in again and rid not in again
