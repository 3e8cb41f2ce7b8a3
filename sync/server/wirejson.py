"""The route class of every router: JSON bodies are parsed by `models.canonical.loads_json`.

Push bodies carry reports whose hash the server recomputes: parsed this way, their canonical JSON takes the
fast path of `sync.server.canonical.canonical_json_parsed` with exactly the bytes of the definition. JSON numbers come back marked,
so a decimal field refuses a number where the protocol wants a string. NaN and Infinity, which are not
JSON, and a body nested deeper than any schema (`MAX_JSON_DEPTH`) are refused like any other malformed
body (422 `json_invalid`), before a handler could recurse into it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from models.canonical import MAX_JSON_DEPTH, loads_json

__all__ = ["WireJsonRoute", "parse_body"]


def parse_body(raw: bytes | str) -> Any:
    """A request body as every route reads it; `json.JSONDecodeError` (a ValueError) when it is not JSON
    or is nested too deeply."""
    return loads_json(raw, max_depth=MAX_JSON_DEPTH)


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
