"""The detector code a competent user would write for a general-purpose model server (LitServe, BentoML, Ray
Serve): OpenCV decode and resize, onnxruntime, OpenCV's NMS, Roboflow-style JSON. Each peer's server imports it.

It serves the zoo's YOLOv3-tiny export (``[B, 2535, 85]``: centre, size, objectness, 80 class scores, in input
pixels; stretch resize to 416x416, RGB, /255), as Argus's manifest for it says. Dependencies: numpy,
opencv-python-headless, onnxruntime (installed in each peer's own virtual environment).
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort


class Detector:
    """One onnxruntime session; ``predict`` takes the body ``inference_sdk`` sends and answers its JSON."""

    def __init__(self, model_path: str | None = None) -> None:
        path = model_path or os.environ["PEER_MODEL_PATH"]
        self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.size = 416
        self.class_names: list[str] = json.loads(os.environ.get("PEER_CLASS_NAMES", "[]"))

    def predict(self, body: dict[str, Any]) -> dict[str, Any]:
        data = base64.b64decode(body["image"]["value"])
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        height, width = image.shape[:2]
        blob = cv2.dnn.blobFromImage(image, 1 / 255, (self.size, self.size), swapRB=True)
        rows = self.session.run(None, {self.input_name: blob})[0][0]
        confidence = float(body.get("confidence", 0.4))
        iou = float(body.get("iou_threshold", 0.5))
        scores = rows[:, 4:5] * rows[:, 5:]
        class_ids = scores.argmax(1)
        best = scores[np.arange(len(scores)), class_ids]
        keep = best >= confidence
        rows, class_ids, best = rows[keep], class_ids[keep], best[keep]
        sx, sy = width / self.size, height / self.size
        boxes = np.stack([(rows[:, 0] - rows[:, 2] / 2) * sx, (rows[:, 1] - rows[:, 3] / 2) * sy,
                          rows[:, 2] * sx, rows[:, 3] * sy], 1)
        chosen = cv2.dnn.NMSBoxesBatched(boxes.tolist(), best.tolist(), class_ids.tolist(), confidence, iou)
        predictions = []
        for index in np.asarray(chosen, int).reshape(-1):
            x, y, w, h = boxes[index]
            class_id = int(class_ids[index])
            predictions.append({
                "x": float(x + w / 2), "y": float(y + h / 2), "width": float(w), "height": float(h),
                "confidence": float(best[index]), "class_id": class_id,
                "class": self.class_names[class_id] if class_id < len(self.class_names) else str(class_id)})
        return {"image": {"width": width, "height": height}, "predictions": predictions}
