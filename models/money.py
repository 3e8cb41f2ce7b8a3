"""Money and rates as Decimal: the one place where amounts are parsed, rounded and printed.

Amounts on the wire are ASCII strings with exactly two decimals ("1100.16"); rates and other decimals are
ASCII decimal strings ("0.015"). Wire values are strict (protocol v1.1 "Strict values on the wire"): no
separators, spaces, exponents or full-width digits, and no JSON numbers. What a person types is made
canonical by `typed_input` before it reaches a model. A float never touches money.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

from models.canonical import JsonInt

__all__ = [
    "CENT",
    "ZERO",
    "DecStr",
    "Money",
    "NonNegMoney",
    "PosMoney",
    "Rate",
    "fmt_money",
    "fmt_rate",
    "money_text",
    "parse_decimal",
    "percent_text",
    "q2",
    "typed_input",
]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def q2(x: Decimal) -> Decimal:
    """Round half-up to 0.01 (domain F-3)."""
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt_money(x: Decimal) -> str:
    return str(q2(x))


def money_text(x: Decimal | str | None) -> str:
    """How an amount reads for people, in either language: thousands separators and two decimals
    ("8529.48" → "8,529.48"); the app's screens, the supervisor desk and the report PDF all write it so.
    Empty for no amount; a value that is not a number is shown as it came."""
    if x is None or x == "":
        return ""
    try:
        return f"{q2(Decimal(str(x))):,.2f}"
    except InvalidOperation:
        return str(x)


def percent_text(x: Decimal | str | None) -> str:
    """How a rate or a share reads for people: a percentage to two places, half-up (F-3), so that 0.01225
    reads 1.23% in the app, on the desk and in the report PDF alike. Empty for none; a value that is not a
    number is shown as it came."""
    if x is None or x == "":
        return ""
    try:
        d = Decimal(str(x))
    except InvalidOperation:
        return str(x)
    return f"{(d * 100).quantize(CENT, rounding=ROUND_HALF_UP)}%" if d.is_finite() else str(x)


def fmt_rate(x: Decimal, places: int = 4) -> str:
    return str(x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


# ASCII only: `[0-9]`, unlike `\d` or Decimal(), refuses full-width and other Unicode digits.
_WIRE_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?").fullmatch
_WIRE_MONEY = re.compile(r"-?[0-9]+\.[0-9]{2}").fullmatch


def _malformed(value: str, code: str, message: str) -> PydanticCustomError:
    # A string Decimal() would read (commas aside) is a number written the wrong way; anything else is
    # not a number at all.
    try:
        Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        return PydanticCustomError("fv.not_a_number", "is not a number")
    return PydanticCustomError(code, message)


def parse_decimal(value: Any, *, code: str = "decimal") -> Decimal:
    """Parse a wire decimal (an ASCII decimal string) or a Python int/Decimal into Decimal.

    Floats and bools are refused (they lose cents), and so are JSON numbers (`JsonInt`): on the wire every
    decimal is a string."""
    if isinstance(value, bool) or isinstance(value, float) or isinstance(value, JsonInt):
        raise PydanticCustomError(
            "fv.decimal_string", 'must be a decimal string such as "12.34", not a JSON number'
        )
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str):
        if _WIRE_DECIMAL(value) is None:
            raise _malformed(
                value,
                "fv.decimal_format",
                'must be a decimal such as "0.015": ASCII digits, no separators, spaces or exponent',
            )
        d = Decimal(value)
    else:
        raise PydanticCustomError("fv.not_a_number", "is not a number")
    if not d.is_finite():
        raise PydanticCustomError("fv.not_a_number", "is not a number")
    return d


# People group thousands with commas ("1,840.50"); a comma anywhere else is not a separator.
_GROUPED = re.compile(r"-?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?").fullmatch
_TYPED_INT = re.compile(r"-?[0-9]+").fullmatch


def typed_input(value: Any, kind: Literal["money", "decimal", "int"]) -> Any:
    """What a person typed into an amount, decimal or whole-number field, as its wire value.

    Full-width digits, surrounding spaces and thousands separators are how people type, not errors:
    "1,840" and "１８４０" are "1840.00" as money, "12" is 12 as an int. Anything else (blank, "abc", "12.5"
    as an int, three decimals as money) is returned as it came, so that the model reports the field with
    its own error code in the user's language. Non-strings are returned unchanged."""
    if not isinstance(value, str):
        return value
    s = unicodedata.normalize("NFKC", value).strip()
    if _GROUPED(s) is not None:
        s = s.replace(",", "")
    if kind == "int":
        return int(s) if _TYPED_INT(s) is not None else value
    if _WIRE_DECIMAL(s) is None:
        return value
    if kind == "money":
        d = Decimal(s)
        return fmt_money(d) if d == d.quantize(CENT) else s
    return s


