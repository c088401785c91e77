"""API keys: when keys are configured every route but health, info and docs needs one.

Taken, as the reference does, from the ``api_key`` query parameter, then an
``Authorization: Bearer`` header, then the JSON body's ``api_key``.
"""

from __future__ import annotations

import hmac
import json

from fastapi import Request

from argus.errors import UnauthorizedError
from argus.server.deps import get_state

PUBLIC_PATHS = frozenset({"/", "/info", "/healthz", "/readiness", "/docs", "/redoc", "/openapi.json",
                          "/docs/oauth2-redirect", "/v2/health/live", "/v2/health/ready"})


async def presented_key(request: Request) -> str | None:
    """The key a request carries, by the reference's precedence."""
    key = request.query_params.get("api_key")
    if key:
        return key
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    if "json" in request.headers.get("content-type", "") and request.method in ("POST", "PUT", "PATCH"):
        try:
            body = json.loads(await request.body() or b"null")
        except (ValueError, UnicodeDecodeError, RecursionError):  # the route's own parse answers it with a 4xx
            return None
        if isinstance(body, dict) and isinstance(body.get("api_key"), str):
            return body["api_key"]
    return None


def key_is_valid(key: str | None, keys: frozenset[str]) -> bool:
    """Constant-time membership test."""
    if not key:
        return False
    return any(hmac.compare_digest(key.encode(), known.encode()) for known in keys)


async def require_api_key(request: Request) -> None:
    """FastAPI dependency: refuse requests without a valid key when keys are configured."""
    keys = get_state(request).api_keys
    if not keys or request.url.path in PUBLIC_PATHS:
        return
    key = await presented_key(request)
    if not key_is_valid(key, keys):
        what = "is not valid" if key else "is missing"
        raise UnauthorizedError(
            f"The API key {what}. Send it as ?api_key=..., an 'Authorization: Bearer ...' header or "
            "'api_key' in the JSON body."
        )
