"""ModelManager: lazy loading, an LRU of active models, per-model load locks, explicit unload.

The LRU is an ``OrderedDict`` bounded by count (``MAX_ACTIVE_MODELS``) and optionally by an
estimated memory budget; each model id has its own lock so concurrent first requests load once
while other models keep serving (the pattern of Ray Serve's multiplexing).

Example:
    >>> from argus.settings import Settings
    >>> manager = ModelManager(Settings(home="/tmp/argus-doc"))  # doctest: +SKIP
    >>> model = manager.get("yolov3-tiny-416")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from argus.errors import ForbiddenError, InvalidInputError, ModelNotFoundError
from argus.models.foundation.base import FoundationModel
from argus.models.foundation.kinds import load_bundle
from argus.models.session import OnnxSession
from argus.models.tune import tuned_settings
from argus.models.vision import VisionModel
from argus.settings import Settings
from argus.store.bundle import KIND_TASK, BundleKind
from argus.store.model_id import parse_model_id
from argus.store.repository import ModelRepository
from argus.store.zoo import Zoo

logger = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """A model in the LRU with what observers want to know about it."""

    model: VisionModel | FoundationModel
    load_seconds: float
    memory_bytes: int


@dataclass(frozen=True)
class Acquired:
    """What :meth:`ModelManager.acquire` hands back: the model and whether this call loaded it."""

    model: VisionModel
    cold_start: bool
    load_seconds: float


LoadListener = Callable[[str, float], None]
F = TypeVar("F", bound=FoundationModel)


class ModelManager:
    """Thread-safe registry of loaded models, loading each on first use."""

    def __init__(self, settings: Settings, repository: ModelRepository | None = None, zoo: Zoo | None = None
                 ) -> None:
        self.settings = settings
        self.repository = repository or ModelRepository(settings.model_store_dir)
        self.zoo = zoo or Zoo(settings, self.repository)
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._load_locks: dict[str, threading.Lock] = {}
        self.load_listeners: list[LoadListener] = []
        self.unload_listeners: list[Callable[[str], None]] = []
        self._served_only = self._store_id(settings.endpoint_model) if settings.endpoint_model else None
        """An endpoint replica's one model: every other id is refused."""

    def _store_id(self, model_id: str) -> str:
        entry = self.zoo.entry_for(model_id)
        if entry is not None:
            return entry.model_id
        if model_id and "/" not in model_id:
            aliases = ", ".join(sorted(e.alias for e in self.zoo.entries()))
            raise ModelNotFoundError(f"Unknown zoo alias {model_id[:100]!r}: the zoo has {aliases} (`argus zoo "
                                     "list`); a stored model is named 'name/version' (`argus models list`).")
        return str(parse_model_id(model_id))

    def resolve(self, model_id: str) -> str:
        """A store id for ``model_id``: zoo aliases become their store ids (validated either way).

        Raises:
            ForbiddenError: this server is an endpoint replica and ``model_id`` is not its model.
        """
        store_id = self._store_id(model_id)
        if self._served_only is not None and store_id != self._served_only:
            raise ForbiddenError(f"This endpoint serves model {self._served_only} only, not {model_id[:100]!r}.")
        return store_id

    def get(self, model_id: str) -> VisionModel:
        """The loaded model, loading it (and evicting the least recently used) if needed."""
        return self.acquire(model_id).model

    def acquire(self, model_id: str) -> Acquired:
        """Like :meth:`get`, also telling whether this call paid a cold start."""
        loaded, cold = self._acquire(model_id)
        if not isinstance(loaded.model, VisionModel):
            kind = loaded.model.kind
            raise InvalidInputError(f"Model '{model_id[:100]}' is a {kind.value} model ({KIND_TASK[kind]}), not a "
                                    f"detector or classifier: {_ROUTE_OF_KIND[kind]} serves it.")
        return Acquired(loaded.model, cold, loaded.load_seconds if cold else 0.0)

    def load(self, model_id: str) -> None:
        """Load any model (a detector or a foundation model) ahead of its first request."""
        self._acquire(model_id)

    def foundation(self, model_id: str, kind: type[F]) -> F:
        """The loaded foundation model of class ``kind`` (argus.models.foundation), loading it if needed."""
        loaded, _ = self._acquire(model_id)
        model = loaded.model
        if not isinstance(model, kind):
            what = f"a {model.kind.value} model" if isinstance(model, FoundationModel) else "a detection model"
            raise InvalidInputError(f"Model '{model_id[:100]}' is {what}, not a {kind.kind.value} model.")
        return model

    def _acquire(self, model_id: str) -> tuple[LoadedModel, bool]:
        """The model's LRU entry, loading it (and evicting the least recently used) if needed; True if loaded now."""
        store_id = self.resolve(model_id)
        with self._lock:
            loaded = self._touch(store_id)
            if loaded is not None:
                return loaded, False
            load_lock = self._load_locks.setdefault(store_id, threading.Lock())
        with load_lock:
            with self._lock:  # re-check: another thread may have loaded it while we waited
                loaded = self._touch(store_id)
                if loaded is not None:
                    return loaded, False
            loaded = self._load(model_id, store_id)
            with self._lock:
                self._models[store_id] = loaded
                evicted = self._evict_beyond_limits()
        for evicted_id, evicted_model in evicted:
            self._finish_unload(evicted_id, evicted_model)
        for listener in self.load_listeners:
            listener(store_id, loaded.load_seconds)
        return loaded, True

    def loaded(self) -> dict[str, LoadedModel]:
        """Snapshot of every loaded model, least recently used first."""
        with self._lock:
            return dict(self._models)


    def is_loaded(self, model_id: str) -> bool:
        """True when the model is in memory."""
        with self._lock:
            return self.resolve(model_id) in self._models

    def unload(self, model_id: str) -> None:
        """Drop a model from memory (it stays in the store)."""
        store_id = self.resolve(model_id)
        with self._lock:
            loaded = self._models.pop(store_id, None)
        if loaded is None:
            raise ModelNotFoundError(f"Model '{model_id}' is not loaded.")
        self._finish_unload(store_id, loaded)

    def clear(self) -> None:
        """Unload every model."""
        with self._lock:
            unloaded = list(self._models.items())
            self._models.clear()
        for store_id, loaded in unloaded:
            self._finish_unload(store_id, loaded)

    def _touch(self, store_id: str) -> LoadedModel | None:
        loaded = self._models.get(store_id)
        if loaded is not None:
            self._models.move_to_end(store_id)
        return loaded

    def _load(self, requested: str, store_id: str) -> LoadedModel:
        if not self.repository.has(store_id):
            entry = self.zoo.entry_for(requested)
            if entry is None:
                raise ModelNotFoundError(
                    f"Model '{requested}' is neither in the model store ({self.repository.root}) nor a zoo alias. "
                    "See `argus models list` and `argus zoo list`."
                )
            self.zoo.materialise(entry)
        if self.repository.is_bundle(store_id):
            return self._load_bundle(store_id)
        started = time.perf_counter()
        rss_before = _resident_bytes()
        path = self.repository.model_path(store_id)
        manifest = self.repository.manifest(store_id)
        settings = tuned_settings(self.settings, manifest, store_id)  # `argus models tune`'s knobs, if measured
        session = OnnxSession(path, settings, store_id)
        model = VisionModel(store_id, manifest, session, settings)
        model.warm_up()
        seconds = time.perf_counter() - started
        memory = max(_resident_bytes() - rss_before, _file_size(path))
        logger.info("loaded %s in %.3f s (%.1f MB, providers %s)", store_id, seconds, memory / 1e6,
                    session.providers)
        return LoadedModel(model, seconds, memory)

    def _load_bundle(self, store_id: str) -> LoadedModel:
        started = time.perf_counter()
        rss_before = _resident_bytes()
        stored = self.repository.bundle(store_id)
        model = load_bundle(store_id, stored, self.settings)
        seconds = time.perf_counter() - started
        memory = max(_resident_bytes() - rss_before, stored.size_bytes) + model.reserved_bytes
        logger.info("loaded %s (%s) in %.3f s (%.1f MB)", store_id, stored.manifest.kind.value, seconds, memory / 1e6)
        return LoadedModel(model, seconds, memory)

    def _evict_beyond_limits(self) -> list[tuple[str, LoadedModel]]:
        """Pop least recently used models past the count or memory limit (call with the lock held)."""
        budget = self.settings.models_memory_budget_mb * 1_000_000
        evicted = []
        while len(self._models) > self.settings.max_active_models or (
            budget and len(self._models) > 1 and sum(m.memory_bytes for m in self._models.values()) > budget
        ):
            store_id, loaded = self._models.popitem(last=False)
            evicted.append((store_id, loaded))
        for store_id, _ in evicted:
            logger.info("evicted %s (least recently used)", store_id)
        return evicted

    def _finish_unload(self, store_id: str, loaded: LoadedModel) -> None:
        """Stop the model's batcher (requests holding it still finish) and tell the listeners."""
        loaded.model.close()
        for listener in self.unload_listeners:
            listener(store_id)


_ROUTE_OF_KIND = {BundleKind.PP_OCR: "/ocr/pp-ocr", BundleKind.CLIP: "/clip/embed_image, /clip/embed_text and "
                  "/clip/compare", BundleKind.SAM: "/sam/segment_image and /sam2/segment_image",
                  BundleKind.DEPTH: "/infer/depth-estimation", BundleKind.OWL: "/owlv2/infer"}


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _resident_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
