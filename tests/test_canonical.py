"""Canonical JSON: the server's fast path (orjson) writes exactly the bytes of the device's definition (json)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.canonical import JsonFloat, canonical_json, loads_json
from models.report import EXAMPLE_REPORT
from sync.server.canonical import canonical_json_parsed

_text = st.text(st.characters(codec="utf-8"), max_size=20) | st.sampled_from(
    ["", "é", "张三", "\u2028", "\x7f"]
)
_numbers = st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False, allow_infinity=False)
_json = st.recursive(
    st.none() | st.booleans() | _numbers | _text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_text, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_fast_path_writes_the_definitions_bytes_for_any_parsed_json(value: Any) -> None:
    parsed = loads_json(json.dumps(value))
    assert canonical_json_parsed(parsed) == canonical_json(parsed) == canonical_json(value)


def test_numbers_keep_their_python_spelling() -> None:
    parsed = loads_json("[1e16, 1e-7, 0.1, 100.0, 18446744073709551616, -0.0]")
    assert all(isinstance(v, JsonFloat) for v in (parsed[0], parsed[1], parsed[2], parsed[3], parsed[5]))
    assert canonical_json_parsed(parsed) == b"[1e+16,1e-07,0.1,100.0,18446744073709551616,-0.0]"


def test_keys_sort_by_code_point_and_text_is_kept_as_it_is() -> None:
    value = {"b": 1, "a": {"é": "张三\n\t\x01", "Z": [True, None]}, "\U0001f600": "\u2028"}
    parsed = loads_json(json.dumps(value))
    assert canonical_json_parsed(parsed) == canonical_json(value)
    assert canonical_json_parsed(parsed).startswith(b'{"a":{"Z":[true,null],"\xc3\xa9":"\xe5\xbc\xa0')


def test_the_example_report_hashes_the_same_both_ways() -> None:
    parsed = loads_json(json.dumps(EXAMPLE_REPORT))
    assert canonical_json_parsed(parsed) == canonical_json(EXAMPLE_REPORT)


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_nan_and_infinity_are_not_json(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        loads_json(text)


def test_a_lone_surrogate_cannot_be_canonical() -> None:
    parsed = loads_json('{"notes": "x\\ud800y"}')
    with pytest.raises(UnicodeEncodeError):
        canonical_json_parsed(parsed)
