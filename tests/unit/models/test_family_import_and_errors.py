"""Importing built models: family guessed from shapes, ultralytics metadata read; load errors are clear."""

from __future__ import annotations

import numpy as np
import pytest

from argus.errors import InvalidInputError, ModelArtifactError, ModelNotFoundError
from argus.store.importers import import_model, manifest_for_onnx
from argus.store.importers.inspect import guess_family, read_interface
from argus.store.manifest import Family, ModelManifest, ResizeMode, Task
from onnx_builders import (
    classifier,
    constant_model,
    detection_model,
    detr,
    ssd,
    ultralytics_metadata,
    yolo_end2end,
    yolov5_detection,
    yolov5_seg,
    yolov8_detection,
    yolov8_pose,
    yolov8_seg,
)

NAMES = ["cat", "dog"]
ONE_BOX = np.array([[32.0, 32.0, 16.0, 16.0]])
PROTOS = np.zeros((2, 16, 16))


def built(kind: str, **kwargs):
    """One small model of each layout (two classes; 32 anchors; 2 mask prototypes; 3 keypoints)."""
    scores = np.array([[0.9, 0.1]])
    if kind == "yolov5":
        return yolov5_detection(ONE_BOX, np.ones(1), scores, **kwargs)
    if kind == "yolov8":
        return yolov8_detection(ONE_BOX, scores, **kwargs)
    if kind == "yolo-end2end":
        return yolo_end2end(np.array([[24.0, 24.0, 40.0, 40.0, 0.9, 1.0]]), **kwargs)
    if kind == "yolov8-seg":
        return yolov8_seg(ONE_BOX, scores, np.ones((1, 2)), PROTOS, **kwargs)
    if kind == "yolov5-seg":
        return yolov5_seg(ONE_BOX, np.ones(1), scores, np.ones((1, 2)), PROTOS, **kwargs)
    if kind == "yolov8-pose":
        return yolov8_pose(ONE_BOX, np.array([[0.9]]), np.ones((1, 3, 3)), **kwargs)
    if kind == "classifier":
        return classifier(np.array([0.1, 0.9]), **kwargs)
    if kind == "detr":
        return detr(np.array([[0.5, 0.5, 0.2, 0.2]] * 5), np.zeros((5, 2)), **kwargs)
    if kind == "ssd":
        return ssd(np.zeros((5, 4)), np.zeros(5), np.zeros(5), 0, **kwargs)
    raise ValueError(kind)


@pytest.mark.parametrize(("kind", "num_classes", "task_hint"), [
    ("yolov5", None, None), ("yolov5", 2, None),
    ("yolov8", None, None), ("yolov8", 2, None),
    ("yolo-end2end", None, None),
    ("yolov8-seg", None, None), ("yolov8-seg", 2, None),
    ("yolov5-seg", None, None), ("yolov5-seg", 2, None),
    ("yolov8-pose", 1, "keypoint-detection"),
    ("classifier", None, None),
    ("detr", None, None), ("detr", 2, None),
    ("ssd", None, None),
])
def test_guess_family_from_shapes(store, kind, num_classes, task_hint):
    interface = read_interface(store.write(built(kind)))
    assert guess_family(interface, num_classes, task_hint) == Family(kind)


def test_guess_family_one_class_yolov5_is_not_end_to_end(store):
    """[B, N, 6] is a one-class YOLOv5 when the class count says so."""
    model = yolov5_detection(ONE_BOX, np.ones(1), np.array([[0.9]]))
    assert guess_family(read_interface(store.write(model)), 1) == Family.YOLOV5


@pytest.mark.parametrize("kind", ["yolov5", "yolov8", "yolov8-seg", "yolov5-seg", "detr", "ssd"])
def test_plain_import_picks_the_family_without_being_told(store, kind):
    stored = store.import_(built(kind), class_names=NAMES)
    assert stored.manifest.family == Family(kind)
    assert stored.manifest.task == (Task.INSTANCE_SEGMENTATION if kind.endswith("seg") else Task.OBJECT_DETECTION)
    assert (stored.manifest.input_width, stored.manifest.input_height) == (64, 64)
    assert stored.manifest.resize == ResizeMode.STRETCH
    assert stored.manifest.sha256 and len(stored.manifest.sha256) == 64


def test_unknown_layout_asks_for_a_family(store):
    model = constant_model({"a": np.zeros(5), "b": np.zeros(7)})
    with pytest.raises(InvalidInputError, match="--family"):
        store.import_(model)


# --------------------------------------------------------------------------------- ultralytics

def test_ultralytics_detect_metadata_needs_no_manifest(store, landscape):
    meta = ultralytics_metadata("detect", NAMES, imgsz=[64, 64])
    model = store.load(built("yolov8", metadata=meta))
    m = model.manifest
    assert m.family == Family.YOLOV8 and m.task == Task.OBJECT_DETECTION
    assert m.class_names == NAMES
    assert (m.input_width, m.input_height) == (64, 64)
    assert m.resize == ResizeMode.LETTERBOX
    assert m.source and m.source.startswith("ultralytics")
    dets = model.infer(landscape).detections
    assert dets.class_name.tolist() == ["cat"]
    assert dets.xyxy == pytest.approx(np.array([[75.0, 25.0, 125.0, 75.0]]), abs=1e-3)


