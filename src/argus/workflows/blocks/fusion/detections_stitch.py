# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Detections Stitch: detections made on crops or slices merged back onto the image they were cut from."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import supervision as sv
from supervision.detection.tools.inference_slicer import move_detections

from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    FloatZeroToOne,
    ImageSelector,
    OutputDefinition,
    Selector,
    block_config,
)
from argus.workflows.data import (
    PARENT_COORDINATES_KEY,
    WorkflowImageData,
    attach_lineage,
)
from argus.workflows.kinds import BOX_DETECTION_KINDS, FLOAT_ZERO_TO_ONE_KIND

_KINDS = list(BOX_DETECTION_KINDS)


class DetectionsStitchManifest(BlockManifest):
    model_config = block_config(name="Detections Stitch", category="fusion",
                                description="Merge detections from sub-parts of an image into one.")
    type: Literal["roboflow_core/detections_stitch@v1"]
    reference_image: ImageSelector()
    predictions: Selector(kind=_KINDS)
    overlap_filtering_strategy: Literal["none", "nms", "nmm"] | Selector() = "nms"
    iou_threshold: FloatZeroToOne | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = 0.3

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="predictions", kind=_KINDS)]


def stitch(reference: WorkflowImageData, parts: list[sv.Detections | None], strategy: str, iou: float
           ) -> sv.Detections:
    """Move each part's detections by its offset in ``reference``, merge, and filter overlaps."""
    moved = []
    for part in parts:
        if part is None or len(part) == 0:
            continue
        offset = np.asarray(part.data[PARENT_COORDINATES_KEY][0], dtype=int)
        shifted = move_detections(part, np.array([offset[0], offset[1]]),
                                  (reference.width, reference.height))
        moved.append(shifted)
    merged = sv.Detections.merge(moved) if moved else sv.Detections.empty()
    if len(merged) and strategy == "nms":
        merged = merged.with_nms(threshold=iou, class_agnostic=False)
    elif len(merged) and strategy == "nmm":
        merged = merged.with_nmm(threshold=iou, class_agnostic=False)
    return attach_lineage(merged, reference)


class DetectionsStitchBlock(Block):
    manifest_class = DetectionsStitchManifest
    output_dimensionality_offset = -1

    def run(self, reference_image: WorkflowImageData, predictions: list[sv.Detections | None],
            overlap_filtering_strategy: str, iou_threshold: float) -> dict[str, Any]:
        return {"predictions": stitch(reference_image, predictions, overlap_filtering_strategy, iou_threshold)}
