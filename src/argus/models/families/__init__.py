"""Model families: one decoder per output layout, registered by family.

Importing this package registers every decoder in :data:`DETECTION_DECODERS`.
"""

from argus.models.families import detr, keypoints, segmentation, ssd, yolo  # noqa: F401  (registration)
from argus.models.families.base import DETECTION_DECODERS, DecodeContext
from argus.models.families.classification import class_scores

__all__ = ["DETECTION_DECODERS", "DecodeContext", "class_scores"]
