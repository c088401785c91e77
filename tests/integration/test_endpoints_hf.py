"""``huggingface_hub``'s Inference Endpoints client, pointed at Argus's /v2, manages an Argus endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import HfHubHTTPError
from test_endpoints_support import HOLD, build_store, image_body, wait_for

ROOT = "root-key-for-hub-tests"
NS = "hub"


def test_huggingface_hub_creates_gets_lists_pauses_resumes_scales_to_zero_and_deletes(
        launch_server: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path_factory.mktemp("endpoints-hub")
    server = launch_server({"ARGUS_MODELS_DIR": str(build_store(root / "models")), "ARGUS_API_KEYS": ROOT,
                            "ARGUS_DATABASE_URL": f"sqlite:///{root / 'hub.db'}", "ARGUS_INTRA_OP_THREADS": "1",
                            "ARGUS_ENDPOINT_RECONCILE_INTERVAL_S": "0.2"}, name="hub")
    with server.client() as client:
        key = client.post(f"/v2/endpoint-keys/{NS}", json={"name": "hub", "role": "admin"},
                          headers={"Authorization": f"Bearer {ROOT}"}).json()
    monkeypatch.setattr(constants, "INFERENCE_ENDPOINTS_ENDPOINT", f"{server.url}/v2")
    hub, token = HfApi(), key["secret"]  # the endpoint objects keep the token passed per call

    endpoint = hub.create_inference_endpoint(
        "hub-cls", repository="tiny-cls/1", framework="onnx", accelerator="cpu", instance_size="x1",
        instance_type="local", region="local", vendor="local", min_replica=0, max_replica=1, scale_to_zero_timeout=15,
        type="public", namespace=NS, tags=["test"], token=token)
    assert (endpoint.name, endpoint.namespace, endpoint.repository) == ("hub-cls", NS, "tiny-cls/1")
    assert (endpoint.status, endpoint.type, endpoint.task) == ("scaledToZero", "public", "classification")
    assert endpoint.url == f"{server.url}/endpoints/{NS}/hub-cls"
    assert endpoint.raw["compute"]["scaling"]["scaleToZeroTimeout"] == 15

    assert hub.get_inference_endpoint("hub-cls", namespace=NS, token=token).created_at == endpoint.created_at
    assert [e.name for e in hub.list_inference_endpoints(namespace=NS, token=token)] == ["hub-cls"]

    endpoint.resume()
    endpoint.wait(timeout=120, refresh_every=1)  # polls status, then GETs url + healthRoute through the router
    assert endpoint.status == "running"
    with server.client() as client:
        answer = client.post(f"/endpoints/{NS}/hub-cls/infer/classification", json=image_body())
        assert answer.status_code == 200 and answer.json()["top"] == "cat"

    assert endpoint.pause().status == "paused"
    endpoint.resume()
    endpoint.wait(timeout=120, refresh_every=1)
    endpoint.scale_to_zero()
    wait_for(lambda: endpoint.fetch().status == "scaledToZero", "the hub client to see scaledToZero")
    with server.client() as client:  # the next request wakes it
        assert client.post(f"/endpoints/{NS}/hub-cls/infer/classification", json=image_body(),
                           headers=HOLD).status_code == 200

    updated = hub.update_inference_endpoint("hub-cls", namespace=NS, max_replica=2, token=token)
    assert updated.raw["compute"]["scaling"]["maxReplica"] == 2
    endpoint.delete()
    with pytest.raises(HfHubHTTPError) as missing:
        hub.get_inference_endpoint("hub-cls", namespace=NS, token=token)
    assert missing.value.response.status_code == 404
