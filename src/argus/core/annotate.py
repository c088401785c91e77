"""Draw predictions on images with supervision's annotators."""

from __future__ import annotations

import numpy as np

from argus.core.predictions import ClassificationResult, DetectionResult, Result


def annotate(image_bgr: np.ndarray, result: Result, *, labels: bool = True, stroke: int = 2) -> np.ndarray:
    """A copy of ``image_bgr`` with boxes, masks, keypoints and labels drawn."""
    import supervision as sv

    canvas = image_bgr.copy()
    if isinstance(result, ClassificationResult):
        text = f"{result.top} {result.confidence:.2f}"
        anchor = sv.Point(x=10 + 6 * len(text), y=20)
        return sv.draw_text(scene=canvas, text=text, text_anchor=anchor, background_color=sv.Color.BLACK)
    assert isinstance(result, DetectionResult)
    dets = result.detections
    detections = dets.to_supervision()
    if dets.masks is not None:
        canvas = sv.MaskAnnotator().annotate(canvas, detections)
    canvas = sv.BoxAnnotator(thickness=max(1, stroke)).annotate(canvas, detections)
    if dets.keypoints is not None and len(dets):
        key_points = dets.to_sv_keypoints()
        canvas = sv.VertexAnnotator(radius=max(2, stroke + 1)).annotate(canvas, key_points)
    if labels and len(dets):
        texts = [f"{name} {score:.2f}" for name, score in zip(dets.class_name, dets.confidence)]
        canvas = sv.LabelAnnotator(text_scale=0.4, text_padding=3).annotate(canvas, detections, labels=texts)
    return canvas
