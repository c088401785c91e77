"""The environment a replica starts with: built from an allowlist, never from the server's whole environment.

Capabilities come from the server, never from an endpoint's spec. A replica gets:

1. the process basics it needs to run Python (:data:`PROCESS_VARIABLES`, from the server's environment);
2. the endpoint's own ``env`` and ``secrets``: the user's variables, which :func:`reserved_reason` has already
   kept away from every Argus setting (``ARGUS_*`` and the Roboflow aliases, in any case), the loader and
   interpreter (``LD_*``, ``PYTHON*``) and proxies;
3. the server's model-serving settings (:data:`SERVING_SETTINGS`), written from its ``Settings``;
4. what the backend decides: home, store, its private key, its one model, and custom Python, the stream API,
   private URLs and numpy input off, whatever anything above said.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from argus.settings import Settings

PROCESS_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "VIRTUAL_ENV", "SYSTEMROOT",
                     "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "SSL_CERT_FILE", "SSL_CERT_DIR",
                     # GPU placement and libraries, as the operator set them for the server.
                     "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH")
SERVING_SETTINGS = ("execution_providers", "cpu_fallback", "intra_op_threads", "inter_op_threads",
                    "intra_op_spinning", "dynamic_batching", "max_pending_images", "model_instances",
                    "adaptive_threads", "reduced_jpeg_decode",
                    "max_image_pixels", "allow_url_input", "url_fetch_timeout", "url_max_bytes", "max_body_bytes",
                    "zoo_catalogue", "models_memory_budget_mb")
"""Settings a replica inherits from its server: how to run the model, never what it may reach."""
SWITCHED_OFF = ("allow_custom_python", "enable_stream_api", "allow_private_urls", "allow_numpy_input",
                "allow_private_webhook_urls", "endpoints_enabled", "metrics_public")

_RESERVED_PREFIXES = ("ARGUS_", "LD_", "PYTHON", "DYLD_")
_PROXIES = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR",
            "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}


def _setting_names() -> dict[str, str]:
    """Every environment name Settings reads (upper case) → the ARGUS_ name it belongs to."""
    names: dict[str, str] = {}
    for info in Settings.model_fields.values():
        choices = [str(c) for c in getattr(info.validation_alias, "choices", [])]
        for choice in choices:
            names[choice.upper()] = choices[0]
    return names


SETTING_NAMES = _setting_names()


def reserved_reason(name: str) -> str | None:
    """Why ``name`` cannot be an endpoint's env or secret (``None`` if it can). Case-insensitive, as the settings
    loader is."""
    upper = name.upper()
    if upper in SETTING_NAMES:
        return f"it is the Argus setting {SETTING_NAMES[upper]}, which only the server operator sets"
    if upper.startswith(_RESERVED_PREFIXES):
        return f"variables starting with {upper.split('_')[0]}_ are reserved (Argus, loader and interpreter settings)"
    if upper in _PROXIES or upper in PROCESS_VARIABLES:
        return "the platform sets it"
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    if isinstance(value, Path):
        return str(value.expanduser().resolve())
    return str(value)


def serving_environment(settings: Settings, *, model_id: str) -> dict[str, str]:
    """The ``ARGUS_*`` settings of a replica serving ``model_id``: the server's serving settings, its store, every
    capability off (items 3 and 4 of the module docstring, less the private key). Nothing here is secret."""
    env: dict[str, str] = {}
    for field in SERVING_SETTINGS:
        value = getattr(settings, field)
        if value is not None:
            env[f"ARGUS_{field.upper()}"] = _text(value)
    env.update({f"ARGUS_{field.upper()}": "false" for field in SWITCHED_OFF})
    env.update({
        "ARGUS_HOME": _text(settings.home_dir),
        "ARGUS_MODELS_DIR": _text(settings.model_store_dir),
        "ARGUS_ZOO_CACHE_DIR": _text(settings.zoo_cache_path),
        "ARGUS_ENDPOINT_MODEL": model_id,
        "ARGUS_CUSTOM_PYTHON_ISOLATION": "kernel",
    })
    return env


def user_environment(user_env: dict[str, str]) -> dict[str, str]:
    """The endpoint's own variables that :func:`reserved_reason` allows (validation has refused the others)."""
    return {name: value for name, value in user_env.items() if reserved_reason(name) is None}


def replica_environment(settings: Settings, user_env: dict[str, str], *, model_id: str, api_key: str
                        ) -> dict[str, str]:
    """The whole environment of one local replica process (see the module docstring for the order)."""
    env = {name: os.environ[name] for name in PROCESS_VARIABLES if name in os.environ}
    env.update(user_environment(user_env))
    env.update(serving_environment(settings, model_id=model_id))
    env.update({"ARGUS_API_KEYS": api_key, "PYTHONUNBUFFERED": "1"})
    return env
