"""Every detection family decodes exactly: boxes, scores, classes and request parameters.

The models are built in the tests (``onnx_builders``) with constant outputs, so each test knows
exactly which raw tensors the decoder sees and computes the expected result by hand.

Geometry used throughout (network input 64x64):

* landscape image 200x100 (W x H)
    - stretch:   x_orig = x_in / 0.32,          y_orig = y_in / 0.64
    - letterbox: gain = min(64/200, 64/100) = 0.32, resized to 64x32, pad top = (64-32)/2 = 16
                 x_orig = x_in / 0.32,          y_orig = (y_in - 16) / 0.32
* portrait image 100x200
    - stretch:   x_orig = x_in / 0.64,          y_orig = y_in / 0.32
    - letterbox: gain 0.32, resized to 32x64, pad left 16
                 x_orig = (x_in - 16) / 0.32,   y_orig = y_in / 0.32
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
import supervision as sv

from argus.core.predictions import DetectionResult, Detections
from argus.errors import InvalidInputError
from onnx_builders import (
    DETECTION_FAMILIES,
    constant_model,
    detection_model,
    detr,
    ssd,
    yolov5_detection,
    yolov8_raw,
)

NAMES = ["cat", "dog"]
NMS_FAMILIES = ("yolov5", "yolov8")

# Box A in input pixels and where it lands in the original image, by image and resize mode.
BOX_A = [24.0, 24.0, 40.0, 40.0]
EXPECTED_A = {
    ("landscape", "stretch"): [24 / 0.32, 24 / 0.64, 40 / 0.32, 40 / 0.64],  # 75, 37.5, 125, 62.5
    ("landscape", "letterbox"): [24 / 0.32, (24 - 16) / 0.32, 40 / 0.32, (40 - 16) / 0.32],  # 75, 25, 125, 75
    ("portrait", "stretch"): [24 / 0.64, 24 / 0.32, 40 / 0.64, 40 / 0.32],  # 37.5, 75, 62.5, 125
    ("portrait", "letterbox"): [(24 - 16) / 0.32, 24 / 0.32, (40 - 16) / 0.32, 40 / 0.32],  # 25, 75, 75, 125
}
# Box B (a different class) to check boxes are not mixed up.
BOX_B = [20.0, 40.0, 28.0, 48.0]
EXPECTED_B = {
    ("landscape", "stretch"): [20 / 0.32, 40 / 0.64, 28 / 0.32, 48 / 0.64],  # 62.5, 62.5, 87.5, 75
    ("landscape", "letterbox"): [20 / 0.32, (40 - 16) / 0.32, 28 / 0.32, (48 - 16) / 0.32],  # 62.5, 75, 87.5, 100
    ("portrait", "stretch"): [20 / 0.64, 40 / 0.32, 28 / 0.64, 48 / 0.32],  # 31.25, 125, 43.75, 150
    ("portrait", "letterbox"): [(20 - 16) / 0.32, 40 / 0.32, (28 - 16) / 0.32, 48 / 0.32],  # 12.5, 125, 37.5, 150
}


def load(store, family: str, boxes, scores, class_ids, resize: str = "stretch", **build):
    """Build a detector of ``family`` with the given detections and load it through the manager."""
    model = detection_model(family, np.array(boxes), np.array(scores), np.array(class_ids), len(NAMES), **build)
    return store.load(model, family=family, class_names=NAMES, resize=resize)


def boxes_of(result: DetectionResult) -> list[list[float]]:
    return result.detections.xyxy.tolist()


# ----------------------------------------------------------------------------------- geometry

@pytest.mark.parametrize("family", DETECTION_FAMILIES)
@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
@pytest.mark.parametrize("image_name", ["landscape", "portrait"])
def test_boxes_map_back_to_original_pixels(store, request, family, resize, image_name):
    image = request.getfixturevalue(image_name)
    model = load(store, family, [BOX_A, BOX_B], [0.9, 0.8], [0, 1], resize=resize)
    result = model.infer(image, confidence=0.5)
    assert isinstance(result, DetectionResult)
    assert (result.image_width, result.image_height) == (image.shape[1], image.shape[0])
    dets = result.detections
    assert len(dets) == 2
    assert dets.xyxy == pytest.approx(np.array([EXPECTED_A[image_name, resize], EXPECTED_B[image_name, resize]]),
                                      abs=1e-3)
    assert dets.class_id.tolist() == [0, 1]
    assert dets.class_name.tolist() == ["cat", "dog"]
    assert dets.confidence == pytest.approx([0.9, 0.8], abs=1e-5)
    assert dets.xyxy.dtype == np.float32 and dets.confidence.dtype == np.float32
    assert dets.class_id.dtype == np.int64


@pytest.mark.parametrize("family", ["yolov8", "yolo-end2end", "ssd"])
def test_boxes_in_the_letterbox_padding_are_clipped_to_the_image(store, landscape, family):
    # Input (0, 8, 64, 24): y (8-16)/0.32 = -25 → 0, (24-16)/0.32 = 25; x spans the full 200.
    model = load(store, family, [[0.0, 8.0, 64.0, 24.0]], [0.9], [0], resize="letterbox")
    dets = model.infer(landscape).detections
    assert dets.xyxy == pytest.approx(np.array([[0.0, 0.0, 200.0, 25.0]]), abs=1e-3)


# --------------------------------------------------------------------------- request params

SEPARATE = [[2.0, 2.0, 12.0, 12.0], [20.0, 2.0, 30.0, 12.0], [40.0, 2.0, 50.0, 12.0], [2.0, 30.0, 12.0, 40.0]]


@pytest.mark.parametrize("family", DETECTION_FAMILIES)
def test_confidence_threshold(store, landscape, family):
    model = load(store, family, SEPARATE[:3], [0.9, 0.5, 0.3], [0, 1, 0])
    assert model.infer(landscape, confidence=0.4).detections.confidence == pytest.approx([0.9, 0.5], abs=1e-5)
    assert model.infer(landscape, confidence=0.6).detections.confidence == pytest.approx([0.9], abs=1e-5)
    assert len(model.infer(landscape, confidence=0.95).detections) == 0
    # the manifest's default (0.4 for a plain import) applies when the request gives none
    assert len(model.infer(landscape).detections) == 2
    # the threshold is strict: a score equal to it is dropped (as ultralytics' `conf > conf_thres`)
    assert len(model.infer(landscape, confidence=0.5).detections) == 1


@pytest.mark.parametrize("family", DETECTION_FAMILIES)
def test_results_are_sorted_best_first(store, landscape, family):
    model = load(store, family, SEPARATE, [0.5, 0.95, 0.7, 0.8], [0, 1, 0, 1])
    dets = model.infer(landscape, confidence=0.1).detections
    assert dets.confidence == pytest.approx([0.95, 0.8, 0.7, 0.5], abs=1e-5)
    # each score still travels with its own box and class
    assert dets.class_id.tolist() == [1, 1, 0, 0]
    expected_first = [20 / 0.32, 2 / 0.64, 30 / 0.32, 12 / 0.64]
    assert dets.xyxy[0] == pytest.approx(expected_first, abs=1e-3)


@pytest.mark.parametrize("family", DETECTION_FAMILIES)
def test_class_filter_by_name(store, landscape, family):
    model = load(store, family, SEPARATE[:3], [0.9, 0.8, 0.7], [0, 1, 0])
    dogs = model.infer(landscape, class_filter=["dog"]).detections
    assert dogs.class_name.tolist() == ["dog"] and dogs.confidence == pytest.approx([0.8], abs=1e-5)
    cats = model.infer(landscape, class_filter=["cat"]).detections
    assert cats.class_name.tolist() == ["cat", "cat"]
    assert len(model.infer(landscape, class_filter=["cat", "dog"]).detections) == 3
    assert len(model.infer(landscape, class_filter=["zebra"]).detections) == 0


@pytest.mark.parametrize("family", DETECTION_FAMILIES)
def test_max_detections_keeps_the_best(store, landscape, family):
    model = load(store, family, SEPARATE, [0.6, 0.9, 0.7, 0.8], [0, 1, 0, 1])
    dets = model.infer(landscape, max_detections=2).detections
    assert dets.confidence == pytest.approx([0.9, 0.8], abs=1e-5)
    assert len(model.infer(landscape, max_detections=1).detections) == 1


# Two boxes with IoU = (14*16) / (2*256 - 14*16) = 224/288 ≈ 0.78.
OVERLAP = [[24.0, 24.0, 40.0, 40.0], [26.0, 24.0, 42.0, 40.0]]


@pytest.mark.parametrize("family", NMS_FAMILIES)
def test_nms_per_class_keeps_overlapping_boxes_of_different_classes(store, landscape, family):
    model = load(store, family, OVERLAP, [0.9, 0.8], [0, 1])
    per_class = model.infer(landscape).detections
    assert per_class.class_name.tolist() == ["cat", "dog"]
    agnostic = model.infer(landscape, class_agnostic_nms=True).detections
    assert agnostic.class_name.tolist() == ["cat"]
    assert agnostic.confidence == pytest.approx([0.9], abs=1e-5)


@pytest.mark.parametrize("family", NMS_FAMILIES)
def test_nms_suppresses_overlapping_boxes_of_the_same_class(store, landscape, family):
    model = load(store, family, OVERLAP, [0.8, 0.9], [1, 1])
    dets = model.infer(landscape).detections
    assert dets.confidence == pytest.approx([0.9], abs=1e-5)
    assert dets.xyxy[0] == pytest.approx([26 / 0.32, 24 / 0.64, 42 / 0.32, 40 / 0.64], abs=1e-3)


@pytest.mark.parametrize("family", NMS_FAMILIES)
def test_iou_threshold(store, landscape, family):
    # IoU = (8*16) / (2*256 - 8*16) = 128/384 = 1/3
    model = load(store, family, [[24.0, 24.0, 40.0, 40.0], [32.0, 24.0, 48.0, 40.0]], [0.9, 0.8], [0, 0])
    assert len(model.infer(landscape, iou_threshold=0.4).detections) == 2
    assert len(model.infer(landscape, iou_threshold=0.3).detections) == 1


@pytest.mark.parametrize("family", NMS_FAMILIES)
def test_max_candidates_limits_what_nms_sees(store, landscape, family):
    # A (0.9) and A' (0.8) overlap, C (0.7) is apart; all one class.
    boxes = OVERLAP + [[2.0, 2.0, 12.0, 12.0]]
    model = load(store, family, boxes, [0.9, 0.8, 0.7], [0, 0, 0])
    assert model.infer(landscape).detections.confidence == pytest.approx([0.9, 0.7], abs=1e-5)
    # only the two best candidates reach NMS, which drops A': C never was a candidate
    assert model.infer(landscape, max_candidates=2).detections.confidence == pytest.approx([0.9], abs=1e-5)
    # max_detections cuts after NMS instead
    assert model.infer(landscape, max_detections=2).detections.confidence == pytest.approx([0.9, 0.7], abs=1e-5)


def test_end_to_end_models_are_not_suppressed_again(store, landscape):
    """NMS is in the graph: the decoder returns overlapping rows as they are."""
    model = load(store, "yolo-end2end", OVERLAP, [0.9, 0.8], [0, 0])
    dets = model.infer(landscape, class_agnostic_nms=True).detections
    assert dets.confidence == pytest.approx([0.9, 0.8], abs=1e-5)


def test_yolov5_confidence_is_objectness_times_class_score(store, landscape):
    boxes = np.array([[8, 8, 8, 8], [32, 8, 8, 8], [56, 8, 8, 8]], dtype=np.float32)  # cx, cy, w, h
    objectness = np.array([0.5, 0.9, 0.3])
    class_scores = np.array([[0.9, 0.1], [0.2, 0.42], [0.0, 1.0]])
    model = store.load(yolov5_detection(boxes, objectness, class_scores), family="yolov5", class_names=NAMES)
    # products: 0.45 (cat), 0.378 (dog), 0.3 (dog)
    dets = model.infer(landscape, confidence=0.4).detections
    assert dets.confidence == pytest.approx([0.45], abs=1e-5)
    assert dets.class_name.tolist() == ["cat"]
    dets = model.infer(landscape, confidence=0.25).detections
    assert dets.confidence == pytest.approx([0.45, 0.378, 0.3], abs=1e-5)
    assert dets.class_name.tolist() == ["cat", "dog", "dog"]
    # cx, cy, w, h → corners: (4, 4, 12, 12) → / (0.32, 0.64)
    assert dets.xyxy[0] == pytest.approx([12.5, 6.25, 37.5, 18.75], abs=1e-3)


def test_detr_takes_the_best_query_class_pairs_through_a_sigmoid(store, landscape):
    logits = np.array([
        [3.0, 2.0],     # query 0: both classes above threshold → two detections on the same box
        [-1.0, 0.2],    # query 1: sigmoid(0.2) = 0.55
        [-9.0, -9.0],   # query 2: nothing
        [-0.5, -0.3],   # query 3: sigmoid(-0.3) = 0.426 < 0.45
    ])
    boxes = np.array([[0.5, 0.5, 0.25, 0.5], [0.25, 0.25, 0.125, 0.125], [0.5, 0.5, 1.0, 1.0],
                      [0.75, 0.75, 0.1, 0.1]])
    model = store.load(detr(boxes, logits), family="detr", class_names=NAMES)
    dets = model.infer(landscape, confidence=0.45).detections
    sigmoid = 1.0 / (1.0 + np.exp(-np.array([3.0, 2.0, 0.2])))
    assert dets.confidence == pytest.approx(sigmoid, abs=1e-5)
    assert dets.class_name.tolist() == ["cat", "dog", "dog"] and dets.class_id.tolist() == [0, 1, 1]
    # query 0: normalised (0.5, 0.5, 0.25, 0.5) → input (32, 32, 16, 32) → xyxy (24, 16, 40, 48)
    #          → stretch (75, 25, 125, 75); query 1 → input (12, 12, 20, 20) → (37.5, 18.75, 62.5, 31.25)
    expected = [[75.0, 25.0, 125.0, 75.0], [75.0, 25.0, 125.0, 75.0], [37.5, 18.75, 62.5, 31.25]]
    assert dets.xyxy == pytest.approx(np.array(expected), abs=1e-3)
    assert len(model.infer(landscape, confidence=0.45, max_detections=2).detections) == 2


def test_detr_top_k_precedes_the_class_filter(store, landscape):
    """max_detections selects the best pairs first (RF-DETR's num_select), then filters apply."""
    model = store.load(detr(np.array([[0.5, 0.5, 0.2, 0.2], [0.2, 0.2, 0.1, 0.1]]),
                            np.array([[4.0, -9.0], [-9.0, 1.0]])), family="detr", class_names=NAMES)
    assert model.infer(landscape, class_filter=["dog"]).detections.class_name.tolist() == ["dog"]


def test_detr_with_four_classes(store, landscape):
    names = ["a", "b", "c", "d"]
    logits = np.full((3, 4), -9.0)
    logits[0, 2] = 3.0
    model = store.load(detr(np.array([[0.5, 0.5, 0.25, 0.5], [0, 0, 0, 0], [0, 0, 0, 0]]), logits),
                       family="detr", class_names=names)
    dets = model.infer(landscape).detections
    assert dets.class_name.tolist() == ["c"]
    assert dets.xyxy == pytest.approx(np.array([[75.0, 25.0, 125.0, 75.0]]), abs=1e-3)


def test_ssd_honours_num_detections_and_yx_order(store, landscape):
    boxes = np.array([
        [0.25, 0.5, 0.75, 1.0],   # ymin, xmin, ymax, xmax → x 100..200, y 25..75
        [0.0, 0.0, 0.5, 0.25],    # → x 0..50, y 0..50
        [0.1, 0.1, 0.2, 0.2],     # beyond num_detections, score 0.99: ignored
        [0.3, 0.3, 0.4, 0.4],     # beyond num_detections, score 0.98: ignored
    ])
    scores = np.array([0.7, 0.9, 0.99, 0.98])
    classes = np.array([1.0, 0.0, 1.0, 0.0])
    model = store.load(ssd(boxes, scores, classes, 2), family="ssd", class_names=NAMES)
    dets = model.infer(landscape, confidence=0.5).detections
    assert dets.confidence == pytest.approx([0.9, 0.7], abs=1e-6)
    assert dets.class_name.tolist() == ["cat", "dog"] and dets.class_id.tolist() == [0, 1]
    assert dets.xyxy == pytest.approx(np.array([[0.0, 0.0, 50.0, 50.0], [100.0, 25.0, 200.0, 75.0]]), abs=1e-3)


# ---------------------------------------------------------------------------------- batching

def _shifting_yolov8(**kwargs):
    """One cat box at input (24, 24, 40, 40); an all-white image (mean 1) moves it right by 16 px."""
    base = yolov8_raw(np.array([[32.0, 32.0, 16.0, 16.0]]), np.array([[0.9, 0.0]]))
    delta = np.zeros_like(base)
    delta[0, 0] = 16.0  # cx of the first anchor
    delta[5, 0] = 0.05  # the dog score rises with the image mean, to prove per-image scores too
    return constant_model({"output0": base}, deltas={"output0": delta}, **kwargs)


def test_batch_results_match_single_image_results(store, landscape):
    model = store.load(_shifting_yolov8(), family="yolov8", class_names=NAMES)
    assert model.batch_size is None  # dynamic batch
    white = np.full_like(landscape, 255)
    single_black = model.infer(landscape)
    single_white = model.infer(white)
    assert single_black.detections.xyxy == pytest.approx(np.array([[75.0, 37.5, 125.0, 62.5]]), abs=1e-3)
    # white: cx 48 → xyxy (40, 24, 56, 40) → (125, 37.5, 175, 62.5)
    assert single_white.detections.xyxy == pytest.approx(np.array([[125.0, 37.5, 175.0, 62.5]]), abs=1e-2)

    batch = model.infer([landscape, white, landscape])
    assert isinstance(batch, list) and len(batch) == 3
    for got, want in zip(batch, [single_black, single_white, single_black]):
        assert got.detections.xyxy == pytest.approx(want.detections.xyxy, abs=1e-4)
        assert got.detections.confidence == pytest.approx(want.detections.confidence, abs=1e-6)
        assert got.detections.class_id.tolist() == want.detections.class_id.tolist()
    reversed_batch = model.infer([white, landscape])
    assert reversed_batch[0].detections.xyxy == pytest.approx(single_white.detections.xyxy, abs=1e-4)
    assert reversed_batch[1].detections.xyxy == pytest.approx(single_black.detections.xyxy, abs=1e-4)


def test_batch_of_differently_sized_images(store, landscape, portrait):
    model = load(store, "yolov8", [BOX_A], [0.9], [0], resize="letterbox")
    results = model.infer([landscape, portrait])
    assert [(r.image_width, r.image_height) for r in results] == [(200, 100), (100, 200)]
    assert results[0].detections.xyxy[0] == pytest.approx(EXPECTED_A["landscape", "letterbox"], abs=1e-3)
    assert results[1].detections.xyxy[0] == pytest.approx(EXPECTED_A["portrait", "letterbox"], abs=1e-3)


def test_static_batch_graph_is_fed_one_image_at_a_time(store, landscape):
    model = store.load(_shifting_yolov8(batch=1), family="yolov8", class_names=NAMES)
    assert model.batch_size == 1
    white = np.full_like(landscape, 255)
    results = model.infer([white, landscape, white])
    assert [round(float(r.detections.xyxy[0, 0]), 1) for r in results] == [125.0, 75.0, 125.0]


def test_a_tuple_of_images_is_a_batch_and_a_single_image_is_not(store, landscape):
    model = load(store, "yolov8", [BOX_A], [0.9], [0])
    assert isinstance(model.infer(landscape), DetectionResult)
    assert len(model.infer((landscape, landscape))) == 2


# ---------------------------------------------------------------------- supervision / roboflow

def test_to_supervision_and_back(store, landscape):
    model = load(store, "yolov8", [BOX_A, BOX_B], [0.9, 0.8], [0, 1])
    result = model.infer(landscape)
    converted = result.to_supervision()
    assert isinstance(converted, sv.Detections)
    assert converted.xyxy == pytest.approx(result.detections.xyxy)
    assert converted.class_id.tolist() == [0, 1]
    assert converted.confidence == pytest.approx([0.9, 0.8], abs=1e-5)
    assert converted.data["class_name"].tolist() == ["cat", "dog"]
    back = Detections.from_supervision(converted)
    assert back.xyxy == pytest.approx(result.detections.xyxy)
    assert back.class_id.tolist() == [0, 1] and back.class_id.dtype == np.int64
    assert back.class_name.tolist() == ["cat", "dog"]
    assert back.confidence == pytest.approx(result.detections.confidence)
    assert back.detection_id.tolist() == result.detections.detection_id.tolist()
    # without class names in data, names come from the list given
    bare = sv.Detections(xyxy=converted.xyxy, confidence=converted.confidence, class_id=converted.class_id)
    assert Detections.from_supervision(bare, NAMES).class_name.tolist() == ["cat", "dog"]


def test_to_roboflow_detection_response(store, landscape):
    model = load(store, "yolov8", [BOX_A, BOX_B], [0.9, 0.8], [0, 1], resize="letterbox")
    body = model.infer(landscape).to_roboflow()
    assert body["image"] == {"width": 200, "height": 100}
    uuid.UUID(body["inference_id"])
    first, second = body["predictions"]
    # A: (75, 25, 125, 75) → centre (100, 50), size 50 x 50
    assert {k: first[k] for k in ("x", "y", "width", "height")} == pytest.approx(
        {"x": 100.0, "y": 50.0, "width": 50.0, "height": 50.0}, abs=1e-3)
    assert (first["class"], first["class_id"]) == ("cat", 0)
    assert first["confidence"] == pytest.approx(0.9, abs=1e-4)
    # B: (62.5, 75, 87.5, 100) → centre (75, 87.5), size 25 x 25
    assert {k: second[k] for k in ("x", "y", "width", "height")} == pytest.approx(
        {"x": 75.0, "y": 87.5, "width": 25.0, "height": 25.0}, abs=1e-3)
    assert (second["class"], second["class_id"]) == ("dog", 1)
    ids = [uuid.UUID(p["detection_id"]) for p in body["predictions"]]
    assert len(set(ids)) == 2
    assert "points" not in first and "keypoints" not in first


def test_no_detections_is_an_empty_but_well_formed_result(store, landscape):
    model = load(store, "yolov8", [BOX_A], [0.3], [0])
    result = model.infer(landscape, confidence=0.5)
    assert len(result.detections) == 0 and result.detections.xyxy.shape == (0, 4)
    assert result.to_roboflow()["predictions"] == []
    assert len(result.to_supervision()) == 0


# ---------------------------------------------------------------------------- invalid params

@pytest.mark.parametrize("params", [
    {"confidence": 1.5}, {"confidence": -0.1}, {"iou_threshold": "x"}, {"iou_threshold": 1.01},
    {"confidence": True}, {"max_detections": 0}, {"max_candidates": -3}, {"keypoint_confidence": 2},
    {"mask_decode_mode": "sloppy"}, {"not_a_param": 1},
])
def test_invalid_params_raise_invalid_input(store, landscape, params):
    model = load(store, "yolov8", [BOX_A], [0.9], [0])
    with pytest.raises(InvalidInputError) as caught:
        model.infer(landscape, **params)
    assert caught.value.status_code == 400
    assert next(iter(params)) in caught.value.message


def test_class_filter_given_as_one_string(store, landscape):
    model = load(store, "yolov8", SEPARATE[:2], [0.9, 0.8], [0, 1])
    try:
        dets = model.infer(landscape, class_filter="dog").detections
    except InvalidInputError:
        return  # refusing it clearly is fine too
    assert dets.class_name.tolist() == ["dog"]
