"""Model blocks through the ModelManager with tiny ONNX models whose answers are known by construction."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[2]))  # tests/ holds onnx_builders

import onnx_builders
from argus.errors import InvalidInputError
from argus.runtime.manager import ModelManager
from argus.settings import Settings
from argus.store.importers import import_model
from argus.store.repository import ModelRepository
from argus.workflows import WorkflowContext, compile_workflow, serialize_outputs

# The detector sees a 64x64 input; images are 128x128, so boxes double: A at [16, 48), B at [80, 112).
BOXES = np.array([[16.0, 16.0, 16.0, 16.0], [48.0, 48.0, 16.0, 16.0]])
SCORES = np.array([[0.9, 0.0], [0.0, 0.8]])


def sigmoid(x: float) -> float:
    return float(1 / (1 + np.exp(-x)))


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> WorkflowContext:
    root = tmp_path_factory.mktemp("wf-models")
    settings = Settings(home=root, intra_op_threads=1, inter_op_threads=1)
    repository = ModelRepository(settings.model_store_dir)

    def add(model: Any, model_id: str, **manifest: Any) -> None:
        import_model(onnx_builders.save(model, root / f"{model_id.replace('/', '-')}.onnx"), model_id, repository,
                     **manifest)

    add(onnx_builders.yolov8_detection(BOXES, SCORES), "det/1", family="yolov8", task="object-detection",
        class_names=["cat", "dog"])
    # logits [2 - 4m, -2 + 4m] where m is the crop's mean brightness in [0, 1]: bright crops are "bright"
    add(onnx_builders.classifier(np.array([2.0, -2.0]), deltas={"output0": np.array([-4.0, 4.0])}), "bright/1",
        task="classification", class_names=["dark", "bright"])
    add(onnx_builders.classifier(np.array([3.0, -3.0, 0.5])), "tags/1", task="multi-label-classification",
        class_names=["a", "b", "c"])
    protos = np.full((1, 16, 16), -10.0, dtype=np.float32)
    protos[0, 4:8, 4:12] = 10.0  # mask: input x [16, 48), y [16, 32)
    add(onnx_builders.yolov8_seg(np.array([[24.0, 24.0, 32.0, 32.0]]), np.array([[0.9]]), np.array([[1.0]]), protos),
        "seg/1", family="yolov8-seg", task="instance-segmentation", class_names=["blob"])
    keypoints = np.array([[[16.0, 20.0, 0.9], [32.0, 24.0, 0.8]]])
    add(onnx_builders.yolov8_pose(np.array([[24.0, 24.0, 32.0, 32.0]]), np.array([[0.9]]), keypoints), "pose/1",
        family="yolov8-pose", task="keypoint-detection", class_names=["person"], keypoint_names=["nose", "eye"])
    return WorkflowContext(settings=settings, manager=ModelManager(settings, repository))


def scene() -> np.ndarray:
    image = np.full((128, 128, 3), 128, np.uint8)
    image[16:48, 16:48] = 255  # box A: white
    image[80:112, 80:112] = 0  # box B: black
    return image


DETECT_CROP_CLASSIFY = {
    "version": "1.0",
    "inputs": [{"type": "InferenceImage", "name": "image"},
               {"type": "InferenceParameter", "name": "classifier", "default_value": "bright/1"}],
    "steps": [
        {"type": "ObjectDetectionModel", "name": "det", "image": "$inputs.image", "model_id": "det/1"},
        {"type": "Crop", "name": "crop", "image": "$inputs.image", "predictions": "$steps.det.predictions"},
        {"type": "roboflow_core/roboflow_classification_model@v2", "name": "cls", "images": "$steps.crop.crops",
         "model_id": "$inputs.classifier"},
        {"type": "roboflow_core/roboflow_multi_label_classification_model@v1", "name": "tags",
         "images": "$inputs.image", "model_id": "tags/1"},
    ],
    "outputs": [{"type": "JsonField", "name": "detections", "selector": "$steps.det.predictions"},
                {"type": "JsonField", "name": "crop_classes", "selector": "$steps.cls.predictions"},
                {"type": "JsonField", "name": "tags", "selector": "$steps.tags.predictions"}],
}


def test_per_crop_classification_comes_back_aligned_with_parent_detections(context):
    result = compile_workflow(DETECT_CROP_CLASSIFY, context).run({"image": [scene(), np.fliplr(scene()).copy()]})
    body = serialize_outputs(result.outputs)
    for image_body in body:
        detections = image_body["detections"]["predictions"]
        assert [(d["class"], d["x"], d["y"], d["width"]) for d in detections] == [
            ("cat", 32.0, 32.0, 32.0), ("dog", 96.0, 96.0, 32.0)]
        classes = image_body["crop_classes"]
        assert [c["parent_id"] for c in classes] == [d["detection_id"] for d in detections]
        assert all(c["root_parent_id"] == "image" for c in classes)
    first, flipped = body
    assert [c["top"] for c in first["crop_classes"]] == ["bright", "dark"]
    assert first["crop_classes"][0]["confidence"] == pytest.approx(sigmoid(4.0), abs=1e-3)
    # flipped left-right: box A now covers a grey/black mix, box B grey/white
    expected = []
    for d in flipped["detections"]["predictions"]:
        x1, y1 = int(d["x"] - d["width"] / 2), int(d["y"] - d["height"] / 2)
        mean = np.fliplr(scene())[y1:y1 + 32, x1:x1 + 32].mean() / 255
        expected.append("bright" if mean > 0.5 else "dark")
    assert [c["top"] for c in flipped["crop_classes"]] == expected


def test_multi_label_output_shape(context):
    result = compile_workflow(DETECT_CROP_CLASSIFY, context).run({"image": scene()})
    tags = serialize_outputs(result.outputs)[0]["tags"]
    assert tags["predicted_classes"] == ["a", "c"]
    assert tags["predictions"]["b"]["confidence"] == pytest.approx(sigmoid(-3.0), abs=1e-4)
    assert tags["prediction_type"] == "classification" and tags["parent_id"] == "image"


def test_detection_parameters_reach_the_model(context):
    definition = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"},
                                               {"type": "WorkflowParameter", "name": "conf"}],
                  "steps": [{"type": "roboflow_core/roboflow_object_detection_model@v1", "name": "det",
                             "images": "$inputs.image", "model_id": "det/1", "confidence": "$inputs.conf",
                             "class_filter": ["dog"]}],
                  "outputs": [{"type": "JsonField", "name": "p", "selector": "$steps.det.predictions"}]}
    compiled = compile_workflow(definition, context)
    assert [d["class"] for d in serialize_outputs(compiled.run({"image": scene(), "conf": 0.5}).outputs)[0]["p"][
        "predictions"]] == ["dog"]
    assert serialize_outputs(compiled.run({"image": scene(), "conf": 0.85}).outputs)[0]["p"]["predictions"] == []


def test_a_model_of_the_wrong_task_is_a_client_error(context):
    definition = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
                  "steps": [{"type": "ObjectDetectionModel", "name": "det", "images": "$inputs.image",
                             "model_id": "bright/1"}],
                  "outputs": [{"type": "JsonField", "name": "p", "selector": "$steps.det.predictions"}]}
    with pytest.raises(InvalidInputError, match="Step 'det': model 'bright/1' is a classification model"):
        compile_workflow(definition, context).run({"image": scene()})


def test_segmentation_and_keypoint_blocks_serialise_points_and_keypoints(context):
    definition = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
                  "steps": [{"type": "roboflow_core/roboflow_instance_segmentation_model@v2", "name": "seg",
                             "images": "$inputs.image", "model_id": "seg/1"},
                            {"type": "KeypointsDetectionModel", "name": "pose", "images": "$inputs.image",
                             "model_id": "pose/1"}],
                  "outputs": [{"type": "JsonField", "name": "seg", "selector": "$steps.seg.predictions"},
                              {"type": "JsonField", "name": "pose", "selector": "$steps.pose.predictions"}]}
    body = serialize_outputs(compile_workflow(definition, context).run({"image": scene()}).outputs)[0]
    blob = body["seg"]["predictions"][0]
    xs = [p["x"] for p in blob["points"]]
    ys = [p["y"] for p in blob["points"]]
    # mask input x [16, 48) y [16, 32), cut to the box x [8, 40): on the 128x128 image x [32, 80), y [32, 64)
    assert min(xs) == pytest.approx(32, abs=2) and max(xs) == pytest.approx(79, abs=2)
    assert min(ys) == pytest.approx(32, abs=2) and max(ys) == pytest.approx(63, abs=2)
    person = body["pose"]["predictions"][0]
    assert [(k["class"], k["x"], k["y"]) for k in person["keypoints"]] == [
        ("nose", pytest.approx(32.0), pytest.approx(40.0)), ("eye", pytest.approx(64.0), pytest.approx(48.0))]
    assert person["keypoints"][0]["confidence"] == pytest.approx(0.9, abs=1e-3)


def test_the_reference_consensus_definition_runs_unchanged(context):
    """The reference's own consensus example (legacy type names, 'image' alias, '$steps.x.*'), model id swapped."""
    definition = {
        "version": "1.0",
        "inputs": [{"type": "WorkflowImage", "name": "image"},
                   {"type": "WorkflowParameter", "name": "model_id", "default_value": "det/1"}],
        "steps": [
            {"type": "RoboflowObjectDetectionModel", "name": "detection_1", "image": "$inputs.image",
             "model_id": "$inputs.model_id", "confidence": 0.3},
            {"type": "RoboflowObjectDetectionModel", "name": "detection_2", "image": "$inputs.image",
             "model_id": "$inputs.model_id", "confidence": 0.83},
            {"type": "DetectionsConsensus", "name": "consensus", "required_votes": 2,
             "predictions_batches": ["$steps.detection_1.predictions", "$steps.detection_2.predictions"],
             "required_objects": {"cat": 1}},
        ],
        "outputs": [{"type": "JsonField", "name": "result", "selector": "$steps.consensus.*"}],
    }
    compiled = compile_workflow(definition, context)
    result = compiled.run({"image": [scene(), scene()], "confidence": 0.8})  # undeclared input: ignored
    assert len(result.outputs) == 2
    body = serialize_outputs(result.outputs)[0]["result"]
    assert [(p["class"], p["x"], p["y"]) for p in body["predictions"]["predictions"]] == [("cat", 32.0, 32.0)]
    assert body["object_present"] is True
    assert body["presence_confidence"] == {"cat": pytest.approx(0.9, abs=1e-4)}
    assert body["parent_id"] == "image"


