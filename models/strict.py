"""Dates, timestamps and booleans as the wire carries them (protocol v1.1 "Strict values on the wire").

pydantic's lax mode reads `0` or `1800000000.0` as a timestamp, `"2026-12-01T00:00:00"` as a date and
`"yes"`, `"false"` or `1` as booleans; a report is stored as it was received, so such a value would reach the
feed and the exports as sent. These types take only what protocol.md writes — dates `YYYY-MM-DD`, timestamps
RFC 3339 with an offset, JSON `true`/`false` — and Python's own `date`/`datetime`/`bool` objects (the app
builds models from them).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, StrictBool
from pydantic_core import PydanticCustomError

__all__ = ["WireBool", "WireDate", "WireDateTime", "wire_date"]

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").fullmatch
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
).fullmatch


# Years 1 and 9999 are at the calendar's edges: a time zone or a few days of grace added to them is no longer
# a date (OverflowError), so no report or plan may stand there. The year is checked here, on the text as it
# came (its first four digits), so that each field costs one call.
def _in_calendar(year: int) -> None:
    if not 1 < year < 9999:
        raise PydanticCustomError("fv.date_range", "date out of range (years 0002 to 9998)")


def wire_date(text: str) -> date:
    """A date as the wire writes it, `YYYY-MM-DD` only (date.fromisoformat also reads "20261210" or a week
    date); ValueError otherwise."""
    if _DATE(text) is None or not 1 < int(text[:4]) < 9999:
        raise ValueError("a date must be YYYY-MM-DD")
    return date.fromisoformat(text)


# Dates repeat across a pull's visits (their repayment records' due dates); one seen well-formed is remembered
# so that the next costs a set lookup. Only accepted strings are kept, so refusals stay exactly as below.
_DATES_SEEN: set[str] = set()
_DATES_MAX = 65536


def _date_text(value: Any) -> Any:
    if type(value) is str:
        if value in _DATES_SEEN:
            return value
        if _DATE(value) is not None:
            _in_calendar(int(value[:4]))
            if len(_DATES_SEEN) >= _DATES_MAX:
                _DATES_SEEN.clear()
            _DATES_SEEN.add(value)
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        _in_calendar(value.year)
        return value
    if isinstance(value, str) and _DATE(value) is not None:
        _in_calendar(int(value[:4]))
        return value
    raise PydanticCustomError("date_parsing", "date must be YYYY-MM-DD")


def _datetime_text(value: Any) -> Any:
    if isinstance(value, datetime):
        _in_calendar(value.year)
        return value
    if isinstance(value, str) and _DATETIME(value) is not None:
        _in_calendar(int(value[:4]))
        return value
    raise PydanticCustomError("datetime_parsing", "invalid timestamp: RFC 3339 with an offset")


WireDate = Annotated[date, BeforeValidator(_date_text)]
WireDateTime = Annotated[AwareDatetime, BeforeValidator(_datetime_text)]
WireBool = StrictBool
