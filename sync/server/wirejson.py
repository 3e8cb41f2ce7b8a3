"""Routes whose JSON bodies are parsed by `models.canonical.loads_json`.

Push bodies carry reports whose hash the server recomputes: parsed this way, their canonical JSON takes the
fast path of `canonical_json_parsed` with exactly the bytes of the definition. NaN and Infinity, which are
not JSON, are refused like any other malformed body (422 `json_invalid`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from models.canonical import loads_json

__all__ = ["WireJsonRoute"]


class _WireRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_json(await self.body())
        return self._json


class WireJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(_WireRequest(request.scope, request.receive))

        return route
