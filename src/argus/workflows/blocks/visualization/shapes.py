"""Circle, Ellipse, Corner, Triangle, Color and Halo visualizations: one supervision annotator each.

These six blocks differ only in the annotator and its size fields, so they live together
(a manifest and a block per type id, as the registry expects).
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
import supervision as sv
from pydantic import Field

from argus.workflows.blocks.analytics.common import AnchorField
from argus.workflows.blocks.analytics.common import position as anchor_position
from argus.workflows.blocks.base import Selector
from argus.workflows.blocks.visualization.common import (
    AnnotatorBlock,
    ColorableVisualizationManifest,
    visualization_config,
)
from argus.workflows.kinds import FLOAT_ZERO_TO_ONE_KIND, INTEGER_KIND

_Int = int | Selector(kind=[INTEGER_KIND])  # type: ignore[valid-type]
_Opacity = float | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND])  # type: ignore[valid-type]


class CircleManifest(ColorableVisualizationManifest):
    """A circle around each box."""

    model_config = visualization_config("Circle Visualization", "Draw a circle around detected objects.")
    type: Literal["roboflow_core/circle_visualization@v1", "CircleVisualization"]
    thickness: _Int = Field(default=2, description="Thickness of the circle in pixels.")  # type: ignore[valid-type]


class CircleVisualizationBlockV1(AnnotatorBlock):
    """``sv.CircleAnnotator``."""

    manifest_class = CircleManifest
    colorable = True

    def annotator(self, thickness: int, **colors: Any) -> Any:
        return sv.CircleAnnotator(thickness=int(thickness), **colors)


class EllipseManifest(ColorableVisualizationManifest):
    """An ellipse arc under each box."""

    model_config = visualization_config("Ellipse Visualization", "Draw an ellipse around detected objects.")
    type: Literal["roboflow_core/ellipse_visualization@v1", "EllipseVisualization"]
    thickness: _Int = Field(default=2, description="Thickness of the arc in pixels.")  # type: ignore[valid-type]
    start_angle: _Int = Field(default=-45, description="Start angle of the arc in degrees.")  # type: ignore[valid-type]
    end_angle: _Int = Field(default=235, description="End angle of the arc in degrees.")  # type: ignore[valid-type]


class EllipseVisualizationBlockV1(AnnotatorBlock):
    """``sv.EllipseAnnotator``."""

    manifest_class = EllipseManifest
    colorable = True

    def annotator(self, thickness: int, start_angle: int, end_angle: int, **colors: Any) -> Any:
        return sv.EllipseAnnotator(thickness=int(thickness), start_angle=int(start_angle), end_angle=int(end_angle),
                                   **colors)


class CornerManifest(ColorableVisualizationManifest):
    """Box corners only."""

    model_config = visualization_config("Corner Visualization", "Draw the corners of detected objects.")
    type: Literal["roboflow_core/corner_visualization@v1", "CornerVisualization"]
    thickness: _Int = Field(default=4, description="Thickness of the lines in pixels.")  # type: ignore[valid-type]
    corner_length: _Int = Field(default=15, description="Length of each corner line.")  # type: ignore[valid-type]


class CornerVisualizationBlockV1(AnnotatorBlock):
    """``sv.BoxCornerAnnotator``."""

    manifest_class = CornerManifest
    colorable = True

    def annotator(self, thickness: int, corner_length: int, **colors: Any) -> Any:
        return sv.BoxCornerAnnotator(thickness=int(thickness), corner_length=int(corner_length), **colors)


class TriangleManifest(ColorableVisualizationManifest):
    """A marker triangle at an anchor of each box."""

    model_config = visualization_config("Triangle Visualization", "Draw triangle markers on detected objects.")
    type: Literal["roboflow_core/triangle_visualization@v1", "TriangleVisualization"]
    position: AnchorField = Field(default="TOP_CENTER", description="Anchor of the box for the triangle.")
    base: _Int = Field(default=10, description="Base width of the triangle in pixels.")  # type: ignore[valid-type]
    height: _Int = Field(default=10, description="Height of the triangle in pixels.")  # type: ignore[valid-type]
    outline_thickness: _Int = Field(default=0, description="Outline thickness (0: none).")  # type: ignore[valid-type]


class TriangleVisualizationBlockV1(AnnotatorBlock):
    """``sv.TriangleAnnotator``."""

    manifest_class = TriangleManifest
    colorable = True

    def annotator(self, position: str, base: int, height: int, outline_thickness: int, **colors: Any) -> Any:
        return sv.TriangleAnnotator(position=anchor_position(position, "position"), base=int(base),
                                    height=int(height), outline_thickness=int(outline_thickness), **colors)


class ColorManifest(ColorableVisualizationManifest):
    """Boxes filled with colour."""

    model_config = visualization_config("Color Visualization", "Paint a solid color on detected objects.")
    type: Literal["roboflow_core/color_visualization@v1", "ColorVisualization"]
    opacity: _Opacity = Field(default=0.5, ge=0, le=1, description="Opacity of the fill.")  # type: ignore[valid-type]


class ColorVisualizationBlockV1(AnnotatorBlock):
    """``sv.ColorAnnotator``."""

    manifest_class = ColorManifest
    colorable = True

    def annotator(self, opacity: float, **colors: Any) -> Any:
        return sv.ColorAnnotator(opacity=float(opacity), **colors)


class HaloManifest(ColorableVisualizationManifest):
    """A glow around instance masks."""

    model_config = visualization_config("Halo Visualization", "Paint a halo around detected objects.")
    type: Literal["roboflow_core/halo_visualization@v1", "HaloVisualization"]
    opacity: _Opacity = Field(default=0.8, ge=0, le=1, description="Opacity of the halo.")  # type: ignore[valid-type]
    kernel_size: _Int = Field(  # type: ignore[valid-type]
        default=40, ge=1, description="Size of the halo's blur kernel.")


class HaloVisualizationBlockV1(AnnotatorBlock):
    """``sv.HaloAnnotator`` (needs masks)."""

    manifest_class = HaloManifest
    colorable = True

    def annotator(self, opacity: float, kernel_size: int, **colors: Any) -> Any:
        return HaloV1Annotator(opacity=float(opacity), kernel_size=int(kernel_size), **colors)


class HaloV1Annotator:
    """The reference's own v1 halo (supervision's differs): masks painted largest first and box-blurred, the halo
    kept outside them, blended by its brightness. (The reference's v1 always blurs 40 pixels; Argus uses
    ``kernel_size``, as its v2 does.)"""

    def __init__(self, color: Any, color_lookup: Any, opacity: float, kernel_size: int) -> None:
        self.color, self.color_lookup, self.opacity, self.kernel_size = color, color_lookup, opacity, kernel_size

    def annotate(self, scene: np.ndarray, detections: sv.Detections) -> np.ndarray:
        from supervision.annotators.utils import resolve_color

        painted: Any = np.zeros_like(scene, dtype=np.uint8)
        covered = np.zeros(scene.shape[:2], dtype=bool)
        for index in np.flip(np.argsort(detections.area)):
            colour = resolve_color(color=self.color, detections=detections, detection_idx=index,
                                   color_lookup=self.color_lookup)
            if detections.mask is None:
                x1, y1, x2, y2 = detections.xyxy[index].astype(int)
                mask = np.zeros(scene.shape[:2], dtype=bool)
                mask[y1:y2, x1:x2] = True
            else:
                mask = detections.mask[index]
            covered |= mask
            painted[mask] = colour.as_bgr()
        painted = cv2.blur(painted, (self.kernel_size, self.kernel_size))
        painted[covered] = [0, 0, 0]
        gray = cv2.cvtColor(painted, cv2.COLOR_BGR2GRAY)
        alpha = (self.opacity * gray / gray.max())[:, :, np.newaxis] if gray.max() else np.zeros(gray.shape + (1,))
        np.copyto(scene, np.uint8(scene * (1 - alpha) + painted * self.opacity))
        return scene


class HaloManifestV2(HaloManifest):
    """v2 of the reference also takes RLE-encoded masks; Argus's masks are dense either way, so it draws alike."""

    model_config = visualization_config("Halo Visualization", "Paint a halo around detected objects.", "v2")
    type: Literal["roboflow_core/halo_visualization@v2"]  # type: ignore[assignment]


class HaloVisualizationBlockV2(HaloVisualizationBlockV1):
    """supervision's ``HaloAnnotator``, as the reference's v2 draws it."""

    manifest_class = HaloManifestV2  # type: ignore[assignment]  # (a v2 manifest is its v1 one plus fields)

    def annotator(self, opacity: float, kernel_size: int, **colors: Any) -> Any:
        return sv.HaloAnnotator(opacity=float(opacity), kernel_size=int(kernel_size), **colors)
