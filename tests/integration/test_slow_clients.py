"""Slow and silent clients cannot hold a server: the request head and body have deadlines, and health routes
answer while they try."""

from __future__ import annotations

import json
import socket
from typing import Any

import psutil
import pytest
from test_endpoints_support import wait_for


@pytest.fixture(scope="module")
def strict(launch_server: Any) -> Any:
    server = launch_server({"ARGUS_HEADER_TIMEOUT_S": "1", "ARGUS_BODY_TIMEOUT_S": "1"}, name="slow-clients")
    yield server
    server.stop()


def closed_by_server(sock: socket.socket, within: float = 30.0) -> bytes:
    """Everything the server sent until it closed the connection (fails if it never does within ``within``)."""
    sock.settimeout(within)
    received = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return received
        received += chunk


def test_400_half_sent_request_heads_are_closed_and_health_still_answers(strict: Any) -> None:
    sockets = []
    for index in range(400):
        sock = socket.create_connection(("127.0.0.1", strict.port))
        if index % 2:
            sock.sendall(b"POST /infer/object_detection HTTP/1.1\r\nHost: x\r\nContent-Ty")  # never finishes
        sockets.append(sock)  # even ones send nothing at all
    with strict.client(timeout=30) as client:
        assert client.get("/healthz").status_code == 200
    try:
        for sock in sockets:
            assert closed_by_server(sock) == b""  # closed without an answer: nothing to answer yet
    finally:
        for sock in sockets:
            sock.close()
    with strict.client(timeout=30) as client:
        assert client.get("/readiness").status_code == 200


def test_a_body_that_stops_arriving_gets_408(strict: Any, model_ids: Any) -> None:
    with socket.create_connection(("127.0.0.1", strict.port)) as sock:
        sock.sendall(b"POST /infer/object_detection HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"model_id\": ")
        answer = closed_by_server(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"ARGUS_BODY_TIMEOUT_S" in answer


def test_sigterm_stops_the_server_within_the_drain_timeout(launch_server: Any, tmp_path: Any) -> None:
    """A request that would run for a minute does not keep a stopping server alive past its drain time."""
    server = launch_server({"ARGUS_SHUTDOWN_TIMEOUT_S": "2", "ARGUS_ALLOW_CUSTOM_PYTHON": "true",
                            "ARGUS_CUSTOM_PYTHON_TIMEOUT": "120"}, name="drain")
    sleeper = {"type": "DynamicBlockDefinition",
               "manifest": {"type": "ManifestDescription", "block_type": "Sleeper", "inputs": {},
                            "outputs": {"done": {"type": "DynamicOutputDefinition", "kind": []}}},
               "code": {"type": "PythonCode",
                        "run_function_code": "def run(self):\n    time.sleep(60)\n    return {'done': True}"}}
    definition = {"version": "1.0", "inputs": [], "dynamic_blocks_definitions": [sleeper],
                  "steps": [{"type": "Sleeper", "name": "sleep"}],
                  "outputs": [{"type": "JsonField", "name": "done", "selector": "$steps.sleep.done"}]}
    body = json.dumps({"specification": definition, "inputs": {}}).encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"POST /workflows/run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    wait_for(lambda: any("sandbox_worker" in " ".join(child.cmdline())
                         for child in psutil.Process(server.process.pid).children(recursive=True)),
             "the block's sandbox to start")
    server.process.terminate()
    try:
        code = server.process.wait(timeout=30)  # far less than the block's 60 s
    finally:
        sock.close()
    assert code is not None


def test_health_answers_while_every_request_thread_waits_on_a_sink(launch_server: Any) -> None:
    """45 workflow requests whose webhook step waits on a server that never answers hold every request thread
    (anyio's 40); /healthz and /readiness still answer, and SIGTERM still stops the server."""
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(100)  # accepts connections into the backlog and never answers
    server = launch_server({"ARGUS_ALLOW_PRIVATE_WEBHOOK_URLS": "true", "ARGUS_SHUTDOWN_TIMEOUT_S": "2",
                            "ARGUS_SINK_THREADS": "4"}, name="saturated")
    hook = {"type": "roboflow_core/webhook_sink@v1", "name": "hook",
            "url": f"http://127.0.0.1:{black_hole.getsockname()[1]}/hook", "fire_and_forget": False,
            "cooldown_seconds": 0, "request_timeout": 30, "max_retries": 0, "json_payload": {"n": 1}}
    definition = {"version": "1.0", "inputs": [], "steps": [hook],
                  "outputs": [{"type": "JsonField", "name": "out", "selector": "$steps.hook.*"}]}
    body = json.dumps({"specification": definition, "inputs": {}}).encode()
    held = []
    for _ in range(45):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"POST /workflows/run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        held.append(sock)
    try:
        wait_for(lambda: len(connections_to(server, black_hole.getsockname()[1])) == 4, "the 4 sink threads to be busy")
        with server.client(timeout=30) as client:
            assert client.get("/healthz").status_code == 200
            assert client.get("/readiness").status_code == 200
        server.process.terminate()
        assert server.process.wait(timeout=60) is not None
    finally:
        for sock in held:
            sock.close()
        black_hole.close()


def connections_to(server: Any, port: int) -> list[Any]:
    """The server's established TCP connections to ``port`` on loopback."""
    return [c for c in psutil.Process(server.process.pid).net_connections("tcp") if c.status == "ESTABLISHED"
            and c.raddr and c.raddr.port == port]
