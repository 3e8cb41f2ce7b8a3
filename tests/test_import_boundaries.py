"""Layer boundaries (models ← storage ← sync ← app): each package, imported alone in a fresh interpreter,
pulls in none of the libraries its layer must not use. New modules are found by walking the packages.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Imports every module under a package in a fresh interpreter and reports, per module, which of the given
# top-level modules appeared in sys.modules because of it (and any module that failed to import).
PROBE = r"""
import importlib, importlib.util, json, pkgutil, sys
package, watched = sys.argv[1], set(json.loads(sys.argv[2]))
if importlib.util.find_spec(package.split(".")[0]) is None or importlib.util.find_spec(package) is None:
    print(json.dumps({"missing": True})); raise SystemExit
report, errors, names = {}, {}, [package]
for name in names:
    before = set(sys.modules)
    try:
        importlib.import_module(name)
    except Exception as exc:
        errors[name] = f"{type(exc).__name__}: {exc}"
    new = {m.split(".")[0] for m in set(sys.modules) - before if m.split(".")[0] != package.split(".")[0]}
    hit = sorted(new & watched)
    if hit:
        report[name] = hit
    mod = sys.modules.get(name)
    if name == package and hasattr(mod, "__path__"):
        names += sorted(m.name for m in pkgutil.walk_packages(mod.__path__, package + "."))
print(json.dumps({"modules": names, "forbidden": report, "errors": errors}))
"""

# Database and network client libraries; `models` is pure and uses none. (`socket` itself cannot be
# watched: pydantic loads it through the standard library's email package.)
IO_LIBS = {"sqlite3", "sqlite_utils", "httpx", "httpcore", "urllib3", "requests", "aiohttp"}
UI_LIBS = {
    "flet",
    "flet_web",
    "flet_charts",
    "flet_geolocator",
    "flet_camera",
    "flet_secure_storage",
    "flet_permission_handler",
}
SERVER_LIBS = {"fastapi", "uvicorn", "starlette"}
# What only the extras install (pyproject's `server` and `web`): the device code runs on a phone without them.
EXTRAS_LIBS = SERVER_LIBS | {
    "orjson",
    "flet_web",
    "pydantic_settings",
    "argon2",
    "fpdf",
    "websockets",
    "uvloop",
    "boto3",
    "botocore",
}

RULES = [
    ("models", IO_LIBS | UI_LIBS | EXTRAS_LIBS),
    ("storage", UI_LIBS | EXTRAS_LIBS | {"httpx", "httpcore", "urllib3", "requests"}),
    ("sync.client", UI_LIBS | EXTRAS_LIBS),
    ("sync.server", UI_LIBS),
    ("app", EXTRAS_LIBS),
]


def _probe(package: str, watched: set[str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, package, json.dumps(sorted(watched))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"},
    )
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(("package", "watched"), RULES, ids=[r[0] for r in RULES])
def test_package_imports_no_forbidden_library_when_imported_alone(package: str, watched: set[str]) -> None:
    result = _probe(package, watched)
    if result.get("missing"):
        pytest.skip(f"{package} does not exist yet")
    assert result["forbidden"] == {}, f"{package} pulls in forbidden libraries: {result['forbidden']}"
    assert result["modules"], package


def test_probe_detects_forbidden_library_when_one_is_imported() -> None:
    # The probe itself must be able to fail.
    result = _probe("storage", {"sqlite3", "sqlite_utils"})
    assert result["forbidden"] == {"storage.migrations": ["sqlite3", "sqlite_utils"]}


def test_models_modules_are_all_probed_when_walking_the_package() -> None:
    result = _probe("models", set())
    expected = {f"models.{p.stem}" for p in (ROOT / "models").glob("*.py") if p.stem != "__init__"}
    assert expected <= set(result["modules"])  # type: ignore[arg-type]
    assert result["errors"] == {}, result["errors"]


# The commands that only open the database (the demo runs `users add` once per demo user) start without
# importing the web framework, which is most of a command's start-up.
DATABASE_COMMANDS = [
    ["users", "add", "probe", "--password", "probe-password-1", "--role", "investigator", "--team", "hz-a"],
    ["users", "import", "{tmp}/team.json"],
    ["backup", "{tmp}/copy.db"],
    ["compact"],
    ["retention"],
    ["evaluate"],
]


def _imported(args: list[str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PYTHONPATH": str(ROOT),
            "PATH": "/usr/bin:/bin",
            "FIELDVISIT_ARGON2_TIME_COST": "1",
            "FIELDVISIT_ARGON2_MEMORY_KIB": "64",
        },
    )
    names = {
        line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")
    }
    return out, {n.split(".")[0] for n in names}


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=[" ".join(c[:2]) for c in DATABASE_COMMANDS])
def test_database_command_imports_no_web_framework_when_run(command: list[str], tmp_path: Path) -> None:
    from sync.server.db import Database

    Database(str(tmp_path / "fv.db")).close()  # a server's database, with its schema
    account = {"username": "probe.2", "password": "probe-password-2", "role": "investigator", "team": "hz-a"}
    (tmp_path / "team.json").write_text(json.dumps([account]), encoding="utf-8")
    args = [a.format(tmp=tmp_path) for a in command]
    out, imported = _imported(["-m", "cli.main", *args, "--db", str(tmp_path / "fv.db")])
    assert out.returncode == 0, out.stderr[-2000:]
    assert "sqlite_utils" in imported  # it did open the database
    assert not imported & {"fastapi", "uvicorn"}, sorted(imported & SERVER_LIBS)


def test_import_listing_names_the_web_framework_when_the_server_is_imported() -> None:
    # The listing the test above reads must be able to show fastapi.
    out, imported = _imported(["-c", "import sync.server.app"])
    assert out.returncode == 0, out.stderr[-2000:]
    assert {"fastapi", "starlette"} <= imported
