"""Foundation models: CLIP's image embedding against bare ``session.run``, a SAM prompt on a cached image against
the encoder, and PP-OCR's lines per second with the share of each stage.

Run: ``python benchmarks/foundation.py [--repeats 30]``

CLIP and SAM run random models of the real sizes (CLIP ViT-B/32 at 224, SAM ViT-B at 1024; speed depends on the
architecture, not the weights), written once by ``python scripts/make_foundation_fixtures.py bench`` (torch and
optimum-onnx, see that script) to ``~/.cache/argus/bench-models``. OCR runs the zoo's real PP-OCR weights on a page
rendered with DejaVu Sans. Each comparison is interleaved in one process, so machine noise hits both sides alike.
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

from _stats import interleaved, print_table

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from photos import collage
from text_images import render_lines

BENCH_MODELS = Path("~/.cache/argus/bench-models").expanduser()


def wire(image: np.ndarray) -> dict[str, str]:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return {"type": "base64", "value": base64.b64encode(data.tobytes()).decode()}


def services(home: Path):  # type: ignore[no-untyped-def]
    from argus.runtime.foundation import FoundationService
    from argus.runtime.manager import ModelManager
    from argus.runtime.service import InferenceService
    from argus.settings import Settings

    manager = ModelManager(Settings(home=home))
    return manager, FoundationService(InferenceService(manager))


def clip(home: Path, repeats: int) -> None:
    from argus.models.foundation.clip import ClipModel
    from argus.store.importers import import_model

    manager, service = services(home)
    import_model(BENCH_MODELS / "clip-vit-b-32", "clip/ViT-B-32", manager.repository)
    model = manager.foundation("clip/ViT-B-32", ClipModel)
    photo = collage(width=640, height=480)
    image = [wire(photo)]
    tensor = model.processor(photo)[None]  # type: ignore[attr-defined]
    ids = model._shortest_prompt[None]  # type: ignore[attr-defined]
    feed = {"pixel_values": tensor, "input_ids": ids, "attention_mask": np.ones_like(ids)}
    session = model.joint.session  # type: ignore[attr-defined]
    timings = interleaved({
        "bare session.run (preprocessed tensor)": lambda: session.run(["image_embeds"], feed),
        "Argus: JPEG 640x480 → embedding": lambda: service.embed_images("clip/ViT-B-32", image),
    }, repeats)
    print_table("CLIP ViT-B/32 image embedding, one image per call", timings, timings[0])


def sam(home: Path, repeats: int) -> None:
    from argus.models.foundation.sam import SamModel
    from argus.store.importers import import_model

    manager, _ = services(home)
    import_model(BENCH_MODELS / "sam-vit-b", "sam/vit_b", manager.repository)
    model = manager.foundation("sam/vit_b", SamModel)
    photo = collage(width=1280, height=720)
    counter = iter(range(10**9))
    _, embedding = model.embed(photo, "cached")  # type: ignore[attr-defined]
    timings = interleaved({
        "encoder (a new image each call)": lambda: model.embed(photo, f"new-{next(counter)}"),  # type: ignore[attr-defined]
        "one point on the cached image": lambda: model.segment(embedding, [(640.0, 360.0)], [1]),  # type: ignore[attr-defined]
    }, max(5, repeats // 5), warmup=1)
    print_table("SAM ViT-B at 1024: a prompt on a cached image against the encoder", timings, timings[0])


def ocr(home: Path, repeats: int) -> None:
    from argus.models.foundation.ocr import OcrModel

    manager, _ = services(home)
    lines = [f"Line {i:02d}: invoice 44{i:02d} total {i * 7.25:.2f} EUR due 2026-12-{1 + i % 28:02d}"
             for i in range(30)]
    page = render_lines(lines, size=22, width=1240)
    table = Table(title=f"PP-OCR on a rendered page ({len(lines)} lines, {page.shape[1]}x{page.shape[0]})")
    for column in ("model", "median s / page", "lines read / s", "lines found", "detection", "classification",
                   "recognition"):
        table.add_column(column, justify="right" if column != "model" else "left")
    for model_id in ("pp_ocr/tiny-tiny", "pp_ocr/ppocrv4-mobile"):
        model = manager.foundation(model_id, OcrModel)
        model.read_images(1, [page])  # type: ignore[attr-defined]
        seconds, stages, found = [], dict.fromkeys(("detection", "classification", "recognition"), 0.0), 0
        for _ in range(max(3, repeats // 3)):
            started = time.perf_counter()
            result = model.read_images(1, [page])[0]  # type: ignore[attr-defined]
            seconds.append(time.perf_counter() - started)
            found = len(result.lines)
            for stage, value in result.stage_seconds.items():
                stages[stage] += value
        total = sum(stages.values())
        median = float(np.median(seconds))
        table.add_row(model_id, f"{median:.3f}", f"{found / median:.1f}", f"{found} of {len(lines)}",
                      *(f"{100 * stages[s] / total:.0f}%" for s in ("detection", "classification", "recognition")))
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--only", choices=["clip", "sam", "ocr"])
    args = parser.parse_args()
    missing = [name for name in ("clip-vit-b-32", "sam-vit-b") if not (BENCH_MODELS / name).is_dir()]
    with tempfile.TemporaryDirectory() as home:
        for name, run in (("clip", clip), ("sam", sam), ("ocr", ocr)):
            if args.only not in (None, name):
                continue
            if name != "ocr" and missing:
                Console().print(f"[yellow]skipping {name}: run `python scripts/make_foundation_fixtures.py bench` "
                                f"first (missing {', '.join(missing)})")
                continue
            run(Path(home) / name, args.repeats)


if __name__ == "__main__":
    main()
