"""Transformation, fusion and formatter blocks on synthetic images and detections with known answers."""

from __future__ import annotations

import base64
from typing import Any, Literal

import cv2
import numpy as np
import pytest
import supervision as sv

from argus.settings import Settings
from argus.workflows import WorkflowContext, compile_workflow, serialize_outputs
from argus.workflows.blocks.base import (
    Block,
    BlockContext,
    BlockManifest,
    ImageSelector,
    OutputDefinition,
    block_config,
)
from argus.workflows.data import WorkflowImageData, attach_lineage
from argus.workflows.kinds import OBJECT_DETECTION_PREDICTION_KIND
from argus.workflows.registry import BlockRegistry, default_registry


def make_detections(boxes: list[list[float]], names: list[str], confidences: list[float],
                    ids: list[str] | None = None, image: WorkflowImageData | None = None) -> sv.Detections:
    n = len(boxes)
    detections = sv.Detections(
        xyxy=np.array(boxes, dtype=np.float32).reshape(n, 4), confidence=np.array(confidences, dtype=np.float32),
        class_id=np.array([{"cat": 0, "dog": 1}.get(c, 2) for c in names]),
        data={"class_name": np.array(names, dtype=object),
              "detection_id": np.array(ids or [f"d{i}" for i in range(n)], dtype=object)})
    return attach_lineage(detections, image or WorkflowImageData.root(np.zeros((100, 200, 3), np.uint8)))


def block(type_id: str, **fields: Any) -> Block:
    cls = default_registry().get(type_id)
    assert cls is not None, type_id
    manifest = cls.manifest_class.model_validate({"type": type_id, "name": "s", **fields})
    return cls(manifest, BlockContext(settings=Settings()))


def call(type_id: str, **kwargs: Any) -> Any:
    """Run a block with literal values (selectors are not needed for direct calls)."""
    cls = default_registry().get(type_id)
    assert cls is not None
    literal = {k: v for k, v in kwargs.items() if not isinstance(v, (np.ndarray, sv.Detections, WorkflowImageData))
               and not (isinstance(v, list) and v and isinstance(v[0], sv.Detections))}
    instance = block(type_id, **{**_placeholders(cls), **literal})
    defaults = {k: getattr(instance.step, k) for k in type(instance.step).model_fields if k not in ("type", "name")}
    return instance.run(**{**defaults, **{k: v for k, v in kwargs.items() if k not in literal}})


def _placeholders(cls: type[Block]) -> dict[str, Any]:
    """Selector-typed required fields get a placeholder selector so the manifest validates."""
    from argus.workflows.introspection import selector_fields

    out: dict[str, Any] = {}
    for name in selector_fields(cls.manifest_class):
        info = cls.manifest_class.model_fields[name]
        if info.is_required():
            out[name] = ["$inputs.x"] if "list" in str(info.annotation) else "$inputs.x"
    return out


def gradient_image() -> WorkflowImageData:
    pixels = np.zeros((100, 200, 3), np.uint8)
    pixels[..., 0] = np.arange(200)[None, :]
    pixels[..., 1] = np.arange(100)[:, None]
    return WorkflowImageData.root(pixels, parent_id="image")


def test_dynamic_crop_cuts_each_box_and_links_it_to_its_detection():
    image = gradient_image()
    dets = make_detections([[10, 20, 30, 60], [150.4, 0, 210, 10]], ["cat", "dog"], [0.9, 0.8], image=image)
    crops = call("roboflow_core/dynamic_crop@v1", images=image, predictions=dets)
    assert [c["crops"].numpy_image.shape for c in crops] == [(40, 20, 3), (10, 50, 3)]  # second clipped at x=200
    first = crops[0]["crops"]
    assert np.array_equal(first.numpy_image, image.numpy_image[20:60, 10:30])
    assert first.parent_metadata.parent_id == "d0"
    assert first.parent_metadata.origin_coordinates.origin() == {"offset_x": 10, "offset_y": 20, "width": 200,
                                                                  "height": 100}
    assert first.workflow_root_ancestor_metadata.parent_id == "image"


def test_dynamic_crop_blends_background_outside_masks():
    image = WorkflowImageData.root(np.full((10, 10, 3), 200, np.uint8))
    dets = make_detections([[0, 0, 4, 4]], ["cat"], [0.9], image=image)
    mask = np.zeros((1, 10, 10), bool)
    mask[0, :2, :2] = True
    dets.mask = mask
    crop = call("roboflow_core/dynamic_crop@v1", images=image, predictions=dets, mask_opacity=1.0,
                background_color="#000000")[0]["crops"].numpy_image
    assert crop[0, 0].tolist() == [200, 200, 200] and crop[3, 3].tolist() == [0, 0, 0]


