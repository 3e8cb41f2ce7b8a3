#!/usr/bin/env bash
# Creates .venv with everything FieldVisit needs (idempotent; reinstalls when pyproject.toml changes).
# Usage: source from scripts/test and scripts/run; set FV_NEED_BROWSER=1 to ensure Debian's chromium.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
STAMP=.venv/.fieldvisit-installed
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$STAMP"
fi
# The server tests run on PostgreSQL too, on a private cluster they start (tests/helpers/postgres.py).
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && ! command -v postgres >/dev/null; then
  SUDO=""
  [ "$(id -u)" != "0" ] && command -v sudo >/dev/null && SUDO="sudo"
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null || \
    echo "bootstrap: could not install postgresql; the PostgreSQL tests will be skipped" >&2
fi
if [ "${FV_NEED_BROWSER:-0}" = "1" ] && [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  [ "$(id -u)" != "0" ] && command -v sudo >/dev/null && SUDO="sudo"
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
