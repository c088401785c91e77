"""One model, one image, one JSON: ``/infer`` and a workflow's model step write the same predictions (boxes,
rounding, outlines, keypoints), because both use ``core.predictions.prediction_json`` and one polygon function."""

from __future__ import annotations

from typing import Any

import pytest

SHARED = ("x", "y", "width", "height", "confidence", "class", "class_id", "points", "keypoints")


def workflow(block: str, model_id: str) -> dict[str, Any]:
    return {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
            "steps": [{"type": f"roboflow_core/{block}@v2", "name": "model", "images": "$inputs.image",
                       "model_id": model_id, "confidence": 0.25}],
            "outputs": [{"type": "JsonField", "name": "predictions", "selector": "$steps.model.predictions"}]}


@pytest.mark.parametrize(("route", "block", "model"), [
    ("instance_segmentation", "roboflow_instance_segmentation_model", "seg"),
    ("keypoints_detection", "roboflow_keypoint_detection_model", "pose"),
    ("object_detection", "roboflow_object_detection_model", "detector"),
])
def test_infer_and_a_workflow_write_the_same_predictions(http: Any, model_ids: Any, collage_b64: str, route: str,
                                                         block: str, model: str) -> None:
    model_id = getattr(model_ids, model)
    image = {"type": "base64", "value": collage_b64}
    direct = http.post(f"/infer/{route}", json={"model_id": model_id, "image": image, "confidence": 0.25})
    assert direct.status_code == 200, direct.text
    ran = http.post("/workflows/run", json={"specification": workflow(block, model_id), "inputs": {"image": image}})
    assert ran.status_code == 200, ran.text
    through_workflow = ran.json()["outputs"][0]["predictions"]["predictions"]
    expected = direct.json()["predictions"]
    assert expected, "the model found nothing: the comparison would be empty"
    assert [{k: p[k] for k in SHARED if k in p} for p in through_workflow] == \
        [{k: p[k] for k in SHARED if k in p} for p in expected]
