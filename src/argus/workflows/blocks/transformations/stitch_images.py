# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Stitch Images: two overlapping views joined by a SIFT homography, as the reference's block does.

SIFT matches (Lowe's ratio 0.75) give a RANSAC homography; the right-hand view (by mean keypoint x) is warped onto
the left one's plane and the left one pasted over it. When stitching fails the output is empty (None), as in the
reference. Unlike the reference, the canvas is bounded (:data:`MAX_CANVAS_PIXELS`): a degenerate homography can
ask for an enormous one, and that is a failed stitch too.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import AliasChoices, Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import FLOAT_ZERO_TO_ONE_KIND, IMAGE_KIND, INTEGER_KIND

logger = logging.getLogger(__name__)
MAX_CANVAS_PIXELS = 64_000_000


class StitchImagesManifest(BlockManifest):
    model_config = block_config(name="Stitch Images", category="transformation",
                                description="Stitch two overlapping images into one.")
    type: Literal["roboflow_core/stitch_images@v1"]
    image1: Selector(kind=[IMAGE_KIND]) = Field(validation_alias=AliasChoices("image1"))
    image2: Selector(kind=[IMAGE_KIND]) = Field(validation_alias=AliasChoices("image2"))
    max_allowed_reprojection_error: float | None | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND]) = 3
    count_of_best_matches_per_query_descriptor: int | None | Selector(kind=[INTEGER_KIND]) = 2

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="stitched_image", kind=[IMAGE_KIND])]


class StitchFailed(Exception):
    """The two images could not be stitched (too few matches, a degenerate or too large warp)."""


def stitch(image1: np.ndarray, image2: np.ndarray, neighbours: int, reprojection_error: float) -> np.ndarray:
    """The two images on one canvas: the right-hand one warped onto the left one's plane."""
    sift = cv2.SIFT.create()
    points1, descriptors1 = sift.detectAndCompute(image1, None)
    points2, descriptors2 = sift.detectAndCompute(image2, None)
    if descriptors1 is None or descriptors2 is None or not points1 or not points2:
        raise StitchFailed("no SIFT keypoints in one of the images")
    matches = cv2.BFMatcher.create().knnMatch(descriptors1, descriptors2, k=neighbours)
    good = [m[0] for m in matches if len(m) > 1 and m[0].distance < 0.75 * m[1].distance]
    if len(good) < 4:
        raise StitchFailed(f"{len(good)} good matches; a homography needs 4")
    src1 = np.array([points1[m.queryIdx].pt for m in good], dtype=np.float32).reshape(-1, 1, 2)
    src2 = np.array([points2[m.trainIdx].pt for m in good], dtype=np.float32).reshape(-1, 1, 2)
    image1_left = np.mean([p.pt[0] for p in points1]) < np.mean([p.pt[0] for p in points2])
    # the reference's naming: "first" is the image kept in place, "second" the one warped onto it
    first, first_pts, second, second_pts = (image2, src1, image1, src2) if image1_left else (image1, src2, image2, src1)
    homography, _ = cv2.findHomography(first_pts, second_pts, cv2.RANSAC, reprojection_error)
    if homography is None:
        raise StitchFailed("no homography fits the matches")
    h1, w1 = first.shape[:2]
    h2, w2 = second.shape[:2]
    corners = cv2.perspectiveTransform(np.array([[0, 0], [0, h2], [w2, h2], [w2, 0]], dtype=np.float32).reshape(-1, 1, 2),
                                       homography)
    low = corners.min(axis=0).ravel().astype(np.int32)
    high = corners.max(axis=0).ravel().astype(np.int32)
    xmin, ymin = int(low[0]), int(low[1])
    xmax, ymax = max(int(high[0]), w1), max(int(high[1]), h1)
    width, height = xmax - xmin, ymax - ymin
    if width <= 0 or height <= 0 or width * height > MAX_CANVAS_PIXELS:
        raise StitchFailed(f"the stitched canvas would be {width}×{height}")
    shift = [max(0, -xmin), max(0, -ymin)]
    translation = np.array([[1, 0, shift[0]], [0, 1, shift[1]], [0, 0, 1]])
    warped = cv2.warpPerspective(second, translation @ homography, (width, height))
    if shift[0] + w1 <= warped.shape[1] and shift[1] + h1 <= warped.shape[0]:
        warped[shift[1]:shift[1] + h1, shift[0]:shift[0] + w1] = first
    return warped


class StitchImagesBlockV1(Block):
    manifest_class = StitchImagesManifest

    def run(self, image1: WorkflowImageData, image2: WorkflowImageData, max_allowed_reprojection_error: float = 3,
            count_of_best_matches_per_query_descriptor: int = 2) -> dict[str, Any]:
        neighbours = abs(int(round(count_of_best_matches_per_query_descriptor or 0)))
        if not 0 < neighbours <= 100:
            raise InvalidInputError("count_of_best_matches_per_query_descriptor must be from 1 to 100")
        try:
            pixels = stitch(image1.numpy_image, image2.numpy_image, neighbours, abs(max_allowed_reprojection_error))
        except (StitchFailed, cv2.error) as exc:
            logger.info("stitching failed: %s", exc)
            return {"stitched_image": None}
        parent = f"{image1.parent_metadata.parent_id} + {image2.parent_metadata.parent_id}"
        return {"stitched_image": WorkflowImageData.root(pixels, parent)}
