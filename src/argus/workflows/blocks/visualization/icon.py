"""Icon Visualization: an image pasted on each detection (dynamic) or at one place (static), with its alpha.

The reference also re-reads the icon from the local file or URL it came from, to recover an alpha channel its
decoder dropped; Argus keeps the icon's channels as decoded (a 4-channel PNG keeps its alpha) and never reads a
path a workflow names. ``sv.IconAnnotator`` only takes icons by path, so the icon goes through a private
temporary file for the call.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import supervision as sv
from pydantic import model_validator

from argus.errors import InvalidInputError
from argus.workflows.blocks.analytics.common import AnchorField
from argus.workflows.blocks.analytics.common import position as anchor_position
from argus.workflows.blocks.base import Block, ImageSelector, Selector
from argus.workflows.blocks.visualization.common import VisualizationManifest, canvas, drawn, visualization_config
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import DETECTION_KINDS, INTEGER_KIND, STRING_KIND

MAX_ICON_SIDE = 4096


class IconManifest(VisualizationManifest):
    model_config = visualization_config("Icon Visualization", "Draw an icon on detections or at a fixed place.")
    type: Literal["roboflow_core/icon_visualization@v1", "IconVisualization"]
    icon: ImageSelector()  # type: ignore[valid-type]
    mode: Literal["static", "dynamic"] | Selector(kind=[STRING_KIND]) = "dynamic"  # type: ignore[valid-type]
    predictions: Selector(kind=list(DETECTION_KINDS)) | None = None  # type: ignore[valid-type]
    icon_width: int | Selector(kind=[INTEGER_KIND]) = 64  # type: ignore[valid-type]
    icon_height: int | Selector(kind=[INTEGER_KIND]) = 64  # type: ignore[valid-type]
    position: AnchorField | None = "TOP_CENTER"
    x_position: int | Selector(kind=[INTEGER_KIND]) | None = 10  # type: ignore[valid-type]
    y_position: int | Selector(kind=[INTEGER_KIND]) | None = 10  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _dynamic_needs_predictions(self) -> IconManifest:
        if self.mode == "dynamic" and self.predictions is None:
            raise ValueError("'predictions' is required in dynamic mode")
        return self


def with_alpha(icon: np.ndarray) -> np.ndarray:
    """The icon as BGRA: its own alpha when it has one, opaque otherwise."""
    if icon.ndim == 2:
        icon = cv2.cvtColor(icon, cv2.COLOR_GRAY2BGR)
    if icon.shape[2] == 4:
        return icon
    return np.concatenate([icon[:, :, :3], np.full(icon.shape[:2] + (1,), 255, icon.dtype)], axis=2)


class IconVisualizationBlockV1(Block):
    manifest_class = IconManifest

    def run(self, image: WorkflowImageData, icon: WorkflowImageData, copy_image: bool = True,
            mode: str = "dynamic", predictions: sv.Detections | None = None, icon_width: int = 64,
            icon_height: int = 64, position: str | None = "TOP_CENTER", x_position: int | None = 10,
            y_position: int | None = 10) -> dict[str, Any]:
        for name, value in (("icon_width", icon_width), ("icon_height", icon_height)):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ICON_SIDE:
                raise InvalidInputError(f"'{name}' must be an integer from 1 to {MAX_ICON_SIDE}, not {value!r}")
        scene = canvas(image, copy_image)
        if mode == "static":
            height, width = scene.shape[:2]
            x = width + x_position - icon_width if (x_position or 0) < 0 else (x_position or 0)
            y = height + y_position - icon_height if (y_position or 0) < 0 else (y_position or 0)
            cx, cy = x + icon_width // 2, y + icon_height // 2
            targets = sv.Detections(xyxy=np.array([[cx - 1, cy - 1, cx + 1, cy + 1]], dtype=np.float64),
                                    class_id=np.array([0]), confidence=np.array([1.0]))
            anchor = sv.Position.CENTER
        elif predictions is not None and len(predictions):
            targets, anchor = predictions, anchor_position(position or "TOP_CENTER", "position")
        else:
            return drawn(image, scene)
        with tempfile.TemporaryDirectory(prefix="argus-icon-") as folder:
            path = str(Path(folder) / "icon.png")
            cv2.imwrite(path, with_alpha(icon.numpy_image))
            annotator = sv.IconAnnotator(icon_resolution_wh=(icon_width, icon_height), icon_position=anchor)
            return drawn(image, annotator.annotate(scene=scene, detections=targets, icon_path=path))
