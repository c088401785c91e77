"""Typed results from response JSON (the inverse of ``to_roboflow``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from argus.core.predictions import ClassificationResult, DetectionResult, Detections


def detections_from_json(predictions: list[dict[str, Any]]) -> Detections:
    """Detections from the reference's ``predictions`` list (centre boxes → corners)."""
    if not predictions:
        return Detections.empty()
    centre = np.array([[p["x"], p["y"], p["width"], p["height"]] for p in predictions], dtype=np.float32)
    xyxy = np.concatenate([centre[:, :2] - centre[:, 2:] / 2, centre[:, :2] + centre[:, 2:] / 2], axis=1)
    polygons = None
    if all("points" in p for p in predictions):
        polygons = [np.array([[q["x"], q["y"]] for q in p["points"]], dtype=np.float32).reshape(-1, 2)
                    for p in predictions]
    keypoints = keypoint_confidence = None
    names: tuple[str, ...] = ()
    if all("keypoints" in p for p in predictions):
        count = max((k["class_id"] for p in predictions for k in p["keypoints"]), default=-1) + 1
        keypoints = np.zeros((len(predictions), count, 2), dtype=np.float32)
        keypoint_confidence = np.zeros((len(predictions), count), dtype=np.float32)
        labels = [""] * count
        for i, p in enumerate(predictions):
            for k in p["keypoints"]:
                keypoints[i, k["class_id"]] = (k["x"], k["y"])
                keypoint_confidence[i, k["class_id"]] = k["confidence"]
                labels[k["class_id"]] = k.get("class", str(k["class_id"]))
        names = tuple(labels)
    tracker = [p.get("tracker_id") for p in predictions]
    return Detections(
        xyxy=xyxy,
        confidence=np.array([p["confidence"] for p in predictions], dtype=np.float32),
        class_id=np.array([p["class_id"] for p in predictions], dtype=np.int64),
        class_name=np.array([p["class"] for p in predictions], dtype=object),
        polygons=polygons,
        keypoints=keypoints,
        keypoint_confidence=keypoint_confidence,
        keypoint_names=names,
        detection_id=np.array([p.get("detection_id", "") for p in predictions], dtype=object),
        tracker_id=None if None in tracker else np.array(tracker, dtype=np.int64),
    )


def result_from_json(body: dict[str, Any], task: str, model_id: str | None = None
                     ) -> DetectionResult | ClassificationResult:
    """A typed result from one response body of a model with ``task``."""
    width, height = body["image"]["width"], body["image"]["height"]
    common = {"model_id": model_id, "time": body.get("time", 0.0), "inference_id": body.get("inference_id", "")}
    predictions = body.get("predictions", [])
    if task in ("classification", "multi-label-classification"):
        if isinstance(predictions, dict):
            names = tuple(sorted(predictions, key=lambda n: predictions[n]["class_id"]))
            scores = np.array([predictions[n]["confidence"] for n in names], dtype=np.float32)
            return ClassificationResult(names, scores, width, height, multilabel=True, **common)
        ordered = sorted(predictions, key=lambda p: p["class_id"])
        return ClassificationResult(tuple(p["class"] for p in ordered),
                                    np.array([p["confidence"] for p in ordered], dtype=np.float32), width, height,
                                    **common)
    return DetectionResult(detections_from_json(predictions), width, height, task=task, **common)
