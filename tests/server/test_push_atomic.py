"""Push atomicity: a mutation that fails midway rolls back alone, is answered `internal`, and still advances
the device's counter; the mutations around it apply normally."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sync.server.store import push as push_module

from .conftest import Server, example_report, mutation, push


def test_push_mutation_failing_midway_rolls_back_alone_and_others_apply(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    vid = server.new_visit()
    reports = [example_report(vid) for _ in range(3)]
    versions = [str(uuid.uuid4()) for _ in range(3)]
    real_dumps = push_module.dumps

    def failing_dumps(value: Any) -> str:
        # The audit detail is written after the report row, its version and the visit status.
        if isinstance(value, dict) and value.get("version_id") == versions[1]:
            raise RuntimeError("disk trouble")
        return real_dumps(value)

    monkeypatch.setattr(push_module, "dumps", failing_dumps)
    r = push(
        server, "inv.a1", [mutation(i + 1, rep, version_id=versions[i]) for i, rep in enumerate(reports)]
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["last_mutation_id"] == 3
    assert [x["status"] for x in body["results"]] == ["applied", "rejected", "applied"]
    assert body["results"][1]["error"] == "internal"

    db = server.client.app.state.ctx.db  # type: ignore[attr-defined]

    def count(sql: str, *args: Any) -> int:
        return int(db.read_sync(lambda d: d.execute(sql, list(args)).fetchone()[0]))

    failed = reports[1]["report_id"]
    assert count("SELECT count(*) FROM reports WHERE id = ?", failed) == 0
    assert count("SELECT count(*) FROM report_versions WHERE version_id = ?", versions[1]) == 0
    assert count("SELECT count(*) FROM changes WHERE entity_id = ?", failed) == 0
    assert count("SELECT count(*) FROM audit WHERE entity_id = ?", failed) == 0
    for ok in (reports[0], reports[2]):
        assert count("SELECT count(*) FROM reports WHERE id = ?", ok["report_id"]) == 1
        assert count("SELECT count(*) FROM changes WHERE entity_id = ?", ok["report_id"]) == 2
    rows = db.read_sync(
        lambda d: d.execute(
            "SELECT mutation_id, status, error FROM mutations ORDER BY mutation_id"
        ).fetchall()
    )
    assert [tuple(x) for x in rows] == [
        (1, "applied", None),
        (2, "rejected", "internal"),
        (3, "applied", None),
    ]
    assert server.client.get(f"/v1/reports/{failed}", headers=server.h("inv.a1")).status_code == 404

    # Nothing of the failed mutation remained: the same version goes through once the trouble is over.
    monkeypatch.setattr(push_module, "dumps", real_dumps)
    again = push(server, "inv.a1", [mutation(4, reports[1], version_id=versions[1])])
    assert again.json()["results"][0]["status"] == "applied"
    dup = push(server, "inv.a1", [mutation(2, reports[1], version_id=versions[1])])
    assert dup.json()["results"][0]["original"] == {
        "status": "rejected",
        "server_version": None,
        "error": "internal",
    }


def _fail_inserting_version(server: Server, backend: str, version_id: str) -> None:
    """The database itself refuses to store one version (as a full disk or a broken constraint would)."""
    db = server.client.app.state.ctx.db  # type: ignore[attr-defined]
    if backend == "postgres":

        def make(d: Any) -> None:
            d.conn.raw.execute(
                "CREATE FUNCTION refuse_version() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.version_id = '{version_id}' THEN RAISE EXCEPTION 'disk trouble'; END IF; "
                "RETURN NEW; END $$"
            )
            d.conn.raw.execute(
                "CREATE TRIGGER refuse_version BEFORE INSERT ON report_versions "
                "FOR EACH ROW EXECUTE FUNCTION refuse_version()"
            )
    else:

        def make(d: Any) -> None:
            d.execute(
                "CREATE TRIGGER refuse_version BEFORE INSERT ON report_versions "
                f"WHEN NEW.version_id = '{version_id}' BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
            )

    db.write_sync(make)


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_push_mutation_the_database_refuses_rolls_back_alone_wherever_it_is_in_the_push(
    server: Server, backend: str, failing: int
) -> None:
    vid = server.new_visit()
    reports = [example_report(vid) for _ in range(3)]
    versions = [str(uuid.uuid4()) for _ in range(3)]
    _fail_inserting_version(server, backend, versions[failing])

    r = push(
        server, "inv.a1", [mutation(i + 1, rep, version_id=versions[i]) for i, rep in enumerate(reports)]
    )

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["last_mutation_id"] == 3
    expected = ["applied"] * 3
    expected[failing] = "rejected"
    assert [x["status"] for x in body["results"]] == expected
    assert body["results"][failing]["error"] == "internal"
    db = server.client.app.state.ctx.db  # type: ignore[attr-defined]
    stored = db.read_sync(lambda d: [r[0] for r in d.execute("SELECT id FROM reports").fetchall()])
    assert sorted(stored) == sorted(rep["report_id"] for i, rep in enumerate(reports) if i != failing)
    audited = db.read_sync(
        lambda d: d.execute(
            "SELECT count(*) FROM audit WHERE entity_id = ?", [reports[failing]["report_id"]]
        ).fetchone()[0]
    )
    assert audited == 0


@pytest.mark.parametrize("batch", [2, 6])  # prepared on the event loop, and on a worker thread with the rules
def test_push_mutation_failing_while_prepared_is_rejected_alone_and_the_others_apply(
    server: Server, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    vid = server.new_visit()
    reports = [example_report(vid) for _ in range(batch)]
    bad = reports[1]["report_id"]
    real_canonical = push_module.canonical_json_parsed

    def failing_canonical(raw: Any) -> bytes:
        # A defect the second report alone meets before the writer (e.g. in its hashing or its rules).
        if isinstance(raw, dict) and raw.get("report_id") == bad:
            raise ArithmeticError("a defect")
        return real_canonical(raw)

    monkeypatch.setattr(push_module, "canonical_json_parsed", failing_canonical)
    r = push(server, "inv.a1", [mutation(i + 1, rep) for i, rep in enumerate(reports)])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["last_mutation_id"] == batch
    statuses = [x["status"] for x in body["results"]]
    assert statuses == ["applied", "rejected", *["applied"] * (batch - 2)]
    assert body["results"][1]["error"] == "internal"


def test_push_applies_a_plan_whose_rate_is_too_small_to_move_the_balance(server: Server) -> None:
    vid = server.new_visit()
    rep = example_report(vid)
    rep["plan"]["monthly_rate"] = "0." + "0" * 40 + "1"
    for figure in ("instalment", "total_payment", "apr_simple", "apr_compound"):
        rep["plan"].pop(figure, None)
    later = example_report(vid)
    r = push(server, "inv.a1", [mutation(1, rep), mutation(2, later)])
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["applied", "applied"]
    preview = server.client.post(
        "/v1/plans/preview",
        headers=server.h("inv.a1"),
        json={
            "method": "annuity",
            "principal": "1200.00",
            "term_months": 12,
            "monthly_rate": "0." + "0" * 40 + "1",
        },
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["instalment"] == "100.00"


def test_push_rejects_a_base_version_beyond_any_version_and_applies_the_next(server: Server) -> None:
    vid = server.new_visit()
    r = push(
        server,
        "inv.a1",
        [mutation(1, example_report(vid), base_version=2**63), mutation(2, example_report(vid))],
    )
    assert r.status_code == 200, r.text
    first, second = r.json()["results"]
    assert (first["status"], first["error"]) == ("rejected", "validation")
    assert first["details"][0]["loc"] == ["base_version"]
    assert second["status"] == "applied"
    assert r.json()["last_mutation_id"] == 2


def test_push_rejects_a_kind_it_does_not_know_as_validation_naming_the_kind(server: Server) -> None:
    vid = server.new_visit()
    r = push(
        server,
        "inv.a1",
        [mutation(1, example_report(vid), kind="update_weather"), mutation(2, example_report(vid))],
    )
    first, second = r.json()["results"]
    assert (first["status"], first["error"], first["details"][0]["loc"]) == (
        "rejected",
        "validation",
        ["kind"],
    )
    assert second["status"] == "applied" and r.json()["last_mutation_id"] == 2
