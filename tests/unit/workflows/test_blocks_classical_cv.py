"""Classical-CV blocks on images whose answers are known by construction (pixel values, counts, shapes)."""

from __future__ import annotations

import numpy as np
import pytest

from argus.errors import InvalidInputError
from argus.settings import Settings
from argus.workflows import WorkflowContext, compile_workflow, serialize_outputs
from argus.workflows.data import WorkflowImageData


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> WorkflowContext:
    return WorkflowContext(settings=Settings(home=tmp_path_factory.mktemp("cv")))


def run(context: WorkflowContext, step: dict, outputs: dict[str, str], image: np.ndarray) -> dict:
    definition = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
                  "steps": [{"name": "s", "image": "$inputs.image", **step}],
                  "outputs": [{"type": "JsonField", "name": k, "selector": v} for k, v in outputs.items()]}
    return compile_workflow(definition, context).run({"image": image}).outputs[0]


def squares(count: int = 3) -> np.ndarray:
    """White squares (10×10) on black, spaced apart."""
    image = np.zeros((40, 20 * count + 10, 3), np.uint8)
    for i in range(count):
        image[10:20, 10 + 20 * i:20 + 20 * i] = 255
    return image


def test_grayscale_weighs_the_channels_as_bt601(context: WorkflowContext) -> None:
    image = np.zeros((2, 3, 3), np.uint8)
    image[0, 0] = (0, 0, 255)  # red (BGR)
    image[0, 1] = (0, 255, 0)  # green
    image[0, 2] = (255, 0, 0)  # blue
    gray = run(context, {"type": "roboflow_core/convert_grayscale@v1"}, {"g": "$steps.s.image"}, image)["g"]
    assert gray.numpy_image.shape == (2, 3)  # one channel, as the reference
    assert gray.numpy_image[0].tolist() == [76, 150, 29]  # 0.299·255, 0.587·255, 0.114·255


@pytest.mark.parametrize("blur_type", ["average", "gaussian", "median", "bilateral"])
def test_a_blur_leaves_a_flat_image_flat_and_spreads_an_impulse(context: WorkflowContext, blur_type: str) -> None:
    flat = np.full((20, 20, 3), 90, np.uint8)
    out = run(context, {"type": "roboflow_core/image_blur@v1", "blur_type": blur_type, "kernel_size": 4},
              {"b": "$steps.s.image"}, flat)["b"]
    assert (out.numpy_image == 90).all()
    if blur_type in ("average", "gaussian"):
        impulse = np.zeros((21, 21, 3), np.uint8)
        impulse[10, 10] = 250
        spread = run(context, {"type": "roboflow_core/image_blur@v1", "blur_type": blur_type, "kernel_size": 5},
                     {"b": "$steps.s.image"}, impulse)["b"].numpy_image[:, :, 0]
        assert 0 < spread[10, 10] < 250 and spread[10, 11] > 0 and spread[0, 0] == 0


@pytest.mark.parametrize(("threshold_type", "expected"), [
    ("binary", [0, 0, 255, 255]), ("binary_inv", [255, 255, 0, 0]), ("trunc", [10, 100, 100, 100]),
    ("tozero", [0, 0, 200, 250]), ("tozero_inv", [10, 100, 0, 0]), ("otsu", [0, 0, 255, 255]),
])
def test_thresholds(context: WorkflowContext, threshold_type: str, expected: list[int]) -> None:
    gray = np.array([[10, 100, 200, 250]], np.uint8)
    out = run(context, {"type": "roboflow_core/threshold@v1", "threshold_type": threshold_type, "thresh_value": 100},
              {"t": "$steps.s.image"}, np.dstack([gray] * 3))["t"].numpy_image
    assert (out[..., 0] if out.ndim == 3 else out)[0].tolist() == expected


def test_contours_are_counted_and_drawn(context: WorkflowContext) -> None:
    body = run(context, {"type": "roboflow_core/contours_detection@v1", "line_thickness": 1},
               {"n": "$steps.s.number_contours", "image": "$steps.s.image", "c": "$steps.s.contours"}, squares(3))
    assert body["n"] == 3 and len(body["c"]) == 3
    drawn = body["image"].numpy_image
    assert tuple(drawn[10, 10]) == (255, 0, 255)  # a square's corner, outlined in magenta
    serialized = serialize_outputs([{"n": body["n"]}])
    assert serialized == [{"n": 3}]


@pytest.mark.parametrize(("color", "tolerance", "expected"), [
    ("#FF0000", 10, 12), ("#F00", 0, 12), ("(255, 0, 0)", 5, 12), ((255, 0, 0), 0, 12),
    ("#F8020A", 10, 12), ("#F8020A", 5, 0), ("#000000", 0, 100 - 12 - 4),
])
def test_pixel_color_count(context: WorkflowContext, color: object, tolerance: int, expected: int) -> None:
    image = np.zeros((10, 10, 3), np.uint8)
    image[0, :10] = (0, 0, 255)  # 10 red pixels (BGR)
    image[1, :2] = (0, 0, 255)  # 2 more
    image[5, :4] = (0, 255, 0)  # 4 green
    body = run(context, {"type": "roboflow_core/pixel_color_count@v1", "target_color": color, "tolerance": tolerance},
               {"n": "$steps.s.matching_pixels_count"}, image)
    assert body["n"] == expected


