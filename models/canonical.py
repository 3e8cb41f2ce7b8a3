"""Canonical JSON and content hashes of reports (protocol.md: the hash is the same in every language).

`canonical_json` is the definition: UTF-8, keys sorted, no insignificant whitespace, non-ASCII kept as it
is — exactly Python's `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`.

`loads_json` parses request bodies and stored reports: it marks every number with a fraction or exponent as a
`JsonFloat`, every other number as a `JsonInt`, and refuses NaN and Infinity, which are not JSON. The
standard library alone, so the device (and the phone build) needs nothing more; the central server's fast
path with the same bytes is `sync.server.canonical.canonical_json_parsed`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = [
    "MAX_JSON_DEPTH",
    "JsonFloat",
    "JsonInt",
    "canonical_json",
    "content_sha256",
    "loads_json",
]

#: Deeper than any body of the protocol (a push body nests 7 levels: mutations, report, assessment, lines).
MAX_JSON_DEPTH = 32


def canonical_json(obj: Any) -> bytes:
    """UTF-8, keys sorted, no insignificant whitespace, non-ASCII kept as it is."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_sha256(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj)).hexdigest()


class JsonFloat(float):
    """A JSON number with a fraction or an exponent, as `loads_json` returns it."""

    __slots__ = ()


class JsonInt(int):
    """A JSON number without a fraction, as `loads_json` returns it: a decimal field can tell it from a
    Python int, and refuses it (decimals travel as strings)."""

    __slots__ = ()


def _not_json(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not a JSON value", name, 0)


_CONTAINERS = frozenset((dict, list))


def _deeper_than(value: Any, limit: int) -> bool:
    # Level by level, without recursion: the point is to refuse what recursion could not handle.
    level = [value]
    for _ in range(limit):
        level = [
            child
            for node in level
            for child in (node.values() if type(node) is dict else node)
            if type(child) in _CONTAINERS
        ]
        if not level:
            return False
    return True


def loads_json(data: bytes | str, *, max_depth: int | None = None) -> Any:
    """Parse JSON as `json.loads` does, except that numbers come back as `JsonFloat` (with a fraction or an
    exponent) or `JsonInt` (the others) and the NaN / Infinity extensions are refused.

    A value nested more than `max_depth` levels of arrays and objects is refused too, and so is one too
    deep for the parser's recursion at all: every refusal is a `json.JSONDecodeError`."""
    try:
        value = json.loads(data, parse_float=JsonFloat, parse_int=JsonInt, parse_constant=_not_json)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", "", 0) from None
    if max_depth is not None and type(value) in (dict, list) and _deeper_than(value, max_depth):
        raise json.JSONDecodeError(f"nested deeper than {max_depth} levels", "", 0)
    return value
