"""Reads the phone build's dependency closure as a packager would, and checks it against Flet's mobile index.

`flet build apk|ipa` installs `[project].dependencies` for the phone, binary wheels only, from PyPI and
Flet's mobile index. `resolve()` asks pip for the whole closure of a requirement list (a dry run into an
empty target, wheels only) and `problems()` names every distribution with native code at a version the
index (docs/flet-mobile-index.toml) does not host.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "INDEX_PATH",
    "PYPROJECT",
    "Distribution",
    "MobileIndex",
    "ResolveFailed",
    "base_requirements",
    "load_index",
    "problems",
    "resolve",
]

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
INDEX_PATH = ROOT / "docs" / "flet-mobile-index.toml"
RESOLVE_TIMEOUT_S = 110


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str
    filename: str  # the wheel pip chose

    @property
    def pure(self) -> bool:
        """A wheel tagged for no ABI and any platform (`py3-none-any`) carries no native code."""
        if not self.filename.endswith(".whl"):
            return False
        tags = self.filename[: -len(".whl")].split("-")[-3:]
        return len(tags) == 3 and tags[1] == "none" and tags[2] == "any"


@dataclass(frozen=True)
class MobileIndex:
    packages: dict[str, frozenset[str]]
    checked: str
    sources: tuple[str, ...]


class ResolveFailed(Exception):
    """pip could not resolve the requirements (no wheel, conflicting pins); the message is pip's."""


def load_index(path: Path = INDEX_PATH) -> MobileIndex:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    packages = {normalise(k): frozenset(v) for k, v in data["packages"].items()}
    return MobileIndex(packages=packages, checked=str(data["checked"]), sources=tuple(data["sources"]))


def base_requirements(path: Path = PYPROJECT) -> list[str]:
    """The base set: what the phone build installs."""
    return list(tomllib.loads(path.read_text(encoding="utf-8"))["project"]["dependencies"])


def resolve(requirements: list[str]) -> list[Distribution]:
    """The whole closure pip would install for `requirements` into an empty folder, wheels only."""
    with tempfile.TemporaryDirectory(prefix="fv-resolve-") as tmp:
        report = Path(tmp) / "report.json"
        cmd = [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
            "--disable-pip-version-check", "--only-binary", ":all:",
            "--target", str(Path(tmp) / "empty"), "--report", str(report), *requirements,
        ]  # fmt: skip
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=RESOLVE_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise ResolveFailed(f"pip did not resolve within {RESOLVE_TIMEOUT_S} s") from exc
        if out.returncode != 0 or not report.exists():
            raise ResolveFailed(out.stderr.strip() or out.stdout.strip())
        data = json.loads(report.read_text(encoding="utf-8"))
    return [
        Distribution(
            name=item["metadata"]["name"],
            version=item["metadata"]["version"],
            filename=item["download_info"]["url"].rsplit("/", 1)[-1],
        )
        for item in data["install"]
    ]


def problems(closure: list[Distribution], index: MobileIndex) -> list[str]:
    """One sentence per distribution the phone build could not install; empty when it can install them all."""
    out = []
    for dist in sorted(closure, key=lambda d: normalise(d.name)):
        if dist.pure:
            continue
        hosted = index.packages.get(normalise(dist.name))
        if hosted is None:
            out.append(
                f"{dist.name} {dist.version} has native code ({dist.filename}) and Flet's mobile index does "
                f"not host it: keep it out of the base dependencies (a server or web extra) or replace it"
            )
        elif dist.version not in hosted:
            out.append(
                f"{dist.name} {dist.version} has native code ({dist.filename}) and Flet's mobile index hosts "
                f"only {', '.join(sorted(hosted))}: pin a hosted version"
            )
    return out
