"""The API's error body `{"error","message","details"}` and the handlers that make every failure use it.

`ApiError` is raised by handlers and store functions alike; the store raises it inside a write so the
transaction's savepoint is rolled back before the answer goes out.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from models.messages import field_errors, request_lang

__all__ = ["ApiError", "error_response", "install_handlers", "validation_details"]

log = logging.getLogger("fieldvisit.server")

_STATUS_CODES = {
    400: "bad_request",
    401: "invalid_token",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "reset_required",
    411: "length_required",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation",
    428: "precondition_required",
    429: "too_many_requests",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        details: list[Any] | None = None,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.message = message
        self.details = details or []
        self.extra = extra or {}
        self.headers = headers


def error_response(
    status: int,
    error: str,
    message: str,
    details: list[Any] | None = None,
    *,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "message": message, "details": details or []}
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers)


def validation_details(errors: Any, lang: str = "en") -> list[dict[str, Any]]:
    """Pydantic errors → `[{"loc","msg","type"}]` (messages in `lang`), with values JSON can always carry."""
    return [
        {
            "loc": [str(p) if not isinstance(p, int) else p for p in d["loc"]],
            "msg": d["msg"],
            "type": d["type"],
        }
        for d in field_errors(errors, lang)
    ]


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(
        exc.status, exc.error, exc.message, exc.details, extra=exc.extra, headers=exc.headers
    )


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    lang = request_lang(request.headers.get("accept-language"))
    return error_response(
        422, "validation", "the request does not match the schema", validation_details(exc.errors(), lang)
    )


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


async def _not_unicode(_: Request, exc: Exception) -> JSONResponse:
    # JSON may spell a lone surrogate ("\\ud800"), which no UTF-8 text (hash, database) can hold.
    return error_response(422, "validation", "the request contains text that is not valid Unicode")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The path and type only: request bodies may carry personal data.
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return error_response(500, "internal", "internal server error")


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(UnicodeEncodeError, _not_unicode)
    app.add_exception_handler(Exception, _unexpected)
