"""The API's error body `{"error","message","details"}` and the handlers that make every failure use it.

`ApiError` is raised by handlers and store functions alike; the store raises it inside a write so the
transaction's savepoint is rolled back before the answer goes out.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from models.messages import field_errors, message_for, request_lang

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "NUL_ESCAPE",
    "NUL_ESCAPE_BYTES",
    "NUL_MESSAGE",
    "ApiError",
    "RefusedRecord",
    "error_response",
    "install_handlers",
    "nul_detail",
    "nul_error",
    "nul_path",
    "validation_details",
]

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


# U+0000 (NUL): no field holds it and PostgreSQL text cannot, so text that holds it is refused wherever the
# server receives it (a pushed report is one rejected mutation, an import or repayment record a row error,
# any other body a 422), the same on both backends.
NUL_MESSAGE = "the request contains the NUL character (U+0000)"
# How JSON spells U+0000 (a raw NUL is not valid JSON). Its presence is what makes a body worth walking; an
# escaped backslash followed by "u0000" matches too, and the walk then finds no NUL.
NUL_ESCAPE = "\\u0000"
NUL_ESCAPE_BYTES = NUL_ESCAPE.encode()


def nul_path(value: Any) -> list[str | int] | None:
    """The path to the first string or object key of a parsed JSON value that holds U+0000 (for a key, the
    path ends with that key), or None when there is none."""
    if isinstance(value, str):
        return [] if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return [key]
            found = nul_path(item)
            if found is not None:
                return [key, *found]
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = nul_path(item)
            if found is not None:
                return [i, *found]
    return None


def nul_detail(loc: list[str | int], lang: str = "en") -> dict[str, Any]:
    """The validation detail for text at `loc` that holds U+0000."""
    return {"loc": loc, "msg": message_for("fv.text_nul", lang), "type": "fv.text_nul"}


def nul_error(loc: list[str | int], lang: str = "en") -> ApiError:
    """422 `validation` for a body whose text at `loc` holds U+0000."""
    return ApiError(422, "validation", NUL_MESSAGE, [nul_detail(loc, lang)])


@dataclass(frozen=True, slots=True)
class RefusedRecord:
    """An import or repayment record refused as the body was read (text holding U+0000 at `loc`): the store
    answers it as a row error naming the field, and imports the other records."""

    loc: tuple[str | int, ...]
    code: str = "fv.text_nul"

    @property
    def field(self) -> str:
        return ".".join(str(p) for p in self.loc)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(
        exc.status, exc.error, exc.message, exc.details, extra=exc.extra, headers=exc.headers
    )


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    from fastapi.exceptions import RequestValidationError

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
    return error_response(
        422,
        "validation",
        "the request contains text that is not valid Unicode",
        [{"loc": ["body"], "msg": "text that is not valid Unicode (a lone surrogate)"}],
    )


# Seconds a client is asked to wait when the database or the object store is out of reach.
RETRY_UNAVAILABLE = 5


def transient(exc: BaseException) -> bool:
    """Whether `exc` says the database or the object store is out of reach for now (a restart, a failover,
    the network, a lock or serialisation conflict), not that the request or the server is at fault: worth a
    retry. The drivers' classes are looked up only when their module is loaded (with SQLite and a file
    blob store neither is)."""
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return True  # SQLite busy past its timeout (30 s)
    pg = sys.modules.get("psycopg")
    if pg is not None and isinstance(exc, pg.OperationalError):
        return True
    boto = sys.modules.get("botocore.exceptions")
    if boto is not None:
        if isinstance(exc, boto.ConnectionError | boto.HTTPClientError):
            return True
        if isinstance(exc, boto.ClientError):
            meta = exc.response.get("ResponseMetadata", {})
            return int(meta.get("HTTPStatusCode") or 0) >= 500
    return False


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The path and type only: request bodies may carry personal data.
    if transient(exc):
        log.warning(
            "%s on %s %s: a storage service is unavailable",
            type(exc).__name__,
            request.method,
            request.url.path,
        )
        return error_response(
            503,
            "unavailable",
            "the database or the file store cannot be reached just now; try again shortly",
            headers={"Retry-After": str(RETRY_UNAVAILABLE)},
        )
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return error_response(500, "internal", "internal server error")


def install_handlers(app: FastAPI) -> None:
    # FastAPI is imported here, not with the module: the store's jobs raise ApiError from commands that
    # never serve (`fieldvisit users add`), and importing the web framework is most of their start-up.
    from fastapi.exceptions import RequestValidationError

    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(UnicodeEncodeError, _not_unicode)
    app.add_exception_handler(Exception, _unexpected)
