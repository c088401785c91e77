"""Endpoint secrets encrypted at rest (Fernet: AES-128-CBC with HMAC-SHA256, from ``cryptography``).

The key is ``ARGUS_SECRETS_KEY`` (a Fernet key, what ``Fernet.generate_key()`` prints) when the operator gives
one, else ``<ARGUS_HOME>/secrets.key``, created 0600 on first use. The database holds ``model.secrets`` values
only as ``fernet:<token>``; the API never returns them (``***``); replicas receive the plain values.

Example:
    >>> box = SecretBox(Fernet.generate_key())
    >>> sealed = box.seal({"model": {"secrets": {"TOKEN": "s3cret"}}})
    >>> sealed["model"]["secrets"]["TOKEN"].startswith("fernet:"), box.open(sealed)["model"]["secrets"]
    (True, {'TOKEN': 's3cret'})
"""

from __future__ import annotations

import copy
import json
import logging
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from argus.errors import ServerError

logger = logging.getLogger(__name__)

PREFIX = "fernet:"


class SecretKeyError(ServerError):
    """The stored secrets cannot be decrypted with this server's key."""


def ensure_key_file(path: Path) -> bool:
    """Write a new Fernet key to ``path`` (0600) unless it exists; True when it wrote one."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(Fernet.generate_key())
    return True


class SecretBox:
    """Seals and opens the ``model.secrets`` of an endpoint spec (a JSON dict)."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_key_or_file(cls, key: str | None, path: Path) -> SecretBox:
        """``key`` when given, else the key in ``path`` (created 0600 when missing)."""
        if key:
            return cls(key.encode())
        if ensure_key_file(path):
            logger.info("created the endpoint secrets key %s (keep it with the database)", path)
        return cls(path.read_bytes().strip())

    def _map(self, spec: dict[str, Any], change: Any) -> dict[str, Any]:
        secrets = (spec.get("model") or {}).get("secrets")
        if not secrets:
            return spec
        out = copy.deepcopy(spec)
        out["model"]["secrets"] = {name: change(name, value) for name, value in secrets.items()}
        return out

    def seal(self, spec: dict[str, Any]) -> dict[str, Any]:
        """``spec`` with every secret value encrypted."""
        return self._map(spec, lambda _, value: value if str(value).startswith(PREFIX)
                         else PREFIX + self._fernet.encrypt(str(value).encode()).decode())

    def open(self, spec: dict[str, Any]) -> dict[str, Any]:
        """``spec`` with every secret value decrypted."""
        def decrypt(name: str, value: Any) -> str:
            text = str(value)
            if not text.startswith(PREFIX):
                return text  # written before encryption existed; sealed again on the next update
            try:
                return self._fernet.decrypt(text[len(PREFIX):].encode()).decode()
            except InvalidToken:
                raise SecretKeyError(f"Secret {name} cannot be decrypted with this server's key "
                                     "(ARGUS_SECRETS_KEY or <ARGUS_HOME>/secrets.key changed).") from None
        return self._map(spec, decrypt)


def seal_json(key: bytes, value: Any) -> str:
    """``value`` as JSON, encrypted with the Fernet ``key`` (what a Ray replica's arguments carry instead of secrets)."""
    return Fernet(key).encrypt(json.dumps(value).encode()).decode()


def open_json(key: bytes, token: str) -> Any:
    """The value :func:`seal_json` sealed; :class:`SecretKeyError` if ``key`` is not the one it was sealed with."""
    try:
        return json.loads(Fernet(key).decrypt(token.encode()))
    except InvalidToken:
        raise SecretKeyError("The sealed replica settings cannot be opened with this key file.") from None
