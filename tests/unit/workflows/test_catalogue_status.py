"""docs/blocks.md is the generated table of every catalogue block type, kept in step with the code."""

from __future__ import annotations

from pathlib import Path

from argus.workflows.catalogue_status import markdown, statuses
from argus.workflows.registry import default_registry

DOC = Path(__file__).parents[3] / "docs" / "blocks.md"


def test_the_committed_table_is_what_the_code_generates() -> None:
    assert DOC.read_text() == markdown(), "regenerate it: python -m argus.workflows.catalogue_status > docs/blocks.md"


def test_every_catalogue_type_is_counted_once_and_each_status_matches_the_registry() -> None:
    rows = statuses()
    ids = [block_type for row in rows for block_type in row.ids]
    assert len(ids) == len(set(ids)) and len(rows) == 265  # the reference's 1.8.3 catalogue
    registry = default_registry()
    for row in rows:
        assert row.implemented == any(registry.get(t) is not None for t in row.ids)
        assert row.implemented == (row.reason == "")
    implemented = {row.ids[0] for row in rows if row.implemented}
    assert {"roboflow_core/pp_ocr@v1", "roboflow_core/segment_anything@v1", "roboflow_core/clip@v1"} <= implemented
