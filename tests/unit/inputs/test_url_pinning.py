"""One DNS answer per fetch: the connection goes to the address that was checked (DNS rebinding cannot win)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from argus.errors import InvalidInputError
from argus.inputs.url import fetch_url, pin_url
from argus.workflows.blocks.sinks.webhook import send

REAL_GETADDRINFO = socket.getaddrinfo


class Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str]] = []

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        Recorder.seen.append((self.command, self.path, self.headers.get("Host", "")))
        if self.path == "/hop":
            self.send_response(302)
            self.send_header("Location", f"http://second.example:{self.server.server_address[1]}/image")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"bytes")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``*.example`` resolves to 127.0.0.1 the first time a name is asked, to 127.0.0.3 (nobody) after that."""
    asked: list[str] = []

    def answer(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".example"):
            address = "127.0.0.3" if host in asked else "127.0.0.1"
            asked.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", answer)
    return asked


def test_a_fetch_connects_to_the_checked_address_with_the_original_host(server: int, rebinding: list[str]) -> None:
    data = fetch_url(f"http://first.example:{server}/hop", allow_private=True, timeout=5, max_bytes=100)
    assert data == b"bytes"
    assert rebinding == ["first.example", "second.example"]  # one answer per hop, none asked twice
    assert Recorder.seen == [("GET", "/hop", f"first.example:{server}"),
                             ("GET", "/image", f"second.example:{server}")]


def test_a_webhook_attempt_resolves_once_and_is_pinned(server: int, rebinding: list[str]) -> None:
    failed, message = send({"method": "POST", "url": f"http://hook.example:{server}/notify", "headers": {},
                            "json": {"n": 1}}, timeout=5, max_retries=0, backoff=0, allow_private=True)
    assert not failed, message
    assert rebinding == ["hook.example"]
    assert Recorder.seen == [("POST", "/notify", f"hook.example:{server}")]


def test_private_answers_are_refused_before_any_connection(server: int, rebinding: list[str]) -> None:
    with pytest.raises(InvalidInputError, match="127.0.0.1.*ARGUS_ALLOW_PRIVATE_URLS"):
        fetch_url(f"http://first.example:{server}/image", allow_private=False, timeout=5, max_bytes=100)
    assert Recorder.seen == []


def test_https_keeps_the_name_for_sni_and_certificates() -> None:
    pinned = pin_url("https://93.184.216.34/x.jpg?a=1", allow_private=False)
    assert pinned.url == "https://93.184.216.34/x.jpg?a=1"
    named = pin_url("https://[2606:4700::1111]:8443/p", allow_private=False)
    assert named.url == "https://[2606:4700::1111]:8443/p" and named.headers == {"Host": "[2606:4700::1111]:8443"}
    assert named.extensions == {"sni_hostname": "2606:4700::1111"}