def test_ultralytics_non_square_imgsz_is_height_width(store, landscape):
    """imgsz [48, 64] is H=48, W=64: on 200x100, gain = min(64/200, 48/100) = 0.32, pad top (48-32)/2 = 8."""
    meta = ultralytics_metadata("detect", NAMES, imgsz=[48, 64])
    model = store.load(built("yolov8", metadata=meta, height=48, width=64))
    assert (model.manifest.input_width, model.manifest.input_height) == (64, 48)
    dets = model.infer(landscape).detections
    # input (24, 24, 40, 40) → (24/0.32, (24-8)/0.32, 40/0.32, (40-8)/0.32)
    assert dets.xyxy == pytest.approx(np.array([[75.0, 50.0, 125.0, 100.0]]), abs=1e-3)


def test_ultralytics_names_dict_order_and_class_count(store):
    meta = ultralytics_metadata("detect", ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"])
    stored = store.import_(yolov8_detection(ONE_BOX, np.full((1, 11), 0.1), metadata=meta))
    assert stored.manifest.class_names == list("abcdefghijk")  # sorted by integer key, not as text
    assert stored.manifest.family == Family.YOLOV8


def test_ultralytics_segment_metadata(store):
    stored = store.import_(built("yolov8-seg", metadata=ultralytics_metadata("segment", NAMES)))
    assert stored.manifest.family == Family.YOLOV8_SEG
    assert stored.manifest.task == Task.INSTANCE_SEGMENTATION


def test_ultralytics_end2end_metadata(store):
    stored = store.import_(built("yolo-end2end", metadata=ultralytics_metadata("detect", NAMES, end2end=True)))
    assert stored.manifest.family == Family.YOLO_END2END


def test_ultralytics_overrides_win(store):
    stored = store.import_(built("yolov8", metadata=ultralytics_metadata("detect", NAMES)),
                           class_names=["x", "y"], resize="stretch", confidence=0.6)
    assert stored.manifest.class_names == ["x", "y"]
    assert stored.manifest.resize == ResizeMode.STRETCH and stored.manifest.confidence == 0.6


def test_ultralytics_dynamic_detect_export(store, landscape):
    """`yolo export dynamic=True`: batch, height, width and anchors are dynamic; imgsz comes from metadata."""
    meta = ultralytics_metadata("detect", NAMES)
    model = store.load(built("yolov8", metadata=meta, dynamic_input=True, dynamic_dims={"output0": {1: "anchors"}}))
    assert model.manifest.family == Family.YOLOV8
    assert (model.manifest.input_width, model.manifest.input_height) == (64, 64)
    assert model.infer(landscape).detections.xyxy == pytest.approx(np.array([[75.0, 25.0, 125.0, 75.0]]), abs=1e-3)


def test_ultralytics_dynamic_segment_export(store):
    meta = ultralytics_metadata("segment", NAMES)
    model = built("yolov8-seg", metadata=meta, dynamic_input=True,
                  dynamic_dims={"output0": {1: "anchors"}, "output1": {1: "mask_height", 2: "mask_width"}})
    assert manifest_for_onnx(store.write(model)).family == Family.YOLOV8_SEG


# ------------------------------------------------------------------------------------ errors

def _store_two(store):
    """A good model and a second one (to be damaged); returns the path of the second's model.onnx."""
    store.import_(detection_model("yolov8", np.array([[24.0, 24.0, 40.0, 40.0]]), np.array([0.9]), np.array([0]), 2),
                  "good/1", class_names=NAMES)
    stored = store.import_(built("yolov8"), "bad/1", class_names=NAMES)
    return stored.path / "model.onnx"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_model_is_a_clear_422_and_others_keep_serving(store, landscape, damage):
    onnx_file = _store_two(store)
    data = onnx_file.read_bytes()
    onnx_file.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"this is not an onnx model" * 10,
                           "empty": b""}[damage])
    with pytest.raises(ModelArtifactError) as caught:
        store.manager.get("bad/1")
    error = caught.value
    assert error.status_code == 422 and error.code == "model_artifact_error"
    assert "bad/1" in error.message and "corrupt" in error.message
    assert not store.manager.is_loaded("bad/1")
    # the manager still serves another model, and the broken one fails the same way again
    good = store.manager.get("good/1")
    assert good.infer(landscape).detections.class_name.tolist() == ["cat"]
    with pytest.raises(ModelArtifactError):
        store.manager.get("bad/1")
    assert store.manager.is_loaded("good/1")


def test_importing_a_corrupt_file_is_refused(store, tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07garbage")
    with pytest.raises(ModelArtifactError, match="broken.onnx"):
        import_model(broken, "broken/1", store.repository, family="yolov8")
    assert not store.repository.exists("broken/1")


def test_manifest_size_that_disagrees_with_the_graph_is_refused(store):
    path = store.write(built("yolov8"))
    manifest = ModelManifest(task="object-detection", family="yolov8", input_width=32, input_height=32,
                             class_names=NAMES)
    store.repository.add("wrong/1", path, manifest)
    with pytest.raises(ModelArtifactError, match="32x32"):
        store.manager.get("wrong/1")


def test_invalid_manifest_is_a_model_artifact_error(store):
    stored = store.import_(built("yolov8"), "broken/2", class_names=NAMES)
    (stored.path / "model.json").write_text('{"task": "object-detection", "family": "nope"}')
    with pytest.raises(ModelArtifactError, match="model.json"):
        store.manager.get("broken/2")


def test_missing_model_is_not_found(store):
    with pytest.raises(ModelNotFoundError) as caught:
        store.manager.get("nothing/1")
    assert caught.value.status_code == 404
