"""INT8 variants of stored models: static QDQ quantization, calibrated on photos and checked against FP32.

``argus models optimize ID --int8 --calibration DIR`` runs :func:`quantize_int8`:

1. The photos are split: every fourth one is held back for the check (at least one), the rest calibrate.
2. ONNX Runtime's static quantizer writes a QDQ graph with per-channel INT8 weights and UINT8 activations
   (the layout its CPU kernels fuse into integer convolutions; VNNI where the CPU has it). Only the compute
   operators (convolutions, matrix products) are quantized: the detection heads' decoding arithmetic, whose box
   coordinates and scores share tensors of very different ranges, stays in float.
3. On the held-back photos both models run through the same decoder, and the variant is scored against FP32:
   box F1 at IoU 0.5 for detectors (FP32's boxes as the reference), top-1 agreement for classifiers.
4. Both run the same tensor, interleaved, for the speed-up (medians).

A variant whose agreement is under ``min_agreement`` is not written unless forced. The variant is a store
entry of its own (``model.onnx`` + ``model.json``) whose manifest names its base model, precision and the
figures measured.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import supervision as sv
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from argus.core.images import load_image
from argus.core.predictions import ClassificationResult, DetectionResult, Result
from argus.errors import ClientError, InvalidInputError
from argus.models.session import OnnxSession
from argus.models.vision import VisionModel
from argus.settings import Settings
from argus.store.manifest import Optimization
from argus.store.model_id import parse_model_id
from argus.store.repository import ModelRepository, StoredModel

QUANTIZED_OPERATORS = ["Conv", "ConvTranspose", "MatMul", "Gemm"]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class VariantRejectedError(ClientError):
    """The variant disagrees with FP32 more than allowed; nothing was written."""

    status_code = 422
    code = "variant_rejected"


@dataclass(frozen=True)
class VariantReport:
    """What :func:`quantize_int8` measured, and whether it wrote the variant."""

    base_id: str
    variant_id: str
    metric: str
    agreement: float
    held_back: int
    calibration: int
    fp32_ms: float
    variant_ms: float
    written: bool

    @property
    def speedup(self) -> float:
        """FP32 median time over the variant's (above 1: the variant is faster)."""
        return self.fp32_ms / self.variant_ms if self.variant_ms else 0.0


def quantize_int8(repository: ModelRepository, model_id: str, settings: Settings, photos: list[Path], *,
                  variant_id: str | None = None, min_agreement: float = 0.95, force: bool = False,
                  timing_runs: int = 20, overwrite: bool = False) -> VariantReport:
    """Write (or refuse) an INT8 variant of ``model_id``; see the module docstring.

    Raises:
        InvalidInputError: fewer than two photos, or one that cannot be decoded.
        VariantRejectedError: agreement below ``min_agreement`` and not ``force``.
    """
    base = repository.stored(model_id)
    variant_id = variant_id or default_variant_id(base.model_id, "int8")
    calibration, held_back = split_photos([_read(photo) for photo in photos])
    source = repository.model_path(base.model_id)
    fp32 = _vision_model(base.model_id, base, source, settings)
    with tempfile.TemporaryDirectory(prefix="argus-int8-") as work:
        quantized = Path(work) / "model.onnx"
        _quantize(source, quantized, fp32, calibration, Path(work))
        variant = _vision_model(variant_id, base, quantized, settings)
        try:
            metric, agreement = agreement_with(fp32, variant, held_back)
            fp32_ms, variant_ms = interleaved_median_ms(fp32, variant, held_back[0], timing_runs)
        finally:
            fp32.close()
            variant.close()
        report = VariantReport(base.model_id, variant_id, metric, agreement, len(held_back), len(calibration),
                               fp32_ms, variant_ms, written=False)
        if agreement < min_agreement and not force:
            raise VariantRejectedError(
                f"The INT8 variant of '{base.model_id}' agrees with FP32 at {metric} {agreement:.3f} on "
                f"{len(held_back)} held-back photos, under the threshold {min_agreement}; nothing was written. "
                "Calibrate on more photos like the ones it will serve, or pass --force to keep it anyway.")
        manifest = base.manifest.model_copy(update={
            "sha256": None,
            "source": f"INT8 variant of {base.model_id}",
            "optimization": Optimization(base_model=base.model_id, precision="int8", metric=metric,
                                         agreement=round(agreement, 4), held_back_photos=len(held_back),
                                         calibration_photos=len(calibration), speedup=round(report.speedup, 3)),
        })
        repository.add(variant_id, quantized, manifest, overwrite=overwrite)
    return dataclasses.replace(report, written=True)


def default_variant_id(model_id: str, precision: str) -> str:
    """``name-int8/version`` for ``name/version``."""
    parsed = parse_model_id(model_id)
    return f"{parsed.name}-{precision}/{parsed.version}"


