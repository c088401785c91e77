"""Zone drawing shared by the line-zone and polygon-zone visualizations: an overlay blended at an opacity."""

from __future__ import annotations

import cv2
import numpy as np


def blend(scene: np.ndarray, overlay: np.ndarray, drawn_mask: np.ndarray, opacity: float) -> np.ndarray:
    """``scene`` with ``overlay`` blended in at ``opacity`` where ``drawn_mask`` is set (in place)."""
    mixed = cv2.addWeighted(overlay, float(opacity), scene, 1.0 - float(opacity), 0.0)
    scene[drawn_mask] = mixed[drawn_mask]
    return scene
