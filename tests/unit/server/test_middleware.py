"""ServerMiddleware answers, tags and counts a 500 from an unhandled exception itself."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from argus.server.metrics import ServerMetrics
from argus.server.middleware import ServerMiddleware


def _boom(request):  # type: ignore[no-untyped-def]
    raise RuntimeError("boom")


def test_unhandled_exception_is_a_tagged_counted_500() -> None:
    metrics = ServerMetrics()
    app = Starlette(routes=[Route("/boom", _boom)])
    app.add_middleware(ServerMiddleware, metrics=metrics, max_body_bytes=1000)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}
    assert response.headers["x-request-id"] and response.headers["x-processing-time"]
    text = metrics.render().decode()
    assert 'status="500"' in text and "argus_http_requests_total" in text
