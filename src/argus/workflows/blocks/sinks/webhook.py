"""Webhook Sink (``roboflow_core/webhook_sink@v1``): send workflow data to an HTTP endpoint.

JSON payload, query parameters, headers, form data and multipart files take literal values or
selectors (query-language ``*_operations`` transform them first, as in the reference). Workflow
values are made JSON-ready the way the HTTP API serialises outputs. The URL passes the same SSRF
guard as image URLs (no loopback, private or link-local targets unless
``ARGUS_ALLOW_PRIVATE_WEBHOOK_URLS``); redirects are not followed. Connection failures, timeouts,
429 and 5xx answers are retried ``max_retries`` times with exponential backoff; other 4xx answers
are not. With ``fire_and_forget`` (the default) delivery runs on a background thread.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Annotated, Any, Literal

import httpx
from pydantic import Field

from argus.errors import InvalidInputError
from argus.inputs.url import pin_url
from argus.workflows.blocks.base import Selector, block_config
from argus.workflows.blocks.sinks.common import (
    MAX_DELIVERY_S,
    NotificationBlock,
    NotificationManifest,
    bounded,
    with_operations,
)
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import FLOAT_KIND, INTEGER_KIND, STRING_KIND
from argus.workflows.query_language import AllOperationsType
from argus.workflows.serialization import to_jsonable

logger = logging.getLogger(__name__)

_Value = Selector() | str | float | bool | int | dict | list  # type: ignore[valid-type]
MAX_REQUEST_TIMEOUT_S = 60.0
MAX_RETRIES = 10
MAX_BACKOFF_S = 30.0
_RETRY_STATUSES = {429, 500, 502, 503, 504}


class WebhookSinkManifest(NotificationManifest):
    """The reference's fields plus ``max_retries`` and ``retry_backoff_seconds``."""

    model_config = block_config(name="Webhook Sink", category="sink", description="Send a request to a remote API "
                                "with Workflow results.", version="v1")
    type: Literal["roboflow_core/webhook_sink@v1"]
    url: str | Selector(kind=[STRING_KIND]) = Field(  # type: ignore[valid-type]
        description="URL of the resource to call.")
    method: Literal["GET", "POST", "PUT"] = Field(default="POST", description="HTTP method.")
    query_parameters: dict[str, _Value] = Field(default_factory=dict)  # type: ignore[valid-type]
    headers: dict[str, _Value] = Field(default_factory=dict)  # type: ignore[valid-type]
    json_payload: dict[str, _Value] = Field(default_factory=dict)  # type: ignore[valid-type]
    json_payload_operations: dict[str, list[AllOperationsType]] = Field(default_factory=dict)
    multi_part_encoded_files: dict[str, _Value] = Field(default_factory=dict)  # type: ignore[valid-type]
    multi_part_encoded_files_operations: dict[str, list[AllOperationsType]] = Field(default_factory=dict)
    form_data: dict[str, _Value] = Field(default_factory=dict)  # type: ignore[valid-type]
    form_data_operations: dict[str, list[AllOperationsType]] = Field(default_factory=dict)
    # Bounds sit on the number, not the union: a selector's value is checked when the step runs (bounded()).
    request_timeout: Annotated[float, Field(gt=0, le=MAX_REQUEST_TIMEOUT_S)] | Selector(  # type: ignore[valid-type]
        kind=[INTEGER_KIND, FLOAT_KIND]) = Field(default=2, description="Seconds to wait for the remote API (per "
                                                                          "attempt; at most 60).")
    max_retries: Annotated[int, Field(ge=0, le=MAX_RETRIES)] | Selector(  # type: ignore[valid-type]
        kind=[INTEGER_KIND]) = Field(default=2, description="Extra attempts after a connection error, timeout, "
                                                            "429 or 5xx (at most 10).")
    retry_backoff_seconds: Annotated[float, Field(ge=0, le=MAX_BACKOFF_S)] | Selector(  # type: ignore[valid-type]
        kind=[FLOAT_KIND]) = Field(default=0.5, description="Wait before the first retry; doubles for each further "
                                                            "one (each wait at most 30 s).")


