"""Model ids: ``name/version``, validated so that no id can reach outside the model store.

Example:
    >>> parse_model_id("coco/3")
    ModelId(name='coco', version='3')
"""

from __future__ import annotations

import re
from typing import NamedTuple

from argus.errors import InvalidModelIdError

_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")


class ModelId(NamedTuple):
    """A validated ``name/version`` pair."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}/{self.version}"


def parse_model_id(model_id: str) -> ModelId:
    """Validate ``name/version``: letters, digits, ``_ . -``, no leading dot, no ``..``.

    Raises:
        InvalidModelIdError: with a message naming what is wrong.
    """
    if not isinstance(model_id, str) or not model_id:
        raise InvalidModelIdError("Model id is empty; expected 'name/version', for example 'coco/3'.")
    parts = model_id.split("/")
    if len(parts) != 2:
        raise InvalidModelIdError(
            f"Model id {model_id[:200]!r} is not of the form 'name/version' (exactly one '/'), for example 'coco/3'."
        )
    for label, part in zip(("name", "version"), parts):
        if not _PART.match(part) or ".." in part:
            raise InvalidModelIdError(
                f"Model id {model_id[:200]!r} has an invalid {label} {part[:130]!r}: use letters, digits, '_', '.' "
                "and '-', starting with a letter or digit, and no '..'."
            )
    return ModelId(parts[0], parts[1])
