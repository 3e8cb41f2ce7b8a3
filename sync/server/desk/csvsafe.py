"""CSV cells that a spreadsheet cannot run: formula-like values are prefixed with an apostrophe.

A cell whose first character, or first character after leading spaces, is `=`, `+`, `-`, `@`, a tab or a
carriage return would be read by a spreadsheet program as a formula (OWASP "CSV injection"); such a value
is written with a leading `'`, whatever field it comes from. Plain negative amounts stay as they are in
money columns only, where a minus sign is a number and not a formula.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterable, Sequence
from typing import Any, TextIO

__all__ = ["SafeCsvWriter", "safe_cell"]

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_AMOUNT = re.compile(r"-[0-9]+(\.[0-9]+)?")


def safe_cell(value: Any, *, money: bool = False) -> str:
    """The text of one cell, neutralised when a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    if money and _PLAIN_AMOUNT.fullmatch(text):
        return text
    if text.lstrip(" ").startswith(_TRIGGERS):
        return "'" + text
    return text


class SafeCsvWriter:
    """A csv.writer whose rows are neutralised cell by cell; `money` names the columns holding amounts."""

    def __init__(self, out: TextIO, columns: Sequence[str], *, money: Collection[str] = ()) -> None:
        self._writer = csv.writer(out, lineterminator="\n")
        self._money = [c in money for c in columns]
        self._writer.writerow([safe_cell(c) for c in columns])

    def writerow(self, values: Iterable[Any]) -> None:
        cells = list(values)
        flags = self._money + [False] * (len(cells) - len(self._money))
        self._writer.writerow([safe_cell(v, money=m) for v, m in zip(cells, flags, strict=False)])
