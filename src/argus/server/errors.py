"""One handler for the whole error tree: ``{"message": ...}`` bodies with the error's status."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from argus.errors import ArgusError, OverloadedError
from argus.server.responses import ORJSONResponse

logger = logging.getLogger(__name__)

V2_PREFIX = "/v2/"


def _is_oip(request: Request) -> bool:
    """Open Inference Protocol routes answer ``{"error": ...}`` instead of ``{"message": ...}``."""
    path = request.url.path
    return (path == "/v2" or path.startswith(V2_PREFIX)) and not path.startswith("/v2/endpoint")


def error_response(request: Request, status: int, message: str, headers: dict[str, str] | None = None,
                   **extra: object) -> ORJSONResponse:
    """The error body of the protocol the request speaks."""
    body: dict[str, object] = {"error": message} if _is_oip(request) else {"message": message, **extra}
    return ORJSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(ArgusError)
    async def argus_error(request: Request, error: ArgusError) -> ORJSONResponse:
        if error.status_code >= 500:
            logger.warning("%s %s → %d: %s", request.method, request.url.path, error.status_code, error.message)
        headers = {"Retry-After": f"{max(1, round(error.retry_after))}"} if isinstance(error, OverloadedError) else None
        return error_response(request, error.status_code, error.message, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> ORJSONResponse:
        details = list(error.errors())
        parts = []
        for item in details[:5]:
            location = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
            parts.append(f"{location or 'body'}: {item.get('msg')}")
        message = "Invalid request: " + "; ".join(parts)
        return error_response(request, 422, message, detail=_jsonable(details))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> ORJSONResponse:
        return error_response(request, error.status_code, str(error.detail), getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> ORJSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "Internal server error")


def _jsonable(details: list[dict[str, object]]) -> list[dict[str, object]]:
    """Validation details as JSON can carry them: a value orjson cannot write (an integer past 64 bits, a nested
    object of them, bytes) is echoed as a short string instead."""
    return [{k: _echo(v) for k, v in d.items() if k != "ctx"} for d in details]


def _echo(value: object) -> object:
    try:
        orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return str(value)[:200]
    return value
