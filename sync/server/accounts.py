"""Accounts as an admin gives them: `NewUser` (the body of POST /v1/users, one row of `fieldvisit users
import`) and the reading of an import file (CSV or JSON) into accounts and row errors."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from models.canonical import MAX_JSON_DEPTH, loads_json
from models.messages import render, row_errors
from sync.server.errors import nul_path

__all__ = ["Account", "NewUser", "read_accounts"]

_NEW_USER_EXAMPLE: dict[str, Any] = {
    "username": "inv.c7",
    "password": "change-me-2026",
    "role": "investigator",
    "team": "hz-a",
    "name": "外访专员 C7",
    "districts": ["西湖区", "拱墅区"],
    "experience_years": 2,
}


class NewUser(BaseModel):
    """An account an admin creates (the same fields as `fieldvisit users add`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_NEW_USER_EXAMPLE]})

    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    password: str = Field(min_length=8, max_length=256)
    role: Literal["investigator", "supervisor", "admin"]
    team: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=100)
    districts: list[str] = Field(default_factory=list, max_length=50)
    experience_years: StrictInt = Field(default=0, ge=0, le=60)


@dataclass(frozen=True)
class Account:
    """One valid row of an import: the account, and which of the profile fields the row gave (an update
    keeps the stored value of one it left out, as `fieldvisit users add` does)."""

    user: NewUser
    given: frozenset[str]

    @property
    def password(self) -> str:
        return self.user.password

    def as_user(self, password_hash: str) -> dict[str, Any]:
        """The keywords of `sync.server.store.users.add_user` for this account."""
        u = self.user
        return {
            "username": u.username,
            "password_hash": password_hash,
            "role": u.role,
            "team": u.team,
            "name": u.name if "name" in self.given else None,
            "districts": [d.strip() for d in u.districts if d.strip()] if "districts" in self.given else None,
            "experience_years": u.experience_years if "experience_years" in self.given else None,
        }


_DISTRICT_SEPARATORS = re.compile(r"[,，、;；]")


def _csv_rows(text: str) -> list[dict[str, Any]]:
    """CSV rows (a header row first) as accounts: blank cells are absent, `districts` is one cell with the
    districts separated by commas (or 、；), `experience_years` a whole number."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ValueError("the CSV has no header row (username,password,role,team,name,districts,...)")
    rows: list[dict[str, Any]] = []
    for row in reader:
        rec: dict[str, Any] = {}
        for key, cell in row.items():
            if key is None or cell is None or not cell.strip():
                continue
            key, value = key.strip(), cell.strip()
            if key == "districts":
                rec[key] = [d.strip() for d in _DISTRICT_SEPARATORS.split(value) if d.strip()]
            elif key == "experience_years" and value.isascii() and value.isdigit():
                rec[key] = int(value)
            elif key == "password":
                rec[key] = cell  # as typed: spaces may be part of a password
            else:
                rec[key] = value
        rows.append(rec)
    return rows


def _json_rows(text: str) -> list[Any]:
    try:
        data = loads_json(text, max_depth=MAX_JSON_DEPTH)
    except ValueError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    found = data.get("users") if isinstance(data, dict) else data
    if not isinstance(found, list):
        raise ValueError('the file must hold {"users": [...]} or a list of accounts')
    return found


def read_accounts(text: str, *, as_csv: bool, lang: str = "en") -> tuple[list[Account], list[dict[str, Any]]]:
    """The accounts of an import file, and an error per field of each row refused (`row` counts the file's
    accounts from 1, as `fieldvisit import` counts records). A bad row never stops the others; a username
    given twice is refused on its later row. ValueError when the file as a whole cannot be read."""
    rows = _csv_rows(text) if as_csv else _json_rows(text)
    accounts: list[Account] = []
    errors: list[dict[str, Any]] = []
    first_row: dict[str, int] = {}
    for number, rec in enumerate(rows, start=1):
        if not isinstance(rec, dict):
            errors.append({"row": number, "field": "", "msg": render("import.not_object", lang)})
            continue
        if (nul := nul_path(rec)) is not None:
            field = ".".join(str(p) for p in nul)
            errors.append({"row": number, "field": field, "msg": render("fv.text_nul", lang)})
            continue
        try:
            user = NewUser.model_validate(rec)
        except ValidationError as exc:
            errors += row_errors(number, exc.errors(), lang)
            continue
        if user.username in first_row:
            errors.append(
                {
                    "row": number,
                    "field": "username",
                    "msg": f"already given in row {first_row[user.username]}",
                }
            )
            continue
        first_row[user.username] = number
        accounts.append(Account(user, frozenset(rec)))
    return accounts, errors
