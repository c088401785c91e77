"""Run workflow cases through the reference's execution engine and write what it answers (not part of CI).

Runs inside the reference's virtual environment (Roboflow Inference 1.8.3; see ``scripts/workflow_differential.py``
for how to make one), never Argus's. For each case folder under ``tests/fixtures/workflow_reference/`` (or the
ones named), it compiles ``case.json``'s definition once, calls ``run`` for each entry of ``runs`` in order, and
writes ``<out>/<case>/reference.json`` with the encoded outputs and the images beside it as PNG.

    $REF/bin/python scripts/workflow_reference_capture.py --out DIR [CASE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from workflow_reference import CASES_DIR, encode, load_case, png_writer


def capture(case_folder: Path, out: Path) -> dict:
    """The reference's outputs for every run of the case, encoded; images written under ``out``."""
    from inference.core.managers.base import ModelManager
    from inference.core.registries.roboflow import RoboflowModelRegistry
    from inference.core.workflows.execution_engine.core import ExecutionEngine
    from inference.models.utils import ROBOFLOW_MODEL_TYPES

    case = load_case(case_folder)
    manager = ModelManager(model_registry=RoboflowModelRegistry(ROBOFLOW_MODEL_TYPES)) if case.models else None
    engine = ExecutionEngine.init(workflow_definition=case.definition,
                                  init_parameters={"workflows_core.model_manager": manager,
                                                   "workflows_core.api_key": None})
    runs = []
    for index in range(len(case.runs)):
        with case.environ():
            outputs = engine.run(runtime_parameters=case.inputs(index))
        for element in outputs:  # outputs Argus answers otherwise on purpose are not kept, only why
            element.update({name: {"$differs": why} for name, why in case.differs.items() if name in element})
        runs.append(encode(outputs, png_writer(out, f"run{index}")))
    return {"blocks": case.blocks, "engine": "inference 1.8.3", "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write <case>/reference.json into")
    parser.add_argument("cases", nargs="*", help="case folder names (default: all)")
    args = parser.parse_args()
    names = args.cases or sorted(p.name for p in CASES_DIR.iterdir() if (p / "case.json").is_file())
    failed = 0
    for name in names:
        target = args.out / name
        try:
            result = capture(CASES_DIR / name, target)
        except Exception:  # noqa: BLE001 (one case's failure is reported and the others still run)
            failed += 1
            print(f"{name}: the reference failed\n{traceback.format_exc()}", file=sys.stderr)
            continue
        target.mkdir(parents=True, exist_ok=True)
        (target / "reference.json").write_text(json.dumps(result, indent=1) + "\n")
        print(f"{name}: captured {len(result['runs'])} run(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
