"""Resident ID numbers (GB 11643) and mainland mobile numbers: checks and pydantic validators.

The `is_valid_*` predicates take the exact wire form; the `validate_*` functions also accept the everyday
spellings people type (spaces, hyphens, a lower-case x, a +86 prefix) and return the wire form.
"""

from __future__ import annotations

import re
from datetime import date
from operator import mul
from typing import Any

from pydantic_core import PydanticCustomError

__all__ = [
    "gb11643_check_digit",
    "id_birth_date",
    "is_valid_id_number",
    "is_valid_mobile",
    "validate_id_number",
    "validate_id_number_form",
    "validate_mobile",
]

# GB 11643-1999: weight of position i (1-based) is 2^(18-i) mod 11; the check character is indexed by the
# weighted sum mod 11.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

# GB/T 2260 province-level codes; a number outside them was made up or mistyped.
_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)
_EARLIEST_BIRTH = date(1900, 1, 1)

_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
_DIGITS17_RE = re.compile(r"[0-9]{17}")
_SEPARATORS_RE = re.compile(r"[\s\-]")


def gb11643_check_digit(first17: str) -> str:
    """The check character ('0'–'9' or 'X') for the first 17 digits of a resident ID number."""
    if not _DIGITS17_RE.fullmatch(first17):
        raise ValueError("first17 must be exactly 17 ASCII digits")
    total = sum(map(mul, map(int, first17), _WEIGHTS))
    return _CHECK[total % 11]


def id_birth_date(s: str) -> date | None:
    """The birth date encoded in positions 7–14, or None when it is not a calendar date."""
    try:
        return date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return None


def _id_problem(s: str, today: date | None) -> str | None:
    """Why `s` is not a resident ID number in wire form, or None when it is one."""
    if len(s) != 18 or not _DIGITS17_RE.fullmatch(s[:17]) or s[17] not in _CHECK:
        return "resident ID number must be 17 digits followed by a digit or X"
    born = id_birth_date(s)
    if int(s[:2]) not in _PROVINCES or born is None or not _EARLIEST_BIRTH <= born <= (today or date.today()):
        return "resident ID number has an unknown region code or an impossible birth date"
    if gb11643_check_digit(s[:17]) != s[17]:
        return "resident ID number check digit does not match (mistyped digit?)"
    return None


def is_valid_id_number(s: str, *, today: date | None = None) -> bool:
    """True for an 18-character resident ID: known province, real birth date not after `today`, check digit.

    The check character must be an upper-case 'X' here; `validate_id_number` normalises input first.
    """
    return isinstance(s, str) and _id_problem(s, today) is None


def is_valid_mobile(s: str) -> bool:
    """True for an 11-digit mainland mobile number (1, then 3–9, then nine digits)."""
    return isinstance(s, str) and _MOBILE_RE.fullmatch(s) is not None


def validate_id_number(value: Any) -> str:
    """Pydantic before-validator: normalise (strip, drop spaces, upper-case X) and check a resident ID."""
    if not isinstance(value, str):
        raise PydanticCustomError(
            "fv.id_number_invalid", "resident ID number must be a string of 18 characters"
        )
    s = _SEPARATORS_RE.sub("", value).upper()
    problem = _id_problem(s, None)
    if problem is not None:
        raise PydanticCustomError("fv.id_number_invalid", problem)
    return s


def validate_id_number_form(value: Any) -> str:
    """Like `validate_id_number` (same normalisation, same error type) but checks only the form: 18
    characters, 17 digits then a digit or X. For data that was fully checked where it was entered (the
    server's import): the province, birth date and check digit are not recomputed on every copy of it."""
    if not isinstance(value, str):
        raise PydanticCustomError(
            "fv.id_number_invalid", "resident ID number must be a string of 18 characters"
        )
    s = value
    if len(s) == 18 and s.isascii() and s[:17].isdigit() and s[17] in _CHECK:
        return s  # already the wire form (nothing to strip or upper-case)
    s = _SEPARATORS_RE.sub("", value).upper()
    if len(s) != 18 or not _DIGITS17_RE.fullmatch(s[:17]) or s[17] not in _CHECK:
        raise PydanticCustomError(
            "fv.id_number_invalid", "resident ID number must be 17 digits followed by a digit or X"
        )
    return s


def validate_mobile(value: Any) -> str:
    """Pydantic before-validator: normalise (drop spaces, hyphens, a +86 prefix) and check a mobile number."""
    if not isinstance(value, str):
        raise PydanticCustomError("fv.phone_invalid", "mobile number must be a string of 11 digits")
    s = _SEPARATORS_RE.sub("", value)
    if s.startswith("+86"):
        s = s[3:]
    elif len(s) == 13 and s.startswith("86"):
        s = s[2:]
    if not is_valid_mobile(s):
        raise PydanticCustomError(
            "fv.phone_invalid", "mobile number must be 11 digits starting with 13–19, e.g. 13812345678"
        )
    return s
