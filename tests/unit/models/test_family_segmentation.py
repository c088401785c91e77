"""YOLO instance segmentation (v8-seg, v5-seg): masks and polygons land on known rectangles.

Prototypes are 16x16 for a 64x64 input (stride 4), with logits ±10, so after the sigmoid a
prototype is a crisp rectangle and its edges fall exactly on prototype-pixel borders:

* prototype 0 is +10 on rows 4..7, cols 4..11 → input y [16, 32), x [16, 48)
* prototype 1 is +10 on rows 8..14, cols 2..5 → input y [32, 60), x [8, 24)

Detection A (cat, 0.9, coefficients [1, 0]) has the input box (8, 8, 40, 40): its mask is
prototype 0 cropped to the box, input x [16, 40), y [16, 32) (the box cuts the rectangle at x = 40).
Detection B (dog, 0.8, coefficients [0, 1]) has the input box (4, 28, 28, 64), which contains
prototype 1's rectangle. The 200x100 image maps back as in test_families (stretch /0.32, /0.64;
letterbox /0.32 after removing a 16 px top pad); every rectangle edge then falls on a pixel border
of the original image, never on a pixel centre, so the expected masks have no ties.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from onnx_builders import yolov5_seg, yolov8_seg

NAMES = ["cat", "dog"]

PROTOS = np.full((2, 16, 16), -10.0, dtype=np.float32)
PROTOS[0, 4:8, 4:12] = 10.0
PROTOS[1, 8:15, 2:6] = 10.0
BOXES_CXCYWH = np.array([[24.0, 24.0, 32.0, 32.0], [16.0, 46.0, 24.0, 36.0]])
SCORES = np.array([[0.9, 0.0], [0.0, 0.8]])
COEFFICIENTS = np.array([[1.0, 0.0], [0.0, 1.0]])

# (box, mask rectangle) per detection in original pixels, continuous coordinates [x1, y1, x2, y2).
EXPECTED = {
    "stretch": [
        ([8 / 0.32, 8 / 0.64, 40 / 0.32, 40 / 0.64], [16 / 0.32, 16 / 0.64, 40 / 0.32, 32 / 0.64]),
        ([4 / 0.32, 28 / 0.64, 28 / 0.32, 64 / 0.64], [8 / 0.32, 32 / 0.64, 24 / 0.32, 60 / 0.64]),
    ],
    "letterbox": [
        # y: (8-16)/0.32 = -25 → clipped to 0
        ([8 / 0.32, 0.0, 40 / 0.32, (40 - 16) / 0.32], [16 / 0.32, 0.0, 40 / 0.32, (32 - 16) / 0.32]),
        # y2: (64-16)/0.32 = 150 → clipped to the image height 100; the mask is cut there too
        ([4 / 0.32, (28 - 16) / 0.32, 28 / 0.32, 100.0], [8 / 0.32, (32 - 16) / 0.32, 24 / 0.32, 100.0]),
    ],
}
PROTO_PIXEL = {"stretch": (4 / 0.32, 4 / 0.64), "letterbox": (4 / 0.32, 4 / 0.32)}  # in original px


def build(layout: str, **kwargs):
    if layout == "yolov8-seg":
        return yolov8_seg(BOXES_CXCYWH, SCORES, COEFFICIENTS, PROTOS, **kwargs)
    return yolov5_seg(BOXES_CXCYWH, np.ones(2), SCORES, COEFFICIENTS, PROTOS, **kwargs)


def rect_mask(shape: tuple[int, int], rect: list[float]) -> np.ndarray:
    """Pixels whose centre lies in the continuous rectangle ``[x1, x2) x [y1, y2)``."""
    ys, xs = np.mgrid[: shape[0], : shape[1]] + 0.5
    return (xs >= rect[0]) & (xs < rect[2]) & (ys >= rect[1]) & (ys < rect[3])


def grow(mask: np.ndarray, pixels: int = 1) -> np.ndarray:
    out = mask.copy()
    for axis in (0, 1):
        for shift in range(1, pixels + 1):
            out |= np.roll(mask, shift, axis) | np.roll(mask, -shift, axis)
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


@pytest.fixture(params=["yolov8-seg", "yolov5-seg"])
def layout(request) -> str:
    return request.param


@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
def test_masks_are_the_prototype_rectangles_cropped_to_the_boxes(store, landscape, layout, resize):
    model = store.load(build(layout), family=layout, class_names=NAMES, resize=resize)
    assert model.task.value == "instance-segmentation"
    dets = model.infer(landscape).detections
    assert dets.class_name.tolist() == ["cat", "dog"]
    assert dets.confidence == pytest.approx([0.9, 0.8], abs=1e-5)
    assert dets.masks is not None and dets.masks.shape == (2, 100, 200) and dets.masks.dtype == bool
    for i, (box, rect) in enumerate(EXPECTED[resize]):
        assert dets.xyxy[i] == pytest.approx(box, abs=1e-3)
        mask, expected = dets.masks[i], rect_mask((100, 200), rect)
        assert iou(mask, expected) > 0.95, f"detection {i}: IoU {iou(mask, expected):.3f}"
        assert not (mask & ~grow(expected)).any(), f"detection {i}: pixels set outside the rectangle"
        # the mask spans the rectangle (bilinear upsampling only rounds its corners off a little)
        ys, xs = np.nonzero(mask)
        ey, ex = np.nonzero(expected)
        assert abs(xs.min() - ex.min()) <= 1 and abs(xs.max() - ex.max()) <= 1
        assert abs(ys.min() - ey.min()) <= 1 and abs(ys.max() - ey.max()) <= 1
        assert mask[(ey.min() + ey.max()) // 2, ex.min() + 1: ex.max()].all()  # middle row, edge to edge
        assert mask[ey.min() + 1: ey.max(), (ex.min() + ex.max()) // 2].all()  # middle column
        # nothing outside the box
        x1, y1 = math.floor(box[0]), math.floor(box[1])
        x2, y2 = math.ceil(box[2]), math.ceil(box[3])
        outside = np.ones_like(mask)
        outside[y1:y2, x1:x2] = False
        assert not (mask & outside).any()


@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
def test_polygons_outline_the_same_rectangles(store, landscape, layout, resize):
    model = store.load(build(layout), family=layout, class_names=NAMES, resize=resize)
    dets = model.infer(landscape).detections
    assert dets.polygons is not None and len(dets.polygons) == 2
    for polygon, (_, rect) in zip(dets.polygons, EXPECTED[resize]):
        assert polygon.ndim == 2 and polygon.shape[1] == 2 and len(polygon) >= 4
        # the outline runs through the border pixels: x from x1 to x2 - 1 (pixel indices)
        assert polygon[:, 0].min() == pytest.approx(rect[0], abs=1.5)
        assert polygon[:, 0].max() == pytest.approx(rect[2] - 1, abs=1.5)
        assert polygon[:, 1].min() == pytest.approx(rect[1], abs=1.5)
        assert polygon[:, 1].max() == pytest.approx(rect[3] - 1, abs=1.5)
    points = model.infer(landscape).to_roboflow()["predictions"][0]["points"]
    assert points and set(points[0]) == {"x", "y"}


@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
def test_fast_mask_decoding_gives_a_close_polygon_and_no_masks(store, landscape, layout, resize):
    model = store.load(build(layout), family=layout, class_names=NAMES, resize=resize)
    dets = model.infer(landscape, mask_decode_mode="fast").detections
    assert dets.masks is None
    assert dets.polygons is not None and len(dets.polygons) == 2
    tol_x, tol_y = PROTO_PIXEL[resize]  # traced at prototype resolution: within one prototype pixel
    for polygon, (_, rect) in zip(dets.polygons, EXPECTED[resize]):
        assert len(polygon) >= 4
        assert polygon[:, 0].min() == pytest.approx(rect[0], abs=tol_x)
        assert polygon[:, 0].max() == pytest.approx(rect[2], abs=tol_x)
        assert polygon[:, 1].min() == pytest.approx(rect[1], abs=tol_y)
        assert polygon[:, 1].max() == pytest.approx(rect[3], abs=tol_y)


def test_masks_follow_their_detection_through_sorting_and_filtering(store, landscape, layout):
    model = store.load(build(layout), family=layout, class_names=NAMES)
    dogs = model.infer(landscape, class_filter=["dog"]).detections
    assert dogs.class_name.tolist() == ["dog"] and dogs.masks.shape == (1, 100, 200)
    assert iou(dogs.masks[0], rect_mask((100, 200), EXPECTED["stretch"][1][1])) > 0.95
    best = model.infer(landscape, max_detections=1).detections
    assert iou(best.masks[0], rect_mask((100, 200), EXPECTED["stretch"][0][1])) > 0.95


def test_masks_reach_supervision(store, landscape, layout):
    model = store.load(build(layout), family=layout, class_names=NAMES)
    result = model.infer(landscape)
    converted = result.to_supervision()
    assert converted.mask is not None and converted.mask.shape == (2, 100, 200)
    assert (converted.mask == result.detections.masks).all()


def test_no_detections_gives_empty_masks(store, landscape, layout):
    model = store.load(build(layout), family=layout, class_names=NAMES)
    dets = model.infer(landscape, confidence=0.95).detections
    assert len(dets) == 0 and dets.polygons == []
    assert dets.masks is not None and dets.masks.shape[0] == 0
