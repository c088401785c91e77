"""What a Ray replica's ASGI wrapper hands Argus's app: paths without Serve's route prefix, and inference bodies
naming the replica's own model (Ray's proxy may send a request to a replica of the previous generation)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

pytest.importorskip("ray.serve")

from argus.cli.ray_replica import OwnModel


class Echo:
    """An ASGI app that records the scope and body it got."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes, dict[bytes, bytes]]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        self.seen.append((scope["path"], scope["root_path"], message.get("body", b""), dict(scope["headers"])))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def call(app: OwnModel, method: str, path: str, body: bytes, content_type: bytes = b"application/json"
         ) -> list[dict[str, Any]]:
    scope = {"type": "http", "method": method, "path": "/argus/acme/cls" + path, "root_path": "/argus/acme/cls",
             "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]}
    chunks = [{"type": "http.request", "body": body[:5], "more_body": True},
              {"type": "http.request", "body": body[5:], "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0)

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_the_route_prefix_is_taken_off_and_the_body_names_the_replica_s_model():
    echo = Echo()
    call(OwnModel(echo, "tiny-cls/2", 1 << 20), "POST", "/infer/classification",
         orjson.dumps({"model_id": "tiny-cls/1", "image": {"type": "url", "value": "x"}}))
    path, root, body, headers = echo.seen[0]
    assert (path, root) == ("/infer/classification", "")
    assert orjson.loads(body) == {"model_id": "tiny-cls/2", "image": {"type": "url", "value": "x"}}
    assert headers[b"content-length"] == str(len(body)).encode()


def test_other_routes_and_bodies_pass_unchanged():
    echo = Echo()
    call(OwnModel(echo, "tiny-cls/2", 1 << 20), "GET", "/readiness", b"")
    call(OwnModel(echo, "tiny-cls/2", 1 << 20), "POST", "/infer/classification", b"\x89PNG raw bytes", b"image/png")
    assert [(path, body) for path, _, body, _ in echo.seen] == [("/readiness", b""),
                                                                ("/infer/classification", b"\x89PNG raw bytes")]


def test_a_body_over_the_app_s_limit_is_refused_before_it_is_held_whole():
    echo = Echo()
    sent = call(OwnModel(echo, "tiny-cls/2", 8), "POST", "/infer/classification", b'{"model_id": "x", "pad": 1}')
    assert echo.seen == [] and sent[0]["status"] == 413
    assert b"larger than 8 bytes" in sent[1]["body"]
