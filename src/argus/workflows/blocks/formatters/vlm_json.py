"""JSON out of a language model's answer, as leniently as the reference reads it.

Models wrap JSON in markdown fences, prose, or emit several objects one after another; the standard ``json``
module reads none of that, and no kept library does this recovery, so it is written here (after the reference's
``vlm_json``): the first ```` ```json ```` block, then the first fenced block, then the whole text (with fence lines
removed); then a run of JSON values separated by commas or whitespace; then the outermost ``[...]`` or ``{...}``.

Example:
    >>> extract_json_payload('Sure!\\n```json\\n{"class_name": "cat", "confidence": 0.9}\\n```')
    (False, {'class_name': 'cat', 'confidence': 0.9})
    >>> extract_json_payload('{"class": "a"}, {"class": "b"}')
    (False, [{'class': 'a'}, {'class': 'b'}])
"""

from __future__ import annotations

import json
import re
from typing import Any

JSON_BLOCK = re.compile(r"```json([\s\S]*?)```", flags=re.IGNORECASE)
ANY_BLOCK = re.compile(r"```[a-zA-Z0-9_+-]*[ \t]*\r?\n?([\s\S]*?)```")
FENCE_LINE = re.compile(r"^[ \t]*```[a-zA-Z0-9_+-]*[ \t]*$", flags=re.MULTILINE)
SEPARATOR = re.compile(r"^[\s,]*$")
SEQUENCE_TAIL = re.compile(r"^[\s,]*\]?[\s,]*$")
LABEL_KEYS = ("class", "class_name", "label")


def extract_json_payload(raw: Any) -> tuple[bool, dict[str, Any] | list[Any]]:
    """``(error, payload)``: the first JSON object or array found in ``raw``; ``(True, {})`` when there is none."""
    if not isinstance(raw, str):
        return True, {}
    candidates = [*JSON_BLOCK.findall(raw)[:1], *ANY_BLOCK.findall(raw)[:1], raw, FENCE_LINE.sub("", raw)]
    for candidate in dict.fromkeys(candidates):
        payload = _parse(candidate)
        if payload is not None:
            return False, payload
    stripped = FENCE_LINE.sub("", raw)
    sequence = _value_sequence(stripped)
    if sequence is not None:
        return False, sequence
    for opening, closing in (("[", "]"), ("{", "}")):
        start, stop = stripped.find(opening), stripped.rfind(closing)
        if start != -1 and stop > start:
            payload = _parse(stripped[start:stop + 1])
            if payload is not None:
                return False, payload
    return True, {}


def coerce_classification_payload(payload: dict[str, Any] | list[Any]) -> dict[str, Any] | None:
    """An object as it is; a list of ``{class|class_name|label, confidence}`` as ``{"predicted_classes": [...]}``."""
    if isinstance(payload, dict):
        return payload
    if not payload:
        return None
    entries = []
    for entry in payload:
        label = next((str(entry[k]) for k in LABEL_KEYS if isinstance(entry, dict) and entry.get(k) is not None),
                     None)
        if label is None:
            return None
        entries.append({"class": label, "confidence": entry.get("confidence", 1.0)})
    return {"predicted_classes": entries}


def confidence(value: Any) -> float:
    """A model's stated confidence as a number clamped to [0, 1] (models write 1.7 or -0.2 too)."""
    return min(max(float(value), 0.0), 1.0)


def _parse(text: str) -> dict[str, Any] | list[Any] | None:
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, TypeError, ValueError):
        return None
    return parsed if isinstance(parsed, (dict, list)) else None


def _value_sequence(text: str) -> list[Any] | None:
    """Objects (or arrays, flattened) one after another, separated by commas or whitespace; None otherwise."""
    decoder = json.JSONDecoder()
    entries: list[Any] = []
    found, index = 0, 0
    while index < len(text):
        starts = [p for p in (text.find("{", index), text.find("[", index)) if p != -1]
        if not starts:
            break
        start = min(starts)
        if not SEPARATOR.match(text[index:start]):
            return None
        try:
            value, index = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            return None
        if isinstance(value, dict):
            entries.append(value)
        elif isinstance(value, list):
            entries.extend(value)
        else:
            return None
        found += 1
    return entries if found and SEQUENCE_TAIL.match(text[index:]) else None
