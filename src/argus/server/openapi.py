"""Request bodies that routes validate themselves, described in the OpenAPI document all the same.

The control-plane routes parse their JSON with the endpoint spec's own validator (its messages name each bad
field, and a PUT is a partial spec), so FastAPI does not see a body model. :func:`json_body_of` gives such a
route an ``openapi_extra`` with the model's schema; :func:`install` moves the schema's ``$defs`` into
``components/schemas`` where OpenAPI expects them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

_REF = "#/components/schemas/{model}"


def json_body_of(model: type[BaseModel], description: str, partial: bool = False) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON body of ``model`` (``partial``: any subset of its fields)."""
    schema = model.model_json_schema(ref_template=_REF)
    if partial:
        schema = {**schema, "required": []}
    return {"requestBody": {"required": True, "description": description,
                            "content": {"application/json": {"schema": schema}}}}


def install(app: FastAPI) -> None:
    """Build the document once, hoisting every inline ``$defs`` into ``components/schemas``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for path in document.get("paths", {}).values():
                for operation in path.values():
                    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
                    components.update(body.get("schema", {}).pop("$defs", {}))
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
