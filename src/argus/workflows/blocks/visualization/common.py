"""What the visualization blocks share: manifest fields, colours, and the draw-on-a-copy protocol.

Every visualization block takes ``image`` (alias ``images``) and ``copy_image`` (default true: draw
on a copy; false: draw on the input's pixels, so chained visualizations stack without copies, as
in the reference) and outputs ``image``. Blocks that draw detections add ``predictions``; blocks
that colour them by class / index / track add the reference's palette fields.

Example:
    >>> str_to_color("#FF0000").as_bgr()
    (0, 0, 255)
    >>> len(palette("Matplotlib Viridis", 5, []).colors)
    5
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Annotated, Any, Literal

import numpy as np
import supervision as sv
from pydantic import AliasChoices, Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    ImageSelector,
    OutputDefinition,
    Selector,
    block_config,
)
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import (
    BOOLEAN_KIND,
    DETECTION_KINDS,
    FLOAT_ZERO_TO_ONE_KIND,
    IMAGE_KIND,
    INTEGER_KIND,
    LIST_OF_VALUES_KIND,
    STRING_KIND,
)

OUTPUT_IMAGE_KEY = "image"
PALETTES = ("DEFAULT", "CUSTOM", "ROBOFLOW", "Matplotlib Viridis", "Matplotlib Plasma", "Matplotlib Inferno",
            "Matplotlib Magma", "Matplotlib Cividis", "Matplotlib Pastel1", "Matplotlib Pastel2", "Matplotlib Paired",
            "Matplotlib Accent", "Matplotlib Dark2", "Matplotlib Set1", "Matplotlib Set2", "Matplotlib Set3",
            "Matplotlib Tab10", "Matplotlib Tab20", "Matplotlib Tab20b", "Matplotlib Tab20c")
_CAPITALISED_MAPS = {"Pastel1", "Pastel2", "Paired", "Accent", "Dark2", "Set1", "Set2", "Set3"}


def visualization_config(name: str, description: str, version: str = "v1") -> Any:
    """``model_config`` of a visualization manifest."""
    return block_config(name=name, category="visualization", description=description, version=version)


def str_to_color(color: str) -> sv.Color:
    """``#RRGGBB``, ``rgb(r, g, b)``, ``bgr(b, g, r)`` or a supervision colour name (``WHITE``)."""
    text = str(color).strip()
    try:
        if text.startswith("#"):
            return sv.Color.from_hex(text)
        if text.lower().startswith(("rgb", "bgr")):
            first, second, third = (int(v) for v in text[text.index("(") + 1:text.rindex(")")].split(","))
            if text.lower().startswith("rgb"):
                return sv.Color.from_rgb_tuple((first, second, third))
            return sv.Color.from_bgr_tuple((first, second, third))
        named = getattr(sv.Color, text.upper(), None)
        if isinstance(named, sv.Color):
            return named
    except ValueError:
        pass
    raise InvalidInputError(f"Invalid color {color!r}: use #RRGGBB, rgb(R, G, B), bgr(B, G, R) or a name such as "
                            "WHITE, BLACK, RED, GREEN, BLUE.")


def palette(color_palette: str, palette_size: int, custom_colors: list[str]) -> sv.ColorPalette:
    """The reference's palettes: supervision's named ones, ``CUSTOM`` colours, or a matplotlib map."""
    if color_palette == "CUSTOM":
        if not custom_colors:
            raise InvalidInputError("color_palette CUSTOM needs custom_colors, e.g. ['#FF0000', '#00FF00'].")
        return sv.ColorPalette(colors=[str_to_color(c) for c in custom_colors])
    named = getattr(sv.ColorPalette, str(color_palette), None)
    if isinstance(named, sv.ColorPalette):
        return named
    if not str(color_palette).startswith("Matplotlib "):
        raise InvalidInputError(f"Unknown color_palette {color_palette!r}; choose one of {', '.join(PALETTES)}.")
    name = color_palette.removeprefix("Matplotlib ")
    name = name.capitalize() if name in _CAPITALISED_MAPS else name.lower()
    try:
        return sv.ColorPalette.from_matplotlib(name, int(palette_size))
    except ValueError as error:
        raise InvalidInputError(f"Unknown color_palette {color_palette!r}: {error}") from None


