"""The endpoint resource (the Inference Endpoints model: ``huggingface_hub`` sends and reads these names).

Example:
    >>> spec = EndpointSpec.model_validate({"name": "people", "model": {"repository": "coco/1"}})
    >>> spec.compute.scaling.minReplica, spec.type.value
    (1, 'authenticated')
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from argus.endpoints.backends.environment import reserved_reason
from argus.errors import InvalidInputError, InvalidModelIdError
from argus.store.model_id import parse_model_id

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")]
"""Lower-case letters, digits and ``-``, 1-32 characters, no leading or trailing ``-`` (a DNS label)."""
Namespace = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,62})$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
Route = Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9/_.~-]{0,200}$")]

NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?\Z")



class EndpointType(StrEnum):
    """Who may call an endpoint."""

    PUBLIC = "public"
    AUTHENTICATED = "authenticated"
    PRIVATE = "private"


class EndpointState(StrEnum):
    """``status.state`` values."""

    PENDING = "pending"
    INITIALIZING = "initializing"
    UPDATING = "updating"
    UPDATE_FAILED = "updateFailed"
    RUNNING = "running"
    PAUSED = "paused"
    FAILED = "failed"
    SCALED_TO_ZERO = "scaledToZero"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ModelSpec(_Strict):
    """What the replicas serve: an Argus store id (``name/version``) or zoo alias, optionally split as
    ``repository`` + ``revision`` (``coco`` + ``3`` = ``coco/3``)."""

    repository: Annotated[str, StringConstraints(min_length=1, max_length=260)]
    revision: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")] | None = None
    framework: Annotated[str, StringConstraints(max_length=64)] = "onnx"
    task: Annotated[str, StringConstraints(max_length=64)] | None = None
    image: dict[str, Any] = Field(default_factory=lambda: {"argus": {}})
    env: dict[EnvName, Annotated[str, StringConstraints(max_length=4096)]] = Field(default_factory=dict)
    secrets: dict[EnvName, Annotated[str, StringConstraints(max_length=4096)]] = Field(default_factory=dict)

    @field_validator("env", "secrets")
    @classmethod
    def _not_reserved(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = {name: reason for name in sorted(value) if (reason := reserved_reason(name)) is not None}
        if reserved:
            raise ValueError("; ".join(f"{name} cannot be set on an endpoint: {reason}"
                                       for name, reason in reserved.items()))
        return value

    @field_validator("image")
    @classmethod
    def _argus_image(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Replicas run Argus itself; container images (custom, tgi, vLLM ...) need a container backend.
        if value and set(value) - {"argus", "huggingface"}:
            raise ValueError(f"image {sorted(value)} is not supported by the local backend; use {{\"argus\": {{}}}}")
        return value

    @property
    def model_id(self) -> str:
        """The id replicas load."""
        if self.revision and "/" not in self.repository:
            return f"{self.repository}/{self.revision}"
        return self.repository

    @model_validator(mode="after")
    def _valid_id(self) -> ModelSpec:
        if "/" in self.model_id:
            try:
                parse_model_id(self.model_id)
            except InvalidModelIdError as error:
                raise ValueError(error.message) from None
        elif not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z", self.model_id):
            raise ValueError(f"repository {self.model_id[:100]!r} is neither 'name/version' nor a zoo alias")
        return self


class Measure(_Strict):
    """Scale-up trigger: pending requests per replica, or average CPU use in percent."""

    pendingRequests: Annotated[float, Field(gt=0, le=10_000)] | None = None
    hardwareUsage: Annotated[float, Field(gt=0, le=100)] | None = None

    @model_validator(mode="after")
    def _one(self) -> Measure:
        if self.pendingRequests is not None and self.hardwareUsage is not None:
            raise ValueError("measure takes one of pendingRequests or hardwareUsage, not both")
        if self.pendingRequests is None and self.hardwareUsage is None:
            self.pendingRequests = DEFAULT_PENDING_REQUESTS
        return self


DEFAULT_PENDING_REQUESTS = 1.5


class Scaling(_Strict):
    """Replica range and autoscaling policy."""

    minReplica: Annotated[int, Field(ge=0, le=64)] = 1
    maxReplica: Annotated[int, Field(ge=1, le=64)] = 1
    scaleToZeroTimeout: Annotated[float, Field(gt=0, le=60 * 24 * 30)] | None = None
    """Minutes idle before going to zero replicas (only with ``minReplica`` 0; default 15 there)."""
    measure: Measure = Field(default_factory=Measure)

    @field_validator("measure", mode="before")
    @classmethod
    def _measure_or_default(cls, value: Any) -> Any:
        return {} if value is None else value

    @model_validator(mode="after")
    def _consistent(self) -> Scaling:
        if self.minReplica > self.maxReplica:
            raise ValueError(f"minReplica ({self.minReplica}) is above maxReplica ({self.maxReplica})")
        if self.scaleToZeroTimeout is not None and self.minReplica > 0:
            raise ValueError("scaleToZeroTimeout applies only when minReplica is 0")
        if self.minReplica == 0 and self.scaleToZeroTimeout is None:
            self.scaleToZeroTimeout = DEFAULT_SCALE_TO_ZERO_MINUTES
        return self


DEFAULT_SCALE_TO_ZERO_MINUTES = 15.0


class Compute(_Strict):
    """Where replicas run; the local backend runs CPU processes on this machine."""

    accelerator: Annotated[str, StringConstraints(pattern=r"^(cpu|gpu)$")] = "cpu"
    instanceType: Annotated[str, StringConstraints(max_length=64)] = "local"
    instanceSize: Annotated[str, StringConstraints(max_length=64)] = "x1"
    scaling: Scaling = Field(default_factory=Scaling)


class Provider(_Strict):
    """Cloud vendor and region; ``local`` here."""

    vendor: Annotated[str, StringConstraints(max_length=64)] = "local"
    region: Annotated[str, StringConstraints(max_length=64)] = "local"


def _endpoint_type(value: Any) -> Any:
    return "authenticated" if value == "protected" else value  # the older name of the same type


class EndpointSpec(_Strict):
    """The desired state of an endpoint (what a client sends on create)."""

    name: Name
    type: EndpointType = EndpointType.AUTHENTICATED
    model: ModelSpec
    compute: Compute = Field(default_factory=Compute)
    provider: Provider = Field(default_factory=Provider)
    healthRoute: Route = "/readiness"
    tags: list[Annotated[str, StringConstraints(max_length=64)]] = Field(default_factory=list, max_length=32)

    @field_validator("type", mode="before")
    @classmethod
    def _older_type_name(cls, value: Any) -> Any:
        return _endpoint_type(value)

    def merged(self, patch: dict[str, Any]) -> EndpointSpec:
        """This spec with a partial update (the PUT body) applied; validated again."""
        if "name" in patch and patch["name"] not in (None, self.name):
            raise InvalidInputError("An endpoint cannot be renamed; create a new one.")
        current = self.model_dump(mode="json")
        scaling_patch = ((patch.get("compute") or {}).get("scaling") or {})
        if scaling_patch.get("minReplica", 0) > 0 and "scaleToZeroTimeout" not in scaling_patch:
            current["compute"]["scaling"]["scaleToZeroTimeout"] = None  # only meaningful with minReplica 0
        return validate_spec(_deep_merge(current, patch))


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if value is None and key not in ("revision", "scaleToZeroTimeout", "task"):
            continue  # absent in a partial update
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("env", "secrets", "image",
                                                                                     "measure"):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def validate_spec(body: Any) -> EndpointSpec:
    """Parse a request body into a spec, or raise :class:`InvalidInputError` naming each bad field."""
    from pydantic import ValidationError

    if not isinstance(body, dict):
        raise InvalidInputError("The body must be a JSON object (an endpoint).")
    try:
        return EndpointSpec.model_validate(body)
    except ValidationError as error:
        parts = []
        for item in error.errors()[:6]:
            where = ".".join(str(p) for p in item["loc"]) or "body"
            parts.append(f"{where}: {item['msg']}")
        raise InvalidInputError("Invalid endpoint: " + "; ".join(parts)) from None


class EndpointStatus(_Strict):
    """Observed state (filled by the controller)."""

    state: EndpointState
    message: str
    url: str | None
    readyReplica: int
    targetReplica: int
    createdAt: datetime
    updatedAt: datetime


def iso(moment: datetime) -> str:
    """``2026-11-22T10:00:00.000000Z`` (the format ``huggingface_hub.utils.parse_datetime`` reads)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def render(spec: EndpointSpec, status: EndpointStatus, namespace: str) -> dict[str, Any]:
    """The endpoint JSON of the API (spec, status, namespace); secrets are never echoed back."""
    body = spec.model_dump(mode="json")
    body["model"]["secrets"] = {name: "***" for name in spec.model.secrets}
    body["namespace"] = namespace
    body["status"] = {**status.model_dump(mode="json"), "createdAt": iso(status.createdAt),
                      "updatedAt": iso(status.updatedAt)}
    return body
