"""Fixtures shared by the device-store tests: a fresh store in memory and one on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.store import DeviceStore
from tests.test_store_factories import new_store


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
