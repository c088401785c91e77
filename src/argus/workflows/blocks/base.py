"""The block interface: a pydantic manifest (what a step's JSON looks like) plus a :class:`Block` (what it does).

Guide for block authors
=======================

A block is ONE new module under ``argus/workflows/blocks/<category>/``; the registry imports every
module there and registers every :class:`Block` subclass it defines (no import list to edit).

1. The manifest: a :class:`BlockManifest` subclass.

   * ``type: Literal["roboflow_core/<name>@v1", "<LegacyAlias>", ...]`` -- the versioned type id first,
     then the legacy short aliases from ``shared/specs/workflow-blocks.tsv``.
   * ``model_config = block_config(name=..., category=..., description=...)`` -- what ``describe`` shows.
   * One pydantic field per property of the step JSON. A field that may be wired to data takes a
     selector type: ``Selector(kind=[...])`` (``$inputs.x`` or ``$steps.s.out``), ``ImageSelector()``,
     ``StepOutputSelector(kind=[...])``, ``InputSelector(kind=[...])``, ``StepSelector()`` (a whole step,
     for flow control). Literal values and selectors mix: ``confidence: float | Selector(kind=[FLOAT_KIND])``.
     The compiler checks every selector: the step or input must exist and its kinds must match.
   * ``describe_outputs()`` (classmethod) lists the outputs as :class:`OutputDefinition` (name + kinds).
     Override ``get_actual_outputs()`` (instance method) when outputs depend on the step's JSON.

2. The block: a :class:`Block` subclass with ``manifest_class = YourManifest`` and ``run(**kwargs)``.

   * ``run`` receives every manifest field except ``type``/``name`` by name, selectors already resolved to
     values: images as :class:`~argus.workflows.data.WorkflowImageData`, detections as
     ``supervision.Detections`` (``data`` keys in :mod:`argus.workflows.data`), classifications as the
     reference's dict, parameters as plain values. It returns a dict ``{output name: value}``.
   * Batches: the engine calls ``run`` once per element (per image, or per crop in nested batches).
     Blocks that gain from batching (models) override ``run_batch(elements)`` and get every element at once.
   * ``output_dimensionality_offset = 1``: ``run`` returns a LIST of output dicts per element (a crop step:
     one dict per crop), which become a nested batch downstream. ``= -1``: inputs of the deepest batch level
     arrive as lists (one list per parent element) and ``run`` returns one dict (a stitch step).
   * Flow control: return :class:`FlowControl` naming the steps (of the manifest's ``next_steps``) to run.
   * ``self.context`` (:class:`BlockContext`): ``settings``, ``manager`` (the ModelManager the HTTP
     routes use), ``executor`` (a thread pool for background I/O). ``self.element`` (:class:`Element`)
     while ``run`` runs: the element's ``video_metadata`` and run options (``disable_sinks``).
   * Stateful blocks (trackers, counters): set ``stateful = True`` and keep state in
     ``self.video_state(video_identifier, factory)``; one block instance lives as long as the compiled
     workflow, so state carries across ``CompiledWorkflow.run`` calls (frames). ``max_videos`` bounds how many
     videos' state is kept (least recently seen dropped first).
   * Errors the user can fix: raise :class:`argus.errors.ClientError` subclasses with a message naming the
     field; the engine prefixes the step name.

Example (a complete block: ``blocks/formatters/detections_count.py`` would be all it takes):

    >>> from typing import Literal
    >>> import supervision as sv
    >>> from argus.workflows.kinds import DETECTION_KINDS, INTEGER_KIND
    >>> class CountManifest(BlockManifest):
    ...     model_config = block_config(name="Count", category="formatter", description="Counts detections.")
    ...     type: Literal["example/count@v1", "Count"]
    ...     predictions: StepOutputSelector(kind=list(DETECTION_KINDS))
    ...     @classmethod
    ...     def describe_outputs(cls) -> list[OutputDefinition]:
    ...         return [OutputDefinition(name="count", kind=[INTEGER_KIND])]
    >>> class CountBlock(Block):
    ...     manifest_class = CountManifest
    ...     def run(self, predictions: sv.Detections) -> dict:
    ...         return {"count": len(predictions)}
    >>> CountManifest.model_validate({"type": "Count", "name": "n", "predictions": "$steps.det.predictions"}).name
    'n'
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from argus.workflows.data import DEFAULT_VIDEO_IDENTIFIER, VideoMetadata
from argus.workflows.kinds import (
    IMAGE_KIND,
    VIDEO_METADATA_KIND,
    WILDCARD_KIND,
    Kind,
    kind_names,
)

if TYPE_CHECKING:
    from argus.runtime.manager import ModelManager
    from argus.settings import Settings

T = TypeVar("T")

INPUT_SELECTOR_PATTERN = r"^\$inputs\.[A-Za-z_0-9\-]+$"
STEP_SELECTOR_PATTERN = r"^\$steps\.[A-Za-z_0-9\-]+$"
STEP_OUTPUT_SELECTOR_PATTERN = r"^\$steps\.[A-Za-z_0-9\-]+\.([A-Za-z_0-9\-]+|\*)$"
ANY_DATA_SELECTOR_PATTERN = r"^\$(inputs\.[A-Za-z_0-9\-]+|steps\.[A-Za-z_0-9\-]+\.([A-Za-z_0-9\-]+|\*))$"

FloatZeroToOne = Annotated[float, Field(ge=0.0, le=1.0)]
"""A literal in [0, 1]; use it inside unions with selectors (``Field(ge=...)`` on a union rejects selectors)."""
PositiveInt = Annotated[int, Field(ge=1)]


@dataclass(frozen=True)
class SelectorSpec:
    """Marks a manifest field type as a selector: what it may point at and which kinds it accepts."""

    kinds: tuple[Kind, ...]
    points_to: str  # "any_data" | "workflow_input" | "step_output" | "step"


def _selector(points_to: str, pattern: str, kind: list[Kind] | None) -> Any:
    kinds = tuple(kind or [WILDCARD_KIND])
    return Annotated[
        str,
        StringConstraints(pattern=pattern),
        SelectorSpec(kinds, points_to),
        Field(json_schema_extra={"reference": True, "selected_element": points_to, "kind": list[Any](kind_names(kinds))}),
    ]


def Selector(kind: list[Kind] | None = None) -> Any:
    """A field that takes ``$inputs.<name>`` or ``$steps.<step>.<output>`` of the given kinds."""
    return _selector("any_data", ANY_DATA_SELECTOR_PATTERN, kind)


def InputSelector(kind: list[Kind] | None = None) -> Any:
    """A field that takes ``$inputs.<name>`` only."""
    return _selector("workflow_input", INPUT_SELECTOR_PATTERN, kind)


def StepOutputSelector(kind: list[Kind] | None = None) -> Any:
    """A field that takes ``$steps.<step>.<output>`` only."""
    return _selector("step_output", STEP_OUTPUT_SELECTOR_PATTERN, kind)


def StepSelector() -> Any:
    """A field that names a whole step, ``$steps.<step>`` (flow control targets)."""
    return _selector("step", STEP_SELECTOR_PATTERN, None)


def ImageSelector() -> Any:
    """An image: a workflow image input or an image produced by a step."""
    return Selector(kind=[IMAGE_KIND])


def VideoMetadataSelector() -> Any:
    """A ``WorkflowVideoMetadata`` input."""
    return Selector(kind=[VIDEO_METADATA_KIND])


class OutputDefinition(BaseModel):
    """One output of a block: its name and the kinds of data it carries."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    kind: list[Kind] = Field(default_factory=lambda: [WILDCARD_KIND])

    def describe(self) -> dict[str, Any]:
        """As the reference's ``OutputDefinition`` JSON."""
        return {"name": self.name, "kind": [k.describe() for k in self.kind]}


