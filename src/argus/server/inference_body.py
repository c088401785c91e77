"""The body of a v1 inference request, in whichever form the client sends it.

- ``application/json``: the reference's request object, images as base64, URLs or numpy.
- ``multipart/form-data``: the request's fields as form fields and the image(s) as ``file`` (or ``image``) parts.
  The bytes go straight to the decoder, with no base64 and no JSON.
- ``application/octet-stream`` or ``image/*``: the body is the image; the fields come from the query string
  (``?model_id=coco/3&confidence=0.4``).

Each form becomes the same pydantic request model, so the routes and the inference service see one shape. A
field that is wrong answers the same 422 in every form.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from argus.errors import InvalidInputError
from argus.server.openapi import json_body_of

Model = TypeVar("Model", bound=BaseModel)
IMAGE_PARTS = ("file", "image")
RAW_TYPES = ("application/octet-stream", "image/")


def _fields(items: list[tuple[str, Any]]) -> dict[str, Any]:
    """Form or query pairs as a dict; a name given more than once becomes a list (``class_filter``)."""
    fields: dict[str, Any] = {}
    for name, value in items:
        if name in fields:
            fields[name] = [*fields[name], value] if isinstance(fields[name], list) else [fields[name], value]
        else:
            fields[name] = value
    return fields


async def _multipart(request: Request) -> dict[str, Any]:
    form = await request.form()
    texts = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    uploads = [value for name, value in form.multi_items() if not isinstance(value, str) and name in IMAGE_PARTS]
    if not uploads:
        raise InvalidInputError("The multipart body has no 'file' part with the image; send the image as a file "
                                "part named 'file' and the request's fields as form fields.")
    images = [{"type": "bytes", "value": await upload.read()} for upload in uploads]
    return {**_fields(texts), "image": images if len(images) > 1 else images[0]}


async def _raw(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body:
        raise InvalidInputError("The body is empty: send the image's bytes (or JSON with an 'image' object).")
    return {**_fields(list(request.query_params.multi_items())), "image": {"type": "bytes", "value": body}}


async def _json(request: Request) -> Any:
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:  # the standard library also reads NaN and Infinity, which the fields' own checks then refuse by name
        return json.loads(raw)
    except (ValueError, RecursionError) as error:  # FastAPI's answer to a body it cannot parse: 422
        raise RequestValidationError([{
            "type": "json_invalid", "loc": ("body",), "input": None,
            "msg": f"The body is not valid JSON ({str(error)[:200]}); send JSON, multipart with a 'file' part, or "
                   "the image's bytes as application/octet-stream."}]) from None


def inference_body(model: type[Model]) -> Callable[[Request], Awaitable[Model]]:
    """A FastAPI dependency that reads ``model`` from a JSON, multipart or raw-image body."""

    async def parse(request: Request) -> Model:
        content_type = request.headers.get("content-type", "").lower()
        if content_type.startswith("multipart/form-data"):
            data = await _multipart(request)
        elif content_type.startswith(RAW_TYPES):
            data = await _raw(request)
        else:
            data = await _json(request)
        try:
            return model.model_validate(data)
        except ValidationError as error:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None

    return parse


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` describing the three forms of the body (the JSON one as :func:`json_body_of` writes it)."""
    extra = json_body_of(model, "The request as JSON; or its fields as form fields with the image as a 'file' "
                                "part; or the image's bytes, with the fields in the query string.")
    content = extra["requestBody"]["content"]
    fields = {k: v for k, v in content["application/json"]["schema"].get("properties", {}).items() if k != "image"}
    content["multipart/form-data"] = {"schema": {
        "type": "object", "properties": {**fields, "file": {"type": "string", "format": "binary"}},
        "required": ["model_id", "file"]}}
    content["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
    return extra
