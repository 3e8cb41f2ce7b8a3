"""Canonical JSON and content hashes of reports (protocol.md: the hash is the same in every language)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "content_sha256"]


def canonical_json(obj: Any) -> bytes:
    """UTF-8, keys sorted, no insignificant whitespace, non-ASCII kept as it is."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_sha256(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj)).hexdigest()
