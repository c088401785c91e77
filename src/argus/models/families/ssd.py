"""Detectors with NMS in the graph, TF object-detection-API style: boxes, scores, classes, count."""

from __future__ import annotations

import numpy as np

from argus.core.predictions import Detections
from argus.models.families.base import DecodeContext, register
from argus.models.postprocess import Selection, class_filter_mask
from argus.store.manifest import Family


def _by_role(outputs: list[np.ndarray], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Find boxes/scores/classes/count by output name, else by shape."""
    roles: dict[str, np.ndarray] = {}
    for name, output in zip(names, outputs):
        lowered = name.lower()
        for role in ("box", "score", "class", "num"):
            if role in lowered and role not in roles:
                roles[role] = output
                break
    if len(roles) < 3:
        roles = {}
        vectors = [o for o in outputs if o.ndim == 1]
        boxes = [o for o in outputs if o.ndim == 2 and o.shape[-1] == 4]
        counts = [o for o in outputs if o.size == 1]
        if boxes and len(vectors) >= 2:
            roles = {"box": boxes[0], "score": vectors[0], "class": vectors[1]}
            if counts:
                roles["num"] = counts[0]
    if not {"box", "score", "class"} <= roles.keys():
        raise ValueError(f"cannot find boxes, scores and classes among outputs {list(names)}")
    return roles


@register(Family.SSD)
def decode_ssd(outputs: list[np.ndarray], ctx: DecodeContext) -> Detections:
    """Boxes ``[N, 4]`` as normalised ``ymin, xmin, ymax, xmax``; class ids index ``class_names``."""
    roles = _by_role(outputs, ctx.output_names)
    boxes, scores = roles["box"].astype(np.float32), roles["score"].astype(np.float32).reshape(-1)
    class_id = np.rint(roles["class"].reshape(-1)).astype(np.int64)
    count = int(roles["num"].reshape(-1)[0]) if "num" in roles else len(scores)
    keep = np.zeros(len(scores), dtype=bool)
    keep[:count] = True
    keep &= scores > ctx.params.confidence
    allowed = class_filter_mask(class_id, ctx.class_names, ctx.params.class_filter)
    if allowed is not None:
        keep &= allowed
    indices = np.flatnonzero(keep)
    indices = indices[np.argsort(-scores[indices], kind="stable")][: ctx.params.max_detections]
    scale = np.array([ctx.manifest.input_width, ctx.manifest.input_height] * 2, dtype=np.float32)
    xyxy = boxes[indices][:, [1, 0, 3, 2]] * scale
    return ctx.detections(xyxy, Selection(indices, class_id[indices], scores[indices]))