def test_static_crops():
    image = gradient_image()
    absolute = call("roboflow_core/absolute_static_crop@v1", images=image, x_center=50, y_center=30, width=20,
                    height=10)["crops"]
    assert np.array_equal(absolute.numpy_image, image.numpy_image[25:35, 40:60])
    relative = call("RelativeStaticCrop", images=image, x_center=0.5, y_center=0.5, width=0.5, height=0.2)["crops"]
    assert np.array_equal(relative.numpy_image, image.numpy_image[40:60, 50:150])


def test_detection_offset_grows_boxes_and_reparents_them():
    dets = make_detections([[10, 10, 20, 30], [190, 90, 200, 100]], ["cat", "cat"], [0.5, 0.5])
    grown = call("roboflow_core/detection_offset@v1", predictions=dets, offset_width=10, offset_height=4)["predictions"]
    assert grown.xyxy.tolist() == [[5, 8, 25, 32], [185, 88, 200, 100]]
    assert list(grown.data["parent_id"]) == ["d0", "d1"] and grown.data["detection_id"][0] != "d0"
    percent = call("DetectionOffset", predictions=dets, offset_width=50, offset_height=50, units="Percent (%)")
    assert percent["predictions"].xyxy[0].tolist() == [8, 5, 22, 35]  # 50 % of 10 is 5: 2 whole pixels a side


def test_consensus_keeps_objects_enough_models_agree_on():
    a = make_detections([[0, 0, 10, 10], [50, 50, 60, 60]], ["cat", "dog"], [0.9, 0.8], ["a0", "a1"])
    b = make_detections([[1, 1, 11, 11], [100, 0, 110, 10]], ["cat", "dog"], [0.7, 0.6], ["b0", "b1"])
    out = call("roboflow_core/detections_consensus@v1", predictions_batches=[a, b], required_votes=2)
    agreed = out["predictions"]
    assert len(agreed) == 1 and agreed.data["class_name"].tolist() == ["cat"]
    assert agreed.xyxy[0].tolist() == pytest.approx([0.5, 0.5, 10.5, 10.5])
    assert agreed.confidence[0] == pytest.approx(0.8)
    assert out["object_present"] is True and out["presence_confidence"] == {"cat": pytest.approx(0.8)}
    one_vote = call("DetectionsConsensus", predictions_batches=[a, b], required_votes=1, class_aware=False)
    assert len(one_vote["predictions"]) == 3  # cat pair merged, two lone dogs
    assert one_vote["presence_confidence"] == {"any_object": pytest.approx(0.8)}
    none = call("DetectionsConsensus", predictions_batches=[a, b], required_votes=2, required_objects={"cat": 2})
    assert none["object_present"] is False and none["presence_confidence"] == {}
    assert out["parent_id"] == "image"


def test_consensus_class_follows_the_confidence_mode():
    a = make_detections([[0, 0, 10, 10]], ["cat"], [0.9], ["a0"])
    b = make_detections([[0, 0, 10, 10]], ["dog"], [0.6], ["b0"])
    c = make_detections([[0, 0, 10, 10]], ["dog"], [0.3], ["c0"])
    votes = {mode: call("DetectionsConsensus", predictions_batches=[a, b, c], required_votes=3, class_aware=False,
                        detections_merge_confidence_aggregation=mode)["predictions"] for mode in ("average", "max", "min")}
    assert {mode: str(d.data["class_name"][0]) for mode, d in votes.items()} == {
        "average": "dog", "max": "cat", "min": "dog"}
    assert {mode: float(d.confidence[0]) for mode, d in votes.items()} == pytest.approx(
        {"average": 0.6, "max": 0.9, "min": 0.3})


def test_perspective_correction_maps_boxes_onto_the_rectangle():
    dets = make_detections([[10, 10, 20, 20]], ["cat"], [0.9])
    out = call("roboflow_core/perspective_correction@v1", predictions=dets, images=gradient_image(),
               perspective_polygons=[[100, 50], [0, 0], [100, 0], [0, 50]], transformed_rect_width=200,
               transformed_rect_height=100, warp_image=True)
    assert out["corrected_coordinates"].xyxy[0].tolist() == pytest.approx([19.9, 19.8, 39.8, 39.6], abs=1e-3)
    assert out["warped_image"].numpy_image.shape == (100, 200, 3)


