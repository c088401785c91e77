"""Fast JSON responses (orjson, numpy-aware) and the reference's "omit nulls" rule."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import orjson
from fastapi.responses import JSONResponse
from starlette.types import Send


def drop_nulls(value: Any) -> Any:
    """Recursively remove ``None`` values from dicts, as the reference's ``exclude_none`` does."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


class ORJSONResponse(JSONResponse):
    """JSON rendered by orjson (numpy arrays and scalars serialised natively)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
        except TypeError:
            # orjson refuses integers beyond 64 bits, which a client can put in anything the server echoes back
            # (a saved workflow, for one); the standard library writes them.
            return json.dumps(content, default=_plain, separators=(",", ":")).encode()


def _plain(value: Any) -> Any:
    """numpy arrays and scalars as lists and numbers, anything else as text (for the stdlib fallback)."""
    as_list = getattr(value, "tolist", None)
    return as_list() if callable(as_list) else str(value)


def header_value(text: str) -> str:
    """``text`` as a safe HTTP header value: printable ASCII kept, anything else (non-Latin-1, control
    characters, which would break or split the response) percent-encoded."""
    if text.isascii() and text.isprintable():
        return text
    return quote(text, safe="!#$&'()*+,/:;=?@[]~ ")


async def send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer with a JSON ``body`` straight over ASGI (for middleware, which runs before any route)."""
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
