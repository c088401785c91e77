"""Typed prediction results: shaped numpy arrays, convertible to supervision and to Roboflow JSON.

:class:`Detections` is the one canonical container for boxes (with optional masks, polygons and
keypoints); :class:`DetectionResult` and :class:`ClassificationResult` wrap it with the image size,
the model and the timing, and render the Roboflow Inference response JSON.

Example:
    >>> import numpy as np
    >>> dets = Detections(xyxy=np.array([[10, 20, 30, 60]], dtype=np.float32),
    ...                   confidence=np.array([0.9], dtype=np.float32),
    ...                   class_id=np.array([0]), class_name=np.array(["cat"], dtype=object))
    >>> DetectionResult(dets, image_width=100, image_height=80).to_roboflow()["predictions"][0]["x"]
    20.0
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import supervision as sv


def _check_shape(name: str, array: np.ndarray | None, expected: tuple[int | None, ...]) -> None:
    """Raise ``ValueError`` naming the field, the expected shape and the actual one."""
    if array is None:
        return
    if array.ndim != len(expected) or any(e is not None and e != a for e, a in zip(expected, array.shape)):
        shown = tuple("*" if e is None else e for e in expected)
        raise ValueError(f"Detections.{name} must have shape {shown}, got {array.shape}")


def new_detection_ids(count: int) -> np.ndarray:
    """``count`` fresh uuid4 strings, as the reference gives every prediction."""
    return np.array([str(uuid.uuid4()) for _ in range(count)], dtype=object)


@dataclass(frozen=True, eq=False)
class Detections:
    """N detections in original-image pixel coordinates.

    Attributes:
        xyxy: ``(N, 4)`` float32 boxes ``x1, y1, x2, y2``.
        confidence: ``(N,)`` float32 scores.
        class_id: ``(N,)`` int64 class indices.
        class_name: ``(N,)`` object array of class names.
        masks: optional ``(N, H, W)`` bool masks at the original image size.
        polygons: optional list of N ``(K, 2)`` float32 outlines (one per detection).
        keypoints: optional ``(N, K, 2)`` float32 keypoint coordinates.
        keypoint_confidence: optional ``(N, K)`` float32 keypoint scores.
        keypoint_names: names of the K keypoints.
        detection_id: ``(N,)`` object array of uuid strings.
        tracker_id: optional ``(N,)`` int64 track ids.
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    class_name: np.ndarray
    masks: np.ndarray | None = None
    polygons: list[np.ndarray] | None = None
    keypoints: np.ndarray | None = None
    keypoint_confidence: np.ndarray | None = None
    keypoint_names: tuple[str, ...] = ()
    detection_id: np.ndarray = field(default=None)  # type: ignore[arg-type]  # filled in __post_init__
    tracker_id: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        _check_shape("xyxy", self.xyxy, (n, 4))
        _check_shape("confidence", self.confidence, (n,))
        _check_shape("class_id", self.class_id, (n,))
        _check_shape("class_name", self.class_name, (n,))
        _check_shape("masks", self.masks, (n, None, None))
        _check_shape("keypoints", self.keypoints, (n, None, 2))
        if self.keypoints is not None:
            _check_shape("keypoint_confidence", self.keypoint_confidence, (n, self.keypoints.shape[1]))
        _check_shape("tracker_id", self.tracker_id, (n,))
        if self.polygons is not None and len(self.polygons) != n:
            raise ValueError(f"Detections.polygons must have {n} entries, got {len(self.polygons)}")
        if self.detection_id is None:
            object.__setattr__(self, "detection_id", new_detection_ids(n))
        _check_shape("detection_id", self.detection_id, (n,))

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls(
            xyxy=np.zeros((0, 4), dtype=np.float32),
            confidence=np.zeros((0,), dtype=np.float32),
            class_id=np.zeros((0,), dtype=np.int64),
            class_name=np.zeros((0,), dtype=object),
        )

    def __getitem__(self, index: np.ndarray | slice | list[int]) -> Detections:
        """Select detections by boolean mask, index array or slice."""
        def pick(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else array[index]

        polygons = None
        if self.polygons is not None:
            positions = np.arange(len(self))[index]
            polygons = [self.polygons[int(i)] for i in np.atleast_1d(positions)]
        return replace(
            self,
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            class_name=self.class_name[index],
            masks=pick(self.masks),
            polygons=polygons,
            keypoints=pick(self.keypoints),
            keypoint_confidence=pick(self.keypoint_confidence),
            detection_id=self.detection_id[index],
            tracker_id=pick(self.tracker_id),
        )

    def to_supervision(self) -> sv.Detections:
        """As ``supervision.Detections`` (``class_name`` and ids under ``data``)."""
        import supervision as sv

        data: dict[str, Any] = {"class_name": self.class_name, "detection_id": self.detection_id}
        if self.keypoints is not None:
            data["keypoints"] = self.keypoints
            data["keypoint_confidence"] = self.keypoint_confidence
        return sv.Detections(
            xyxy=self.xyxy.astype(np.float32),
            mask=self.masks,
            confidence=self.confidence,
            class_id=self.class_id,
            tracker_id=self.tracker_id,
            data=data,
        )

    @classmethod
    def from_supervision(cls, detections: sv.Detections, class_names: list[str] | None = None) -> Detections:
        """From ``supervision.Detections``; class names from ``data['class_name']`` or ``class_names``."""
        n = len(detections)
        class_id = (detections.class_id if detections.class_id is not None else np.zeros(n)).astype(np.int64)
        names = detections.data.get("class_name")
        if names is None:
            names = np.array([class_names[i] if class_names else str(i) for i in class_id], dtype=object)
        confidence = detections.confidence if detections.confidence is not None else np.ones(n, dtype=np.float32)
        return cls(
            xyxy=np.asarray(detections.xyxy, dtype=np.float32),
            confidence=np.asarray(confidence, dtype=np.float32),
            class_id=class_id,
            class_name=np.asarray(names, dtype=object),
            masks=_optional_array(detections.mask),
            keypoints=_optional_array(detections.data.get("keypoints")),
            keypoint_confidence=_optional_array(detections.data.get("keypoint_confidence")),
            detection_id=_optional_array(detections.data.get("detection_id")),  # type: ignore[arg-type]
            tracker_id=detections.tracker_id,
        )

    def to_sv_keypoints(self) -> sv.KeyPoints:
        """Keypoints as ``supervision.KeyPoints`` (for its keypoint annotators)."""
        import supervision as sv

        if self.keypoints is None:
            raise ValueError("these detections carry no keypoints")
        xy = self.keypoints.astype(np.float32)
        try:
            return sv.KeyPoints(xy=xy, keypoint_confidence=self.keypoint_confidence, class_id=self.class_id)
        except TypeError:  # supervision < 0.31 names it ``confidence``
            return sv.KeyPoints(xy=xy, confidence=self.keypoint_confidence, class_id=self.class_id)


def _round(value: float, digits: int = 6) -> float:
    return round(float(value), digits)


@dataclass(frozen=True, eq=False)
class DetectionResult:
    """Detections on one image, with what the reference response needs around them."""

    detections: Detections
    image_width: int
    image_height: int
    task: str = "object-detection"
    model_id: str | None = None
    time: float = 0.0
    inference_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    keypoint_threshold: float = 0.0
    """Keypoints under this confidence are left out of :meth:`to_roboflow` (the request's value)."""

    def to_supervision(self) -> sv.Detections:
        """As ``supervision.Detections``."""
        return self.detections.to_supervision()

    def to_roboflow(self, keypoint_confidence: float | None = None) -> dict[str, Any]:
        """The Roboflow Inference response JSON (box centres, names, ids; nulls omitted)."""
        return {
            "inference_id": self.inference_id,
            "time": self.time,
            "image": {"width": self.image_width, "height": self.image_height},
            "predictions": self.predictions_json(keypoint_confidence),
        }

    def predictions_json(self, keypoint_confidence: float | None = None) -> list[dict[str, Any]]:
        """The ``predictions`` list of the reference response."""
        if keypoint_confidence is None:
            keypoint_confidence = self.keypoint_threshold
        dets = self.detections
        xyxy = dets.xyxy.astype(np.float64)
        predictions = []
        for i in range(len(dets)):
            keypoints = None
            if dets.keypoints is not None and dets.keypoint_confidence is not None:
                names = dets.keypoint_names
                keypoints = [keypoint_json(x, y, score, k, names[k] if k < len(names) else str(k))
                             for k, ((x, y), score) in enumerate(zip(dets.keypoints[i], dets.keypoint_confidence[i]))
                             if score >= keypoint_confidence]
            predictions.append(prediction_json(
                xyxy[i], dets.confidence[i], str(dets.class_name[i]), int(dets.class_id[i]), str(dets.detection_id[i]),
                tracker_id=None if dets.tracker_id is None else int(dets.tracker_id[i]),
                polygon=None if dets.polygons is None else dets.polygons[i], keypoints=keypoints))
        return predictions


def prediction_json(xyxy: Any, confidence: Any, class_name: str, class_id: int, detection_id: str, *,
                    tracker_id: int | None = None, polygon: Any = None,
                    keypoints: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One detection in the Roboflow wire shape (box centre and size, names, ids, outline, keypoints), rounded
    as the reference rounds. ``/infer``, OIP and workflow outputs all write detections with this function."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    width, height = x2 - x1, y2 - y1
    item: dict[str, Any] = {
        "x": _round(x1 + width / 2, 3),
        "y": _round(y1 + height / 2, 3),
        "width": _round(width, 3),
        "height": _round(height, 3),
        "confidence": _round(confidence, 4),
        "class": class_name,
        "class_id": class_id,
        "detection_id": detection_id,
    }
    if tracker_id is not None:
        item["tracker_id"] = tracker_id
    if polygon is not None:
        item["points"] = [{"x": _round(px, 2), "y": _round(py, 2)} for px, py in polygon]
    if keypoints is not None:
        item["keypoints"] = keypoints
    return item


def keypoint_json(x: float, y: float, confidence: float, class_id: int, class_name: str) -> dict[str, Any]:
    """One keypoint in the Roboflow wire shape."""
    return {"x": _round(x, 2), "y": _round(y, 2), "confidence": _round(confidence, 4), "class_id": int(class_id),
            "class": class_name}


@dataclass(frozen=True, eq=False)
class ClassificationResult:
    """Class scores for one image: softmax (single-label) or independent sigmoid (multi-label)."""

    class_names: tuple[str, ...]
    scores: np.ndarray
    image_width: int
    image_height: int
    multilabel: bool = False
    threshold: float = 0.5
    model_id: str | None = None
    time: float = 0.0
    inference_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    task: str = "classification"

    def __post_init__(self) -> None:
        if self.scores.shape != (len(self.class_names),):
            raise ValueError(
                f"ClassificationResult.scores must have shape ({len(self.class_names)},), got {self.scores.shape}"
            )

    @property
    def top(self) -> str:
        """Name of the best class."""
        return self.class_names[int(np.argmax(self.scores))]

    @property
    def confidence(self) -> float:
        """Score of the best class."""
        return float(np.max(self.scores))

    @property
    def predicted_classes(self) -> list[str]:
        """Multi-label: the classes above the threshold, best first."""
        order = np.argsort(-self.scores, kind="stable")
        return [self.class_names[i] for i in order if self.scores[i] > self.threshold]

    def to_roboflow(self) -> dict[str, Any]:
        """The reference response: sorted list (single-label) or dict by class (multi-label)."""
        body: dict[str, Any] = {
            "inference_id": self.inference_id,
            "time": self.time,
            "image": {"width": self.image_width, "height": self.image_height},
        }
        if self.multilabel:
            body["predictions"] = {
                name: {"confidence": _round(score, 4), "class_id": i}
                for i, (name, score) in enumerate(zip(self.class_names, self.scores))
            }
            body["predicted_classes"] = self.predicted_classes
            return body
        order = np.argsort(-self.scores, kind="stable")
        body["predictions"] = [
            {"class": self.class_names[i], "class_id": int(i), "confidence": _round(self.scores[i], 4)} for i in order
        ]
        body["top"] = self.top
        body["confidence"] = _round(self.confidence, 4)
        return body


Result = DetectionResult | ClassificationResult


def _optional_array(value: Any) -> np.ndarray | None:
    """``value`` as a numpy array (supervision may hold lists or compact masks), None kept."""
    return None if value is None else np.asarray(value)
