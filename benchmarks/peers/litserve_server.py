"""The zoo detector on LitServe (run in its own virtual environment by benchmarks/peers.py)."""

from __future__ import annotations

import os
import sys
from typing import Any

import litserve as ls

sys.path.insert(0, os.path.dirname(__file__))
from detector import Detector


class DetectorAPI(ls.LitAPI):
    def setup(self, device: str) -> None:
        self.detector = Detector()

    def decode_request(self, request):  # type: ignore[no-untyped-def]  # unannotated: LitServe passes the JSON body
        return request

    def predict(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.detector.predict(body)

    def encode_response(self, output: dict[str, Any]) -> dict[str, Any]:
        return output


if __name__ == "__main__":
    server = ls.LitServer(DetectorAPI(api_path="/infer/object_detection"), accelerator="cpu", workers_per_device=1)
    server.run(host="127.0.0.1", port=int(os.environ["PEER_PORT"]), log_level="warning", generate_client_file=False)
