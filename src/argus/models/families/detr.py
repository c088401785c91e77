"""DETR-style detectors (RF-DETR, DETR, RT-DETR exports): set prediction, no NMS.

Boxes are ``cx, cy, w, h`` normalised to the network input; class logits go through a sigmoid
(RF-DETR and RT-DETR are trained with focal loss) and the best queries are taken over all
query × class pairs, as RF-DETR's own post-processor does.
"""

from __future__ import annotations

import numpy as np

from argus.core.predictions import Detections
from argus.models.families.base import DecodeContext, register, sigmoid
from argus.models.postprocess import Selection, class_filter_mask, cxcywh_to_xyxy
from argus.store.manifest import Family

_BOX_NAMES = ("dets", "boxes", "pred_boxes", "bboxes")
_LOGIT_NAMES = ("labels", "logits", "pred_logits", "scores")


def _split(outputs: list[np.ndarray], names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Boxes and logits, by output name when the export names them, else by shape."""
    named = dict(zip((n.lower() for n in names), outputs))
    boxes = [named[n] for n in _BOX_NAMES if n in named]
    logits = [named[n] for n in _LOGIT_NAMES if n in named]
    if boxes and logits:
        return boxes[0], logits[0]
    boxes = [o for o in outputs if o.ndim == 2 and o.shape[-1] == 4]
    logits = [o for o in outputs if o.ndim == 2 and o.shape[-1] != 4]
    if not boxes or not logits:
        raise ValueError(f"a DETR model needs boxes [Q, 4] and logits [Q, C], got {[o.shape for o in outputs]}")
    return boxes[0], logits[0]


@register(Family.DETR)
def decode_detr(outputs: list[np.ndarray], ctx: DecodeContext) -> Detections:
    """Boxes ``[Q, 4]`` and logits ``[Q, C]`` → top query/class pairs above the threshold."""
    boxes, logits = _split(outputs, ctx.output_names)
    probabilities = sigmoid(logits.astype(np.float32))
    flat = probabilities.reshape(-1)
    limit = min(ctx.params.max_detections, flat.size)
    top = np.argpartition(-flat, limit - 1)[:limit]
    top = top[np.argsort(-flat[top], kind="stable")]
    query, class_id = np.divmod(top, probabilities.shape[1])
    confidence = flat[top]
    keep = confidence > ctx.params.confidence
    allowed = class_filter_mask(class_id, ctx.class_names, ctx.params.class_filter)
    if allowed is not None:
        keep &= allowed
    query, class_id, confidence = query[keep], class_id[keep], confidence[keep]
    scale = np.array([ctx.manifest.input_width, ctx.manifest.input_height] * 2, dtype=np.float32)
    xyxy = cxcywh_to_xyxy(boxes[query].astype(np.float32)) * scale
    selection = Selection(query, class_id.astype(np.int64), confidence.astype(np.float32))
    return ctx.detections(xyxy, selection)
