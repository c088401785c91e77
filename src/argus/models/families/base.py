"""What every family decoder receives, and the registry that maps a family to its decoder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from argus.core.predictions import Detections
from argus.models.postprocess import DetectionParams, Selection
from argus.models.preprocess import Transform
from argus.store.manifest import Family, ModelManifest


@dataclass(frozen=True)
class DecodeContext:
    """Everything a decoder needs besides the raw outputs of one image."""

    manifest: ModelManifest
    params: DetectionParams
    transform: Transform
    output_names: tuple[str, ...]

    @property
    def class_names(self) -> list[str]:
        """Class names of the model."""
        return self.manifest.class_names

    def names_of(self, class_ids: np.ndarray) -> np.ndarray:
        """Class names for class ids (the id as text where the manifest has no name)."""
        names = self.manifest.class_names
        return np.array([names[i] if 0 <= i < len(names) else str(int(i)) for i in class_ids], dtype=object)

    def detections(self, boxes_input_px: np.ndarray, selection: Selection, **extra: object) -> Detections:
        """Detections from selected boxes given in network-input pixels."""
        return Detections(
            xyxy=self.transform.to_original(boxes_input_px),
            confidence=selection.confidence,
            class_id=selection.class_id,
            class_name=self.names_of(selection.class_id),
            **extra,  # type: ignore[arg-type]
        )


DetectionDecoder = Callable[[list[np.ndarray], DecodeContext], Detections]
"""Turns one image's outputs (batch axis removed) into detections in original pixels."""

DETECTION_DECODERS: dict[Family, DetectionDecoder] = {}


def register(family: Family) -> Callable[[DetectionDecoder], DetectionDecoder]:
    """Decorator: make ``function`` the decoder of ``family``."""
    def wrap(function: DetectionDecoder) -> DetectionDecoder:
        DETECTION_DECODERS[family] = function
        return function
    return wrap


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))
