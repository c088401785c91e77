"""Local File Sink (``roboflow_core/local_file_sink@v1``): save text content (CSV, JSON, txt) to files.

``append_log`` appends each run's content to the current file and rotates to a new one after
``max_entries_per_file`` entries (CSV keeps one header per file; JSON is written one document per
line, ``.jsonl``); ``separate_files`` writes one file per run. Files land under the sink directory
(``ARGUS_WORKFLOW_SINK_DIR``, default ``<home>/sink_outputs``): a relative ``target_directory`` is
taken inside it and one that resolves outside it is refused, so a workflow cannot write anywhere
else on the server.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from argus.workflows.blocks.base import (
    Block,
    BlockManifest,
    OutputDefinition,
    Selector,
    block_config,
)
from argus.workflows.blocks.sinks.common import sink_outputs
from argus.workflows.kinds import INTEGER_KIND, STRING_KIND

logger = logging.getLogger(__name__)


class LocalFileSinkManifest(BlockManifest):
    """The reference's fields."""

    model_config = block_config(name="Local File Sink", category="sink", description="Save data to a local file.",
                                version="v1")
    type: Literal["roboflow_core/local_file_sink@v1"]
    content: Selector(kind=[STRING_KIND]) = Field(  # type: ignore[valid-type]
        description="Content of the file to save.", examples=["$steps.csv_formatter.csv_content"])
    file_type: Literal["csv", "json", "txt"] = Field(default="csv", description="Type of the file.")
    output_mode: Literal["append_log", "separate_files"] = Field(
        description="append_log: many entries per file; separate_files: one file per entry.")
    target_directory: str | Selector(kind=[STRING_KIND]) = Field(  # type: ignore[valid-type]
        description="Directory inside the server's sink directory.")
    file_name_prefix: str | Selector(kind=[STRING_KIND]) = Field(  # type: ignore[valid-type]
        default="workflow_output", description="File name prefix.")
    max_entries_per_file: Annotated[int, Field(ge=1)] | Selector(kind=[INTEGER_KIND]) = Field(  # type: ignore[valid-type]
        default=1024, description="Entries per file in append_log mode before a new file starts.")

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return sink_outputs(with_throttling=False)


@dataclass
class _Log:
    path: Path
    entries: int = 0


def sink_root(settings: Any) -> Path:
    """The directory every local file sink writes under."""
    return (settings.workflow_sink_dir or settings.home_dir / "sink_outputs").expanduser().resolve()


def new_file(directory: Path, prefix: str, extension: str) -> Path:
    """``<prefix>_<timestamp>.<ext>`` in ``directory``, made unique with a counter when needed."""
    stamp = datetime.now().strftime("%Y_%m_%d_%H_%M_%S_%f")
    path = directory / f"{prefix}_{stamp}.{extension}"
    counter = 1
    while path.exists():
        path = directory / f"{prefix}_{stamp}_{counter}.{extension}"
        counter += 1
    return path


class LocalFileSinkBlockV1(Block):
    """Writes content under the sink directory; one append log per target and prefix."""

    manifest_class = LocalFileSinkManifest

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._logs: dict[tuple[Path, str, str], _Log] = {}
        self._lock = threading.Lock()

    def run(self, content: str, file_type: str, output_mode: str, target_directory: str,
            file_name_prefix: str = "workflow_output", max_entries_per_file: int = 1024) -> dict[str, Any]:
        if self.element.disable_sinks:
            return {"error_status": False, "message": "Sink was disabled by parameter `disable_sinks`"}
        root = sink_root(self.context.settings)
        if "\x00" in f"{target_directory}{file_name_prefix}":
            return {"error_status": True, "message": "target_directory and file_name_prefix cannot contain NUL."}
        directory = (root / str(target_directory)).resolve()
        if not directory.is_relative_to(root) or "/" in str(file_name_prefix):
            return {"error_status": True, "message": f"target_directory {target_directory!r} with prefix "
                    f"{file_name_prefix!r} is outside the sink directory; the local file sink writes only under "
                    "ARGUS_WORKFLOW_SINK_DIR (give a path relative to it)."}
        text = str(content)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if output_mode == "separate_files":
                path = new_file(directory, file_name_prefix, file_type)
                path.write_text(text if text.endswith("\n") else text + "\n")
            else:
                path = self._append(directory, file_name_prefix, file_type, text, int(max_entries_per_file))
        except (OSError, ValueError) as error:
            logger.warning("local file sink %s: %s", self.step.name, error)
            return {"error_status": True, "message": f"Could not save the data: {error}"}
        return {"error_status": False, "message": f"Data saved successfully to {path.relative_to(root)}"}

    def _append(self, directory: Path, prefix: str, file_type: str, text: str, max_entries: int) -> Path:
        if file_type == "json":
            text = json.dumps(json.loads(text))  # one document per line; ValueError when not JSON
        with self._lock:
            key = (directory, prefix, file_type)
            log = self._logs.get(key)
            if log is None or log.entries >= max_entries:
                log = self._logs[key] = _Log(new_file(directory, prefix, "jsonl" if file_type == "json" else file_type))
            elif file_type == "csv":
                text = text.split("\n", 1)[1] if "\n" in text else ""  # the header is in the file already
            if text and not text.endswith("\n"):
                text += "\n"
            with log.path.open("a") as handle:
                handle.write(text)
            log.entries += 1
            return log.path