def _v3(context, step: dict) -> list:
    definition = {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
                  "steps": [{"name": "m", "images": "$inputs.image", **step}],
                  "outputs": [{"type": "JsonField", "name": "p", "selector": "$steps.m.predictions"}]}
    return serialize_outputs(compile_workflow(definition, context).run({"image": scene()}).outputs)


@pytest.mark.parametrize(("mode", "expected"), [
    ({"confidence_mode": "custom", "custom_confidence": 0.85}, ["cat"]),  # cat scores 0.9, dog 0.8
    ({"confidence_mode": "custom", "custom_confidence": 0.5}, ["cat", "dog"]),
    ({"confidence_mode": "best"}, ["cat", "dog"]),  # the model's own threshold (0.4)
    ({}, ["cat", "dog"]),
    ({"confidence": 0.95}, ["cat", "dog"]),  # v3 has no 'confidence': ignored, as the reference
])
def test_v3_detection_takes_its_confidence_from_the_mode(context, mode: dict, expected: list[str]) -> None:
    body = _v3(context, {"type": "roboflow_core/roboflow_object_detection_model@v3", "model_id": "det/1", **mode})
    assert [p["class"] for p in body[0]["p"]["predictions"]] == expected


@pytest.mark.parametrize("block_type", ["roboflow_core/roboflow_instance_segmentation_model@v3",
                                        "roboflow_core/roboflow_instance_segmentation_model@v4"])
