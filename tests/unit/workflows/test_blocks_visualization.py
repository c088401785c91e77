"""Visualization blocks change exactly the pixels supervision's annotators change, and nothing else.

Each test runs the block inside a compiled workflow on a real photo and compares with the
annotator (or drawing function) called directly in the test with the reference's defaults.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
import supervision as sv

from argus.errors import ClientError
from argus.settings import Settings
from argus.workflows import WorkflowContext, compile_workflow, serialize_outputs
from argus.workflows.data import (
    KEYPOINTS_CLASS_NAME_KEY,
    KEYPOINTS_CONFIDENCE_KEY,
    KEYPOINTS_XY_KEY,
)
from photos import read_bgr


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return read_bgr("astronaut.png")  # 512 x 512


@pytest.fixture
def context(tmp_path) -> WorkflowContext:
    return WorkflowContext(settings=Settings(home=tmp_path / "home"))


def detections(with_masks: bool = False) -> sv.Detections:
    xyxy = np.array([[40, 60, 200, 220], [260, 100, 420, 400], [300, 20, 380, 90]], dtype=float)
    masks = None
    if with_masks:
        masks = np.zeros((3, 512, 512), dtype=bool)
        masks[0, 80:200, 60:180] = True
        masks[1, 150:380, 280:400] = True
        masks[2, 30:80, 310:370] = True
    return sv.Detections(xyxy=xyxy, mask=masks, confidence=np.array([0.9, 0.75, 0.5]), class_id=np.array([0, 1, 0]),
                         tracker_id=np.array([5, 6, 7]), data={"class_name": np.array(["person", "dog", "person"])})


def viz_definition(step: dict[str, Any], kind: str = "object_detection_prediction",
                   extra_inputs: list | None = None) -> dict[str, Any]:
    """A workflow of one step ``viz`` (``step``'s fields) with inputs ``image`` and ``dets``; outputs its image."""
    return {
        "version": "1.0",
        "inputs": [{"type": "WorkflowImage", "name": "image"},
                   {"type": "WorkflowBatchInput", "name": "dets", "kind": [kind]},
                   *(extra_inputs or [])],
        "steps": [{"name": "viz", **step}],
        "outputs": [{"type": "JsonField", "name": "viz", "selector": "$steps.viz.image"}],
    }


def run_block(context: WorkflowContext, photo: np.ndarray, step: dict[str, Any], dets: sv.Detections | None = None,
              extra_inputs: list | None = None, inputs: dict | None = None,
              kind: str = "object_detection_prediction") -> np.ndarray:
    fields = {"image": "$inputs.image", **step}
    if "predictions" not in step and step["type"].split("/")[-1].split("@")[0] not in (
            "line_counter_visualization", "polygon_zone_visualization"):
        fields["predictions"] = "$inputs.dets"
    out = compile_workflow(viz_definition(fields, kind, extra_inputs), context).run(
        {"image": photo, "dets": [dets if dets is not None else detections()], **(inputs or {})})
    return out.outputs[0]["viz"].numpy_image


def outside(xyxy: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    mask = np.ones(shape[:2], dtype=bool)
    for x1, y1, x2, y2 in xyxy.astype(int):
        mask[y1:y2, x1:x2] = False
    return mask


CASES = [
    ("roboflow_core/bounding_box_visualization@v1", {}, lambda: sv.BoxAnnotator(color=sv.ColorPalette.DEFAULT,
                                                                                thickness=2)),
    ("BoundingBoxVisualization", {"thickness": 5, "roundness": 0.5, "color_axis": "TRACK"},
     lambda: sv.RoundBoxAnnotator(thickness=5, roundness=0.5, color_lookup=sv.ColorLookup.TRACK)),
    ("roboflow_core/dot_visualization@v1", {"position": "BOTTOM_RIGHT", "radius": 6},
     lambda: sv.DotAnnotator(position=sv.Position.BOTTOM_RIGHT, radius=6)),
    ("roboflow_core/blur_visualization@v1", {}, lambda: sv.BlurAnnotator(kernel_size=15)),
    ("roboflow_core/pixelate_visualization@v1", {"pixel_size": 8}, lambda: sv.PixelateAnnotator(pixel_size=8)),
    ("roboflow_core/crop_visualization@v1", {}, lambda: sv.CropAnnotator()),
    ("roboflow_core/background_color_visualization@v1", {"color": "#102030", "opacity": 0.25},
     lambda: sv.BackgroundOverlayAnnotator(color=sv.Color.from_hex("#102030"), opacity=0.25)),
    ("roboflow_core/bounding_box_visualization@v1", {"color_palette": "CUSTOM", "custom_colors": ["#FF0000", "#00FF00"],
                                                     "color_axis": "INDEX"},
     lambda: sv.BoxAnnotator(color=sv.ColorPalette.from_hex(["#FF0000", "#00FF00"]), color_lookup=sv.ColorLookup.INDEX)),
    ("roboflow_core/bounding_box_visualization@v1", {"color_palette": "Matplotlib Viridis", "palette_size": 4},
     lambda: sv.BoxAnnotator(color=sv.ColorPalette.from_matplotlib("viridis", 4))),
    ("CircleVisualization", {"thickness": 3}, lambda: sv.CircleAnnotator(thickness=3)),
    ("EllipseVisualization", {"start_angle": 0}, lambda: sv.EllipseAnnotator(start_angle=0, end_angle=235)),
    ("CornerVisualization", {}, lambda: sv.BoxCornerAnnotator(thickness=4, corner_length=15)),
    ("TriangleVisualization", {"position": "CENTER", "base": 20},
     lambda: sv.TriangleAnnotator(position=sv.Position.CENTER, base=20, height=10)),
    ("ColorVisualization", {"opacity": 0.3}, lambda: sv.ColorAnnotator(opacity=0.3)),
]


@pytest.mark.parametrize(("block_type", "fields", "annotator"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_block_draws_what_the_supervision_annotator_draws(context, photo, block_type, fields, annotator) -> None:
    drawn = run_block(context, photo, {"type": block_type, **fields})
    expected = annotator().annotate(photo.copy(), detections())
    assert np.array_equal(drawn, expected)
    assert not np.array_equal(drawn, photo)


def test_masks_and_polygons_come_from_the_instance_masks(context, photo) -> None:
    dets = detections(with_masks=True)
    mask = run_block(context, photo, {"type": "MaskVisualization", "opacity": 0.4}, dets)
    assert np.array_equal(mask, sv.MaskAnnotator(opacity=0.4).annotate(photo.copy(), dets))
    polygon = run_block(context, photo, {"type": "roboflow_core/polygon_visualization@v1"}, dets)
    assert np.array_equal(polygon, sv.PolygonAnnotator(thickness=2).annotate(photo.copy(), dets))
    union = dets.mask.any(axis=0)
    assert np.array_equal(mask[~union], photo[~union])  # only masked pixels are tinted


def test_blur_and_pixelate_leave_pixels_outside_the_boxes_untouched(context, photo) -> None:
    keep = outside(detections().xyxy, photo.shape)
    for step in ({"type": "BlurVisualization"}, {"type": "PixelateVisualization"}):
        drawn = run_block(context, photo, step)
        assert np.array_equal(drawn[keep], photo[keep])
        assert not np.array_equal(drawn[~keep], photo[~keep])


def test_background_color_leaves_pixels_inside_the_boxes_untouched(context, photo) -> None:
    drawn = run_block(context, photo, {"type": "BackgroundColorVisualization"})
    inside = ~outside(detections().xyxy, photo.shape)
    assert np.array_equal(drawn[inside], photo[inside])
    assert np.all(drawn[~inside].astype(int) <= photo[~inside].astype(int))  # darkened towards black


@pytest.mark.parametrize(("text", "labels"), [
    ("Class", ["person", "dog", "person"]),
    ("Class and Confidence", ["person 0.90", "dog 0.75", "person 0.50"]),
    ("Tracker Id", ["5", "6", "7"]),
    ("Dimensions", ["120, 140 160x160", "340, 250 160x300", "340, 55 80x70"]),
])
def test_label_text_choices(context, photo, text, labels) -> None:
    drawn = run_block(context, photo, {"type": "LabelVisualization", "text": text, "text_position": "CENTER"})
    expected = sv.LabelAnnotator(text_position=sv.Position.CENTER, text_scale=1.0, text_padding=10).annotate(
        photo.copy(), detections(), labels=labels)
    assert np.array_equal(drawn, expected)


def test_copy_image_false_draws_on_the_input_pixels(context, photo) -> None:
    original = photo.copy()
    image = photo.copy()
    drawn = run_block(context, image, {"type": "BoundingBoxVisualization", "copy_image": False})
    assert np.array_equal(drawn, sv.BoxAnnotator().annotate(original.copy(), detections()))
    kept = run_block(context, original, {"type": "BoundingBoxVisualization"})
    assert np.array_equal(kept, drawn)
    assert np.array_equal(original, photo)  # copy_image true (default) left its input alone


def test_trace_follows_each_track_across_frames_per_video(context, photo) -> None:
    definition = viz_definition({"type": "roboflow_core/trace_visualization@v1", "image": "$inputs.image",
                                 "predictions": "$inputs.dets", "thickness": 2})
    compiled = compile_workflow(definition, context)
    reference = sv.TraceAnnotator(thickness=2, trace_length=30)
    for step in range(5):
        dets = detections()
        dets.xyxy = dets.xyxy + np.array([12 * step, 6 * step, 12 * step, 6 * step])
        drawn = compiled.run({"image": photo, "dets": [dets]}).outputs[0]["viz"].numpy_image
        expected = reference.annotate(photo.copy(), dets)
    assert np.array_equal(drawn, expected)


def test_keypoint_vertices_and_edges(context, photo) -> None:
    dets = detections()
    xy = [np.array([[x1 + 10, y1 + 10], [x2 - 10, y2 - 10], [x1 + 10, y2 - 10]]) for x1, y1, x2, y2 in dets.xyxy]
    for key, rows in ((KEYPOINTS_XY_KEY, xy), (KEYPOINTS_CONFIDENCE_KEY, [np.ones(3)] * 3),
                      (KEYPOINTS_CLASS_NAME_KEY, [np.array(["a", "b", "c"], dtype=object)] * 3)):
        column = np.empty(3, dtype=object)
        column[:] = rows
        dets.data[key] = column
    key_points = sv.KeyPoints(xy=np.array(xy, dtype=np.float32), keypoint_confidence=np.ones((3, 3), np.float32),
                              class_id=dets.class_id)
    color = sv.Color.from_hex("#A351FB")
    kind = "keypoint_detection_prediction"
    vertex = run_block(context, photo, {"type": "KeypointVisualization", "annotator_type": "vertex"}, dets, kind=kind)
    assert np.array_equal(vertex, sv.VertexAnnotator(color=color, radius=10).annotate(photo.copy(), key_points))
    edge = run_block(context, photo, {"type": "KeypointVisualization", "edges": [[1, 2], [2, 3]]}, dets, kind=kind)
    expected = sv.EdgeAnnotator(color=color, thickness=2, edges=[(1, 2), (2, 3)]).annotate(photo.copy(), key_points)
    assert np.array_equal(edge, expected)
    with pytest.raises(ClientError, match="edges: .*1-based"):  # supervision numbers keypoints from 1
        run_block(context, photo, {"type": "KeypointVisualization", "edges": [[0, 1]]}, dets, kind=kind)


def test_polygon_zone_adds_its_colour_inside_the_zone_only(context, photo) -> None:
    zone = [[100, 100], [300, 120], [250, 400]]
    drawn = run_block(context, photo, {"type": "roboflow_core/polygon_zone_visualization@v1", "zone": zone,
                                       "color": "#FF0000", "opacity": 0.4})
    inside = cv2.fillPoly(np.zeros(photo.shape[:2], np.uint8), [np.array(zone, np.int32)], 1).astype(bool)
    expected = photo.astype(np.int32)
    expected[inside, 2] = np.minimum(255, expected[inside, 2] + 102)  # red (BGR) × 0.4, added as the reference does
    assert np.array_equal(drawn, expected.astype(np.uint8))
    assert np.array_equal(drawn[~inside], photo[~inside])


def test_line_zone_draws_the_line_and_the_counts_wired_from_inputs(context, photo) -> None:
    drawn = run_block(context, photo, {"type": "roboflow_core/line_counter_visualization@v1",
                                       "zone": [[50, 300], [450, 300]], "count_in": "$inputs.n_in",
                                       "count_out": "$inputs.n_out", "opacity": 1.0, "color": "#00FF00"},
                      extra_inputs=[{"type": "WorkflowParameter", "name": "n_in"},
                                    {"type": "WorkflowParameter", "name": "n_out"}],
                      inputs={"n_in": 3, "n_out": 4})
    line = cv2.line(np.zeros(photo.shape[:2], np.uint8), (50, 300), (450, 300), 1, 2).astype(bool)
    expected = photo.copy()
    expected[line, 1] = 255  # the green line (×1.0) added onto the photo saturates the green channel
    expected = sv.draw_text(expected, "in: 3, out: 4", sv.Point(50, 300), text_scale=1.0, text_thickness=1,
                            background_color=sv.Color.WHITE, text_padding=0)
    assert np.array_equal(drawn, expected)
    assert np.array_equal(drawn[:250], photo[:250]) and np.array_equal(drawn[320:], photo[320:])


def test_image_output_serialises_as_base64_jpeg(context, photo) -> None:
    definition = viz_definition({"type": "BoundingBoxVisualization", "images": "$inputs.image",
                                 "predictions": "$inputs.dets"})
    result = serialize_outputs(compile_workflow(definition, context).run({"image": photo,
                                                                          "dets": [detections()]}).outputs)
    assert result[0]["viz"]["type"] == "base64" and len(result[0]["viz"]["value"]) > 1000


@pytest.mark.parametrize(("fields", "message"), [
    ({"color_palette": "CUSTOM"}, "custom_colors"),
    ({"color_axis": "$inputs.axis"}, "color_axis must be INDEX, CLASS or TRACK"),
])
def test_bad_colour_settings_are_client_errors(context, photo, fields, message) -> None:
    with pytest.raises(ClientError, match=message):
        run_block(context, photo, {"type": "BoundingBoxVisualization", **fields},
                  extra_inputs=[{"type": "WorkflowParameter", "name": "axis"}], inputs={"axis": "DIAGONAL"})


@pytest.mark.parametrize("block", ["roboflow_core/dot_visualization@v1", "roboflow_core/crop_visualization@v1"])
def test_a_bad_anchor_names_the_position_field(context, photo, block: str) -> None:
    with pytest.raises(ClientError, match="Step 'viz': position must be one of"):
        run_block(context, photo, {"type": block, "position": "$inputs.where"},
                  extra_inputs=[{"type": "WorkflowParameter", "name": "where"}], inputs={"where": "MIDDLE"})


def test_classification_label_refuses_an_unknown_colour_axis(context, photo) -> None:
    """Its predictions come from a step (as the reference's manifest requires), here a pass-through."""
    classification = {"predictions": [{"class": "cat", "class_id": 0, "confidence": 0.9}], "top": "cat"}
    definition = viz_definition({"type": "roboflow_core/classification_label_visualization@v1",
                                 "predictions": "$steps.pass.output", "color_axis": "$inputs.axis",
                                 "image": "$inputs.image"}, "classification_prediction",
                                [{"type": "WorkflowParameter", "name": "axis"}])
    definition["steps"].insert(0, {"type": "roboflow_core/first_non_empty_or_default@v1", "name": "pass",
                                   "data": ["$inputs.dets"]})
    with pytest.raises(ClientError, match="color_axis must be INDEX, CLASS or TRACK"):
        compile_workflow(definition, context).run({"image": photo, "dets": [classification], "axis": "DIAGONAL"})
