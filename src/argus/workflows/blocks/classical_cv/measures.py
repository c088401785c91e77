# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Classical-CV blocks that measure or enhance an image: contrast, dominant colour, focus, SIFT, template matching.

Each follows the reference's block step for step (the same OpenCV and scikit-image calls with the same
parameters), so a fixture captured from the reference's engine agrees pixel for pixel. Dominant colour's k-means
starts from a seeded random choice, where the reference's is unseeded: the same image always gets the same answer.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
import supervision as sv
from pydantic import AliasChoices, Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.blocks.classical_cv.filters import ImageField, grayscale, image_pixels
from argus.workflows.data import CLASS_NAME_KEY, PREDICTION_TYPE_KEY, WorkflowImageData, attach_lineage
from argus.workflows.kinds import (
    BOOLEAN_KIND,
    FLOAT_KIND,
    FLOAT_ZERO_TO_ONE_KIND,
    IMAGE_KEYPOINTS_KIND,
    IMAGE_KIND,
    INTEGER_KIND,
    NUMPY_ARRAY_KIND,
    OBJECT_DETECTION_PREDICTION_KIND,
    RGB_COLOR_KIND,
    STRING_KIND,
)

# ------------------------------------------------------------------ contrast


class ContrastEnhancementManifest(BlockManifest):
    model_config = block_config(name="Contrast Enhancement", category="classical_computer_vision",
                                description="Stretch each channel's histogram, with optional contrast and midtones.")
    type: Literal["roboflow_core/contrast_enhancement@v1"]
    image: Selector(kind=[IMAGE_KIND]) = ImageField
    clip_limit: int = Field(default=0, ge=0, le=50, description="Percent of the range skipped at each end")
    contrast_multiplier: float = Field(default=1.0, ge=0.1, le=5.0)
    normalize_brightness: bool = False

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="image", kind=[IMAGE_KIND])]


class ContrastEnhancementBlockV1(Block):
    manifest_class = ContrastEnhancementManifest

    def run(self, image: Any, clip_limit: int = 0, contrast_multiplier: float = 1.0,
            normalize_brightness: bool = False) -> dict[str, Any]:
        pixels = image_pixels(image)
        gamma = 1.0 / 1.3 if normalize_brightness else 1.0
        if pixels.ndim == 2 or pixels.shape[2] == 1:
            channel = pixels if pixels.ndim == 2 else pixels[:, :, 0]
            stretched = _stretch(channel, clip_limit / 100.0, contrast_multiplier, gamma, np.percentile)
            return {"image": image if stretched is None else image.with_image(stretched.astype(np.uint8))}
        colour = pixels[:, :, :3]
        out = np.zeros_like(colour, dtype=np.float32)
        for c in range(3):  # each channel on its own; a flat channel is kept as it is
            stretched = _stretch(colour[:, :, c], clip_limit / 100.0, contrast_multiplier, gamma, np.quantile)
            out[:, :, c] = colour[:, :, c] if stretched is None else stretched
        result = out.astype(np.uint8)
        if pixels.shape[2] == 4:
            result = np.concatenate([result, pixels[:, :, 3:4]], axis=2)
        return {"image": image.with_image(result)}


def _stretch(channel: np.ndarray, clip: float, multiplier: float, gamma: float, quantile: Any
             ) -> np.ndarray | None:
    """The channel mapped from its (clipped) range to 0..255; None when that range is empty."""
    values = channel.astype(np.float32)
    if clip > 0:  # the reference takes percentiles for one channel and quantiles per colour channel
        scale = 100.0 if quantile is np.percentile else 1.0
        low, high = quantile(values, [clip * scale, (1 - clip) * scale])
    else:
        low, high = values.min(), values.max()
    if high <= low:
        return None
    out = (values - low) / (high - low) * 255.0
    if multiplier != 1.0:
        out = 128.0 + (out - 128.0) * multiplier
    if gamma != 1.0:
        out = np.power(np.clip(out, 0, 255) / 255.0, gamma) * 255.0
    clipped: np.ndarray = np.clip(out, 0, 255)
    return clipped


