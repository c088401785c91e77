"""PP-OCR: DB text detection, an optional 0°/180° direction classifier and CTC text recognition.

The three stages are PaddleOCR's graphs as PaddleOCR and RapidOCR export them to ONNX. The pre- and
post-processing follow PaddleOCR's inference code (``DetResizeForTest``, ``DBPostProcess``,
``CTCLabelDecode``); the reading order and the joined text follow the reference server's PP-OCRv6 pipeline
(fragments on one visual line joined by spaces, lines by newlines).

Example:
    >>> PpOcr.from_folder(folder, settings).read(image_bgr).text  # doctest: +SKIP
    'HELLO WORLD'
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from argus.errors import InvalidInputError, ModelArtifactError
from argus.models.batching import ClientGone
from argus.models.foundation.base import FoundationModel
from argus.models.session import OnnxSession
from argus.settings import Settings
from argus.store.bundle import BundleKind
from argus.store.repository import StoredBundle


class DetectionConfig(BaseModel):
    """DB detection knobs (PaddleOCR's names and meanings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limit_side_len: int = Field(default=960, ge=32, le=4096)
    limit_type: Literal["max", "min"] = "max"
    """``max``: the longer side at most ``limit_side_len``; ``min``: the shorter side at least that."""
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    thresh: float = 0.3
    box_thresh: float = 0.6
    unclip_ratio: float = 1.5
    use_dilation: bool = False
    max_candidates: int = Field(default=1000, ge=1, le=10000)


class ClassifierConfig(BaseModel):
    """The direction classifier's input size and how sure it must be to turn a line over."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float = Field(default=0.9, ge=0.0, le=1.0)
    height: int = Field(default=48, ge=8, le=256)
    width: int = Field(default=192, ge=8, le=2048)


class RecognitionConfig(BaseModel):
    """Recognition input: crops resized to ``height`` and padded to at least ``width`` (PaddleOCR 3×48×320)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    height: int = Field(default=48, ge=8, le=256)
    width: int = Field(default=320, ge=8, le=4096)
    batch_size: int = Field(default=6, ge=1, le=64)
    text_score: float = Field(default=0.5, ge=0.0, le=1.0)
    """Lines recognised with a lower mean character confidence are dropped (RapidOCR's ``text_score``)."""


@dataclass(frozen=True)
class OcrLine:
    """One recognised line: its text, confidences and quadrilateral in image pixels (clockwise from top-left)."""

    text: str
    text_confidence: float
    box_confidence: float
    quad: np.ndarray

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        """The axis-aligned box around the quadrilateral."""
        return (float(self.quad[:, 0].min()), float(self.quad[:, 1].min()),
                float(self.quad[:, 0].max()), float(self.quad[:, 1].max()))


@dataclass(frozen=True)
class OcrResult:
    """Lines in reading order and the whole text (spaces within a visual line, newlines between lines)."""

    lines: list[OcrLine]
    text: str
    stage_seconds: dict[str, float] = field(default_factory=dict)
    size: tuple[int, int] = (0, 0)
    """The image's (width, height)."""


class TextDetector:
    """DB (differentiable binarisation) text detection: a probability map → text quadrilaterals."""

    def __init__(self, session: OnnxSession, config: DetectionConfig) -> None:
        self.session = session
        self.config = config

    def __call__(self, image_bgr: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Quadrilaterals (4×2, image pixels) with their mean probability, unordered."""
        height, width = image_bgr.shape[:2]
        resized = cv2.resize(image_bgr, _detection_size(width, height, self.config))
        mean = np.array(self.config.mean, dtype=np.float32)
        std = np.array(self.config.std, dtype=np.float32)
        tensor = ((resized.astype(np.float32) / 255.0 - mean) / std).transpose(2, 0, 1)[None]
        probability = self.session.run(np.ascontiguousarray(tensor))[0][0, 0]
        return self._boxes(probability, width, height)

    def _boxes(self, probability: np.ndarray, width: int, height: int) -> list[tuple[np.ndarray, float]]:
        config = self.config
        bitmap: np.ndarray = (probability > config.thresh).astype(np.uint8)
        if config.use_dilation:
            bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(bitmap * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        map_height, map_width = bitmap.shape
        found = []
        for contour in contours[: config.max_candidates]:
            rect = cv2.minAreaRect(contour)
            if min(rect[1]) < 3:
                continue
            score = _mean_inside(probability, cv2.boxPoints(rect))
            if score < config.box_thresh:
                continue
            (cx, cy), (w, h), angle = _unclip(rect, config.unclip_ratio)
            if min(w, h) < 5:
                continue
            quad = _clockwise(cv2.boxPoints(((cx, cy), (w, h), angle)))
            quad[:, 0] = np.clip(np.round(quad[:, 0] / map_width * width), 0, width - 1)
            quad[:, 1] = np.clip(np.round(quad[:, 1] / map_height * height), 0, height - 1)
            if np.linalg.norm(quad[0] - quad[1]) <= 3 or np.linalg.norm(quad[0] - quad[3]) <= 3:
                continue
            found.append((quad, score))
        return found


class DirectionClassifier:
    """PaddleOCR's text-direction classifier: turns a line read as upside down (label 180) the right way up."""

    def __init__(self, session: OnnxSession, config: ClassifierConfig) -> None:
        self.session = session
        self.config = config

    def __call__(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """The crops, each rotated by 180° where the classifier is sure it is upside down."""
        if not crops:
            return crops
        batch = np.stack([_line_tensor(crop, self.config.height, self.config.width) for crop in crops])
        probabilities = self.session.run(batch)[0]
        return [cv2.rotate(crop, cv2.ROTATE_180) if p[1] > self.config.threshold and p[1] >= p[0] else crop
                for crop, p in zip(crops, probabilities)]


class TextRecognizer:
    """CTC text recognition over a character list (the graph's ``character`` metadata, one per line)."""

    def __init__(self, session: OnnxSession, config: RecognitionConfig, characters: list[str] | None = None
                 ) -> None:
        self.session = session
        self.config = config
        listed = characters if characters is not None else session.metadata.get("character", "").splitlines()
        if not listed:
            raise ModelArtifactError(f"{session.path.name} has no 'character' metadata and no character list "
                                     "was given: the recognition graph's labels are unknown.")
        self.characters = ["", *listed, " "]  # index 0 is CTC's blank; PaddleOCR appends the space
        classes = session.outputs[0].shape[-1]
        if classes is not None and classes != len(self.characters):
            raise ModelArtifactError(f"{session.path.name} predicts {classes} classes but its character list "
                                     f"gives {len(self.characters)} (blank + {len(listed)} + space).")

    def __call__(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """``(text, mean character confidence)`` per crop, batched by similar width as PaddleOCR does."""
        results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1] / max(crops[i].shape[0], 1))
        size = self.config.batch_size
        for start in range(0, len(order), size):
            chunk = order[start:start + size]
            widest = max([self.config.width / self.config.height]
                         + [crops[i].shape[1] / max(crops[i].shape[0], 1) for i in chunk])
            width = int(self.config.height * widest)
            batch = np.stack([_line_tensor(crops[i], self.config.height, width) for i in chunk])
            scores = self.session.run(batch)[0]
            for index, row in zip(chunk, scores):
                results[index] = self._decode(row)
        return results

    def _decode(self, scores: np.ndarray) -> tuple[str, float]:
        """Greedy CTC: the best class per step, repeats merged, blanks dropped."""
        best = scores.argmax(axis=1)
        confidence = scores.max(axis=1)
        keep = best != 0
        keep[1:] &= best[1:] != best[:-1]
        if not keep.any():
            return "", 0.0
        text = "".join(self.characters[i] for i in best[keep])
        return text, float(confidence[keep].mean())


class PpOcr:
    """The whole pipeline; ``detector`` None reads the image as one line, ``recognizer`` None only finds lines."""

    def __init__(self, detector: TextDetector | None, classifier: DirectionClassifier | None,
                 recognizer: TextRecognizer | None) -> None:
        if detector is None and recognizer is None:
            raise ValueError("PP-OCR needs detection, recognition or both")
        self.detector = detector
        self.classifier = classifier
        self.recognizer = recognizer

    def read(self, image_bgr: np.ndarray) -> OcrResult:
        """Find and read the text lines of one BGR image."""
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        height, width = image_bgr.shape[:2]
        if self.detector is None:
            found = [(np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float32), 1.0)]
        else:
            found = self.detector(image_bgr)
            seconds["detection"] = time.perf_counter() - started
        rows = reading_order([quad for quad, _ in found])
        ordered = [found[i] for row in rows for i in row]
        if self.recognizer is None:
            lines = [OcrLine("", 0.0, score, quad) for quad, score in ordered]
            return OcrResult(lines, "", seconds, (width, height))
        crops = [crop_quad(image_bgr, quad) for quad, _ in ordered]
        if self.classifier is not None:
            started = time.perf_counter()
            crops = self.classifier(crops)
            seconds["classification"] = time.perf_counter() - started
        started = time.perf_counter()
        texts = self.recognizer(crops)
        seconds["recognition"] = time.perf_counter() - started
        score = self.recognizer.config.text_score
        kept = [(index, OcrLine(text, confidence, box_score, quad))
                for index, ((quad, box_score), (text, confidence)) in enumerate(zip(ordered, texts))
                if text.strip() and confidence >= score]
        kept_indices = {index for index, _ in kept}
        row_texts, cursor = [], 0
        for row in rows:
            fragments = [texts[cursor + k][0].strip() for k in range(len(row)) if cursor + k in kept_indices]
            cursor += len(row)
            if fragments:
                row_texts.append(" ".join(fragments))
        return OcrResult([line for _, line in kept], "\n".join(row_texts), seconds, (width, height))


def reading_order(quads: list[np.ndarray]) -> list[list[int]]:
    """Indices grouped into visual lines, top to bottom, each left to right.

    A box starts a new line when its top is below the current line's bottom less half its own height (the
    reference's PP-OCRv6 pipeline rule), so words of one line that the detector split stay together.
    """
    boxes = [(q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max()) for q in quads]
    rows: list[list[int]] = []
    bottom: float | None = None
    for index in sorted(range(len(boxes)), key=lambda i: boxes[i][1]):
        top, low = boxes[index][1], boxes[index][3]
        if bottom is None or top >= bottom - 0.5 * (low - top):
            rows.append([index])
            bottom = low
        else:
            rows[-1].append(index)
            bottom = max(bottom, low)
    return [sorted(row, key=lambda i: boxes[i][0]) for row in rows]


def crop_quad(image_bgr: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The quadrilateral warped to an upright rectangle (turned 90° when it is much taller than wide)."""
    width = max(int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3]))), 1)
    height = max(int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2]))), 1)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    crop = cv2.warpPerspective(image_bgr, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE,
                               flags=cv2.INTER_CUBIC)
    if height / width >= 1.5:
        crop = np.ascontiguousarray(np.rot90(crop))
    return crop


def _detection_size(width: int, height: int, config: DetectionConfig) -> tuple[int, int]:
    """PaddleOCR's DetResizeForTest: scale by the side limit, then round each side to a multiple of 32."""
    if config.limit_type == "max":
        ratio = min(1.0, config.limit_side_len / max(width, height))
    else:
        ratio = max(1.0, config.limit_side_len / min(width, height))
    return max(int(round(width * ratio / 32) * 32), 32), max(int(round(height * ratio / 32) * 32), 32)


def _line_tensor(crop: np.ndarray, height: int, width: int) -> np.ndarray:
    """A crop resized to ``height`` (width by its aspect, at most ``width``), scaled to [-1, 1], right-padded."""
    resized_width = min(width, max(1, int(math.ceil(height * crop.shape[1] / max(crop.shape[0], 1)))))
    resized = cv2.resize(crop, (resized_width, height)).astype(np.float32)
    tensor = np.zeros((3, height, width), np.float32)
    tensor[:, :, :resized_width] = (resized.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return tensor


def _mean_inside(probability: np.ndarray, points: np.ndarray) -> float:
    """Mean probability inside a polygon (DB's "fast" box score)."""
    height, width = probability.shape
    x0 = int(np.clip(np.floor(points[:, 0].min()), 0, width - 1))
    x1 = int(np.clip(np.ceil(points[:, 0].max()), 0, width - 1))
    y0 = int(np.clip(np.floor(points[:, 1].min()), 0, height - 1))
    y1 = int(np.clip(np.ceil(points[:, 1].max()), 0, height - 1))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(mask, [(points - [x0, y0]).astype(np.int32)], 1)
    return float(cv2.mean(probability[y0:y1 + 1, x0:x1 + 1], mask)[0])


def _unclip(rect: tuple, ratio: float) -> tuple:
    """DB's unclip of a rotated rectangle: grow it by ``area * ratio / perimeter`` on every side.

    PaddleOCR offsets the polygon with pyclipper (round joins) and takes the minimum-area rectangle of the
    result. For a rectangle that is exactly the rectangle grown by the offset on each side, so no polygon
    clipping library is needed.
    """
    (cx, cy), (w, h), angle = rect
    distance = (w * h) * ratio / (2 * (w + h))
    return (cx, cy), (w + 2 * distance, h + 2 * distance), angle


def _clockwise(points: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left."""
    by_x = points[np.argsort(points[:, 0])]
    left = by_x[:2][np.argsort(by_x[:2, 1])]
    right = by_x[2:][np.argsort(by_x[2:, 1])]
    return np.array([left[0], right[0], right[1], left[1]], np.float32)


class OcrBundleConfig(BaseModel):
    """``config`` of a ``pp-ocr`` bundle: each stage's knobs (a stage without a file is skipped)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    detection: DetectionConfig = DetectionConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    recognition: RecognitionConfig = RecognitionConfig()


class OcrModel(FoundationModel):
    """A ``pp-ocr`` bundle: files ``detection``, ``recognition`` and optionally ``classifier``."""

    kind = BundleKind.PP_OCR

    def __init__(self, model_id: str, stored: StoredBundle, settings: Settings) -> None:
        super().__init__(model_id, stored, settings)
        config: OcrBundleConfig = self.config(OcrBundleConfig)
        files = stored.manifest.files
        self.detector = TextDetector(self.session("detection"), config.detection) if "detection" in files else None
        self.classifier = (DirectionClassifier(self.session("classifier"), config.classifier)
                           if "classifier" in files else None)
        self.recognizer = (TextRecognizer(self.session("recognition"), config.recognition)
                           if "recognition" in files else None)
        self.pipeline = PpOcr(self.detector, self.classifier, self.recognizer)

    def read_images(self, count: int, images: Iterable[np.ndarray], detect: bool = True, recognize: bool = True,
                    client_gone: ClientGone | None = None) -> list[OcrResult]:
        """Read ``count`` BGR images, admitted together (``images`` may decode each one lazily)."""
        pipeline = self.stages(detect, recognize)
        with self.admitted(count, client_gone):
            return [pipeline.read(image) for image in images]

    def stages(self, detect: bool, recognize: bool) -> PpOcr:
        """The pipeline with only the asked-for stages (the reference's ``none`` stage skips one)."""
        missing = [name for name, wanted, stage in (("detection", detect, self.detector),
                                                    ("recognition", recognize, self.recognizer))
                   if wanted and stage is None]
        if missing:
            raise InvalidInputError(f"Model '{self.model_id}' has no {' or '.join(missing)} stage.")
        return PpOcr(self.detector if detect else None, self.classifier if detect else None,
                     self.recognizer if recognize else None)
