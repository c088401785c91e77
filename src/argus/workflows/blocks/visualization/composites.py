"""Grid and Heatmap visualizations: a mosaic of several images, and where tracked objects have moved.

The grid lays the images out in a ceil(√n)-square, each fitted into its cell (``INTER_AREA``) and centred, on
black, as the reference's block does. The heatmap accumulates ``sv.HeatMapAnnotator``'s heat per video and, like the
reference, leaves out tracked objects that moved less than ``motion_threshold`` pixels since they last counted; a
track unseen for a minute is forgotten, so the history stays bounded.
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal

import cv2
import numpy as np
import supervision as sv
from pydantic import Field, field_validator

from argus.errors import InvalidInputError
from argus.workflows.blocks.analytics.common import AnchorField
from argus.workflows.blocks.analytics.common import position as anchor_position
from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    OutputDefinition,
    Selector,
    VideoMetadataSelector,
    block_config,
)
from argus.workflows.blocks.visualization.common import (
    OUTPUT_IMAGE_KEY,
    PredictionsVisualizationManifest,
    canvas,
    drawn,
    visualization_config,
)
from argus.workflows.data import VideoMetadata, WorkflowImageData, pick
from argus.workflows.kinds import BOOLEAN_KIND, FLOAT_KIND, IMAGE_KIND, INTEGER_KIND, LIST_OF_VALUES_KIND

MAX_GRID_SIDE = 8192
STALE_TRACK_S = 60.0


class GridManifest(BlockManifest):
    model_config = block_config(name="Grid Visualization", category="visualization",
                                description="Show several images in one grid.")
    type: Literal["roboflow_core/grid_visualization@v1"]
    images: list[Selector(kind=[IMAGE_KIND, LIST_OF_VALUES_KIND])] = Field(min_length=1)  # type: ignore[valid-type]
    width: int | Selector(kind=[INTEGER_KIND]) = 2560  # type: ignore[valid-type]
    height: int | Selector(kind=[INTEGER_KIND]) = 1440  # type: ignore[valid-type]

    @field_validator("images", mode="before")
    @classmethod
    def _one_selector_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name=OUTPUT_IMAGE_KEY, kind=[IMAGE_KIND])]


class GridVisualizationBlockV1(Block):
    manifest_class = GridManifest

    def run(self, images: list[Any], width: int = 2560, height: int = 1440) -> dict[str, Any]:
        for name, value in (("width", width), ("height", height)):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_GRID_SIDE:
                raise InvalidInputError(f"'{name}' must be an integer from 1 to {MAX_GRID_SIDE}, not {value!r}")
        flat = [item for entry in images for item in (entry if isinstance(entry, list) else [entry])]
        if not flat:
            return {OUTPUT_IMAGE_KEY: WorkflowImageData.root(np.zeros((height, width, 3), np.uint8), "grid")}
        first = next((image for image in flat if isinstance(image, WorkflowImageData)), None)
        grid = mosaic([image.numpy_image if isinstance(image, WorkflowImageData) else None for image in flat],
                      width, height)
        return {OUTPUT_IMAGE_KEY: first.with_image(grid) if first else WorkflowImageData.root(grid, "grid")}


def mosaic(pictures: list[np.ndarray | None], width: int, height: int) -> np.ndarray:
    """The pictures in a ceil(√n) square grid of ``width``×``height``, each fitted and centred in its cell."""
    side = math.ceil(math.sqrt(len(pictures)))
    out = np.zeros((height, width, 3), np.uint8)
    cell_w, cell_h = width // side, height // side
    for index, picture in enumerate(pictures):
        if picture is None or cell_w == 0 or cell_h == 0:
            continue
        colour = cv2.cvtColor(picture, cv2.COLOR_GRAY2BGR) if picture.ndim == 2 else picture[:, :, :3]
        scale = min(cell_w / colour.shape[1], cell_h / colour.shape[0])
        size = (max(int(colour.shape[1] * scale), 1), max(int(colour.shape[0] * scale), 1))
        thumb = cv2.resize(colour, size, interpolation=cv2.INTER_AREA)
        row, col = divmod(index, side)
        x = max(col * cell_w + (cell_w - thumb.shape[1]) // 2, 0)
        y = max(row * cell_h + (cell_h - thumb.shape[0]) // 2, 0)
        h, w = min(thumb.shape[0], height - y), min(thumb.shape[1], width - x)
        out[y:y + h, x:x + w] = thumb[:h, :w]
    return out


class HeatmapManifest(PredictionsVisualizationManifest):
    model_config = visualization_config("Heatmap Visualization", "Draw a heatmap of where objects have been.")
    type: Literal["roboflow_core/heatmap_visualization@v1", "HeatmapVisualization"]
    metadata: VideoMetadataSelector() | None = None  # type: ignore[valid-type]
    position: AnchorField = "BOTTOM_CENTER"
    opacity: float | Selector(kind=[FLOAT_KIND]) = 0.2  # type: ignore[valid-type]
    radius: int | Selector(kind=[INTEGER_KIND]) = 40  # type: ignore[valid-type]
    kernel_size: int | Selector(kind=[INTEGER_KIND]) = 25  # type: ignore[valid-type]
    top_hue: int | Selector(kind=[INTEGER_KIND]) = 0  # type: ignore[valid-type]
    low_hue: int | Selector(kind=[INTEGER_KIND]) = 125  # type: ignore[valid-type]
    ignore_stationary: bool | Selector(kind=[BOOLEAN_KIND]) = True  # type: ignore[valid-type]
    motion_threshold: int | Selector(kind=[INTEGER_KIND]) = 25  # type: ignore[valid-type]


class HeatmapVisualizationBlockV1(Block):
    manifest_class = HeatmapManifest
    stateful = True

    def run(self, image: WorkflowImageData, predictions: sv.Detections, copy_image: bool = True,
            metadata: VideoMetadata | None = None, position: str = "BOTTOM_CENTER", opacity: float = 0.2,
            radius: int = 40, kernel_size: int = 25, top_hue: int = 0, low_hue: int = 125,
            ignore_stationary: bool = True, motion_threshold: int = 25) -> dict[str, Any]:
        anchor = anchor_position(position, "position")
        video = metadata.video_identifier if metadata else None
        settings = (anchor, float(opacity), int(radius), int(kernel_size), int(top_hue), int(low_hue))
        state: dict[str, Any] = self.video_state(video, lambda: {"annotators": {}, "tracks": {}})
        annotator = state["annotators"].get(settings)
        if annotator is None:  # one heat accumulator per video and drawing setting, as the reference keeps them
            annotator = state["annotators"][settings] = sv.HeatMapAnnotator(
                position=anchor, opacity=settings[1], radius=settings[2], kernel_size=settings[3],
                top_hue=settings[4], low_hue=settings[5])
        plotted = predictions
        if ignore_stationary and predictions.tracker_id is not None:
            plotted = _moving(predictions, state["tracks"], anchor, motion_threshold)
        return drawn(image, annotator.annotate(scene=canvas(image, copy_image), detections=plotted))


def _moving(predictions: sv.Detections, tracks: dict[int, tuple[float, float, float]], anchor: sv.Position,
            threshold: float) -> sv.Detections:
    """The detections whose track moved at least ``threshold`` since it last counted (a new track does not)."""
    now = time.monotonic()
    for stale in [tid for tid, (_, _, seen) in tracks.items() if now - seen > STALE_TRACK_S]:
        del tracks[stale]
    moving = []
    for i, (tracker_id, (x, y)) in enumerate(zip(predictions.tracker_id,  # type: ignore[arg-type]
                                                 predictions.get_anchors_coordinates(anchor))):
        last = tracks.get(int(tracker_id))
        if last is None or math.hypot(x - last[0], y - last[1]) >= threshold:
            if last is not None:
                moving.append(i)
            tracks[int(tracker_id)] = (float(x), float(y), now)
    return pick(predictions, np.array(moving, dtype=int)) if moving else sv.Detections.empty()
