"""The zoo detector on BentoML (``bentoml serve bentoml_server:DetectorService``, by benchmarks/peers.py)."""

from __future__ import annotations

import os
import sys
from typing import Any

import bentoml

sys.path.insert(0, os.path.dirname(__file__))
from detector import Detector


@bentoml.service(workers=1)
class DetectorService:
    def __init__(self) -> None:
        self.detector = Detector()

    @bentoml.api(route="/infer/object_detection")
    def infer(self, image: dict[str, Any], model_id: str = "", confidence: float = 0.4,
              iou_threshold: float = 0.5) -> dict[str, Any]:
        return self.detector.predict({"image": image, "confidence": confidence, "iou_threshold": iou_threshold})
