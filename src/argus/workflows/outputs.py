"""Assemble a run's outputs: one dict per input image, nested lists for nested batches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import supervision as sv

from argus.workflows.data import (
    IMAGE_DIMENSIONS_KEY,
    KEYPOINTS_XY_KEY,
    PARENT_COORDINATES_KEY,
    PARENT_DIMENSIONS_KEY,
    PARENT_ID_KEY,
    POLYGON_KEY,
    ROOT_PARENT_COORDINATES_KEY,
    ROOT_PARENT_DIMENSIONS_KEY,
    ROOT_PARENT_ID_KEY,
    copy_detections,
)
from argus.workflows.definition import parse_selector
from argus.workflows.run_state import lookup, source_dim

if TYPE_CHECKING:
    from argus.workflows.compiler import WorkflowPlan
    from argus.workflows.inputs import Index
    from argus.workflows.run_state import RunState


def to_root_coordinates(detections: sv.Detections) -> sv.Detections:
    """Detections made on a crop, moved into the coordinates of the workflow input they descend from."""
    if len(detections) == 0 or ROOT_PARENT_COORDINATES_KEY not in detections.data:
        return detections
    out = copy_detections(detections)
    shift = np.asarray(out.data[ROOT_PARENT_COORDINATES_KEY], dtype=np.float64)
    dims = np.asarray(out.data[ROOT_PARENT_DIMENSIONS_KEY], dtype=int)
    out.xyxy = (out.xyxy + np.hstack([shift, shift])).astype(np.float32)
    if out.mask is not None:
        height, width = int(dims[0][0]), int(dims[0][1])
        masks = np.zeros((len(out), height, width), dtype=bool)
        for i, mask in enumerate(out.mask):
            x, y = int(shift[i][0]), int(shift[i][1])
            h, w = min(mask.shape[0], height - y), min(mask.shape[1], width - x)
            masks[i, y:y + h, x:x + w] = mask[:h, :w]
        out.mask = masks
    for key in (KEYPOINTS_XY_KEY, POLYGON_KEY):
        if key in out.data:
            moved = np.empty(len(out), dtype=object)
            for i, points in enumerate(out.data[key]):
                moved[i] = np.asarray(points, dtype=np.float64) + shift[i]
            out.data[key] = moved
    out.data[IMAGE_DIMENSIONS_KEY] = dims.copy()
    out.data[PARENT_ID_KEY] = np.asarray(out.data[ROOT_PARENT_ID_KEY], dtype=object).copy()
    out.data[PARENT_COORDINATES_KEY] = np.zeros_like(shift, dtype=int)
    out.data[PARENT_DIMENSIONS_KEY] = dims.copy()
    out.data[ROOT_PARENT_COORDINATES_KEY] = np.zeros_like(shift, dtype=int)
    return out


def _in_parent_coordinates(value: Any) -> Any:
    if isinstance(value, sv.Detections):
        return to_root_coordinates(value)
    if isinstance(value, dict):
        return {k: _in_parent_coordinates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_in_parent_coordinates(v) for v in value]
    return value


def _nest(domain: dict[Index, Any], parents: set[Index], prefix: Index, depth: int, pick: Any) -> Any:
    """The values under ``prefix`` as nested lists ``depth`` levels deep (None where a branch was skipped)."""
    if depth == 0:
        return pick(domain[prefix]) if prefix in domain else None
    if prefix not in parents and not any(key[:len(prefix)] == prefix for key in domain):
        return None
    children = sorted({key[len(prefix)] for key in domain if len(key) > len(prefix) and key[:len(prefix)] == prefix})
    return [_nest(domain, parents, prefix + (c,), depth - 1, pick) for c in children]


def assemble_outputs(plan: WorkflowPlan, state: RunState) -> list[dict[str, Any]]:
    """One dict per top-level element (input image), output name → raw value."""

    results: list[dict[str, Any]] = [{} for _ in range(state.inputs.batch_size)]
    for output in plan.outputs:
        selector = parse_selector(output.selector)
        assert selector is not None  # checked at compile time
        dim = source_dim(selector, plan)
        for i, result in enumerate(results):
            if dim <= 1:
                value = lookup(selector, (i,), plan, state)[1]
            else:
                if selector.source == "inputs":
                    domain = state.inputs.batches.get(selector.name, {})
                    parents = set(state.inputs.parents.get(selector.name, []))
                else:
                    domain = state.values.get(selector.name, {})
                    parents = set(state.parents.get(selector.name, []))

                def pick(entry: Any, s: Any = selector) -> Any:
                    if s.source == "inputs":
                        return entry
                    return dict(entry) if s.output == "*" else entry.get(s.output)

                value = _nest(domain, parents, (i,), dim - 1, pick) if (i,) in parents or any(
                    key[:1] == (i,) for key in domain) else None
            if output.coordinates_system == "parent":
                value = _in_parent_coordinates(value)
            result[output.name] = value
    return results