class ContrastEqualizationManifest(BlockManifest):
    model_config = block_config(name="Contrast Equalization", category="classical_computer_vision",
                                description="Apply contrast equalization to an image.")
    type: Literal["roboflow_core/contrast_equalization@v1"]
    image: Selector(kind=[IMAGE_KIND]) = ImageField
    equalization_type: Selector(kind=[STRING_KIND]) | Literal[
        "Contrast Stretching", "Histogram Equalization", "Adaptive Equalization"] = "Histogram Equalization"

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="image", kind=[IMAGE_KIND])]


class ContrastEqualizationBlockV1(Block):
    manifest_class = ContrastEqualizationManifest

    def run(self, image: Any, equalization_type: str = "Histogram Equalization") -> dict[str, Any]:
        return {"image": image.with_image(equalize(image_pixels(image), equalization_type))}


def equalize(pixels: np.ndarray, how: str) -> np.ndarray:
    """scikit-image's three equalizations, as the reference calls them (over all channels at once)."""
    from skimage import exposure

    if how == "Contrast Stretching":
        low, high = np.percentile(pixels, (2, 98))
        stretched: np.ndarray = exposure.rescale_intensity(pixels, in_range=(low, high))
        return stretched
    if how == "Histogram Equalization":
        return (exposure.equalize_hist(pixels.astype(np.float32) / 255) * 255).astype(np.uint8)
    if how == "Adaptive Equalization":
        return (exposure.equalize_adapthist(pixels.astype(np.float32) / 255, clip_limit=0.03) * 255).astype(np.uint8)
    raise InvalidInputError(f"Unknown equalization_type {how!r}: 'Contrast Stretching', 'Histogram Equalization' "
                            "or 'Adaptive Equalization'")


# ------------------------------------------------------------------ colour and focus


class DominantColorManifest(BlockManifest):
    model_config = block_config(name="Dominant Color", category="classical_computer_vision",
                                description="Get the dominant color of an image in RGB format.")
    type: Literal["roboflow_core/dominant_color@v1"]
    image: Selector(kind=[IMAGE_KIND]) = ImageField
    color_clusters: int | Selector(kind=[INTEGER_KIND]) = Field(default=4, gt=0, le=10)
    max_iterations: int | Selector(kind=[INTEGER_KIND]) = Field(default=100, gt=0, le=500)
    target_size: int | Selector(kind=[INTEGER_KIND]) = Field(default=100, gt=0, le=250)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="rgb_color", kind=[RGB_COLOR_KIND])]


class DominantColorBlockV1(Block):
    manifest_class = DominantColorManifest

    def run(self, image: Any, color_clusters: int = 4, max_iterations: int = 100, target_size: int = 100
            ) -> dict[str, Any]:
        for name, value, top in (("color_clusters", color_clusters, 10), ("max_iterations", max_iterations, 500),
                                 ("target_size", target_size, 250)):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= top:
                raise InvalidInputError(f"'{name}' must be an integer from 1 to {top}, not {value!r}")
        pixels = image_pixels(image)
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise InvalidInputError("dominant_color needs a colour (3-channel) image")
        step = max(1, min(pixels.shape[:2]) // target_size)
        return {"rgb_color": dominant_color(pixels[::step, ::step], color_clusters, max_iterations)}


def dominant_color(pixels: np.ndarray, clusters: int, max_iterations: int) -> tuple[int, int, int]:
    """The centre of the largest k-means cluster of the pixels, as (R, G, B): the reference's Lloyd iterations."""
    points = pixels.reshape(-1, 3).astype(np.float32)
    rng = np.random.default_rng(0)
    clusters = min(clusters, len(points))
    centroids = points[rng.choice(len(points), clusters, replace=False)]
    labels = np.zeros(len(points), dtype=np.int64)
    for _ in range(max_iterations):
        labels = np.argmin(np.sqrt(((points[:, None] - centroids) ** 2).sum(axis=2)), axis=1)
        moved = np.array([points[labels == i].mean(axis=0) if (labels == i).any()
                          else points[rng.integers(len(points))] for i in range(clusters)], dtype=np.float32)
        if np.allclose(centroids, moved):
            break
        centroids = moved
    present, counts = np.unique(labels, return_counts=True)
    b, g, r = (int(np.clip(round(float(v)), 0, 255)) for v in centroids[present[np.argmax(counts)]])
    return r, g, b


class CameraFocusManifest(BlockManifest):
    model_config = block_config(name="Camera Focus", category="classical_computer_vision",
                                description="Score how well focused an image is (Brenner's measure).")
    type: Literal["roboflow_core/camera_focus@v1"]
    image: Selector(kind=[IMAGE_KIND]) = ImageField

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="image", kind=[IMAGE_KIND]),
                OutputDefinition(name="focus_measure", kind=[FLOAT_KIND])]