def split_photos(images: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(calibration, held back): every fourth image is held back, at least one, and at least one calibrates."""
    if len(images) < 2:
        raise InvalidInputError("INT8 calibration needs at least two photos (one to calibrate on, one to check "
                                "against FP32); give a folder of photos like the ones the model will serve.")
    held = [image for index, image in enumerate(images) if index % 4 == 3] or [images[-1]]
    calibrate = [image for image in images if not any(image is other for other in held)]
    return calibrate, held


def photos_in(folder: Path) -> list[Path]:
    """The images in ``folder`` (recursively), sorted."""
    if not folder.is_dir():
        raise InvalidInputError(f"--calibration {folder} is not a folder of photos.")
    return sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES)


def agreement_with(reference: VisionModel, candidate: VisionModel, images: list[np.ndarray]) -> tuple[str, float]:
    """How well ``candidate``'s predictions match ``reference``'s on ``images``: (metric name, value in 0..1)."""
    params = reference.params()
    expected = reference.infer_arrays(images, params)
    got = candidate.infer_arrays(images, params)
    if all(isinstance(result, ClassificationResult) for result in expected):
        same = [_top(a) == _top(b) for a, b in zip(expected, got)]
        return "top-1 agreement", sum(same) / len(same)
    return "box F1@0.5", box_f1(expected, got)


def box_f1(reference: list[Result], candidate: list[Result], iou: float = 0.5) -> float:
    """F1 of ``candidate``'s boxes against ``reference``'s (per class, at ``iou``), over all images. No boxes on
    either side counts as full agreement."""
    targets = [_detections(result) for result in reference]
    predictions = [_detections(result) for result in candidate]
    if not any(len(d) for d in targets) and not any(len(d) for d in predictions):
        return 1.0
    matched = 0
    for target, prediction in zip(targets, predictions):
        matched += _matches(target, prediction, iou)
    total_reference = sum(len(d) for d in targets)
    total_candidate = sum(len(d) for d in predictions)
    return 2 * matched / (total_reference + total_candidate)


def _matches(target: sv.Detections, prediction: sv.Detections, threshold: float) -> int:
    """Greedy one-to-one matches of the same class at IoU ≥ ``threshold``, most confident prediction first (the
    COCO matching rule; written here because supervision's F1Score interpolates over confidence thresholds,
    which is not the single-threshold agreement this reports)."""
    if not len(target) or not len(prediction):
        return 0
    ious = sv.box_iou_batch(prediction.xyxy, target.xyxy)
    same_class = _class_ids(prediction)[:, None] == _class_ids(target)[None, :]
    ious = np.where(same_class, ious, 0.0)
    order = np.argsort(-(prediction.confidence if prediction.confidence is not None else np.zeros(len(prediction))))
    taken = np.zeros(len(target), bool)
    count = 0
    for row in order:
        candidates = np.where(~taken & (ious[row] >= threshold), ious[row], -1.0)
        best = int(np.argmax(candidates))
        if candidates[best] >= threshold:
            taken[best] = True
            count += 1
    return count


def interleaved_median_ms(first: VisionModel, second: VisionModel, image: np.ndarray, runs: int
                          ) -> tuple[float, float]:
    """Median ``session.run`` milliseconds of each model on the same image's tensor, runs interleaved so both
    see the same machine load."""
    tensors = [model.preprocess([image])[0] for model in (first, second)]
    times: list[list[float]] = [[], []]
    for model, tensor in zip((first, second), tensors):
        model.session.run(tensor)  # warm-up
    for _ in range(max(runs, 1)):
        for index, (model, tensor) in enumerate(zip((first, second), tensors)):
            started = time.perf_counter()
            model.session.run(tensor)
            times[index].append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


class _Calibration(CalibrationDataReader):  # type: ignore[misc]
    """Feeds the calibration photos, preprocessed exactly as the model serves them, one at a time."""

    def __init__(self, model: VisionModel, images: list[np.ndarray]) -> None:
        self._feeds: Iterator[dict[str, np.ndarray]] = iter(
            {model.session.input.name: model.preprocess([image])[0]} for image in images)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def _quantize(source: Path, target: Path, model: VisionModel, images: list[np.ndarray], work: Path) -> None:
    prepared = work / "prepared.onnx"
    # Shape inference and graph clean-up first, as ONNX Runtime's quantization guide asks (the symbolic pass
    # needs sympy and only matters for transformer graphs).
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantize_static(str(prepared), str(target), _Calibration(model, images), quant_format=QuantFormat.QDQ,
                    per_channel=True, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
                    calibrate_method=CalibrationMethod.MinMax, op_types_to_quantize=QUANTIZED_OPERATORS)


def _vision_model(model_id: str, stored: StoredModel, path: Path, settings: Settings) -> VisionModel:
    """A model to measure: one session only (no one-thread twin; the measurements run one call at a time)."""
    settings = settings.model_copy(update={"adaptive_threads": False})
    return VisionModel(model_id, stored.manifest, OnnxSession(path, settings, model_id), settings)


def _read(photo: Path) -> np.ndarray:
    try:
        return load_image(photo)
    except ClientError as error:
        raise InvalidInputError(f"{photo}: {error.message}") from None


def _top(result: Result) -> str | None:
    assert isinstance(result, ClassificationResult)
    return result.top


def _class_ids(detections: sv.Detections) -> np.ndarray:
    return detections.class_id if detections.class_id is not None else np.zeros(len(detections), int)


def _detections(result: Result) -> sv.Detections:
    assert isinstance(result, DetectionResult)
    return result.to_supervision()
