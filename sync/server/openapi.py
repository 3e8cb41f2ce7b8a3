"""The OpenAPI document: every JSON request body carries its model's first example inline."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["install_openapi"]


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