class CameraFocusBlockV1(Block):
    manifest_class = CameraFocusManifest

    def run(self, image: Any) -> dict[str, Any]:
        measure_image, value = brenner_measure(image_pixels(image))
        return {"image": image.with_image(measure_image), "focus_measure": value}


def brenner_measure(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """Brenner's focus measure (the mean squared two-pixel rise, across and down) and its map, captioned."""
    gray = grayscale(pixels[:, :, :3] if pixels.ndim == 3 and pixels.shape[2] == 4 else pixels)
    if gray.ndim == 3:
        gray = gray[:, :, 0] if gray.shape[2] == 1 else gray.mean(axis=2)
    values = gray.astype(np.int16)
    height, width = values.shape
    across, down = np.zeros((height, width)), np.zeros((height, width))
    across[:, :width - 2] = np.clip(values[:, 2:] - values[:, :-2], 0, None)
    down[:height - 2, :] = np.clip(values[2:, :] - values[:-2, :], 0, None)
    measure = np.max((across, down), axis=0) ** 2
    peak = float(measure.max())
    picture = (measure / peak * 255).astype(np.uint8) if peak > 0 else np.zeros(measure.shape, np.uint8)
    cv2.putText(picture, f"Focus value: {measure.mean():.2f}", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1,
                (255, 255, 255), 2)
    return picture, float(measure.mean())


# ------------------------------------------------------------------ SIFT


def sift(pixels: np.ndarray) -> tuple[Any, list[dict[str, Any]], np.ndarray | None, np.ndarray]:
    """SIFT keypoints of the grayscale image: OpenCV's keypoints, their dicts, descriptors, and the gray image."""
    gray = grayscale(pixels)
    keypoints, descriptors = cv2.SIFT.create().detectAndCompute(gray, None)
    as_dicts = [{"pt": (p.pt[0], p.pt[1]), "size": p.size, "angle": p.angle, "response": p.response,
                 "octave": p.octave, "class_id": p.class_id} for p in keypoints]
    return keypoints, as_dicts, descriptors, gray


class SIFTManifest(BlockManifest):
    model_config = block_config(name="SIFT", category="classical_computer_vision",
                                description="Find SIFT keypoints and descriptors of an image.")
    type: Literal["roboflow_core/sift@v1"]
    image: Selector(kind=[IMAGE_KIND]) = ImageField

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="image", kind=[IMAGE_KIND]),
                OutputDefinition(name="keypoints", kind=[IMAGE_KEYPOINTS_KIND]),
                OutputDefinition(name="descriptors", kind=[NUMPY_ARRAY_KIND])]


class SIFTBlockV1(Block):
    manifest_class = SIFTManifest

    def run(self, image: Any) -> dict[str, Any]:
        pixels = image_pixels(image)
        keypoints, as_dicts, descriptors, gray = sift(pixels)
        drawn = cv2.drawKeypoints(gray, keypoints, pixels.copy())
        return {"image": image.with_image(drawn), "keypoints": as_dicts, "descriptors": descriptors}