def block_config(name: str, category: str, description: str = "", **extra: Any) -> ConfigDict:
    """The ``model_config`` of a manifest, with what ``describe`` shows.

    Unknown fields are ignored (and logged by the compiler), as the reference does, so definitions
    written for newer versions of a block still run.
    """
    schema_extra: dict[str, Any] = {"name": name, "block_type": category, "short_description": description, **extra}
    return ConfigDict(extra="ignore", json_schema_extra=schema_extra, arbitrary_types_allowed=True)


class BlockManifest(BaseModel):
    """Base of every manifest: a step's ``type`` and ``name`` plus the block's own fields."""

    model_config = ConfigDict(extra="ignore")

    type: str
    name: str = Field(description="Unique name of step in workflows")

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        """The outputs every step of this block has."""
        return []

    def get_actual_outputs(self) -> list[OutputDefinition]:
        """The outputs of this particular step (override when they depend on the step's fields)."""
        return self.describe_outputs()

    @classmethod
    def type_ids(cls) -> tuple[str, ...]:
        """The versioned type id first, then the legacy aliases (from the ``type`` Literal)."""
        from typing import get_args

        annotation = cls.model_fields["type"].annotation
        return tuple(get_args(annotation)) or (str(annotation),)


@dataclass
class BlockContext:
    """What a block may use besides its inputs; one per compiled workflow."""

    settings: Settings
    manager: ModelManager | None = None
    executor: Executor | None = None
    workflow_id: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Element:
    """One call of a block: its resolved inputs and where the element sits in the batch."""

    kwargs: dict[str, Any]
    index: tuple[int, ...] = ()
    video_metadata: VideoMetadata = field(default_factory=VideoMetadata)
    disable_sinks: bool = False
    batch_fields: frozenset[str] = frozenset()
    """Fields whose values come from batch data (they differ per element); the others are the same scalars."""


