"""The route class of every router: JSON bodies are parsed by `models.canonical.loads_json`.

Push bodies carry reports whose hash the server recomputes: parsed this way, their canonical JSON takes the
fast path of `sync.server.canonical.canonical_json_parsed` with exactly the bytes of the definition. JSON numbers come back marked,
so a decimal field refuses a number where the protocol wants a string. NaN and Infinity, which are not
JSON, and a body nested deeper than any schema (`MAX_JSON_DEPTH`) are refused like any other malformed
body (422 `json_invalid`), before a handler could recurse into it.

Text holding U+0000 is refused where bodies are read: a JSON body with a body model is answered 422 with
the path of the first such string or key before its handler runs, a body the handler reads itself with
`parse_body` likewise, and the records of an import or of repayments (`records_body`) become row errors
(`RefusedRecord`). A push refuses it per mutation instead (`nul_in_handler`). Bodies are walked only when
their text spells the character (`\\u0000` in JSON; in a CSV body the character itself, or the escape
in a JSON cell).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from models.canonical import MAX_JSON_DEPTH, loads_json
from models.messages import request_lang
from sync.server.errors import (
    NUL_ESCAPE,
    NUL_ESCAPE_BYTES,
    ApiError,
    RefusedRecord,
    nul_error,
    nul_path,
    validation_details,
)

__all__ = ["WireJsonRoute", "nul_in_handler", "parse_body", "records_body"]

_F = TypeVar("_F", bound=Callable[..., Any])


def _spells_nul(raw: bytes | str) -> bool:
    return (NUL_ESCAPE_BYTES in raw) if isinstance(raw, bytes) else (NUL_ESCAPE in raw)


def parse_body(raw: bytes | str, *, refuse_nul: bool = True, lang: str = "en") -> Any:
    """A request body as every route reads it; `json.JSONDecodeError` (a ValueError) when it is not JSON
    or is nested too deeply, and (with `refuse_nul`) 422 `ApiError` naming the first string or key that
    holds U+0000."""
    value = loads_json(raw, max_depth=MAX_JSON_DEPTH)
    if refuse_nul and _spells_nul(raw) and (loc := nul_path(value)) is not None:
        raise nul_error(["body", *loc], lang)
    return value


def nul_in_handler(endpoint: _F) -> _F:
    """Mark a route whose handler refuses U+0000 in its body itself (the push: per mutation), so that its
    body is not refused whole."""
    endpoint.__dict__["wire_nul_in_handler"] = True
    return endpoint


def _refused(records: list[Any]) -> list[Any]:
    """The records, each one that holds U+0000 replaced by a `RefusedRecord` naming where."""
    return [RefusedRecord(tuple(loc)) if (loc := nul_path(r)) is not None else r for r in records]


async def records_body(
    request: Request, body: type[BaseModel], csv_rows: Callable[[str], list[Any]]
) -> list[Any]:
    """The records of a `{"records": [...]}` JSON body (validated by `body`) or of a CSV body (`text/csv`,
    parsed by `csv_rows`): how the import and the repayments read what the loan system sends. 422 with field
    paths when the body is neither, and when the CSV cannot be read."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            422, "validation", "the body is not UTF-8", [{"loc": ["body"], "msg": "not UTF-8"}]
        ) from exc
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in ("text/csv", "application/csv"):
        try:
            rows = csv_rows(text)
        except csv.Error as exc:  # e.g. a bare carriage return inside an unquoted field
            raise ApiError(
                422, "validation", "the body is not valid CSV", [{"loc": ["body"], "msg": str(exc)}]
            ) from exc
        # A cell may hold the character itself, or a JSON cell (repayment_history) spell it.
        return _refused(rows) if "\x00" in text or NUL_ESCAPE in text else rows
    try:
        parsed = parse_body(text, refuse_nul=False)
        records = list(body.model_validate(parsed).records)  # type: ignore[attr-defined]
    except ValueError as exc:
        details = (
            validation_details(exc.errors())
            if isinstance(exc, ValidationError)
            else [{"loc": ["body"], "msg": "invalid JSON"}]
        )
        raise ApiError(422, "validation", 'expected {"records": [...]} or text/csv', details) from exc
    if NUL_ESCAPE not in text:
        return records
    # Outside the records, the body is refused whole.
    outside = {k: v for k, v in parsed.items() if k != "records"}
    if (loc := nul_path(outside)) is not None:
        raise nul_error(["body", *loc], request_lang(request.headers.get("accept-language")))
    return _refused(records)


def _json_body(content_type: str | None) -> bool:
    """Whether the route reads a body of this Content-Type as JSON (none at all counts)."""
    if not content_type:
        return True
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def _refuse_nul(request: Request) -> None:
    """422 naming the first string or key of a JSON body that holds U+0000; a body that is not JSON is
    left for the route to refuse."""
    raw = await request.body()
    if NUL_ESCAPE_BYTES not in raw or not _json_body(request.headers.get("content-type")):
        return
    try:
        value = await request.json()
    except ValueError:
        return
    loc = nul_path(value)
    if loc is not None:
        raise nul_error(["body", *loc], request_lang(request.headers.get("accept-language")))


class _WireRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_body(await self.body(), refuse_nul=False)
        return self._json


class WireJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        # A body model's fields are refused here, before validation and the handler; a route reading its
        # body itself refuses through parse_body or records_body.
        refuse_nul = self.body_field is not None and not getattr(self.endpoint, "wire_nul_in_handler", False)

        async def route(request: Request) -> Response:
            wire = _WireRequest(request.scope, request.receive)
            if refuse_nul:
                await _refuse_nul(wire)
            return await handler(wire)

        return route
