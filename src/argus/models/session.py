"""ONNX Runtime sessions: provider selection, threads, graph optimisation, clear load errors, warm-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from argus.errors import InvalidInputError, ModelArtifactError, ServerError
from argus.models.providers import ort, provider_plan
from argus.settings import Settings

logger = logging.getLogger(__name__)

_ORT_TYPES = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8, "tensor(int8)": np.int8, "tensor(int16)": np.int16, "tensor(uint16)": np.uint16,
    "tensor(int32)": np.int32, "tensor(int64)": np.int64, "tensor(uint32)": np.uint32,
    "tensor(uint64)": np.uint64, "tensor(bool)": np.bool_, "tensor(string)": np.object_,
}


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape (None for a dynamic dimension) and numpy dtype of a graph input or output."""

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype

    @classmethod
    def from_ort(cls, node: ort.NodeArg) -> TensorSpec:
        shape = tuple(d if isinstance(d, int) and d > 0 else None for d in (node.shape or []))
        return cls(node.name, shape, np.dtype(_ORT_TYPES.get(node.type, np.float32)))


class OnnxSession:
    """One ONNX Runtime session and what Argus needs to know about its graph."""

    def __init__(self, path: Path, settings: Settings, model_id: str = "", intra_op_threads: int | None = None
                 ) -> None:
        self.path = path
        self.settings = settings
        self.intra_op_threads = settings.intra_op_threads if intra_op_threads is None else intra_op_threads
        """ONNX Runtime's intra-op threads for this session (0: one per core)."""
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.intra_op_threads
        options.inter_op_num_threads = settings.inter_op_threads
        # Spinning idle workers burn the cores that request threads need for JPEG decoding.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if settings.intra_op_spinning else "0")
        options.log_severity_level = 3
        providers = provider_plan(settings).session_providers(settings.home_dir / "cache")
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as error:  # noqa: BLE001 - onnxruntime raises its own pybind types for every failure
            raise ModelArtifactError(
                f"Model '{model_id}' could not be loaded: {path.name} is corrupt, truncated or not a valid ONNX "
                f"model ({_first_line(error)}). Re-import it with `argus models import`."
            ) from None
        self.model_id = model_id
        self.inputs = [TensorSpec.from_ort(i) for i in self.session.get_inputs()]
        self.outputs = [TensorSpec.from_ort(o) for o in self.session.get_outputs()]
        self.output_names = tuple(o.name for o in self.outputs)
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def single_threaded(self) -> OnnxSession:
        """A second session of the same model with one intra-op thread (for runs while other runs are busy)."""
        return OnnxSession(self.path, self.settings, self.model_id, intra_op_threads=1)

    @property
    def providers(self) -> list[str]:
        """Execution providers in use."""
        return list(self.session.get_providers())

    @property
    def input(self) -> TensorSpec:
        """The image input (the first graph input)."""
        return self.inputs[0]

    @property
    def fixed_batch_size(self) -> int | None:
        """The static batch size, or None when the batch dimension is dynamic."""
        return self.input.shape[0] if self.input.shape else None

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run the graph on one input tensor (cast to the input's dtype)."""
        if tensor.dtype != self.input.dtype:
            tensor = tensor.astype(self.input.dtype)
        return self.run_feed({self.input.name: tensor})

    def run_feed(self, feed: dict[str, np.ndarray], output_names: list[str] | None = None) -> list[np.ndarray]:
        """Run the graph on named inputs; onnxruntime's argument errors become 400s, other failures 500s."""
        try:
            outputs = self.session.run(output_names, feed)
        except Exception as error:  # noqa: BLE001 - onnxruntime raises its own pybind types
            shapes = {name: value.shape for name, value in feed.items()}
            error_type = InvalidInputError if type(error).__name__ == "InvalidArgument" else ServerError
            raise error_type(f"Model '{self.model_id}' failed on inputs {shapes}: {_first_line(error)}") from None
        return [np.asarray(o) for o in outputs]


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
