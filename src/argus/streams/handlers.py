"""What a pipeline runs on each batch of frames: a model, a workflow, or a function of the caller's.

Each handler maps ``list[VideoFrame]`` to one prediction per frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from argus.errors import InvalidInputError
from argus.streams.entities import VideoFrame

logger = logging.getLogger(__name__)

Handler = Callable[[list[VideoFrame]], list[Any]]
VIDEO_METADATA_KIND = "WorkflowVideoMetadata"


def _manager(settings: Any, manager: Any) -> Any:
    if manager is not None:
        return manager
    from argus.runtime.manager import ModelManager
    from argus.settings import Settings

    return ModelManager(settings or Settings())


def model_handler(model_id: str, params: dict[str, Any], *, settings: Any = None, manager: Any = None) -> Handler:
    """Run ``model_id`` on the batch (one ``infer`` call); predictions are the Roboflow response JSON.

    The model is loaded here, so a wrong id fails when the pipeline is built, not in its thread.
    """
    model_manager = _manager(settings, manager)
    model = model_manager.get(model_id)
    model.params(**params)  # validate the parameters now (400 on a bad one)

    def run(frames: list[VideoFrame]) -> list[Any]:
        results = model.infer([frame.image for frame in frames], **params)
        return [result.to_roboflow() for result in results]

    run.model = model  # type: ignore[attr-defined]
    run.max_in_flight = model.batcher.policy.instances  # type: ignore[attr-defined]  # stateless: frames may overlap
    return run


def workflow_inputs(definition: dict[str, Any]) -> dict[str, str]:
    """``{input name: input type}`` of a workflow definition."""
    inputs = definition.get("inputs") if isinstance(definition, dict) else None
    if not isinstance(inputs, list):
        raise InvalidInputError("workflow_specification must be a JSON object with an 'inputs' list")
    return {str(item.get("name")): str(item.get("type", "")) for item in inputs if isinstance(item, dict)}


def workflow_handler(definition: dict[str, Any], *, image_input_name: str = "image",
                     workflows_parameters: dict[str, Any] | None = None,
                     video_metadata_input_name: str = "video_metadata", settings: Any = None,
                     manager: Any = None) -> Handler:
    """Compile ``definition`` once and run it per batch, frames as the image input.

    Video metadata (video identifier, frame number, timestamp, fps) goes to the workflow's
    ``WorkflowVideoMetadata`` input when it declares one, so stateful blocks keep state per source.
    """
    from argus.settings import Settings
    from argus.workflows import WorkflowContext, compile_workflow

    declared = workflow_inputs(definition)
    if image_input_name not in declared:
        raise InvalidInputError(f"the workflow has no input named {image_input_name!r} (image_input_name); "
                                f"its inputs are {sorted(declared)}")
    model_manager = _manager(settings, manager)
    context = WorkflowContext(settings=settings or getattr(model_manager, "settings", None) or Settings(),
                              manager=model_manager)
    compiled = compile_workflow(definition, context)
    wants_metadata = declared.get(video_metadata_input_name) == VIDEO_METADATA_KIND
    parameters = dict(workflows_parameters or {})

    def run(frames: list[VideoFrame]) -> list[Any]:
        inputs = dict(parameters)
        # Each image carries its frame's metadata, so stateful blocks key their state by source.
        inputs[image_input_name] = [{"type": "numpy_object", "value": frame.image,
                                     "video_metadata": frame.video_metadata()} for frame in frames]
        if wants_metadata:
            inputs[video_metadata_input_name] = [frame.video_metadata() for frame in frames]
        return list(compiled.run(inputs).outputs)

    run.compiled = compiled  # type: ignore[attr-defined]
    return run


def custom_handler(function: Callable[[list[VideoFrame]], list[Any]]) -> Handler:
    """The caller's own ``frames -> predictions`` function."""
    return function
