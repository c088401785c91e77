"""The local workflow store: definitions saved as ``<workflows dir>/<workspace>/<workflow_id>.json``.

Served by ``POST /{workspace}/workflows/{workflow_id}`` (the reference fetches these from the
Roboflow API; Argus keeps them on disk) and managed with ``argus workflows add|list|rm``.

Example:
    >>> import tempfile, pathlib
    >>> store = WorkflowStore(pathlib.Path(tempfile.mkdtemp()))
    >>> store.add("acme", "count-cars", {"version": "1.0", "inputs": [], "steps": [], "outputs": []}).workflow_id
    'count-cars'
    >>> [w.workflow_id for w in store.list()]
    ['count-cars']
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argus.errors import ConflictError, InvalidInputError, NotFoundError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}\Z")
DEFAULT_WORKSPACE = "local"


@dataclass(frozen=True)
class StoredWorkflow:
    """One saved workflow."""

    workspace: str
    workflow_id: str
    path: Path

    def load(self) -> dict[str, Any]:
        """The definition (the bare specification; a saved ``{"specification": ...}`` wrapper is unwrapped)."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as error:
            raise InvalidInputError(f"workflow '{self.workspace}/{self.workflow_id}' is not readable JSON: "
                                    f"{error}") from None
        if isinstance(data, dict) and isinstance(data.get("specification"), dict):
            return data["specification"]
        return data


def check_name(value: str, what: str) -> str:
    """A workspace or workflow id that is safe as a file name."""
    if not _NAME.match(value or "") or ".." in value:
        raise InvalidInputError(f"{what} '{value}' is not valid: use letters, digits, '-', '_' and '.' "
                                "(up to 128 characters, no '..').")
    return value


class WorkflowStore:
    """Workflow definitions on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, workspace: str, workflow_id: str) -> Path:
        return self.root / check_name(workspace, "workspace") / f"{check_name(workflow_id, 'workflow id')}.json"

    def add(self, workspace: str, workflow_id: str, definition: dict[str, Any], overwrite: bool = False
            ) -> StoredWorkflow:
        """Save ``definition``; an existing id is a conflict unless ``overwrite``."""
        if not isinstance(definition, dict):
            raise InvalidInputError("a workflow definition must be a JSON object")
        path = self._path(workspace, workflow_id)
        if path.exists() and not overwrite:
            raise ConflictError(f"workflow '{workspace}/{workflow_id}' already exists; remove it first or "
                                "overwrite it.")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(definition, handle, indent=2)
        os.replace(temp, path)
        return StoredWorkflow(workspace, workflow_id, path)

    def get(self, workspace: str, workflow_id: str) -> StoredWorkflow:
        """The saved workflow, or 404."""
        path = self._path(workspace, workflow_id)
        if not path.is_file():
            raise NotFoundError(f"workflow '{workspace}/{workflow_id}' is not in the local workflow store "
                                f"({self.root}); add it with `argus workflows add`.")
        return StoredWorkflow(workspace, workflow_id, path)

    def remove(self, workspace: str, workflow_id: str) -> None:
        """Delete a saved workflow (404 when absent)."""
        self.get(workspace, workflow_id).path.unlink()

    def list(self) -> list[StoredWorkflow]:
        """Every saved workflow, by workspace then id."""
        if not self.root.is_dir():
            return []
        return [StoredWorkflow(path.parent.name, path.stem, path) for path in sorted(self.root.glob("*/*.json"))]
