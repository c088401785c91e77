# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Detection Offset: grow every box by a margin (pixels or percent), clipped to the image."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import numpy as np
import supervision as sv

from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    OutputDefinition,
    Selector,
    block_config,
)
from argus.workflows.data import (
    DETECTION_ID_KEY,
    IMAGE_DIMENSIONS_KEY,
    PARENT_ID_KEY,
    copy_detections,
)
from argus.workflows.kinds import DETECTION_KINDS, INTEGER_KIND


class DetectionOffsetManifest(BlockManifest):
    model_config = block_config(name="Detection Offset", category="transformation",
                                description="Apply a padding around the width and height of detections.")
    type: Literal["roboflow_core/detection_offset@v1", "DetectionOffset"]
    predictions: Selector(kind=list(DETECTION_KINDS))
    offset_width: int | Selector(kind=[INTEGER_KIND])
    offset_height: int | Selector(kind=[INTEGER_KIND])
    units: Literal["Percent (%)", "Pixels"] = "Pixels"

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="predictions", kind=list(DETECTION_KINDS))]


def offset_boxes(detections: sv.Detections, offset_width: float, offset_height: float, percent: bool
                 ) -> sv.Detections:
    """Boxes grown by half the offset (whole pixels) on each side; each new box gets a new id whose parent is the
    old box."""
    out = copy_detections(detections)
    if len(out) == 0:
        return out
    xyxy = out.xyxy.astype(np.float64)
    # whole pixels per side, as the reference: half the offset rounded down (a percent of the box, truncated)
    if percent:
        dx = np.trunc((xyxy[:, 2] - xyxy[:, 0]) * offset_width / 200)
        dy = np.trunc((xyxy[:, 3] - xyxy[:, 1]) * offset_height / 200)
    else:
        dx = np.full(len(out), float(int(offset_width) // 2))
        dy = np.full(len(out), float(int(offset_height) // 2))
    grown = np.stack([xyxy[:, 0] - dx, xyxy[:, 1] - dy, xyxy[:, 2] + dx, xyxy[:, 3] + dy], axis=1)
    grown = np.maximum(grown, 0)
    dims = out.data.get(IMAGE_DIMENSIONS_KEY)
    if dims is not None:
        dims = np.asarray(dims)
        grown[:, 2] = np.minimum(grown[:, 2], dims[:, 1])
        grown[:, 3] = np.minimum(grown[:, 3], dims[:, 0])
    out.xyxy = grown.astype(np.float32)
    out.data[PARENT_ID_KEY] = np.asarray(detections.data[DETECTION_ID_KEY], dtype=object).copy()
    out.data[DETECTION_ID_KEY] = np.array([str(uuid.uuid4()) for _ in range(len(out))], dtype=object)
    return out


class DetectionOffsetBlock(Block):
    manifest_class = DetectionOffsetManifest

    def run(self, predictions: sv.Detections, offset_width: int, offset_height: int, units: str
            ) -> dict[str, Any]:
        return {"predictions": offset_boxes(predictions, offset_width, offset_height, units != "Pixels")}
