"""YOLOv8-pose: boxes and K keypoints per detection map back to original pixels exactly.

Two people on a 64x64 input (one class, K = 3 keypoints of x, y, visibility):

* P (0.90): box (8, 8, 40, 40),  keypoints (16, 20, .9), (32, 24, .2), (40, 40, .6)
* Q (0.95): box (44, 36, 60, 60), keypoints (48, 40, .8), (52, 44, .7), (56, 46, .1)

On the 200x100 image, stretch maps x / 0.32, y / 0.64 and letterbox x / 0.32, (y - 16) / 0.32.
"""

from __future__ import annotations

import numpy as np
import pytest

from onnx_builders import ultralytics_metadata, yolov8_pose

BOXES = np.array([[24.0, 24.0, 32.0, 32.0], [52.0, 48.0, 16.0, 24.0]])  # cx, cy, w, h
SCORES = np.array([[0.9], [0.95]])
KEYPOINTS = np.array([
    [[16.0, 20.0, 0.9], [32.0, 24.0, 0.2], [40.0, 40.0, 0.6]],
    [[48.0, 40.0, 0.8], [52.0, 44.0, 0.7], [56.0, 46.0, 0.1]],
])
KEYPOINT_NAMES = ["nose", "left_eye", "right_eye"]


def expected_points(resize: str) -> np.ndarray:
    """Hand mapping of KEYPOINTS[..., :2] (input px) to the 200x100 image, best detection (Q) first."""
    x, y = KEYPOINTS[[1, 0], :, 0], KEYPOINTS[[1, 0], :, 1]
    if resize == "stretch":
        return np.stack([x / 0.32, y / 0.64], axis=-1)
    return np.stack([x / 0.32, (y - 16) / 0.32], axis=-1)


@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
def test_keypoints_map_back_to_original_pixels(store, landscape, resize):
    model = store.load(yolov8_pose(BOXES, SCORES, KEYPOINTS), family="yolov8-pose", task="keypoint-detection",
                       class_names=["person"], keypoint_names=KEYPOINT_NAMES, resize=resize)
    dets = model.infer(landscape).detections
    assert dets.confidence == pytest.approx([0.95, 0.9], abs=1e-5)
    assert dets.class_name.tolist() == ["person", "person"]
    assert dets.keypoints is not None and dets.keypoints.shape == (2, 3, 2)
    assert dets.keypoints == pytest.approx(expected_points(resize), abs=1e-3)
    # P on stretch: (16, 20) → (50, 31.25); Q on letterbox: (48, 40) → (150, 75)
    if resize == "stretch":
        assert dets.keypoints[1, 0] == pytest.approx([50.0, 31.25], abs=1e-3)
    else:
        assert dets.keypoints[0, 0] == pytest.approx([150.0, 75.0], abs=1e-3)
    assert dets.keypoint_confidence == pytest.approx(np.array([[0.8, 0.7, 0.1], [0.9, 0.2, 0.6]]), abs=1e-6)
    assert dets.keypoint_names == tuple(KEYPOINT_NAMES)
    q_box = [44 / 0.32, 36 / 0.64, 60 / 0.32, 60 / 0.64] if resize == "stretch" else \
        [44 / 0.32, (36 - 16) / 0.32, 60 / 0.32, 100.0]  # (60-16)/0.32 = 137.5 clipped
    assert dets.xyxy[0] == pytest.approx(q_box, abs=1e-3)


