"""Wire values are strict (protocol v1.1); what people type is made canonical by `typed_input` first."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from models.canonical import MAX_JSON_DEPTH, loads_json
from models.messages import MESSAGES
from models.money import DecStr, Money, NonNegMoney, Rate, money_text, percent_text, typed_input

MONEY = TypeAdapter(NonNegMoney)
RATE = TypeAdapter(Rate)


def code_of(adapter: TypeAdapter[Any], value: Any) -> str:
    with pytest.raises(ValidationError) as exc:
        adapter.validate_python(value)
    return str(exc.value.errors()[0]["type"])


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("12,000.00", "fv.money_format"),
        ("１１００.１６", "fv.money_format"),
        (" 100.00", "fv.money_format"),
        ("100.00 ", "fv.money_format"),
        ("1e3", "fv.money_format"),
        ("100", "fv.money_format"),
        ("+100.00", "fv.money_format"),
        ("12.345", "fv.money_places"),
        ("abc", "fv.not_a_number"),
        (1100.16, "fv.decimal_string"),
        (True, "fv.decimal_string"),
    ],
)
def test_money_is_refused_with_its_code_when_not_an_ascii_amount_with_two_decimals(
    value: Any, code: str
) -> None:
    assert code_of(MONEY, value) == code
    assert code in MESSAGES


@pytest.mark.parametrize("value", ["0,015", "1.5e-2", "０.０１５", " 0.015", ".015", "0.015\n"])
def test_rate_is_refused_when_not_an_ascii_decimal(value: str) -> None:
    assert code_of(RATE, value) == "fv.decimal_format"


def test_money_accepts_decimals_and_ints_when_built_in_code() -> None:
    assert MONEY.validate_python(Decimal("1840.5")) == Decimal("1840.50")
    assert MONEY.validate_python(1840) == Decimal("1840.00")
    assert TypeAdapter(Money).validate_python("-5.00") == Decimal("-5.00")


def test_money_refuses_a_json_number_when_the_body_was_parsed_by_loads_json() -> None:
    parsed = loads_json('{"amount": 1840, "term": 12}')
    assert code_of(MONEY, parsed["amount"]) == "fv.decimal_string"
    assert parsed["term"] == 12 and json.dumps(parsed) == '{"amount": 1840, "term": 12}'


def test_rate_and_decimal_serialise_without_exponent_when_small() -> None:
    assert RATE.dump_python(RATE.validate_python("0.00000001"), mode="json") == "0.00000001"
    dec = TypeAdapter(DecStr)
    assert dec.dump_json(dec.validate_python("0.0000005")) == b'"0.0000005"'


@pytest.mark.parametrize(
    ("typed", "kind", "wire"),
    [
        ("1840", "money", "1840.00"),
        ("1,840.5", "money", "1840.50"),
        (" １８４０ ", "money", "1840.00"),
        ("１，８４０．００", "money", "1840.00"),
        ("-5", "money", "-5.00"),
        ("12.345", "money", "12.345"),  # left for the model: fv.money_places
        ("1,84", "money", "1,84"),  # not thousands grouping: left as typed
        ("abc", "money", "abc"),
        ("", "money", ""),
        (" 0.015 ", "decimal", "0.015"),
        ("12", "int", 12),
        ("１２", "int", 12),
        ("12.5", "int", "12.5"),
        (Decimal("3.10"), "money", Decimal("3.10")),
    ],
)
def test_typed_input_gives_the_wire_value_when_people_type_numbers_their_way(
    typed: Any, kind: Any, wire: Any
) -> None:
    assert typed_input(typed, kind) == wire


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_loads_json_refuses_with_a_decode_error_when_nested_beyond_the_limit(depth: int) -> None:
    with pytest.raises(json.JSONDecodeError):
        loads_json("[" * depth + "]" * depth, max_depth=MAX_JSON_DEPTH)


def test_loads_json_accepts_nesting_up_to_the_limit() -> None:
    deep = '{"a":' * (MAX_JSON_DEPTH - 1) + "[1]" + "}" * (MAX_JSON_DEPTH - 1)
    assert loads_json(deep, max_depth=MAX_JSON_DEPTH) is not None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("8529.48", "8,529.48"),
        ("1234567.005", "1,234,567.01"),
        ("-120.5", "-120.50"),
        ("0", "0.00"),
        (None, ""),
    ],
)
def test_money_text_writes_separators_and_two_decimals_when_shown_to_people(
    value: str | None, text: str
) -> None:
    assert money_text(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0.01225", "1.23%"),  # half-up (F-3); a float or Python's own rounding of halves reads 1.22%
        ("0.01235", "1.24%"),
        ("0.2314", "23.14%"),
        ("-0.01225", "-1.23%"),
        (Decimal("0.5"), "50.00%"),
        ("0", "0.00%"),
        (None, ""),
        ("n/a", "n/a"),
    ],
)
def test_percent_text_rounds_half_up_to_two_places_when_shown_to_people(value: Any, text: str) -> None:
    assert percent_text(value) == text
