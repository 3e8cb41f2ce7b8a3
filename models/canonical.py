"""Canonical JSON and content hashes of reports (protocol.md: the hash is the same in every language).

`canonical_json` is the definition: UTF-8, keys sorted, no insignificant whitespace, non-ASCII kept as it
is — exactly Python's `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`.

The server hashes every report it receives, so it has a fast path with the same bytes: request bodies
parsed by `loads_json` (which marks every number with a fraction or exponent as a `JsonFloat` and refuses
NaN and Infinity, which are not JSON) go through `canonical_json_parsed`, which lets orjson write them and
falls back to the definition for anything orjson would write differently or cannot write: `JsonFloat`s
(float formatting differs between the two), integers beyond 64 bits and strings that are not valid Unicode.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson

__all__ = ["JsonFloat", "canonical_json", "canonical_json_parsed", "content_sha256", "loads_json"]


def canonical_json(obj: Any) -> bytes:
    """UTF-8, keys sorted, no insignificant whitespace, non-ASCII kept as it is."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_sha256(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj)).hexdigest()


class JsonFloat(float):
    """A JSON number with a fraction or an exponent, as `loads_json` returns it."""

    __slots__ = ()


def _not_json(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not a JSON value", name, 0)


def loads_json(data: bytes | str) -> Any:
    """Parse JSON as `json.loads` does, except that fractional numbers come back as `JsonFloat` and the
    NaN / Infinity extensions are refused (`json.JSONDecodeError`)."""
    return json.loads(data, parse_float=JsonFloat, parse_constant=_not_json)


_SORTED = orjson.OPT_SORT_KEYS


def canonical_json_parsed(obj: Any) -> bytes:
    """`canonical_json(obj)` for a value returned by `loads_json` (or built of str, int, bool, None, dict
    and list alone), several times faster."""
    try:
        return orjson.dumps(obj, option=_SORTED)
    except TypeError:  # a JsonFloat, an integer beyond 64 bits, a lone surrogate, a non-JSON type
        return canonical_json(obj)
