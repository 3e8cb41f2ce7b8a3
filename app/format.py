"""Display formatting of money, dates and times for the screens (values in, strings out)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from models.privacy import DEFAULT_TZ

__all__ = ["fmt_date", "fmt_datetime", "fmt_km", "fmt_money"]


def fmt_money(amount: Decimal | str | None) -> str:
    if amount is None or amount == "":
        return "—"
    return f"¥{Decimal(amount):,.2f}"


def fmt_date(d: date | str | None) -> str:
    if d is None or d == "":
        return "—"
    return d if isinstance(d, str) else d.isoformat()


def fmt_datetime(ts: datetime | str | None, tz: str = DEFAULT_TZ) -> str:
    if ts is None or ts == "":
        return "—"
    if isinstance(ts, str):
        try:
            ts = datetime.fromisoformat(ts)
        except ValueError:
            return str(ts)
    if ts.tzinfo is not None:
        ts = ts.astimezone(ZoneInfo(tz))
    return ts.strftime("%Y-%m-%d %H:%M")


def fmt_km(km: float | None) -> str:
    if km is None:
        return "—"
    return f"{km * 1000:.0f} m" if km < 1 else f"{km:.1f} km"