def test_formatters():
    assert call("roboflow_core/property_definition@v1", data=make_detections([[0, 0, 1, 1]] * 2, ["a", "b"],
                [1, 1]), operations=[{"type": "SequenceLength"}]) == {"output": 2}
    first = block("roboflow_core/first_non_empty_or_default@v1", data=["$inputs.a", "$inputs.b"], default=9)
    assert first.run(data=[None, 0, 3], default=9) == {"output": 0}
    assert first.run(data=[None], default=9) == {"output": 9}
    parser = block("roboflow_core/json_parser@v1", raw_json="$inputs.text", expected_fields=["a", "b"])
    assert parser.run(raw_json='```json\n{"a": 1, "b": [2]}\n```', expected_fields=["a", "b"]) == {
        "error_status": False, "a": 1, "b": [2]}
    assert parser.run(raw_json="not json", expected_fields=["a"]) == {"error_status": True, "a": None}
    assert parser.run(raw_json='{"a": 1}', expected_fields=["a", "b"]) == {"error_status": True, "a": 1, "b": None}


def test_csv_formatter_writes_the_batch_on_its_last_element():
    formatter = block("roboflow_core/csv_formatter@v1", columns_data={"name": "$inputs.n", "count": "$inputs.c"},
                      columns_operations={"name": [{"type": "StringToUpperCase"}]})
    from argus.workflows.blocks.base import Element

    operations = formatter.step.columns_operations
    outputs = formatter.run_batch([Element({"columns_data": {"name": n, "count": c}, "columns_operations": operations})
                                   for n, c in (("a", 1), ("b", 2))])
    assert outputs[0] == {"csv_content": None}
    lines = outputs[1]["csv_content"].splitlines()
    assert lines[0] == "name,count,timestamp"
    assert [line.rsplit(",", 1)[0] for line in lines[1:]] == ["A,1", "B,2"]


def test_expression_switch():
    switch = {"type": "CasesDefinition", "cases": [{
        "type": "CaseDefinition",
        "condition": {"type": "StatementGroup", "statements": [{
            "type": "BinaryStatement", "left_operand": {"type": "DynamicOperand", "operand_name": "n"},
            "comparator": {"type": "(Number) >"}, "right_operand": {"type": "StaticOperand", "value": 2}}]},
        "result": {"type": "StaticCaseResult", "value": "crowd"}}],
        "default": {"type": "DynamicCaseResult", "parameter_name": "name", "operations": [
            {"type": "StringToUpperCase"}]}}
    expression = block("roboflow_core/expression@v1", data={"n": "$inputs.n", "name": "$inputs.name"}, switch=switch)
    kwargs = {"data_operations": {}, "switch": expression.step.switch}
    assert expression.run(data={"n": 5, "name": "x"}, **kwargs) == {"output": "crowd"}
    assert expression.run(data={"n": 1, "name": "solo"}, **kwargs) == {"output": "SOLO"}


class WhiteBoxManifest(BlockManifest):
    model_config = block_config(name="white box", category="test")
    type: Literal["test/white_box@v1"]
    image: ImageSelector()

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="predictions", kind=[OBJECT_DETECTION_PREDICTION_KIND])]