def test_v3_and_v4_segmentation(context, block_type: str) -> None:
    step = {"type": block_type, "model_id": "seg/1", "confidence_mode": "custom", "custom_confidence": 0.5}
    if block_type.endswith("@v3"):
        step["enforce_dense_masks_in_inference_models"] = False
    (prediction,) = _v3(context, step)[0]["p"]["predictions"]
    assert prediction["class"] == "blob" and prediction["points"]


def test_v3_classifiers_and_keypoints(context) -> None:
    cls = _v3(context, {"type": "roboflow_core/roboflow_classification_model@v3", "model_id": "bright/1"})
    assert cls[0]["p"]["top"] in ("dark", "bright")
    tags = _v3(context, {"type": "roboflow_core/roboflow_multi_label_classification_model@v3", "model_id": "tags/1",
                         "confidence_mode": "custom", "custom_confidence": 0.9})
    assert tags[0]["p"]["predicted_classes"] == ["a"]  # sigmoid(3) = 0.95; sigmoid(0.5) = 0.62 is under 0.9
    pose = _v3(context, {"type": "roboflow_core/roboflow_keypoint_detection_model@v3", "model_id": "pose/1"})
    assert [p["class"] for p in pose[0]["p"]["predictions"]] == ["person"]


@pytest.mark.parametrize(("block_type", "mode"), [
    ("roboflow_core/roboflow_object_detection_model@v3", {"confidence_mode": "loose"}),
    ("roboflow_core/roboflow_object_detection_model@v3", {"confidence_mode": "custom", "custom_confidence": None}),
    ("roboflow_core/roboflow_classification_model@v3", {"confidence_mode": "best"}),  # classifiers: default|custom
])
def test_bad_confidence_modes_are_refused_at_compile_time(context, block_type: str, mode: dict) -> None:
    from argus.workflows.errors import WorkflowDefinitionError

    with pytest.raises(WorkflowDefinitionError, match="confidence") as caught:
        _v3(context, {"type": block_type, "model_id": "det/1", **mode})
    assert caught.value.status_code == 400


