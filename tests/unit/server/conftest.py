"""A server app over the session's zoo store, for in-process tests (TestClient or a threaded uvicorn)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from argus.server.app import create_app
from servers import threaded_server


@pytest.fixture(scope="module")
def client(zoo_settings, zoo_manager) -> Iterator[TestClient]:
    """TestClient over an app sharing the session's zoo manager."""
    with TestClient(create_app(zoo_settings, manager=zoo_manager)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def threaded_url(zoo_settings, zoo_manager) -> Iterator[str]:
    """A real uvicorn server in a thread, on a free loopback port."""
    with threaded_server(create_app(zoo_settings, manager=zoo_manager)) as url:
        yield url