class VisualizationManifest(BlockManifest):
    """``image`` / ``images`` and ``copy_image``; outputs ``image``."""

    image: ImageSelector() = Field(  # type: ignore[valid-type]
        validation_alias=AliasChoices("image", "images"), description="The image to draw on.")
    copy_image: bool | Selector(kind=[BOOLEAN_KIND]) = Field(  # type: ignore[valid-type]
        default=True, description="Draw on a copy (true) or on the input image's pixels (false).")

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name=OUTPUT_IMAGE_KEY, kind=[IMAGE_KIND])]


class ZoneVisualizationManifest(VisualizationManifest):
    """Plus the colour and opacity of a zone (line or polygon) drawn over the image."""

    color: str | Selector(kind=[STRING_KIND]) = Field(  # type: ignore[valid-type]
        default="#5bb573", description="Color of the zone: #RRGGBB, rgb(...), bgr(...) or a name.")
    opacity: Annotated[float, Field(ge=0, le=1)] | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = Field(  # type: ignore[valid-type]
        default=0.3, description="Opacity of the zone.")


class PredictionsVisualizationManifest(VisualizationManifest):
    """Plus the detections to draw."""

    predictions: Selector(kind=list(DETECTION_KINDS)) = Field(  # type: ignore[valid-type]
        description="Detections to draw.", examples=["$steps.object_detection_model.predictions"])


class ColorableVisualizationManifest(PredictionsVisualizationManifest):
    """Plus the reference's colour fields."""

    color_palette: Literal[PALETTES] | Selector(kind=[STRING_KIND]) = Field(  # type: ignore[valid-type]
        default="DEFAULT", description="Color palette to use for annotations.")
    palette_size: int | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=10, description="Number of colors of a matplotlib palette.")
    custom_colors: list[str] | Selector(kind=[LIST_OF_VALUES_KIND]) = Field(  # type: ignore[valid-type]
        default_factory=list, description='Colors when color_palette is "CUSTOM".')
    color_axis: Literal["INDEX", "CLASS", "TRACK"] | Selector(kind=[STRING_KIND]) = Field(  # type: ignore[valid-type]
        default="CLASS", description="Map colors by detection index, class or tracker id.")


def annotator_colors(color_palette: str, palette_size: int, custom_colors: list[str], color_axis: Any,
                     tracked: bool) -> dict[str, Any]:
    """An annotator's ``color`` and ``color_lookup`` from the colour fields; a 400 for an unknown axis, or for TRACK
    on untracked detections."""
    axis = str(color_axis).upper()
    if axis not in ("INDEX", "CLASS", "TRACK"):
        raise InvalidInputError(f"color_axis must be INDEX, CLASS or TRACK, got {axis!r}.")
    if axis == "TRACK" and not tracked:
        raise InvalidInputError("color_axis TRACK needs tracked detections (put a Byte Tracker step first).")
    return {"color": palette(color_palette, palette_size, custom_colors), "color_lookup": sv.ColorLookup[axis]}


def canvas(image: WorkflowImageData, copy_image: bool) -> np.ndarray:
    """The pixels to draw on: a copy, or the input's own array (``copy_image=false``)."""
    return image.numpy_image.copy() if copy_image else image.numpy_image


def drawn(image: WorkflowImageData, pixels: np.ndarray) -> dict[str, Any]:
    """The block output: the input's lineage with the drawn pixels."""
    return {OUTPUT_IMAGE_KEY: image.with_image(pixels)}


class AnnotatorBlock(Block):
    """A block that draws ``predictions`` with one supervision annotator built from the step's fields."""

    colorable = False
    skip_empty = True  # no detections: nothing to draw (background overlay sets False: all is background)

    @abstractmethod
    def annotator(self, *args: Any, **params: Any) -> Any:
        """The supervision annotator for these field values (``color``/``color_lookup`` when colorable)."""

    def annotate(self, annotator: Any, scene: np.ndarray, predictions: sv.Detections) -> np.ndarray:
        """Draw (override when the annotator needs more than the detections, e.g. labels)."""
        return annotator.annotate(scene=scene, detections=predictions)

    def run(self, image: WorkflowImageData, predictions: sv.Detections, copy_image: bool = True,
            **params: Any) -> dict[str, Any]:
        if self.colorable:
            params.update(annotator_colors(params.pop("color_palette"), params.pop("palette_size"),
                                           params.pop("custom_colors"), params.pop("color_axis"),
                                           predictions.tracker_id is not None))
        scene = canvas(image, copy_image)
        if len(predictions) == 0 and self.skip_empty:
            return drawn(image, scene)
        return drawn(image, self.annotate(self.annotator(**params), scene, predictions))