def _crops_classified(last_steps: list[dict], outputs: dict[str, str]) -> dict:
    """Detect, crop each detection, classify each crop, then ``last_steps``."""
    return {
        "version": "1.0",
        "inputs": [{"type": "WorkflowImage", "name": "image"}],
        "steps": [
            {"type": "ObjectDetectionModel", "name": "det", "image": "$inputs.image", "model_id": "det/1"},
            {"type": "Crop", "name": "crop", "image": "$inputs.image", "predictions": "$steps.det.predictions"},
            {"type": "roboflow_core/roboflow_classification_model@v2", "name": "cls", "images": "$steps.crop.crops",
             "model_id": "bright/1"},
            *last_steps,
        ],
        "outputs": [{"type": "JsonField", "name": k, "selector": v} for k, v in outputs.items()],
    }


def test_dimension_collapse_gathers_per_crop_results_per_image(context) -> None:
    definition = _crops_classified(
        [{"type": "roboflow_core/property_definition@v1", "name": "top", "data": "$steps.cls.predictions",
          "operations": [{"type": "ClassificationPropertyExtract", "property_name": "top_class"}]},
         {"type": "roboflow_core/dimension_collapse@v1", "name": "collapse", "data": "$steps.top.output"}],
        {"tops": "$steps.collapse.output"})
    body = serialize_outputs(compile_workflow(definition, context).run({"image": [scene(), scene()]}).outputs)
    # two images, each with its two crops' classes in one list: the white box A is bright, the black box B dark
    assert [b["tops"] for b in body] == [["bright", "dark"], ["bright", "dark"]]


def test_detections_take_the_class_of_their_crop(context) -> None:
    definition = _crops_classified(
        [{"type": "roboflow_core/detections_classes_replacement@v1", "name": "replace",
          "object_detection_predictions": "$steps.det.predictions",
          "classification_predictions": "$steps.cls.predictions"}],
        {"p": "$steps.replace.predictions"})
    (body,) = serialize_outputs(compile_workflow(definition, context).run({"image": scene()}).outputs)
    predictions = body["p"]["predictions"]
    # the detector's cat (white box A) and dog (black box B) become the classifier's bright and dark
    assert [(p["class"], p["x"]) for p in predictions] == [("bright", 32.0), ("dark", 96.0)]
    assert predictions[0]["confidence"] == pytest.approx(sigmoid(4.0), abs=1e-3)


def test_string_predictions_replace_by_position_with_a_fallback() -> None:
    import supervision as sv

    from argus.workflows.blocks.fusion.detections_classes_replacement import DetectionsClassesReplacementBlockV1

    detections = sv.Detections(xyxy=np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], float),
                               class_id=np.array([0, 0, 0]), confidence=np.array([0.9, 0.8, 0.7]))
    detections.data["class_name"] = np.array(["plate"] * 3)
    detections.data["detection_id"] = np.array(["a", "b", "c"])
    block = DetectionsClassesReplacementBlockV1.__new__(DetectionsClassesReplacementBlockV1)
    out = block.run(detections, ["AB123", None], fallback_class_name="unread")["predictions"]
    assert out.data["class_name"].tolist() == ["AB123", "unread", "unread"]
    assert out.class_id.tolist()[0] == 0 and out.confidence.tolist() == [1.0, 0.0, 0.0]
    dropped = block.run(detections, ["AB123", None])["predictions"]
    assert dropped.data["class_name"].tolist() == ["AB123"]
