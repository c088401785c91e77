"""How a /ocr/pp-ocr body picks its model and stages (the reference's PPOCRInferenceRequest rules)."""

from __future__ import annotations

from typing import Any

import pytest

from argus.errors import InvalidInputError
from argus.runtime.foundation import OcrSelection, select_ocr

DEFAULT = "pp_ocr/tiny-tiny"


@pytest.mark.parametrize(("body", "expected"), [
    ({}, OcrSelection(DEFAULT)),
    ({"model_id": "pp_ocr/mine"}, OcrSelection("pp_ocr/mine")),
    ({"pp_ocr_version_id": "tiny"}, OcrSelection("pp_ocr/tiny-tiny")),
    ({"pp_ocr_version_id": "Small-Tiny"}, OcrSelection("pp_ocr/small-tiny")),
    ({"pp_ocr_version_id": "tiny-none"}, OcrSelection("pp_ocr/tiny-tiny", detect=True, recognize=False)),
    ({"pp_ocr_version_id": "none-medium"}, OcrSelection("pp_ocr/medium-medium", detect=False, recognize=True)),
    ({"text_detection": "tiny"}, OcrSelection("pp_ocr/tiny-small")),  # the omitted stage is "small"
    ({"text_detection": "tiny", "text_recognition": None}, OcrSelection("pp_ocr/tiny-tiny", recognize=False)),
    # explicit stages win over the version, as in the reference
    ({"text_detection": "tiny", "text_recognition": "tiny", "pp_ocr_version_id": "small"},
     OcrSelection("pp_ocr/tiny-tiny")),
])
def test_selection(body: dict[str, Any], expected: OcrSelection) -> None:
    assert select_ocr(body, DEFAULT) == expected


@pytest.mark.parametrize(("body", "message"), [
    ({"pp_ocr_version_id": "none-none"}, "both stages are 'none'"),
    ({"text_detection": None, "text_recognition": None}, "both stages are 'none'"),
    ({"pp_ocr_version_id": "huge"}, "must be one of none, tiny, small, medium"),
    ({"pp_ocr_version_id": "a-b-c"}, "is not 'detection-recognition'"),
    ({"text_recognition": 3}, "'text_recognition' must be one of"),
])
def test_bad_selections_are_400s_that_say_what_to_send(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        select_ocr(body, DEFAULT)
