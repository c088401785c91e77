"""The zoo detector on Ray Serve: a local one-node cluster bound to loopback (benchmarks/peers.py runs it)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import ray
from fastapi import Body, FastAPI
from ray import serve

sys.path.insert(0, os.path.dirname(__file__))
from detector import Detector

app = FastAPI()


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 1})
@serve.ingress(app)
class DetectorDeployment:
    def __init__(self) -> None:
        self.detector = Detector()

    @app.post("/infer/object_detection")
    def infer(self, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        return self.detector.predict(body)


if __name__ == "__main__":
    ray.init(address="local", num_cpus=2, include_dashboard=False,
             runtime_env={"env_vars": {name: os.environ[name] for name in ("PEER_MODEL_PATH", "PEER_CLASS_NAMES")}})
    serve.start(http_options={"host": "127.0.0.1", "port": int(os.environ["PEER_PORT"])})
    serve.run(DetectorDeployment.bind(), route_prefix="/")
    while True:
        time.sleep(3600)
