"""The v1 routes take the image as JSON (base64), as a multipart 'file', or as the raw bytes, with the same
answer (the decoder gets the bytes either way) and the same 4xx for the same mistake."""

from __future__ import annotations

import base64
from typing import Any

import pytest


def strip(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in p.items() if k != "detection_id"} for p in body["predictions"]]


def test_json_multipart_and_raw_bytes_give_the_same_predictions(http: Any, model_ids: Any, collage_jpg: Any) -> None:
    raw = collage_jpg.read_bytes()
    image = {"type": "base64", "value": base64.b64encode(raw).decode()}
    as_json = http.post("/infer/object_detection",
                        json={"model_id": model_ids.detector, "confidence": 0.3, "image": image})
    as_form = http.post("/infer/object_detection", data={"model_id": model_ids.detector, "confidence": "0.3"},
                        files={"file": ("collage.jpg", raw, "image/jpeg")})
    as_bytes = http.post("/infer/object_detection", params={"model_id": model_ids.detector, "confidence": "0.3"},
                         content=raw, headers={"Content-Type": "application/octet-stream"})
    assert as_json.status_code == as_form.status_code == as_bytes.status_code == 200, (as_form.text, as_bytes.text)
    assert strip(as_json.json()) and strip(as_json.json()) == strip(as_form.json()) == strip(as_bytes.json())


def test_several_files_make_a_batch(http: Any, model_ids: Any, collage_jpg: Any) -> None:
    raw = collage_jpg.read_bytes()
    answer = http.post("/infer/classification", data={"model_id": model_ids.cls},
                       files=[("file", ("a.jpg", raw, "image/jpeg")), ("file", ("b.jpg", raw, "image/jpeg"))])
    assert answer.status_code == 200 and isinstance(answer.json(), list) and len(answer.json()) == 2


@pytest.mark.parametrize(("kwargs", "status", "word"), [
    ({"data": {"model_id": "x/1"}, "files": {"other": ("a", b"123")}}, 400, "file"),
    ({"params": {"confidence": "0.3"}, "content": b"\xff\xd8\xff", "headers": {"Content-Type": "image/jpeg"}}, 422,
     "model_id"),
    ({"params": {"model_id": "x/1"}, "content": b"", "headers": {"Content-Type": "application/octet-stream"}}, 400,
     "empty"),
])
def test_mistakes_in_each_form_are_4xx(http: Any, kwargs: dict[str, Any], status: int, word: str) -> None:
    answer = http.post("/infer/object_detection", **kwargs)
    assert answer.status_code == status, answer.text
    assert word in answer.json()["message"]
