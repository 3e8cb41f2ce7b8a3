"""The phone build's dependencies: the base set resolves, from PyPI, to pure Python wheels and binary wheels at
versions Flet's mobile index hosts; the check names the distribution that breaks it."""

from __future__ import annotations

import re
import time
import tomllib

import pytest

from tests.phone.packaging_check import (
    INDEX_PATH,
    PYPROJECT,
    Distribution,
    ResolveFailed,
    base_requirements,
    load_index,
    problems,
    resolve,
)

# The base set before the dependencies were split by where they run: the server's orjson and the browser's
# flet-web rode along to the phone, and pydantic and msgpack floated to versions the index does not host.
UNSPLIT_BASE = [
    "flet==1.0.5",
    "flet-web==1.0.5",
    "flet-charts==1.0.5",
    "flet-geolocator==1.0.5",
    "httpx>=0.27,<1",
    "orjson>=3.10,<4",
    "pydantic>=2.7,<3",
    "sqlite-utils>=4,<5",
    "tzdata",
]


def _resolve(requirements: list[str]) -> list[Distribution]:
    started = time.monotonic()
    try:
        closure = resolve(requirements)
    except ResolveFailed as exc:
        pytest.fail(f"pip could not resolve the phone's dependencies: {exc}")
    assert time.monotonic() - started < 120
    return closure


def test_base_dependencies_resolve_to_wheels_a_phone_build_can_install_when_resolved_from_pypi() -> None:
    closure = _resolve(base_requirements())
    names = {d.name.lower().replace("_", "-") for d in closure}
    assert {"flet", "pydantic-core", "msgpack", "sqlite-utils", "httpx"} <= names, names
    found = problems(closure, load_index())
    assert found == [], "the phone build cannot install:\n" + "\n".join(found)


def test_check_names_orjson_and_unhosted_pins_when_the_base_set_is_not_split() -> None:
    found = "\n".join(problems(_resolve(UNSPLIT_BASE), load_index()))
    assert re.search(r"^orjson \S+ has native code .* does not host it", found, re.M), found
    assert re.search(r"^pydantic_core \S+ has native code .* hosts only .*2\.46\.4", found, re.M), found


def test_check_passes_pure_wheels_and_hosted_versions_when_given_a_closure() -> None:
    closure = [
        Distribution("httpx", "0.28.1", "httpx-0.28.1-py3-none-any.whl"),
        Distribution("six", "1.17.0", "six-1.17.0-py2.py3-none-any.whl"),
        Distribution("pydantic_core", "2.46.4", "pydantic_core-2.46.4-cp311-cp311-manylinux_2_17_x86_64.whl"),
        Distribution("msgpack", "1.1.2", "msgpack-1.1.2-cp311-cp311-manylinux2014_x86_64.whl"),
    ]
    assert problems(closure, load_index()) == []


def test_check_fails_naming_the_distribution_when_a_binary_wheel_is_unhosted_or_at_another_version() -> None:
    closure = [
        Distribution("orjson", "3.10.7", "orjson-3.10.7-cp311-cp311-manylinux_2_17_x86_64.whl"),
        Distribution("Pillow", "11.0.0", "pillow-11.0.0-cp311-cp311-manylinux_2_28_x86_64.whl"),
        Distribution("abi3thing", "1.0", "abi3thing-1.0-cp38-abi3-manylinux_2_17_x86_64.whl"),
    ]
    found = problems(closure, load_index())
    assert len(found) == 3, found
    assert found[0].startswith("abi3thing 1.0 has native code")
    assert found[1].startswith("orjson 3.10.7 has native code") and "does not host it" in found[1]
    assert found[2].startswith("Pillow 11.0.0 has native code") and "hosts only 10.4.0, 12.2.0" in found[2]


def test_mobile_index_names_its_sources_and_date_when_read() -> None:
    index = load_index()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", index.checked)
    assert any("pypi.flet.dev" in s or "binary-packages-android-ios" in s for s in index.sources)
    assert "2.46.4" in index.packages["pydantic-core"]
    assert INDEX_PATH.is_file()


def test_base_set_leaves_server_and_browser_packages_to_extras_when_read_from_pyproject() -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    base = {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() for r in project["dependencies"]}
    assert not base & {
        "orjson",
        "flet-web",
        "fastapi",
        "uvicorn",
        "pydantic-settings",
        "argon2-cffi",
        "fpdf2",
    }
    extras = project["optional-dependencies"]
    assert any(r.startswith("orjson") for r in extras["server"])
    assert any(r.startswith("flet-web") for r in extras["web"])
