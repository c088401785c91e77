"""Text prompts → token ids with the model's own ``tokenizer.json`` (the ``tokenizers`` library, as transformers).

Example:
    >>> tokenizer = TextTokenizer(Path("tokenizer.json"), context=77)  # doctest: +SKIP
    >>> tokenizer("a photo of a cat").truncated  # doctest: +SKIP
    False
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from argus.errors import InvalidInputError, ModelArtifactError

MAX_TEXT_CHARS = 10_000
"""A prompt longer than this is refused before tokenising (a context holds far fewer tokens anyway)."""


@dataclass(frozen=True)
class Tokens:
    """One prompt's ids (special tokens included) and whether it was cut to the context length."""

    ids: np.ndarray
    truncated: bool


class TextTokenizer:
    """A ``tokenizer.json`` with truncation to the text model's context, the way CLIP truncates."""

    def __init__(self, path: Path, context: int) -> None:
        try:
            self._tokenizer = Tokenizer.from_file(str(path))
        except Exception as error:  # noqa: BLE001 - tokenizers raises plain Exceptions for bad files
            raise ModelArtifactError(f"{path.name} is not a tokenizer.json the tokenizers library reads: "
                                     f"{str(error)[:200]}") from None
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=context)
        self.context = context

    def padded(self, texts: list[str], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids ``(N, context)`` padded with ``pad_id`` and the attention mask (OWL-ViT pads to the full context)."""
        ids = np.full((len(texts), self.context), pad_id, np.int64)
        mask = np.zeros_like(ids)
        for row, text in enumerate(texts):
            tokens = self(text).ids
            ids[row, :len(tokens)] = tokens
            mask[row, :len(tokens)] = 1
        return ids, mask

    def token_id(self, token: str) -> int | None:
        """The id of a special token, if the vocabulary has it."""
        return self._tokenizer.token_to_id(token)

    def __call__(self, text: str) -> Tokens:
        """Token ids of ``text``; beyond the context it is cut and its end token kept, as CLIP does."""
        if not isinstance(text, str):
            raise InvalidInputError(f"A text prompt must be a string, not {type(text).__name__}.")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInputError(f"A text prompt has {len(text)} characters; the limit is {MAX_TEXT_CHARS}.")
        encoding = self._tokenizer.encode(text)
        return Tokens(np.array(encoding.ids, np.int64), truncated=bool(encoding.overflowing))
