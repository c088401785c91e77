"""Monocular depth (DPT, Depth Anything): one graph, ``pixel_values`` → ``predicted_depth`` (B, h, w).

The map is resized back to the image with bicubic interpolation (what transformers'
``post_process_depth_estimation`` does with ``torch.nn.functional.interpolate``) and min-max normalised as the
reference server does: 1 is the nearest point of the image (these models predict relative inverse depth), 0 the
farthest. A flat map normalises to zeros instead of the reference's error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import cv2
import numpy as np

from argus.models.batching import ClientGone
from argus.models.foundation.base import FoundationModel
from argus.models.foundation.image_processor import ImageProcessor
from argus.settings import Settings
from argus.store.bundle import BundleKind
from argus.store.repository import StoredBundle


class DepthModel(FoundationModel):
    """A ``depth`` bundle: files ``model`` and ``preprocessor``."""

    kind = BundleKind.DEPTH

    def __init__(self, model_id: str, stored: StoredBundle, settings: Settings) -> None:
        super().__init__(model_id, stored, settings)
        self.processor = ImageProcessor.from_config(json.loads(stored.file("preprocessor").read_text()))
        self.graph = self.session("model")

    def run_batch(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Raw depth of one preprocessed image (sizes differ between images, so each runs alone)."""
        return [self.graph.run_feed({self.graph.inputs[0].name: tensor})[0]]

    def estimate(self, count: int, images: Iterable[np.ndarray], client_gone: ClientGone | None = None
                 ) -> list[np.ndarray]:
        """Normalised depth ``(H, W)`` float32 in [0, 1] for each BGR image, at the image's size."""
        maps = []
        with self.batcher.admit(count, client_gone) as ticket:
            for image in images:
                raw = ticket.run(self.processor(image)[None])[0][0]
                maps.append(normalise(upsample(raw, image.shape[1], image.shape[0])))
        return maps


def upsample(depth: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bicubic resize (a = -0.75, half-pixel centres, edges clamped: torch's ``interpolate`` and OpenCV agree)."""
    if depth.shape == (height, width):
        return depth.astype(np.float32)
    return cv2.resize(depth.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)


def normalise(depth: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1]; a flat map (no variation) is all zeros."""
    low, high = float(depth.min()), float(depth.max())
    if high <= low:
        return np.zeros_like(depth, dtype=np.float32)
    return ((depth - low) / (high - low)).astype(np.float32)


def depth_picture(depth: np.ndarray) -> np.ndarray:
    """The normalised map as a BGR picture in the viridis colour map (what the reference shows)."""
    return cv2.applyColorMap((np.clip(depth, 0.0, 1.0) * 255.0).astype(np.uint8), cv2.COLORMAP_VIRIDIS)
