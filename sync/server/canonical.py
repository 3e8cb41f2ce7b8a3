"""The central server's fast canonical JSON: the bytes of `models.canonical.canonical_json`, written by orjson.

The server hashes every report it receives. Request bodies parsed by `models.canonical.loads_json` go
through `canonical_json_parsed`, which lets orjson write them and falls back to the definition for anything
orjson would write differently or cannot write: `JsonFloat`s (float formatting differs between the two),
integers beyond 64 bits and strings that are not valid Unicode. orjson is a server dependency only (the
`server` extra): it has no wheel for phones, so nothing on the device imports this module.
"""

from __future__ import annotations

from typing import Any

import orjson

from models.canonical import canonical_json

__all__ = ["canonical_json_parsed"]

_SORTED = orjson.OPT_SORT_KEYS


def canonical_json_parsed(obj: Any) -> bytes:
    """`canonical_json(obj)` for a value returned by `loads_json` (or built of str, int, bool, None, dict
    and list alone), several times faster."""
    try:
        return orjson.dumps(obj, option=_SORTED)
    except TypeError:  # a JsonFloat, an integer beyond 64 bits, a lone surrogate, a non-JSON type
        return canonical_json(obj)
