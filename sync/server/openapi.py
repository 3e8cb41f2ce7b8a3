"""The OpenAPI document (every JSON request body carries its model's first example inline) and the
interactive docs pages, each with a Content-Security-Policy that admits exactly what it loads."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

__all__ = ["docs_csp", "install_docs", "install_openapi"]

_CDN = "https://cdn.jsdelivr.net"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _ref_example(schemas: dict[str, Any], schema: dict[str, Any]) -> Any:
    candidates = [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]
    for s in candidates:
        ref = s.get("$ref")
        if ref:
            target = schemas.get(ref.rsplit("/", 1)[-1], {})
            if target.get("examples"):
                return target["examples"][0]
        if s.get("examples"):
            return s["examples"][0]
    return None


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        schemas = spec.get("components", {}).get("schemas", {})
        for item in spec.get("paths", {}).values():
            for op in item.values():
                content = op.get("requestBody", {}).get("content", {}) if isinstance(op, dict) else {}
                media = content.get("application/json")
                if media is not None and "example" not in media:
                    example = _ref_example(schemas, media.get("schema", {}))
                    if example is not None:
                        media["example"] = example
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def docs_csp(page: HTMLResponse) -> str:
    """The policy of a docs page: its scripts and styles from the CDN it names, its own inline scripts by
    hash; no framing, no plugins. The pages show the published schema only, never case data."""
    body = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'"
        for m in _INLINE_SCRIPT.findall(body)
    )
    return (
        f"default-src 'self'; script-src 'self' {_CDN} {hashes}".rstrip()
        + f"; style-src 'self' 'unsafe-inline' {_CDN} https://fonts.googleapis.com; "
        "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
        f"{_CDN}; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    )


def install_docs(app: FastAPI) -> None:
    """GET /docs (Swagger UI) and /redoc, public like /openapi.json."""
    title = f"{app.title} – docs"
    swagger = get_swagger_ui_html(openapi_url="/openapi.json", title=title)
    redoc = get_redoc_html(openapi_url="/openapi.json", title=title)
    pages = {"/docs": swagger, "/redoc": redoc}
    policies = {path: docs_csp(page) for path, page in pages.items()}

    def page(path: str) -> Any:
        async def serve() -> HTMLResponse:
            return HTMLResponse(bytes(pages[path].body), headers={"Content-Security-Policy": policies[path]})

        return serve

    for path in pages:
        app.add_api_route(path, page(path), methods=["GET"], include_in_schema=False)
