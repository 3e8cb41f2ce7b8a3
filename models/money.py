"""Money and rates as Decimal: the one place where amounts are parsed, rounded and printed.

Amounts on the wire are strings with exactly two decimals ("1100.16"); rates are decimal strings
("0.015"). A float never touches money.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

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
    "parse_decimal",
    "q2",
]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def q2(x: Decimal) -> Decimal:
    """Round half-up to 0.01 (domain F-3)."""
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt_money(x: Decimal) -> str:
    return str(q2(x))


def fmt_rate(x: Decimal, places: int = 4) -> str:
    return str(x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def parse_decimal(value: Any, *, code: str = "decimal") -> Decimal:
    """Parse a str/int/Decimal into Decimal; floats and bools are refused (they lose cents)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise PydanticCustomError(
            "fv.decimal_string", 'must be a decimal string such as "12.34", not a float'
        )
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str):
        s = value.strip().replace(",", "")
        try:
            d = Decimal(s)
        except InvalidOperation:
            raise PydanticCustomError("fv.not_a_number", "is not a number") from None
    else:
        raise PydanticCustomError("fv.not_a_number", "is not a number")
    if not d.is_finite():
        raise PydanticCustomError("fv.not_a_number", "is not a number")
    return d


def _money(value: Any) -> Decimal:
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


_money_schema = WithJsonSchema({"type": "string", "pattern": r"^-?\d+\.\d{2}$", "examples": ["1100.16"]})


def _money_str(d: Decimal) -> str:
    # fmt_money() inlined: this runs for every amount of every model serialised.
    return str(d.quantize(CENT, rounding=ROUND_HALF_UP))


_str = PlainSerializer(_money_str, return_type=str, when_used="always")

Money = Annotated[Decimal, BeforeValidator(_money_v), _str, _money_schema]
NonNegMoney = Annotated[
    Decimal,
    BeforeValidator(_nonneg_money_v),
    _str,
    WithJsonSchema({"type": "string", "pattern": r"^\d+\.\d{2}$", "examples": ["1100.16"]}),
]
PosMoney = Annotated[
    Decimal,
    BeforeValidator(_pos_money_v),
    _str,
    WithJsonSchema({"type": "string", "pattern": r"^\d+\.\d{2}$", "examples": ["12000.00"]}),
]
Rate = Annotated[
    Decimal,
    BeforeValidator(_rate_v),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?$", "examples": ["0.015"]}),
]
DecStr = Annotated[
    Decimal,
    BeforeValidator(_dec_v),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["30.2741"]}),
]