def _money(value: Any) -> Decimal:
    if isinstance(value, str) and _WIRE_MONEY(value) is None:
        if _WIRE_DECIMAL(value) is not None and "." in value and len(value) - value.index(".") > 3:
            raise PydanticCustomError("fv.money_places", "at most 2 decimal places")
        raise _malformed(
            value, "fv.money_format", 'must be an amount such as "1100.16": ASCII digits and two decimals'
        )
    d = parse_decimal(value)
    exp = d.as_tuple().exponent
    if isinstance(exp, int) and exp < -2 and d != d.quantize(CENT):
        raise PydanticCustomError("fv.money_places", "at most 2 decimal places")
    if abs(d) >= Decimal("1e12"):
        raise PydanticCustomError("fv.money_too_large", "amount is too large")
    return d.quantize(CENT)


def _nonneg_money(value: Any) -> Decimal:
    d = _money(value)
    if d < 0:
        raise PydanticCustomError("fv.money_negative", "must not be negative")
    return d


def _pos_money(value: Any) -> Decimal:
    d = _money(value)
    if d <= 0:
        raise PydanticCustomError("fv.money_not_positive", "must be greater than 0")
    return d


def _rate(value: Any) -> Decimal:
    d = parse_decimal(value)
    if d < 0:
        raise PydanticCustomError("fv.rate_negative", "rate must not be negative")
    if d >= 1:
        raise PydanticCustomError("fv.rate_too_large", "rate must be a fraction below 1 (0.015 = 1.5%)")
    return d


def _dec(value: Any) -> Decimal:
    return parse_decimal(value)


# Amounts on the wire are nearly always canonical ("1100.16": digits, a point, two places, below 1e12). Such
# a string is its own quantized value, so it skips the general path; anything else takes it, with its
# errors. Parsed strings are remembered too (Decimals are immutable): reports and visits repeat the same
# figures across fields, resends and pages. Only successes are cached, so refusals stay exactly as above.
_CANONICAL_MONEY = re.compile(r"[0-9]{1,12}\.[0-9]{2}").fullmatch
_CACHE_MAX = 65536


def _remembered(
    slow: Callable[[Any], Decimal], *, money: bool = False, positive: bool = False
) -> Callable[[Any], Decimal]:
    """`slow` with its results for strings remembered. With `money`, a canonical amount is its own quantized
    value and skips `slow` the first time too (with `positive`, "0.00" still takes it, to be refused)."""
    cache: dict[str, Decimal] = {}

    def parse(value: Any) -> Decimal:
        if type(value) is not str:
            return slow(value)
        d = cache.get(value)
        if d is not None:
            return d
        if money and _CANONICAL_MONEY(value) is not None:
            d = Decimal(value)
            if positive and not d:
                d = slow(value)
        else:
            d = slow(value)
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[value] = d
        return d

    parse.__name__ = slow.__name__
    parse.__doc__ = slow.__doc__
    return parse


_money_v = _remembered(_money, money=True)
_nonneg_money_v = _remembered(_nonneg_money, money=True)
_pos_money_v = _remembered(_pos_money, money=True, positive=True)
_rate_v = _remembered(_rate)
_dec_v = _remembered(_dec)


_money_schema = WithJsonSchema(
    {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "examples": ["1100.16"]}
)


def _money_str(d: Decimal) -> str:
    # fmt_money() inlined: this runs for every amount of every model serialised.
    return str(d.quantize(CENT, rounding=ROUND_HALF_UP))


_str = PlainSerializer(_money_str, return_type=str, when_used="always")
# Positional notation always: str() would write 0.00000001 as "1E-8", which no wire field accepts.
_plain = PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="always")

Money = Annotated[Decimal, BeforeValidator(_money_v), _str, _money_schema]
NonNegMoney = Annotated[
    Decimal,
    BeforeValidator(_nonneg_money_v),
    _str,
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "examples": ["1100.16"]}),
]
PosMoney = Annotated[
    Decimal,
    BeforeValidator(_pos_money_v),
    _str,
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "examples": ["12000.00"]}),
]
Rate = Annotated[
    Decimal,
    BeforeValidator(_rate_v),
    _plain,
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "examples": ["0.015"]}),
]
DecStr = Annotated[
    Decimal,
    BeforeValidator(_dec_v),
    _plain,
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "examples": ["30.2741"]}),
]
