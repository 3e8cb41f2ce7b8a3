"""Time-ordered IDs (UUIDv7) minted by devices and the server."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from models import ids
from models.ids import new_id
from models.report import EXAMPLE_REPORT, VisitReport


def test_a_version_7_rfc_uuid_carrying_the_time() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000
    u = uuid.UUID(value)
    assert value == str(u)  # canonical lower-case form
    assert u.version == 7
    assert u.variant == uuid.RFC_4122
    assert before <= u.int >> 80 <= after


def test_ids_made_one_after_another_sort_one_after_another() -> None:
    made = [new_id() for _ in range(20_000)]  # many share a millisecond
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_threads_never_get_the_same_id() -> None:
    out: list[list[str]] = [[] for _ in range(4)]

    def mint(into: list[str]) -> None:
        into.extend(new_id() for _ in range(5_000))

    workers = [threading.Thread(target=mint, args=(o,)) for o in out]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    every = [i for o in out for i in o]
    assert len(set(every)) == len(every)
    for o in out:
        assert o == sorted(o)


def test_a_clock_stepping_back_does_not_break_the_order(monkeypatch: pytest.MonkeyPatch) -> None:
    first = new_id()
    now = time.time_ns()
    monkeypatch.setattr(ids.time, "time_ns", lambda: now - 60_000_000_000)  # a minute earlier
    later = [new_id() for _ in range(100)]
    assert [first, *later] == sorted([first, *later])
    assert len(set(later)) == 100


def test_the_counter_rolls_into_the_next_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    new_id()
    ms, _ = ids._last
    monkeypatch.setattr(ids, "_last", (ms, (1 << ids._RAND_BITS) - 1))  # the millisecond's space is spent
    monkeypatch.setattr(ids.time, "time_ns", lambda: ms * 1_000_000)
    u = uuid.UUID(new_id())
    assert u.int >> 80 == ms + 1
    assert u.version == 7


def test_reports_accept_them_as_ids() -> None:
    body = dict(EXAMPLE_REPORT, report_id=new_id(), visit_id=new_id())
    report = VisitReport.model_validate(body)
    assert report.report_id == body["report_id"]
