"""Differential check of Argus's workflow blocks against the reference's execution engine (not part of CI).

Runs every case under ``tests/fixtures/workflow_reference/`` (or the ones named) through Roboflow Inference 1.8.3's
execution engine, in its own virtual environment, and through Argus, here, and prints where they differ, field by
field (numbers within the case's tolerance, images by mean and largest pixel difference, detections by IoU).
``--write`` keeps the reference's answers as the case's fixture (``reference.json`` and its PNGs), which
``tests/unit/workflows/test_reference_fixtures.py`` checks Argus against in CI.

The reference loads the cases' models (``_models/``, Roboflow's cache layout) offline, with ``onnxruntime``.

The reference's environment, outside the repo (``inference`` without its CUDA dependencies; about 2 GB):

    python3 -m venv $REF
    $REF/bin/pip install --no-deps inference==1.8.3 inference-models==0.39.5 roboflow-workflows streamvision
    $REF/bin/pip install torch==2.13.0 "numpy<2.4" "opencv-contrib-python<4.13" "supervision>=0.30.6,<0.31" \\
        "pydantic<2.12" "pydantic-settings<2.8" networkx "cachetools<6" "structlog<25" requests pybase64 \\
        python-dotenv pillow "scikit-image<=0.25.2" "shapely<2.1" "zxing-cpp~=2.2.0" "qrcode~=8.0.0" \\
        "trackers~=2.4.0" "packaging~=24.0" "fastapi<0.142" "APScheduler<4" "pandas<3" tldextract backoff \\
        filelock msgpack httpx rich psutil "redis~=5.0.0" requests-toolbelt aiohttp "pydot~=2.0.0" pycocotools \\
        "onnxruntime<1.22"

PyPI's torchvision wheels are built for CUDA torch, so the reference's few torchvision calls (image decoding and
``batched_nms``, neither on the paths the cases take) go to the stand-in in ``scripts/reference_torchvision/``,
which this script puts on the reference's ``PYTHONPATH``.

    python scripts/workflow_differential.py --reference-python $REF/bin/python [--write] [CASE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from workflow_reference import CASES_DIR, differences, load_case  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-python", required=True, help="python of the reference's virtual environment")
    parser.add_argument("--write", action="store_true", help="keep the reference's answers as the fixtures")
    parser.add_argument("cases", nargs="*", help="case folder names (default: all)")
    args = parser.parse_args()
    names = args.cases or sorted(p.name for p in CASES_DIR.iterdir() if (p / "case.json").is_file())
    with tempfile.TemporaryDirectory() as scratch:
        captured = CASES_DIR if args.write else Path(scratch) / "captured"
        # the reference loads the cases' models from an offline model cache: a copy of _models/
        cache = Path(scratch) / "model-cache"
        shutil.copytree(CASES_DIR / "_models", cache)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts" / "reference_torchvision"), "OFFLINE_MODE": "True",
               "USE_INFERENCE_MODELS": "False", "MODEL_CACHE_DIR": str(cache)}
        done = subprocess.run([args.reference_python, str(ROOT / "scripts" / "workflow_reference_capture.py"),
                               "--out", str(captured), *names], env=env, check=False)
        disagreeing = 0
        for name in names:
            reference_file = captured / name / "reference.json"
            if not reference_file.is_file():
                print(f"{name}: no reference output")
                disagreeing += 1
                continue
            problems = differences(load_case(CASES_DIR / name), json.loads(reference_file.read_text()),
                                   captured / name, Path(scratch) / "home" / name)
            disagreeing += bool(problems)
            print(f"{name}: {'agrees' if not problems else f'{len(problems)} difference(s)'}")
            for problem in problems:
                print(f"    {problem}")
    print(f"{len(names) - disagreeing} of {len(names)} case(s) agree with the reference")
    return 1 if disagreeing or done.returncode else 0


if __name__ == "__main__":
    sys.exit(main())
