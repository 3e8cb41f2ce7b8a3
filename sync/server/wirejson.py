"""The route class of every router: JSON bodies are parsed by `models.canonical.loads_json`.

Push bodies carry reports whose hash the server recomputes: parsed this way, their canonical JSON takes the
fast path of `sync.server.canonical.canonical_json_parsed` with exactly the bytes of the definition. JSON numbers come back marked,
so a decimal field refuses a number where the protocol wants a string. NaN and Infinity, which are not
JSON, and a body nested deeper than any schema (`MAX_JSON_DEPTH`) are refused like any other malformed
body (422 `json_invalid`), before a handler could recurse into it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from models.canonical import MAX_JSON_DEPTH, loads_json
from sync.server.errors import ApiError, validation_details

__all__ = ["WireJsonRoute", "parse_body", "records_body"]


def parse_body(raw: bytes | str) -> Any:
    """A request body as every route reads it; `json.JSONDecodeError` (a ValueError) when it is not JSON
    or is nested too deeply."""
    return loads_json(raw, max_depth=MAX_JSON_DEPTH)


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
            return csv_rows(text)
        except csv.Error as exc:  # e.g. a bare carriage return inside an unquoted field
            raise ApiError(
                422, "validation", "the body is not valid CSV", [{"loc": ["body"], "msg": str(exc)}]
            ) from exc
    try:
        return list(body.model_validate(parse_body(text)).records)  # type: ignore[attr-defined]
    except ValueError as exc:
        details = (
            validation_details(exc.errors())
            if isinstance(exc, ValidationError)
            else [{"loc": ["body"], "msg": "invalid JSON"}]
        )
        raise ApiError(422, "validation", 'expected {"records": [...]} or text/csv', details) from exc


class _WireRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_body(await self.body())
        return self._json


class WireJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(_WireRequest(request.scope, request.receive))

        return route
