"""Fixtures shared by the device-store tests (a fresh store in memory and one on disk), and the order the
suite runs in.

`./scripts/test` spreads the suite over worker processes a whole file at a time (pytest-xdist's
`--dist loadfile`: a file's module fixtures are set up once and its tests keep their order), handing files
out in collection order. The files that take longest (those driving a browser or killing processes, marked
`browser` or `slow`) are therefore collected first, so that no worker is left with one of them after the
others have run out of files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.store import DeviceStore
from tests.test_store_factories import new_store

LONG_RUNNING = ("browser", "slow")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    long_files = {item.path for item in items if any(item.get_closest_marker(mark) for mark in LONG_RUNNING)}
    # A stable sort: files keep their relative order within each group, tests their order within a file.
    items.sort(key=lambda item: item.path not in long_files)


@pytest.fixture
def store() -> Iterator[DeviceStore]:
    s = new_store()
    yield s
    s.close()


@pytest.fixture
def disk_store(tmp_path: Path) -> Iterator[DeviceStore]:
    s = new_store(tmp_path / "user" / "store.db")
    yield s
    s.close()