def test_to_roboflow_keypoints_and_confidence_filter(store, landscape):
    model = store.load(yolov8_pose(BOXES, SCORES, KEYPOINTS), family="yolov8-pose", task="keypoint-detection",
                       class_names=["person"], keypoint_names=KEYPOINT_NAMES)
    result = model.infer(landscape)
    everything = result.to_roboflow()["predictions"]
    assert [len(p["keypoints"]) for p in everything] == [3, 3]
    first = everything[0]["keypoints"][0]
    assert first == {"x": pytest.approx(150.0), "y": pytest.approx(62.5), "confidence": pytest.approx(0.8),
                     "class_id": 0, "class": "nose"}
    filtered = result.to_roboflow(keypoint_confidence=0.5)["predictions"]
    # Q keeps nose (.8) and left_eye (.7), drops right_eye (.1); P keeps nose (.9) and right_eye (.6)
    assert [[k["class"] for k in p["keypoints"]] for p in filtered] == [["nose", "left_eye"], ["nose", "right_eye"]]
    assert [k["class_id"] for k in filtered[1]["keypoints"]] == [0, 2]
    assert filtered[1]["keypoints"][1]["x"] == pytest.approx(125.0) and filtered[1]["keypoints"][1]["y"] == \
        pytest.approx(62.5)


def test_keypoints_follow_their_detection_through_nms_and_filters(store, landscape):
    # a third, weaker person overlapping P with different keypoints: suppressed with all its keypoints
    boxes = np.vstack([BOXES, [[25.0, 24.0, 32.0, 32.0]]])
    scores = np.vstack([SCORES, [[0.85]]])
    keypoints = np.concatenate([KEYPOINTS, np.full((1, 3, 3), 1.0)])
    model = store.load(yolov8_pose(boxes, scores, keypoints), family="yolov8-pose", task="keypoint-detection",
                       class_names=["person"], keypoint_names=KEYPOINT_NAMES)
    dets = model.infer(landscape).detections
    assert dets.confidence == pytest.approx([0.95, 0.9], abs=1e-5)
    assert dets.keypoints == pytest.approx(expected_points("stretch"), abs=1e-3)
    best = model.infer(landscape, max_detections=1).detections
    assert best.keypoints == pytest.approx(expected_points("stretch")[:1], abs=1e-3)
    sliced = dets[np.array([False, True])]
    assert sliced.keypoint_confidence == pytest.approx(np.array([[0.9, 0.2, 0.6]]))


def test_keypoints_reach_supervision(store, landscape):
    model = store.load(yolov8_pose(BOXES, SCORES, KEYPOINTS), family="yolov8-pose", task="keypoint-detection",
                       class_names=["person"], keypoint_names=KEYPOINT_NAMES)
    dets = model.infer(landscape).detections
    key_points = dets.to_sv_keypoints()
    assert key_points.xy == pytest.approx(dets.keypoints)
    scores = getattr(key_points, "keypoint_confidence", None)  # supervision >= 0.29 name
    assert (scores if scores is not None else key_points.confidence) == pytest.approx(dets.keypoint_confidence)
    back = type(dets).from_supervision(dets.to_supervision())
    assert back.keypoints == pytest.approx(dets.keypoints)
    assert back.keypoint_confidence == pytest.approx(dets.keypoint_confidence)


def test_ultralytics_pose_metadata_gives_keypoint_count(store, landscape):
    meta = ultralytics_metadata("pose", ["person"], kpt_shape=[3, 3])
    model = store.load(yolov8_pose(BOXES, SCORES, KEYPOINTS, metadata=meta))
    assert model.manifest.family.value == "yolov8-pose"
    assert model.manifest.resize.value == "letterbox"
    assert model.manifest.keypoint_names == ["0", "1", "2"]
    dets = model.infer(landscape).detections
    assert dets.keypoints == pytest.approx(expected_points("letterbox"), abs=1e-3)
    assert dets.keypoint_names == ("0", "1", "2")


def test_two_value_keypoints_from_kpt_shape(store, landscape):
    """kpt_shape [3, 2]: x, y only; every keypoint gets confidence 1."""
    meta = ultralytics_metadata("pose", ["person"], kpt_shape=[3, 2])
    model = store.load(yolov8_pose(BOXES, SCORES, KEYPOINTS[..., :2], metadata=meta))
    dets = model.infer(landscape).detections
    assert dets.keypoints == pytest.approx(expected_points("letterbox"), abs=1e-3)
    assert (dets.keypoint_confidence == 1.0).all()
