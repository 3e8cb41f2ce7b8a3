"""The pull's overlap: the next page is fetched and prepared on a helper thread while the store writes the
current one, and a page that cannot be prepared is refused where it would be applied, after the pages
before it are written."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from storage.store import DeviceStore
from sync.client import ApiClient, SyncEngine
from tests.sync.conftest import signed_in
from tests.sync.fakes import FakeServer


def _review(i: int, status: str = "submitted") -> dict[str, Any]:
    return {
        "seq": i,
        "type": "report_review",
        "op": "put",
        "id": f"00000000-0000-4000-8000-{i:012d}",
        "data": {"server_version": 1, "status": status, "comments": []},
    }


def _engine(store: DeviceStore, fake: FakeServer) -> SyncEngine:
    api = ApiClient(store, httpx.Client(transport=fake.transport()), tokens=signed_in(store, fake))
    return SyncEngine(store, api, pull_limit=3)


def test_next_page_is_fetched_and_prepared_while_the_previous_is_written(
    store: DeviceStore, fake: FakeServer
) -> None:
    fake.changes = [_review(i) for i in range(1, 8)]
    prepared_ahead = threading.Event()
    prepare = store.prepare_pull_page

    def prepare_pull_page(resp: Any) -> Any:
        page = prepare(resp)
        if threading.current_thread().name == "fv-sync-ahead":
            prepared_ahead.set()
        return page

    waited: list[bool] = []
    apply_review = store._apply_review

    def _apply_review(*args: Any) -> None:
        # Inside the first page's transaction (the store's lock held): the second page still comes ready.
        if not waited:
            waited.append(prepared_ahead.wait(5))
        apply_review(*args)

    store.prepare_pull_page = prepare_pull_page  # type: ignore[method-assign]
    store._apply_review = _apply_review  # type: ignore[method-assign]

    rep = _engine(store, fake).sync()

    assert waited == [True]
    assert (rep.pages, rep.pulled) == (3, 7)
    assert store.sync_state().pull_cursor == "7"
    assert len(store.reports()) == 7


def test_page_that_cannot_be_prepared_is_refused_after_the_page_before_it_is_written(
    store: DeviceStore, fake: FakeServer
) -> None:
    fake.changes = [_review(1), _review(2), _review(3), _review(4), _review(5, status="lost"), _review(6)]

    with pytest.raises(ValidationError) as caught:
        _engine(store, fake).sync()

    assert "status" in str(caught.value)
    assert store.sync_state().pull_cursor == "3"
    assert len(store.reports()) == 3
