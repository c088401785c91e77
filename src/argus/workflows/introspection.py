"""What a manifest class says about its fields: which take selectors, and of which kinds."""

from __future__ import annotations

import functools
import types
from typing import Annotated, Any, Union, get_args, get_origin

from argus.workflows.blocks.base import BlockManifest, SelectorSpec


def _specs_in(annotation: Any) -> list[SelectorSpec]:
    found: list[SelectorSpec] = []
    origin = get_origin(annotation)
    if origin is Annotated:
        args = get_args(annotation)
        found.extend(m for m in args[1:] if isinstance(m, SelectorSpec))
        found.extend(_specs_in(args[0]))
        return found
    if origin in (Union, types.UnionType, list, tuple, dict, set, frozenset) or origin is not None:
        for arg in get_args(annotation):
            found.extend(_specs_in(arg))
    return found


@functools.cache
def selector_fields(manifest: type[BlockManifest]) -> dict[str, tuple[SelectorSpec, ...]]:
    """Field name → the selector specs its type admits (fields without selectors are left out)."""
    out: dict[str, tuple[SelectorSpec, ...]] = {}
    for name, info in manifest.model_fields.items():
        specs = _specs_in(info.annotation)
        for meta in info.metadata:
            if isinstance(meta, SelectorSpec):
                specs.append(meta)
        if specs:
            out[name] = tuple(specs)
    return out


def find_selectors(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every ``$``-string inside ``value`` (lists and dicts searched) with its path inside the field."""
    if isinstance(value, str):
        return [(path, value)] if value.startswith("$") else []
    if isinstance(value, (list, tuple)):
        return [hit for i, item in enumerate(value) for hit in find_selectors(item, f"{path}[{i}]")]
    if isinstance(value, dict):
        return [hit for key, item in value.items() for hit in find_selectors(item, f"{path}.{key}")]
    return []


def resolve_value(value: Any, lookup: Any) -> Any:
    """``value`` with every selector string replaced by ``lookup(selector)`` (lists and dicts walked)."""
    if isinstance(value, str):
        return lookup(value) if value.startswith("$") else value
    if isinstance(value, list):
        return [resolve_value(item, lookup) for item in value]
    if isinstance(value, tuple):
        return tuple(resolve_value(item, lookup) for item in value)
    if isinstance(value, dict):
        return {key: resolve_value(item, lookup) for key, item in value.items()}
    return value