class WhiteBoxBlock(Block):
    """A 'detector' that finds white squares (one box per connected white region)."""

    manifest_class = WhiteBoxManifest

    def run(self, image: WorkflowImageData) -> dict[str, Any]:
        gray = cv2.cvtColor(image.numpy_image, cv2.COLOR_BGR2GRAY)
        contours, _ = cv2.findContours((gray > 127).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes = [[x, y, x + w, y + h] for x, y, w, h in sorted(cv2.boundingRect(c) for c in contours)]
        return {"predictions": make_detections(boxes, ["box"] * len(boxes), [1.0] * len(boxes),
                                               [f"{image.parent_metadata.parent_id}-{i}" for i in range(len(boxes))],
                                               image=image)}


@pytest.fixture(scope="module")
def context() -> WorkflowContext:
    registry = BlockRegistry(blocks=dict(default_registry().blocks))
    registry.register(WhiteBoxBlock)
    return WorkflowContext(settings=Settings(), registry=registry)


def squares() -> np.ndarray:
    pixels = np.zeros((100, 200, 3), np.uint8)
    pixels[10:40, 120:150] = 255
    pixels[60:80, 20:40] = 255
    return pixels


def test_slicer_and_stitch_put_slice_detections_back_on_the_image(context):
    definition = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}], "steps": [
        {"type": "roboflow_core/image_slicer@v1", "name": "slicer", "image": "$inputs.image", "slice_width": 100,
         "slice_height": 100, "overlap_ratio_width": 0.0, "overlap_ratio_height": 0.0},
        {"type": "test/white_box@v1", "name": "det", "image": "$steps.slicer.slices"},
        {"type": "roboflow_core/detections_stitch@v1", "name": "stitch", "reference_image": "$inputs.image",
         "predictions": "$steps.det.predictions"}],
        "outputs": [{"type": "JsonField", "name": "stitched", "selector": "$steps.stitch.predictions"},
                    {"type": "JsonField", "name": "per_slice", "selector": "$steps.det.predictions"}]}
    outputs = compile_workflow(definition, context).run({"image": squares()}).outputs[0]
    assert sorted(outputs["stitched"].xyxy.tolist()) == [[20, 60, 40, 80], [120, 10, 150, 40]]
    assert [len(d) for d in outputs["per_slice"]] == [1, 1]
    assert outputs["per_slice"][1].xyxy.tolist() == [[20, 10, 50, 40]]  # in the second slice's own coordinates
    body = serialize_outputs([outputs])[0]
    assert body["stitched"]["image"] == {"width": 200, "height": 100}
    assert body["per_slice"][1]["predictions"][0]["parent_origin"] == {"offset_x": 100, "offset_y": 0, "width": 200,
                                                                       "height": 100}


def test_crop_then_detect_serialises_in_own_or_parent_coordinates(context):
    definition = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}], "steps": [
        {"type": "roboflow_core/absolute_static_crop@v1", "name": "crop", "images": "$inputs.image", "x_center": 150,
         "y_center": 50, "width": 100, "height": 100},
        {"type": "test/white_box@v1", "name": "det", "image": "$steps.crop.crops"}],
        "outputs": [{"type": "JsonField", "name": "own", "selector": "$steps.det.predictions"},
                    {"type": "JsonField", "name": "parent", "selector": "$steps.det.predictions",
                     "coordinates_system": "parent"},
                    {"type": "JsonField", "name": "crop", "selector": "$steps.crop.crops"}]}
    result = compile_workflow(definition, context).run({"image": squares()})
    body = serialize_outputs(result.outputs)[0]
    own, parent = body["own"]["predictions"][0], body["parent"]["predictions"][0]
    assert (own["x"], own["y"], own["width"], own["height"]) == (35.0, 25.0, 30.0, 30.0)
    assert (parent["x"], parent["y"], parent["width"], parent["height"]) == (135.0, 25.0, 30.0, 30.0)
    assert body["own"]["image"] == {"width": 100, "height": 100}
    assert body["parent"]["image"] == {"width": 200, "height": 100}
    assert own["root_parent_origin"] == {"offset_x": 100, "offset_y": 0, "width": 200, "height": 100}
    assert body["crop"]["type"] == "base64" and body["crop"]["parent_origin"]["offset_x"] == 100
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(body["crop"]["value"]), np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (100, 100, 3)


def test_slicer_refuses_absurd_tile_counts():
    from argus.errors import InvalidInputError

    slicer = block("roboflow_core/image_slicer@v1", image="$inputs.image")
    with pytest.raises(InvalidInputError, match="tiles"):
        slicer.run(image=gradient_image(), slice_width=1, slice_height=1, overlap_ratio_width=0.0,
                   overlap_ratio_height=0.0)


def test_crops_at_the_edge_are_at_least_one_pixel_and_outside_crops_are_refused():
    from argus.errors import InvalidInputError

    image = gradient_image()
    dets = make_detections([[199.6, 50, 230, 60]], ["cat"], [0.9], image=image)  # box clipped to nothing
    crop = call("roboflow_core/dynamic_crop@v1", images=image, predictions=dets)[0]["crops"]
    assert crop.numpy_image.shape == (10, 1, 3)
    with pytest.raises(InvalidInputError, match="outside the 200x100 image"):
        call("roboflow_core/absolute_static_crop@v1", images=image, x_center=500, y_center=30, width=20, height=10)