def _file_content(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, WorkflowImageData):
        from argus.core.images import encode_jpeg

        return encode_jpeg(value.numpy_image)
    if isinstance(value, str):
        return value.encode()
    return json.dumps(to_jsonable(value)).encode()


def _text(value: Any) -> str:
    plain = to_jsonable(value)
    return plain if isinstance(plain, str) else json.dumps(plain)


def send(request: dict[str, Any], timeout: float, max_retries: int, backoff: float, allow_private: bool
         ) -> tuple[bool, str]:
    """Perform ``request`` (httpx arguments) with retries, each attempt to an address resolved once, checked and
    pinned; ``(error_status, message)``. The whole delivery ends within :data:`MAX_DELIVERY_S`."""
    attempts = 0
    last = ""
    deadline = time.monotonic() + MAX_DELIVERY_S
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        while True:
            attempts += 1
            try:
                target = pin_url(request["url"], allow_private, label="Webhook URL",
                                 setting="ARGUS_ALLOW_PRIVATE_WEBHOOK_URLS")
                response = client.request(**{**request, "url": target.url,
                                             "headers": {**request["headers"], **target.headers}},
                                          extensions=target.extensions)
                if response.status_code < 400:
                    return False, f"Notification sent successfully (HTTP {response.status_code}, attempts: {attempts})"
                last = f"HTTP {response.status_code}"
                retryable = response.status_code in _RETRY_STATUSES
            except httpx.HTTPError as error:
                last = f"{type(error).__name__}: {error}"
                retryable = True
            except InvalidInputError as error:  # the name now resolves somewhere refused
                return True, error.message
            wait = min(backoff * 2 ** (attempts - 1), MAX_BACKOFF_S)
            if not retryable or attempts > max_retries or time.monotonic() + wait + timeout > deadline:
                return True, f"Failed to send webhook notification after {attempts} attempt(s): {last}"
            time.sleep(wait)


class WebhookSinkBlockV1(NotificationBlock):
    """POST/PUT/GET workflow data to a URL."""

    manifest_class = WebhookSinkManifest

    def run(self, url: str, method: str, query_parameters: dict[str, Any], headers: dict[str, Any],
            json_payload: dict[str, Any], json_payload_operations: dict[str, list[Any]],
            multi_part_encoded_files: dict[str, Any], multi_part_encoded_files_operations: dict[str, list[Any]],
            form_data: dict[str, Any], form_data_operations: dict[str, list[Any]], request_timeout: float,
            fire_and_forget: bool, disable_sink: bool, cooldown_seconds: float, max_retries: int = 2,
            retry_backoff_seconds: float = 0.5) -> dict[str, Any]:
        allow_private = self.context.settings.allow_private_webhook_urls
        try:
            pin_url(str(url), allow_private, label="Webhook URL", setting="ARGUS_ALLOW_PRIVATE_WEBHOOK_URLS")
        except InvalidInputError as error:
            return {"error_status": True, "throttling_status": False, "message": error.message}
        files = with_operations(multi_part_encoded_files, multi_part_encoded_files_operations)
        form = with_operations(form_data, form_data_operations)
        request: dict[str, Any] = {
            "method": method, "url": str(url),
            "params": {k: _text(v) for k, v in query_parameters.items()},
            "headers": {k: _text(v) for k, v in headers.items()},
        }
        if files or form:
            request["files"] = {k: (k, _file_content(v)) for k, v in files.items()} or None
            request["data"] = {k: _text(v) for k, v in form.items()}
            if json_payload:
                request["data"].update({k: _text(v) for k, v in
                                        with_operations(json_payload, json_payload_operations).items()})
        elif method != "GET" or json_payload:
            request["json"] = to_jsonable(with_operations(json_payload, json_payload_operations))
        timeout = bounded("request_timeout", request_timeout, 0.001, MAX_REQUEST_TIMEOUT_S)
        retries = int(bounded("max_retries", max_retries, 0, MAX_RETRIES))
        backoff = bounded("retry_backoff_seconds", retry_backoff_seconds, 0, MAX_BACKOFF_S)
        return self.notify(lambda: send(request, timeout, retries, backoff, allow_private),
                           fire_and_forget, disable_sink, cooldown_seconds)