def good_matches(first: Any, second: Any, ratio: float, matcher: str = "FlannBasedMatcher") -> list[Any] | None:
    """Lowe's ratio test over the two nearest neighbours; None when either side has under two descriptors."""
    if first is None or second is None or len(first) < 2 or len(second) < 2:
        return None
    first, second = np.asarray(first, np.float32), np.asarray(second, np.float32)
    if matcher == "BFMatcher":
        pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(first, second, k=2)
    else:
        pairs = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 5}, {"checks": 50}).knnMatch(first, second, k=2)
    return [pair[0] for pair in pairs if len(pair) == 2 and pair[0].distance < ratio * pair[1].distance]


class SIFTComparisonManifest(BlockManifest):
    model_config = block_config(name="SIFT Comparison", category="classical_computer_vision",
                                description="Compare SIFT descriptors from two images.")
    type: Literal["roboflow_core/sift_comparison@v1"]
    descriptor_1: Selector(kind=[NUMPY_ARRAY_KIND])
    descriptor_2: Selector(kind=[NUMPY_ARRAY_KIND])
    good_matches_threshold: int | Selector(kind=[INTEGER_KIND]) = Field(default=50, gt=0)
    ratio_threshold: float | Selector(kind=[INTEGER_KIND]) = 0.7

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="good_matches_count", kind=[INTEGER_KIND]),
                OutputDefinition(name="images_match", kind=[BOOLEAN_KIND])]


class SIFTComparisonBlockV1(Block):
    manifest_class = SIFTComparisonManifest

    def run(self, descriptor_1: Any, descriptor_2: Any, good_matches_threshold: int = 50,
            ratio_threshold: float = 0.7) -> dict[str, Any]:
        matches = good_matches(descriptor_1, descriptor_2, ratio_threshold) or []
        return {"good_matches_count": len(matches), "images_match": len(matches) >= good_matches_threshold}


class SIFTComparisonV2Manifest(BlockManifest):
    model_config = block_config(name="SIFT Comparison", category="classical_computer_vision",
                                description="Compare two images, or their SIFT descriptors.")
    type: Literal["roboflow_core/sift_comparison@v2"]
    input_1: Selector(kind=[IMAGE_KIND, NUMPY_ARRAY_KIND])
    input_2: Selector(kind=[IMAGE_KIND, NUMPY_ARRAY_KIND])
    good_matches_threshold: int | Selector(kind=[INTEGER_KIND]) = Field(default=50, gt=0)
    ratio_threshold: float | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = 0.7
    matcher: Literal["FlannBasedMatcher", "BFMatcher"] | Selector(kind=[STRING_KIND]) = "FlannBasedMatcher"
    visualize: bool | Selector(kind=[BOOLEAN_KIND]) = False

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="images_match", kind=[BOOLEAN_KIND]),
                OutputDefinition(name="good_matches_count", kind=[INTEGER_KIND]),
                OutputDefinition(name="keypoints_1", kind=[IMAGE_KEYPOINTS_KIND]),
                OutputDefinition(name="descriptors_1", kind=[NUMPY_ARRAY_KIND]),
                OutputDefinition(name="keypoints_2", kind=[IMAGE_KEYPOINTS_KIND]),
                OutputDefinition(name="descriptors_2", kind=[NUMPY_ARRAY_KIND]),
                OutputDefinition(name="visualization_1", kind=[IMAGE_KIND]),
                OutputDefinition(name="visualization_2", kind=[IMAGE_KIND]),
                OutputDefinition(name="visualization_matches", kind=[IMAGE_KIND])]


