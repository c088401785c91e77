"""Request bodies of the ``/inference_pipelines`` routes: Roboflow Inference's ``InitialisePipelinePayload``
(field names and defaults of its stream manager), plus one Argus extension, ``ModelConfiguration``, to
run a single model without writing a workflow."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from argus.streams.entities import (
    DEFAULT_BUFFER_SIZE,
    PREDICTIONS_QUEUE_SIZE,
    BufferConsumptionStrategy,
    BufferFillingStrategy,
)


class VideoConfiguration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["VideoConfiguration"] = "VideoConfiguration"
    video_reference: str | int | list[str | int]
    max_fps: float | None = Field(default=None, gt=0)
    source_buffer_filling_strategy: BufferFillingStrategy | None = BufferFillingStrategy.DROP_OLDEST
    source_buffer_consumption_strategy: BufferConsumptionStrategy | None = BufferConsumptionStrategy.EAGER
    video_source_properties: dict[str, Any] | None = None
    batch_collection_timeout: float | None = Field(default=None, ge=0)


class WorkflowConfiguration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["WorkflowConfiguration"]
    workflow_specification: dict[str, Any] | None = None
    workspace_name: str | None = None
    workflow_id: str | None = None
    workflow_version_id: str | None = None
    image_input_name: str = "image"
    workflows_parameters: dict[str, Any] | None = None
    workflows_thread_pool_workers: int = 4
    cancel_thread_pool_tasks_on_exit: bool = True
    video_metadata_input_name: str = "video_metadata"


class ModelConfiguration(BaseModel):
    """Argus extension: one model by id (a store id or zoo alias) with the request's thresholds."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    type: Literal["ModelConfiguration"]
    model_id: str
    confidence: float | None = Field(default=None, ge=0, le=1)
    iou_threshold: float | None = Field(default=None, ge=0, le=1)
    class_agnostic_nms: bool | None = None
    max_detections: int | None = Field(default=None, ge=1)
    max_candidates: int | None = Field(default=None, ge=1)
    class_filter: list[str] | None = None


class MemorySinkConfiguration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["MemorySinkConfiguration"] = "MemorySinkConfiguration"
    results_buffer_size: int = Field(default=64, ge=1, le=100_000)


class InitialisePipelinePayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    video_configuration: VideoConfiguration
    processing_configuration: Annotated[WorkflowConfiguration | ModelConfiguration, Field(discriminator="type")]
    sink_configuration: MemorySinkConfiguration = MemorySinkConfiguration()
    consumption_timeout: float | None = Field(default=None, gt=0)
    api_key: str | None = None
    predictions_queue_size: int = Field(default=PREDICTIONS_QUEUE_SIZE, ge=1)
    decoding_buffer_size: int = Field(default=DEFAULT_BUFFER_SIZE, ge=1)


class ConsumeResultsPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    excluded_fields: list[str] = Field(default_factory=list)
    api_key: str | None = None