@dataclass(frozen=True)
class FlowControl:
    """What a flow-control block returns: the selectors (``$steps.x``) of the next steps to run; [] stops."""

    next_steps: tuple[str, ...] = ()


BlockOutput = dict[str, Any] | list[dict[str, Any]] | FlowControl


class Block(ABC):
    """Base of every block: one instance per step of a compiled workflow."""

    manifest_class: ClassVar[type[BlockManifest]]
    output_dimensionality_offset: ClassVar[int] = 0
    stateful: ClassVar[bool] = False
    max_videos: ClassVar[int | None] = None
    """At most this many videos' state is kept (the least recently seen is dropped first); None: no limit."""
    accepts_empty_values: ClassVar[bool] = False
    """True: the block also runs where some inputs are missing (skipped branches), which arrive as None."""

    def __init__(self, step: BlockManifest, context: BlockContext) -> None:
        self.step = step
        self.context = context
        self.element: Element = Element(kwargs={})
        self._states: OrderedDict[str, Any] = OrderedDict()
        self._state_lock = threading.Lock()

    @abstractmethod
    def run(self, *args: Any, **kwargs: Any) -> BlockOutput:  # (*args, **kwargs): any named override type-checks
        """Process one element; ``kwargs`` are the manifest fields with selectors resolved."""

    def run_batch(self, elements: list[Element]) -> list[BlockOutput]:
        """Process every element of the step's batch (override to batch model calls)."""
        outputs: list[BlockOutput] = []
        for element in elements:
            self.element = element
            outputs.append(self.run(**element.kwargs))
        return outputs

    def video_state(self, video_identifier: str | None, factory: Callable[[], T]) -> T:
        """Per-video state of a stateful block, created by ``factory`` on first use; beyond ``max_videos`` videos,
        the least recently seen one's state is dropped."""
        key = video_identifier or DEFAULT_VIDEO_IDENTIFIER
        with self._state_lock:
            if key not in self._states:
                self._states[key] = factory()
            self._states.move_to_end(key)
            while self.max_videos is not None and len(self._states) > self.max_videos:
                self._states.popitem(last=False)
            return self._states[key]