class SIFTComparisonBlockV2(Block):
    manifest_class = SIFTComparisonV2Manifest

    def run(self, input_1: Any, input_2: Any, good_matches_threshold: int = 50, ratio_threshold: float = 0.7,
            matcher: str = "FlannBasedMatcher", visualize: bool = False) -> dict[str, Any]:
        sides = [self._side(value, visualize) for value in (input_1, input_2)]
        matches = good_matches(sides[0]["descriptors"], sides[1]["descriptors"], ratio_threshold, matcher)
        out: dict[str, Any] = {"good_matches_count": len(matches or []),
                               "images_match": len(matches or []) >= good_matches_threshold,
                               "visualization_matches": None}
        for i, side in enumerate(sides, start=1):
            out[f"keypoints_{i}"], out[f"descriptors_{i}"] = side["keypoints"], side["descriptors"]
            out[f"visualization_{i}"] = side["visualization"]
        if visualize and matches is not None and all(side["image"] is not None for side in sides):
            params = ({"flags": cv2.DrawMatchesFlags_NOT_DRAW_SINGLE_POINTS} if matcher == "BFMatcher" else
                      {"matchColor": (0, 255, 0), "singlePointColor": (0, 0, 255), "flags": cv2.DrawMatchesFlags_DEFAULT})
            drawn = cv2.drawMatchesKnn(sides[0]["pixels"], sides[0]["cv_keypoints"], sides[1]["pixels"],
                                       sides[1]["cv_keypoints"], [[m] for m in matches], None, **params)  # type: ignore[call-overload]
            out["visualization_matches"] = input_1.with_image(drawn)
        return out

    @staticmethod
    def _side(value: Any, visualize: bool) -> dict[str, Any]:
        """An image's SIFT (and its drawing when asked), or descriptors given as they are."""
        if not isinstance(value, WorkflowImageData):
            return {"image": None, "descriptors": value, "keypoints": None, "visualization": None}
        cv_keypoints, keypoints, descriptors, gray = sift(value.numpy_image)
        drawn = cv2.drawKeypoints(gray, cv_keypoints, None) if visualize else None  # type: ignore[call-overload]
        return {"image": value, "pixels": value.numpy_image, "cv_keypoints": cv_keypoints, "keypoints": keypoints,
                "descriptors": descriptors,
                "visualization": None if drawn is None else value.with_image(drawn)}


# ------------------------------------------------------------------ template matching


class TemplateMatchingManifest(BlockManifest):
    model_config = block_config(name="Template Matching", category="classical_computer_vision",
                                description="Locate instances of a template within an image.")
    type: Literal["roboflow_core/template_matching@v1"]
    image: Selector(kind=[IMAGE_KIND]) = ImageField
    template: Selector(kind=[IMAGE_KIND]) = Field(validation_alias=AliasChoices("template", "templates"))
    matching_threshold: Selector(kind=[FLOAT_KIND]) | float = 0.8
    apply_nms: Selector(kind=[BOOLEAN_KIND]) | bool = True
    nms_threshold: Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) | float = Field(default=0.5, ge=0, le=1)

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="predictions", kind=[OBJECT_DETECTION_PREDICTION_KIND]),
                OutputDefinition(name="number_of_matches", kind=[INTEGER_KIND])]


class TemplateMatchingBlockV1(Block):
    manifest_class = TemplateMatchingManifest

    def run(self, image: Any, template: Any, matching_threshold: float = 0.8, apply_nms: bool = True,
            nms_threshold: float = 0.5) -> dict[str, Any]:
        pixels, pattern = grayscale(image_pixels(image)), grayscale(image_pixels(template, "template"))
        if pattern.shape[0] > pixels.shape[0] or pattern.shape[1] > pixels.shape[1]:
            raise InvalidInputError(f"the template ({pattern.shape[1]}×{pattern.shape[0]}) is larger than the "
                                    f"image ({pixels.shape[1]}×{pixels.shape[0]})")
        h, w = pattern.shape[:2]
        ys, xs = np.where(cv2.matchTemplate(pixels, pattern, cv2.TM_CCOEFF_NORMED) >= matching_threshold)
        n = len(xs)
        detections = sv.Detections(
            xyxy=np.column_stack([xs, ys, xs + w, ys + h]).astype(np.int32).reshape(n, 4),
            confidence=np.ones(n), class_id=np.zeros(n, dtype=np.uint32),
            data={CLASS_NAME_KEY: np.array(["template_match"] * n)})
        if apply_nms and n:
            detections = detections.with_nms(threshold=nms_threshold)
        attach_lineage(detections, image)
        detections.data[PREDICTION_TYPE_KEY] = np.array(["object-detection"] * len(detections))
        return {"predictions": detections, "number_of_matches": len(detections)}
