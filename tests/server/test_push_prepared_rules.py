"""A big push is checked against the rule book before the writer, against its visits as read then; the
writer reuses those evaluations only while the visits read the same, and checks again when one changed
in between."""

from __future__ import annotations

from typing import Any

import pytest

from sync.server.routers import sync as sync_router
from sync.server.store import push as push_module

from .conftest import Server, example_report, mutation, push

BATCH = 6  # more than the 4 a push prepares on the event loop


def _count_evaluations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    real = push_module.evaluate

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(push_module, "evaluate", counting)
    return calls


def test_unchanged_visits_are_evaluated_once_before_the_writer(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    vid = server.new_visit()
    calls = _count_evaluations(monkeypatch)
    reports = [example_report(vid) for _ in range(BATCH)]
    r = push(server, "inv.a1", [mutation(i + 1, rep) for i, rep in enumerate(reports)])
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["applied"] * BATCH
    assert all("product_mismatch" not in x["flags"] for x in r.json()["results"]), r.json()["results"][0][
        "flags"
    ]
    assert calls[0] == BATCH


# Committed by another request after the push read its visits: the loan is now a cash loan, or the caller
# is no longer one of the visit's collectors.
CHANGES = {
    "product_mismatch": (
        "UPDATE visits SET data = json_set(data, '$.loan.product_type', 'cash_loan') WHERE id = ?",
        False,
    ),
    "visit_reassigned": ("UPDATE visit_assignees SET active = 0 WHERE visit_id = ? AND user_id = ?", True),
}


@pytest.mark.parametrize("flag", sorted(CHANGES))
def test_a_visit_changed_between_the_read_and_the_writer_is_checked_again(
    server: Server, monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    vid = server.new_visit()
    db = server.client.app.state.ctx.db  # type: ignore[attr-defined]
    sql, with_user = CHANGES[flag]
    args = [vid, server.users["inv.a1"]] if with_user else [vid]
    real_cases = sync_router.visit_cases

    def read_then_change(d: Any, **kwargs: Any) -> Any:
        cases = real_cases(d, **kwargs)
        db.write_sync(lambda w: w.execute(sql, args))
        return cases

    monkeypatch.setattr(sync_router, "visit_cases", read_then_change)
    calls = _count_evaluations(monkeypatch)
    reports = [example_report(vid) for _ in range(BATCH)]
    r = push(server, "inv.a1", [mutation(i + 1, rep) for i, rep in enumerate(reports)])
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["applied"] * BATCH
    assert all(flag in x["flags"] for x in results), results[0]
    assert calls[0] == 2 * BATCH  # before the writer, and again on it
    stored = server.client.get(f"/v1/reports/{reports[0]['report_id']}", headers=server.h("sup.a"))
    assert flag in stored.json()["flags"]


def test_mutations_of_one_push_see_what_the_earlier_ones_wrote(server: Server) -> None:
    """The push reads its rows for the whole batch at once; a row an earlier mutation wrote is read again."""
    vid, other = server.new_visit(), server.new_visit()
    first, second = example_report(vid), example_report(vid)
    amended = dict(first, notes="补充：借款人愿意每月还款")
    v1 = "0190a0b0-0000-7000-8000-000000000001"
    muts = [
        mutation(1, first, version_id=v1),
        mutation(2, amended, base_version=1, kind="amend_report"),
        mutation(3, second),
        mutation(4, first, version_id=v1),  # the first version again: already stored
        mutation(5, amended, base_version=1, kind="amend_report"),  # based on a version now superseded
        mutation(6, example_report(other)),
    ]
    r = push(server, "inv.a1", muts)
    assert r.status_code == 200, r.text
    got = [(x["status"], x["server_version"]) for x in r.json()["results"]]
    assert got == [
        ("applied", 1),
        ("applied", 2),
        ("applied", 1),
        ("applied", 1),
        ("conflict", 2),
        ("applied", 1),
    ]
    stored = server.client.get(f"/v1/reports/{first['report_id']}", headers=server.h("sup.a")).json()
    assert stored["server_version"] == 2
    visit = server.client.get(f"/v1/visits/{vid}", headers=server.h("sup.a")).json()
    assert visit["status"] == "visited"
