"""What an endpoint exposes: its model's inference routes, health and info, and nothing else.

One allowlist, checked twice: by the router before it forwards a request (``/endpoints/{ns}/{name}/<path>``),
and by the replica itself (a server started with ``ARGUS_ENDPOINT_MODEL``), so a replica reached some other
way still refuses model management, workflows, streams, metrics and other models.

Example:
    >>> model = ExposedModel.of("coco/1", alias=None, task=None)
    >>> check_exposed("POST", "infer/object_detection", model, "people")
    >>> check_exposed("POST", "model/clear", model, "people")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ForbiddenError: ...
"""

from __future__ import annotations

from dataclasses import dataclass

from argus.errors import ForbiddenError

INFER_TASKS = {
    "object-detection": "object_detection",
    "instance-segmentation": "instance_segmentation",
    "keypoint-detection": "keypoints_detection",
    "classification": "classification",
    "multi-label-classification": "classification",
}
"""Manifest task → the v1 route that serves it."""

_OPEN_GETS = frozenset({"healthz", "readiness", "info", "v2", "v2/health/live", "v2/health/ready"})
_OIP_SUFFIXES = {"": "GET", "/ready": "GET", "/config": "GET", "/infer": "POST"}


@dataclass(frozen=True)
class ExposedModel:
    """The model an endpoint serves: its store id, the names the OIP routes may use, its task if known."""

    store_id: str
    names: frozenset[str]
    task: str | None = None

    @classmethod
    def of(cls, store_id: str, alias: str | None, task: str | None) -> ExposedModel:
        """From a store id (``name/version``), the zoo alias it was asked for, and its manifest's task."""
        names = {store_id.split("/", 1)[0]} | ({alias} if alias else set())
        return cls(store_id=store_id, names=frozenset(names), task=task)

    @property
    def version(self) -> str:
        """The store version."""
        return self.store_id.split("/", 1)[1]

    def infer_routes(self) -> list[str]:
        """The v1 inference routes of the model's task (all four when the task is not known yet)."""
        if self.task in INFER_TASKS:
            return [f"infer/{INFER_TASKS[self.task]}"]
        return sorted({f"infer/{route}" for route in INFER_TASKS.values()})


def _is_oip(method: str, parts: list[str], model: ExposedModel) -> bool:
    """``v2/models/{name}[/versions/{v}][/ready|/config|/infer]`` for this model."""
    if len(parts) < 3 or parts[:2] != ["v2", "models"] or parts[2] not in model.names:
        return False
    rest = parts[3:]
    if rest[:1] == ["versions"]:
        if len(rest) < 2 or rest[1] != model.version:
            return False
        rest = rest[2:]
    suffix = "/" + "/".join(rest) if rest else ""
    return _OIP_SUFFIXES.get(suffix) == method


def check_exposed(method: str, path: str, model: ExposedModel, endpoint: str) -> None:
    """Return if ``method path`` (relative, no leading ``/``) reaches ``model``'s serving surface; else 403.

    Raises:
        ForbiddenError: naming what the endpoint exposes.
    """
    method = "GET" if method == "HEAD" else method
    path = path.strip("/")
    parts = path.split("/")
    if method == "GET" and path in _OPEN_GETS:
        return
    if method == "POST" and path in model.infer_routes():
        return
    if method in ("GET", "POST") and len(parts) == 2 and path == model.store_id:
        return  # the legacy route for this model
    if _is_oip(method, parts, model):
        return
    raise ForbiddenError(
        f"Endpoint '{endpoint}' exposes only its model {model.store_id}: POST "
        f"{', '.join('/' + r for r in model.infer_routes())}, GET|POST /{model.store_id} (legacy), "
        f"/v2/models/{model.store_id.split('/', 1)[0]}[/versions/{model.version}][/ready|/config|/infer] (OIP), "
        f"and GET /healthz, /readiness, /info, /v2/health/live|ready. {method} /{path[:100]} is not one of them.")
