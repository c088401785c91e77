"""``argus serve --workers 2``: two processes on one socket, /metrics counting both, a clean stop on SIGTERM."""

from __future__ import annotations

import re
from typing import Any

import psutil


def test_two_workers_share_the_port_and_their_metrics_add_up(launch_server: Any, model_ids: Any) -> None:
    server = launch_server({"ARGUS_WORKERS": "2"}, name="workers")
    workers = psutil.Process(server.process.pid).children()
    assert len(workers) == 2
    body = {"model_id": model_ids.cls, "image": {"type": "base64", "value": _pixel()}}
    served: dict[str, int] = {}  # worker (its /info uuid) -> requests it answered
    for _ in range(200):  # a new connection each time: the kernel hands it to either worker
        with server.client() as fresh:  # one keep-alive connection: /info and the request reach one worker
            worker = fresh.get("/info").json()["uuid"]
            assert fresh.post("/infer/classification", json=body).status_code == 200
            served[worker] = served.get(worker, 0) + 1
        if len(served) == 2 and sum(served.values()) >= 12:
            break
    assert len(served) == 2, served
    with server.client() as client:
        totals = {_requests(client.get("/metrics").text, model_ids.cls) for _ in range(8)}
    assert totals == {float(sum(served.values()))}  # either worker's scrape counts both workers' requests
    server.process.terminate()
    assert server.process.wait(timeout=60) == 0
    assert not any(worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE for worker in workers)


def _requests(exposition: str, model_id: str) -> float:
    found = re.search(rf'argus_inference_requests_total\{{model="{re.escape(model_id)}",outcome="success"\}} (\S+)',
                      exposition)
    return float(found.group(1)) if found else 0.0


def _pixel() -> str:
    import base64

    import cv2
    import numpy as np

    ok, data = cv2.imencode(".png", np.full((4, 4, 3), 200, np.uint8))
    assert ok
    return base64.b64encode(data.tobytes()).decode()
