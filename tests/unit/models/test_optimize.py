"""INT8 variants (``argus models optimize --int8``): a real quantized graph that agrees with FP32, stored with
its own manifest; a variant that disagrees is refused; the box F1 it reports, against hand-counted matches."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from typer.testing import CliRunner

from argus.cli.main import app as cli
from argus.core.predictions import DetectionResult, Detections
from argus.errors import InvalidInputError
from argus.models.optimize import VariantRejectedError, box_f1, photos_in, quantize_int8
from argus.settings import Settings
from onnx_builders import colour_classifier

DOMINANT = [0, 1, 2, 1, 0, 1, 2, 2]
"""Each photo's dominant RGB channel; photos 3 and 7 are held back (channels 1 and 2)."""


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Eight noisy 40x40 photos, each mostly one colour."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(7)
    for index, channel in enumerate(DOMINANT):
        rgb = rng.integers(0, 60, (40, 40, 3)).astype(np.uint8)
        rgb[..., channel] = rng.integers(170, 255, (40, 40))
        cv2.imwrite(str(folder / f"{index}.png"), rgb[..., ::-1])
    return folder


def _settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, intra_op_threads=1, inter_op_threads=1)


def _probabilities(path: Path, photo: Path) -> np.ndarray:
    """onnxruntime run directly on a model file, with the photo resized and scaled as the manifest says."""
    rgb = cv2.resize(cv2.imread(str(photo))[..., ::-1], (32, 32), interpolation=cv2.INTER_LINEAR)
    tensor = (rgb.astype(np.float32) / 255).transpose(2, 0, 1)[None]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"images": tensor})[0][0]


def test_an_int8_variant_is_quantized_agrees_with_fp32_and_is_stored(store, photos: Path, tmp_path: Path) -> None:
    store.import_(colour_classifier(4 * np.eye(3)), "colours/1", task="classification",
                  class_names=["red", "green", "blue"], input_width=32, input_height=32)
    report = quantize_int8(store.repository, "colours/1", _settings(tmp_path), photos_in(photos), timing_runs=2)
    assert (report.variant_id, report.metric, report.agreement) == ("colours-int8/1", "top-1 agreement", 1.0)
    assert (report.calibration, report.held_back, report.written) == (6, 2, True)

    variant = store.repository.stored("colours-int8/1")
    assert variant.manifest.optimization is not None
    assert variant.manifest.optimization.base_model == "colours/1"
    assert variant.manifest.optimization.precision == "int8"
    assert variant.manifest.class_names == ["red", "green", "blue"]
    graph = onnx.load(store.repository.model_path("colours-int8/1")).graph
    operators = {node.op_type for node in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv", "Gemm"} <= operators
    int8_weights = [init.name for init in graph.initializer if init.data_type == onnx.TensorProto.INT8]
    assert len(int8_weights) >= 3, int8_weights  # both convolutions and the head, per channel
    for photo in sorted(photos.glob("*.png")):  # the probabilities themselves, not just the top class
        fp32 = _probabilities(store.repository.model_path("colours/1"), photo)
        int8 = _probabilities(store.repository.model_path("colours-int8/1"), photo)
        assert np.abs(fp32 - int8).max() < 0.03, (photo.name, fp32, int8)
        assert int(np.argmax(int8)) == DOMINANT[int(photo.stem)]


def test_a_variant_that_disagrees_is_refused_unless_forced(store, photos: Path, tmp_path: Path) -> None:
    # Every class weighs the channels almost alike: the 0.001 margins vanish in INT8 weights, every class ties
    # and the variant answers the first class, while FP32 answers each held-back photo's own channel.
    store.import_(colour_classifier(np.ones((3, 3)) + 0.001 * np.eye(3)), "fragile/1", task="classification",
                  class_names=["red", "green", "blue"], input_width=32, input_height=32)
    with pytest.raises(VariantRejectedError, match=r"top-1 agreement 0\.000 on 2 held-back photos") as refused:
        quantize_int8(store.repository, "fragile/1", _settings(tmp_path), photos_in(photos), timing_runs=1)
    assert refused.value.status_code == 422
    assert not store.repository.exists("fragile-int8/1")

    forced = quantize_int8(store.repository, "fragile/1", _settings(tmp_path), photos_in(photos), timing_runs=1,
                           force=True, variant_id="fragile/2")
    assert forced.written and store.repository.stored("fragile/2").manifest.optimization.agreement == 0.0


def test_the_command_reports_what_it_measured(store, photos: Path, tmp_path: Path) -> None:
    store.import_(colour_classifier(4 * np.eye(3)), "colours/1", task="classification",
                  class_names=["red", "green", "blue"], input_width=32, input_height=32)
    result = CliRunner().invoke(cli, ["models", "optimize", "colours/1", "--int8", "--calibration", str(photos),
                                      "--id", "colours/8"], env={"ARGUS_HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "wrote colours/8: top-1 agreement 1.000 against FP32 on 2 held-back photos" in result.output
    missing = CliRunner().invoke(cli, ["models", "optimize", "colours/1", "--int8"], env={"ARGUS_HOME": str(tmp_path)})
    assert missing.exit_code == 2 and "--calibration" in missing.output


def test_two_photos_are_the_least_it_takes(store, photos: Path, tmp_path: Path) -> None:
    store.import_(colour_classifier(4 * np.eye(3)), "colours/1", task="classification",
                  class_names=["red", "green", "blue"], input_width=32, input_height=32)
    with pytest.raises(InvalidInputError, match="at least two photos"):
        quantize_int8(store.repository, "colours/1", _settings(tmp_path), photos_in(photos)[:1])


def _result(boxes: list[tuple[float, float, float, float]], classes: list[int]) -> DetectionResult:
    return DetectionResult(Detections(xyxy=np.array(boxes, np.float32).reshape(-1, 4),
                                      confidence=np.linspace(0.9, 0.5, len(boxes)).astype(np.float32),
                                      class_id=np.array(classes, int),
                                      class_name=np.array([str(c) for c in classes], object)), 100, 100)


def test_box_f1_counts_same_class_matches_at_iou_half() -> None:
    reference = [_result([(0, 0, 10, 10), (50, 50, 60, 60)], [0, 1])]
    # (1, 0, 11, 10) overlaps the first box at IoU 90/110 = 0.82, same class: a match. (50, 50, 60, 60) is the
    # second box's place but another class: no match. (80, 80, 90, 90) matches nothing.
    candidate = [_result([(1, 0, 11, 10), (50, 50, 60, 60), (80, 80, 90, 90)], [0, 2, 1])]
    assert box_f1(reference, candidate) == pytest.approx(2 * 1 / (2 + 3))
    shifted = [_result([(6, 0, 16, 10)], [0])]  # IoU 40/160 = 0.25 with the first box: under 0.5
    assert box_f1(reference, shifted) == 0.0
    assert box_f1([_result([], [])], [_result([], [])]) == 1.0  # nothing on either side: full agreement
