"""The router sends a request again when the answer was written in front of the replica (Ray's proxy saying its
replica died or is not there yet: no ``X-Processing-Time``), and passes on every answer Argus's app wrote."""

from __future__ import annotations

import asyncio
from pathlib import Path

from test_managed_controller import KEY, MemoryManaged, make, ready

from argus.endpoints.backends.base import Observed
from argus.endpoints.router import EndpointRouter
from argus.settings import Settings

PROXY_503 = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 19\r\n\r\n"
             b"replica unavailable")
APP_200 = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-processing-time: 0.001\r\n"
           b"content-length: 11\r\n\r\n{\"top\": 1}\n")
APP_503 = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nx-processing-time: 0.001\r\n"
           b"content-length: 15\r\n\r\n{\"busy\": true}\n")


async def upstream(answers: list[bytes]) -> tuple[asyncio.Server, int, list[bytes]]:
    """A loopback HTTP server answering each request with the next of ``answers`` (then closing)."""
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length")), 0)
        await reader.readexactly(length)
        heads.append(head)
        writer.write(answers.pop(0))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], heads


def route(tmp_path: Path, answers: list[bytes]) -> tuple[int, bytes, int]:
    async def scenario() -> tuple[int, bytes, int]:
        server, port, heads = await upstream(answers)
        backend = MemoryManaged()
        backend.address = lambda spec: (f"http://127.0.0.1:{port}", {"authorization": "Bearer k"})  # type: ignore[method-assign]
        controller, _ = make(Settings(home=tmp_path / "home"), backend)
        backend.running[KEY] = Observed(ready("r1"), generation=1)
        await controller.reconcile_all()
        router = EndpointRouter(controller, controller.settings)
        try:
            answer = await router.forward(controller.get(*KEY), "POST", "infer/classification", "",
                                          [(b"content-type", b"application/json")], b'{"image": 1}', hold_s=0)
        finally:
            await router.close()
            server.close()
        return answer.status, answer.content, len(heads)
    return asyncio.run(scenario())


def test_an_answer_from_in_front_of_the_replica_is_sent_again(tmp_path: Path):
    assert route(tmp_path, [PROXY_503, APP_200]) == (200, b'{"top": 1}\n', 2)


def test_an_error_the_app_wrote_is_passed_on_as_it_is(tmp_path: Path):
    assert route(tmp_path, [APP_503]) == (503, b'{"busy": true}\n', 1)
