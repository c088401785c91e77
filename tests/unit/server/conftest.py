"""A server app over the session's zoo store, for in-process tests (TestClient or a threaded uvicorn)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from argus.server.app import create_app


@pytest.fixture(scope="module")
def client(zoo_settings, zoo_manager) -> Iterator[TestClient]:
    """TestClient over an app sharing the session's zoo manager."""
    with TestClient(create_app(zoo_settings, manager=zoo_manager)) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def threaded_url(zoo_settings, zoo_manager) -> Iterator[str]:
    """A real uvicorn server in a thread, on a free loopback port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(zoo_settings, manager=zoo_manager), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(timeout=10)