@pytest.mark.parametrize("color", ["red", "#12345", "(1, 2)"])
def test_a_bad_colour_is_refused(context: WorkflowContext, color: str) -> None:
    with pytest.raises(InvalidInputError, match="Invalid colour"):
        run(context, {"type": "roboflow_core/pixel_color_count@v1", "target_color": color},
            {"n": "$steps.s.matching_pixels_count"}, squares(1))


def test_grayscale_then_otsu_then_contours_chain(context: WorkflowContext) -> None:
    definition = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
                  "steps": [{"type": "roboflow_core/convert_grayscale@v1", "name": "g", "image": "$inputs.image"},
                            {"type": "roboflow_core/threshold@v1", "name": "t", "image": "$steps.g.image",
                             "threshold_type": "otsu", "thresh_value": 0},
                            {"type": "roboflow_core/contours_detection@v1", "name": "c", "image": "$steps.t.image"}],
                  "outputs": [{"type": "JsonField", "name": "n", "selector": "$steps.c.number_contours"}]}
    image = squares(4)
    image[image == 0] = 40  # dark grey background
    assert compile_workflow(definition, context).run({"image": image}).outputs[0]["n"] == 4
    assert isinstance(WorkflowImageData.root(image), WorkflowImageData)


def dot_and_hole() -> np.ndarray:
    """A 9×9 white square with a 1-pixel black hole at its centre, and a lone white pixel elsewhere."""
    image = np.zeros((20, 20, 3), np.uint8)
    image[2:11, 2:11] = 255
    image[6, 6] = 0
    image[15, 15] = 255
    return image


@pytest.mark.parametrize(("operation", "hole", "dot", "square_corner"), [
    ("Closing", 255, 255, 255),   # the hole is filled; the dot survives closing
    ("Opening", 0, 0, 255),       # the dot goes; the hole stays
    ("Erosion", 0, 0, 0),         # the square shrinks by one pixel all round
    ("Dilation", 255, 255, 255),
])
def test_morphology_v1_on_the_grayscale(context: WorkflowContext, operation: str, hole: int, dot: int,
                                        square_corner: int) -> None:
    out = run(context, {"type": "roboflow_core/morphological_transformation@v1", "kernel_size": 3,
                        "operation": operation}, {"m": "$steps.s.image"}, dot_and_hole())["m"].numpy_image
    assert out.shape == (20, 20, 1)
    assert (out[6, 6, 0], out[15, 15, 0], out[2, 2, 0]) == (hole, dot, square_corner)


def test_morphology_v2_keeps_colour_and_opens_then_closes(context: WorkflowContext) -> None:
    image = dot_and_hole()
    image[image[..., 0] == 255] = (0, 0, 255)  # red shapes
    out = run(context, {"type": "roboflow_core/morphological_transformation@v2", "kernel_size": 3},
              {"m": "$steps.s.image"}, image)["m"].numpy_image
    assert out.shape == (20, 20, 3)
    assert tuple(out[6, 6]) == (0, 0, 255) and tuple(out[15, 15]) == (0, 0, 0)  # hole filled, dot removed


def marked() -> np.ndarray:
    """A 20×40 image with a white pixel at row 2, column 5."""
    image = np.zeros((20, 40, 3), np.uint8)
    image[2, 5] = 255
    return image


@pytest.mark.parametrize(("step", "shape", "white"), [
    ({"task_type": "flip", "flip_type": "vertical"}, (20, 40, 3), (17, 5)),
    ({"task_type": "flip", "flip_type": "horizontal"}, (20, 40, 3), (2, 34)),
    ({"task_type": "flip", "flip_type": "both"}, (20, 40, 3), (17, 34)),
    ({"task_type": "rotate", "rotation_degrees": 90}, (40, 20, 3), None),
    ({"task_type": "resize", "width": 80, "height": 10}, (10, 80, 3), None),
    ({"task_type": "resize", "width": 20, "height": None}, (10, 20, 3), None),
])
def test_image_preprocessing(context: WorkflowContext, step: dict, shape: tuple, white: tuple | None) -> None:
    out = run(context, {"type": "roboflow_core/image_preprocessing@v1", **step}, {"i": "$steps.s.image"},
              marked())["i"].numpy_image
    assert out.shape == shape
    if white is not None:
        assert list(zip(*np.nonzero(out[..., 0]))) == [white]


def test_a_rotation_by_90_moves_the_mark_where_the_geometry_says(context: WorkflowContext) -> None:
    out = run(context, {"type": "roboflow_core/image_preprocessing@v1", "task_type": "rotate",
                        "rotation_degrees": 90}, {"i": "$steps.s.image"}, marked())["i"].numpy_image
    # counter-clockwise by 90°: (row 2, col 5) of a 20×40 image lands near (row 40 - 1 - 5, col 2)
    rows, columns = np.nonzero(out[..., 0])
    assert abs(rows.mean() - 34) <= 1 and abs(columns.mean() - 2) <= 1


def test_a_resize_past_the_pixel_limit_is_refused(context: WorkflowContext) -> None:
    from argus.errors import ImageTooLargeError

    with pytest.raises(ImageTooLargeError, match="ARGUS_MAX_IMAGE_PIXELS"):
        run(context, {"type": "roboflow_core/image_preprocessing@v1", "task_type": "resize", "width": 100000,
                      "height": 100000}, {"i": "$steps.s.image"}, marked())
