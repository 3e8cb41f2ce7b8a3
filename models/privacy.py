"""Personal-data masking for list views (domain D-6) and the visit-hours rule (R-1).

List and queue screens show only masked values; full values appear on the detail page after a logged tap.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

__all__ = [
    "DEFAULT_TZ",
    "VISIT_END",
    "VISIT_START",
    "business_day",
    "local_time",
    "mask_bank_card",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "within_visit_hours",
]

DEFAULT_TZ = "Asia/Shanghai"
VISIT_START = time(8, 0)
VISIT_END = time(22, 0)


def _keep_ends(value: str, head: int, tail: int) -> str:
    # Too short to keep both ends without revealing most of it: hide everything.
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def mask_name(name: str) -> str:
    """张三明 → 张*明; two characters keep the first (张*); a single character is shown as is."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _compact(value: str) -> str:
    return "".join(value.split()).replace("-", "")


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678 (first 3, last 4); a mainland mobile written with its country code
    (+86 138 1234 5678, 0086…) is masked as the number itself is."""
    compact = _compact(phone)
    for code in ("+86", "0086", "86"):
        rest = compact.removeprefix(code)
        if rest != compact and len(rest) == 11 and rest.startswith("1") and rest.isascii() and rest.isdigit():
            compact = rest
            break
    return _keep_ends(compact, 3, 4)


def mask_id_number(id_number: str) -> str:
    """Resident ID: first 6 + stars + last 4 (110105********1234 for 18 characters)."""
    return _keep_ends(_compact(id_number), 6, 4)


def mask_bank_card(card: str) -> str:
    """Bank card: first 6 + stars + last 4."""
    return _keep_ends(_compact(card), 6, 4)


def local_time(ts: datetime, tz: str = DEFAULT_TZ) -> datetime:
    """The wall-clock time at the visit address; naive timestamps are refused as ambiguous."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError("timestamp must carry a UTC offset")
    return ts.astimezone(ZoneInfo(tz))


def business_day(ts: datetime, tz: str = DEFAULT_TZ) -> date:
    """The calendar day at the visit address (by default the lender's, Asia/Shanghai) of an instant: a plan's
    first due date, a promise date and "today" in the rule book are local days, not UTC ones."""
    return local_time(ts, tz).date()


def within_visit_hours(ts: datetime, tz: str = DEFAULT_TZ) -> bool:
    """R-1: 08:00 ≤ local time < 22:00; outside it a visit needs the debtor's recorded consent."""
    local = local_time(ts, tz).time()
    return VISIT_START <= local < VISIT_END
