"""The device code in a virtual environment holding only the base dependencies (what a phone build installs),
against a real `fieldvisit serve` process started from the full environment: sign in, pull, fill and submit a
report, sync. The environment is cached under var/ by the hash of the base set, so reruns skip the install."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from models.demo_data import generate_import_records
from tests.app.journey_helpers import FIELDVISIT, Central
from tests.phone.packaging_check import base_requirements

ROOT = Path(__file__).resolve().parents[2]
VENVS = ROOT / "var" / "device-venv"
JOURNEY = Path(__file__).with_name("device_journey.py")
PASSWORD = "device-only-1"
TEAM = "hz-a"
INSTALL_TIMEOUT_S = 240


def _key(requirements: list[str]) -> str:
    text = "\n".join([sys.version.split()[0], *sorted(requirements)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def device_venv() -> Path:
    """A virtual environment with the base set installed and nothing else (built once per base set)."""
    requirements = base_requirements()
    folder = VENVS / _key(requirements)
    python = folder / "bin" / "python"
    ready = folder / ".ready"
    VENVS.mkdir(parents=True, exist_ok=True)
    with open(VENVS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists():
            return python
        shutil.rmtree(folder, ignore_errors=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(folder)], check=True, timeout=120)
        out = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
            capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
        )  # fmt: skip
        assert out.returncode == 0, f"the base set did not install:\n{out.stderr[-3000:]}"
        ready.write_text("\n".join(requirements), encoding="utf-8")
        for stale in VENVS.iterdir():
            if stale.is_dir() and stale != folder:
                shutil.rmtree(stale, ignore_errors=True)
    return python


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Central]:
    if not FIELDVISIT.exists():
        pytest.skip("the fieldvisit command is not installed in this environment")
    c = Central(folder=Path(tmp_path_factory.mktemp("device-env")), password=PASSWORD)
    c.add_user("sup.a", "supervisor", TEAM, "Supervisor A")
    c.add_user("inv.a1", "investigator", TEAM, "Investigator A1")
    c.add_user("inv.a2", "investigator", TEAM, "Investigator A2")
    c.import_records(generate_import_records(3, seed=15, team=TEAM))
    c.start()
    api = c.api("sup.a")
    try:
        visits = [v["visit_id"] for v in api.visits()]
        api.assign(visits, [c.users["inv.a1"], c.users["inv.a2"]], date.today() + timedelta(days=1))
    finally:
        api.close()
    yield c
    c.stop()


def test_device_code_signs_in_pulls_submits_and_syncs_when_only_the_base_set_is_installed(
    central: Central, tmp_path: Path
) -> None:
    python = device_venv()
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(listed.stdout)}
    assert not installed & {"orjson", "flet-web", "fastapi", "uvicorn", "pydantic-settings", "argon2-cffi"}
    assert {"flet", "flet-camera", "flet-geolocator", "flet-secure-storage", "pydantic-core"} <= installed

    started = time.monotonic()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0", "HOME": str(tmp_path)}
    out = subprocess.run(
        [str(python), "-s", str(JOURNEY), central.url, "inv.a1", PASSWORD, central.users["inv.a2"],
         str(tmp_path / "device")],
        capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, (
        f"{out.stdout[-2000:]}\n{out.stderr[-4000:]}\nserver:\n{central.proc.tail() if central.proc else ''}"
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["loaded_extras"] == [] and result["crashes"] == []
    assert result["queue"] == 3 and result["detail_texts"] > 0
    assert time.monotonic() - started < 150

    api = central.api("sup.a")
    try:
        reports = api.reports()
    finally:
        api.close()
    assert [(r["report_id"], r["visit_id"]) for r in reports] == [(result["report_id"], result["visit_id"])]


def test_device_venv_is_reused_when_the_base_set_is_unchanged() -> None:
    first = device_venv()
    mtime = (first.parent.parent / ".ready").stat().st_mtime
    assert device_venv() == first
    assert (first.parent.parent / ".ready").stat().st_mtime == mtime
    assert os.access(first, os.X_OK)
