"""What every foundation model shares: its bundle's sessions, admission and a bound on concurrent runs.

A foundation model is a pipeline of graphs (argus.store.bundle), loaded and evicted by the ModelManager like a
detector. Requests are admitted through a :class:`DynamicBatcher` (a full queue is a 503 with ``Retry-After``,
a request larger than the queue a 413, and the counts appear in ``/metrics``); graphs with one image input run
their batches through it, and pipelines of several graphs run under a gate of ``ARGUS_MODEL_INSTANCES``
concurrent runs, so a burst of OCR requests cannot put more busy threads than cores on the machine.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ValidationError

from argus.errors import ClientGoneError, ModelArtifactError
from argus.models.batching import BatchPolicy, ClientGone, DynamicBatcher
from argus.models.session import OnnxSession
from argus.settings import Settings
from argus.store.bundle import BundleKind
from argus.store.repository import StoredBundle


class FoundationModel:
    """Base of the foundation model kinds; a subclass sets ``kind`` and builds its pipeline in ``__init__``."""

    kind: ClassVar[BundleKind]
    max_batch_size: ClassVar[int] = 1
    """Rows per batch of :meth:`run_batch` (kinds with one batched image graph raise it)."""

    def __init__(self, model_id: str, stored: StoredBundle, settings: Settings) -> None:
        self.model_id = model_id
        self.stored = stored
        self.settings = settings
        policy = BatchPolicy(max_batch_size=self.max_batch_size if settings.dynamic_batching else 1,
                             max_pending_rows=settings.max_pending_images, instances=settings.model_instances)
        self.batcher = DynamicBatcher(self.run_batch, policy, name=model_id)
        self._gate = threading.BoundedSemaphore(settings.model_instances)

    def session(self, role: str) -> OnnxSession:
        """An ONNX Runtime session on the bundle's file for ``role``."""
        if role not in self.stored.manifest.files:
            raise ModelArtifactError(f"Model '{self.model_id}' ({self.kind.value}) has no '{role}' file; its "
                                     f"bundle.json lists {sorted(self.stored.manifest.files)}.")
        return OnnxSession(self.stored.file(role), self.settings, self.model_id)

    def config(self, schema: type[BaseModel]) -> Any:
        """The bundle's ``config`` validated against the kind's schema."""
        try:
            return schema.model_validate(self.stored.manifest.config)
        except ValidationError as error:
            raise ModelArtifactError(f"Model '{self.model_id}' has an invalid config in bundle.json: {error}"
                                     ) from None

    @property
    def reserved_bytes(self) -> int:
        """Memory the model may grow into after loading (caches), counted in its estimate at load."""
        return 0

    def run_batch(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run one batch of the kind's batched graph (kinds that batch override it)."""
        raise NotImplementedError(f"{type(self).__name__} has no batched graph")

    @contextmanager
    def admitted(self, rows: int, client_gone: ClientGone | None = None) -> Iterator[None]:
        """Admit ``rows`` inputs and hold one of the model's run slots while the caller runs its pipeline; a request
        whose client left while it waited for the slot is dropped, as the batcher drops queued tensors."""
        with self.batcher.admit(rows, client_gone), self._gate:
            if client_gone is not None and client_gone():
                raise ClientGoneError("The client closed the connection before its images ran; they were dropped.")
            yield

    def close(self) -> None:
        """Stop the batcher's runner (requests in flight still finish)."""
        self.batcher.close()
