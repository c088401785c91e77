"""Open Inference Protocol v2 against a real server: tritonclient[http] and raw HTTP.

The store holds ``tiny/1``, a graph whose outputs are computable by hand:
``mean = images.mean(axis=(2, 3))`` ([batch, 3]) and ``total = images.sum(axis=(1, 2, 3))`` ([batch]),
and ``multi`` in versions 2 and 10 whose ``mean`` is scaled by the version number.
"""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import onnx
import pytest
import tritonclient.http as triton
from onnx import TensorProto, helper, numpy_helper
from tritonclient.utils import InferenceServerException

import argus
from argus.server import oip_codec
from argus.server.app import create_app
from argus.settings import Settings
from argus.store.manifest import ModelManifest
from argus.store.repository import ModelRepository
from servers import threaded_server

SAMPLE_JPG = Path(__file__).resolve().parents[2] / "examples" / "sample.jpg"
SIZE = 32


def tiny_model(scale: float = 1.0) -> onnx.ModelProto:
    """``images`` float32 [batch, 3, 32, 32] → ``mean`` [batch, 3] (times ``scale``), ``total`` [batch]."""
    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])
    mean = helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["batch", 3])
    total = helper.make_tensor_value_info("total", TensorProto.FLOAT, ["batch"])
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["raw_mean"], axes=[2, 3], keepdims=0),
        helper.make_node("Mul", ["raw_mean", "scale"], ["mean"]),
        helper.make_node("ReduceSum", ["images", "sum_axes"], ["total"], keepdims=0),
    ]
    initialisers = [numpy_helper.from_array(np.array(scale, dtype=np.float32), "scale"),
                    numpy_helper.from_array(np.array([1, 2, 3], dtype=np.int64), "sum_axes")]
    graph = helper.make_graph(nodes, "tiny", [images], [mean, total], initialisers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn server over a store with ``tiny/1`` and ``multi/2``, ``multi/10``."""
    home = tmp_path_factory.mktemp("oip-home")
    settings = Settings(home=home)
    repository = ModelRepository(settings.model_store_dir)
    manifest = ModelManifest(task="classification", family="classifier", input_width=SIZE, input_height=SIZE,
                             class_names=["r", "g", "b"])
    for model_id, scale in (("tiny/1", 1.0), ("multi/2", 2.0), ("multi/10", 10.0)):
        path = home / f"{model_id.replace('/', '-')}.onnx"
        onnx.save(tiny_model(scale), path)
        repository.add(model_id, path, manifest)
    with threaded_server(create_app(settings)) as url:
        yield url.removeprefix("http://")  # tritonclient takes host:port


@pytest.fixture(scope="module")
def client(server_url: str) -> Iterator[triton.InferenceServerClient]:
    """A tritonclient HTTP client of the server."""
    with triton.InferenceServerClient(url=server_url) as triton_client:
        yield triton_client


@pytest.fixture(scope="module")
def http(server_url: str) -> Iterator[httpx.Client]:
    """A plain HTTP client of the server."""
    with httpx.Client(base_url=f"http://{server_url}") as plain:
        yield plain


def batch(n: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 3, SIZE, SIZE), dtype=np.float32)


def images_input(x: np.ndarray, binary: bool) -> triton.InferInput:
    tensor = triton.InferInput("images", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x, binary_data=binary)
    return tensor


def png(bgr: tuple[int, int, int], width: int = 40, height: int = 24) -> bytes:
    ok, data = cv2.imencode(".png", np.full((height, width, 3), bgr, dtype=np.uint8))
    assert ok
    return data.tobytes()


def error_of(call) -> InferenceServerException:  # type: ignore[no-untyped-def]
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value


# ------------------------------------------------------------------------- codec vs tritonclient


def sample_of(datatype: str) -> np.ndarray:
    """A [2, 3] array of ``datatype`` with values that survive JSON."""
    if datatype == "BYTES":
        return np.array([[b"a", b"", b"xyz"], [b"\x00", b"hello", b"12"]], dtype=np.object_)
    values = np.array([[0, 1, 2], [3, 4, 5]])
    if datatype == "BOOL":
        return values % 2 == 1
    dtype = oip_codec.DATATYPES[datatype]
    return (values * 7).astype(dtype) if dtype.kind != "f" else (values / 4).astype(dtype)


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("datatype", list(oip_codec.DATATYPES))
def test_codec_reads_what_tritonclient_writes(datatype: str, binary: bool) -> None:
    value = sample_of(datatype)
    tensor = triton.InferInput("x", [2, 3], datatype)
    tensor.set_data_from_numpy(value, binary_data=binary)
    header = json.dumps({"inputs": [tensor._get_tensor()]}).encode()
    raw = tensor._get_binary_data() or b""
    parsed, binary_part = oip_codec.split_body(header + raw, str(len(header)) if raw else None)
    (decoded,) = oip_codec.decode_inputs(parsed, binary_part)
    assert (decoded.datatype, decoded.shape, decoded.binary) == (datatype, [2, 3], binary)
    assert decoded.array.shape == (2, 3)
    if datatype != "BYTES":
        assert decoded.array.dtype == value.dtype
    assert decoded.array.tolist() == value.tolist()


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("datatype", list(oip_codec.DATATYPES))
def test_tritonclient_reads_what_codec_writes(datatype: str, binary: bool) -> None:
    value = sample_of(datatype)
    body, length = oip_codec.encode_response({"model_name": "m", "model_version": "1"}, [("y", value, binary)])
    assert (length is not None) == binary
    result = triton.InferResult.from_response_body(body, header_length=length)
    assert result.get_output("y")["datatype"] == datatype
    decoded = result.as_numpy("y")
    assert decoded.shape == (2, 3)
    expected = value.tolist()
    if datatype == "BYTES" and not binary:  # JSON carries BYTES elements as text
        expected = [[e.decode() for e in row] for row in expected]
    assert decoded.tolist() == expected


# ------------------------------------------------------------------------------ health, metadata


def test_server_health_and_metadata(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    metadata = client.get_server_metadata()
    assert metadata["name"] == "argus"
    assert metadata["version"] == argus.__version__
    assert "binary_tensor_data" in metadata["extensions"]


def test_model_ready(client: triton.InferenceServerClient) -> None:
    assert client.is_model_ready("tiny")
    assert client.is_model_ready("tiny", model_version="1")
    assert not client.is_model_ready("tiny", model_version="2")
    assert not client.is_model_ready("nope")


def test_model_metadata_from_the_graph(client: triton.InferenceServerClient) -> None:
    metadata = client.get_model_metadata("tiny")
    assert metadata["name"] == "tiny"
    assert metadata["versions"] == ["1"]
    assert metadata["platform"] == "onnxruntime_onnx"
    assert metadata["inputs"] == [{"name": "images", "datatype": "FP32", "shape": [-1, 3, SIZE, SIZE]}]
    assert metadata["outputs"] == [{"name": "mean", "datatype": "FP32", "shape": [-1, 3]},
                                   {"name": "total", "datatype": "FP32", "shape": [-1]}]
    assert metadata["parameters"]["argus_image_input"] == "image"
    assert metadata["parameters"]["argus_image_output"] == "predictions"
    assert client.get_model_metadata("tiny", model_version="1")["versions"] == ["1"]


def test_highest_version_is_numeric(client: triton.InferenceServerClient, http: httpx.Client) -> None:
    assert client.get_model_metadata("multi")["versions"] == ["2", "10"]
    x = batch(1)
    result = client.infer("multi", [images_input(x, True)])
    assert result.get_response()["model_version"] == "10"
    np.testing.assert_allclose(result.as_numpy("mean"), 10 * x.mean(axis=(2, 3)), rtol=1e-5)
    result = client.infer("multi", [images_input(x, True)], model_version="2")
    assert result.get_response()["model_version"] == "2"
    np.testing.assert_allclose(result.as_numpy("mean"), 2 * x.mean(axis=(2, 3)), rtol=1e-5)
    assert http.get("/v2/models/multi/versions/3").status_code == 404


def test_model_config_follows_triton(client: triton.InferenceServerClient) -> None:
    config = client.get_model_config("tiny")
    assert config["platform"] == "onnxruntime_onnx"
    assert config["max_batch_size"] == 1  # the manifest's batching size; batch axis dynamic
    assert config["input"] == [{"name": "images", "data_type": "TYPE_FP32", "dims": [3, SIZE, SIZE]}]
    assert config["output"][1] == {"name": "total", "data_type": "TYPE_FP32", "dims": []}


# ---------------------------------------------------------------------------------------- infer


@pytest.mark.parametrize("binary_in", [True, False])
@pytest.mark.parametrize("binary_out", [True, False])
def test_infer_matches_numpy(client: triton.InferenceServerClient, binary_in: bool, binary_out: bool) -> None:
    x = batch(2, seed=int(binary_in) * 2 + int(binary_out))
    outputs = [triton.InferRequestedOutput("mean", binary_data=binary_out),
               triton.InferRequestedOutput("total", binary_data=binary_out)]
    result = client.infer("tiny", [images_input(x, binary_in)], outputs=outputs, request_id="req-7")
    response = result.get_response()
    assert response["id"] == "req-7"
    assert response["model_name"] == "tiny" and response["model_version"] == "1"
    assert [("binary_data_size" in o.get("parameters", {})) for o in response["outputs"]] == [binary_out] * 2
    mean, total = result.as_numpy("mean"), result.as_numpy("total")
    assert mean.dtype == np.float32 and mean.shape == (2, 3)
    np.testing.assert_allclose(mean, x.mean(axis=(2, 3)), rtol=1e-5)
    np.testing.assert_allclose(total, x.sum(axis=(1, 2, 3)), rtol=1e-5)


def test_outputs_omitted_gives_all_in_binary(client: triton.InferenceServerClient) -> None:
    x = batch(3)
    result = client.infer("tiny", [images_input(x, True)], model_version="1")
    response = result.get_response()
    assert [o["name"] for o in response["outputs"]] == ["mean", "total"]
    assert all(o["parameters"]["binary_data_size"] > 0 for o in response["outputs"])
    np.testing.assert_allclose(result.as_numpy("total"), x.sum(axis=(1, 2, 3)), rtol=1e-5)


def test_requested_output_subset(client: triton.InferenceServerClient) -> None:
    x = batch(1)
    result = client.infer("tiny", [images_input(x, True)], outputs=[triton.InferRequestedOutput("total")])
    assert [o["name"] for o in result.get_response()["outputs"]] == ["total"]
    assert result.as_numpy("mean") is None
    np.testing.assert_allclose(result.as_numpy("total"), x.sum(axis=(1, 2, 3)), rtol=1e-5)


def test_unknown_model_is_404(client: triton.InferenceServerClient) -> None:
    error = error_of(lambda: client.infer("nope", [images_input(batch(1), True)]))
    assert error.status() == "404"
    assert "not found" in error.message()
    assert error_of(lambda: client.get_model_metadata("tiny", model_version="9")).status() == "404"


def test_wrong_shape_is_400(client: triton.InferenceServerClient) -> None:
    x = np.zeros((1, 3, 16, 16), dtype=np.float32)
    error = error_of(lambda: client.infer("tiny", [images_input(x, True)]))
    assert error.status() == "400"
    assert "shape" in error.message() and "images" in error.message()


def test_wrong_datatype_and_unknown_names_are_400(client: triton.InferenceServerClient) -> None:
    x64 = triton.InferInput("images", [1, 3, SIZE, SIZE], "FP64")
    x64.set_data_from_numpy(np.zeros((1, 3, SIZE, SIZE)), binary_data=True)
    error = error_of(lambda: client.infer("tiny", [x64]))
    assert error.status() == "400" and "FP32" in error.message()
    other = triton.InferInput("pixels", [1, 3, SIZE, SIZE], "FP32")
    other.set_data_from_numpy(batch(1), binary_data=True)
    error = error_of(lambda: client.infer("tiny", [other]))
    assert error.status() == "400" and "pixels" in error.message()
    error = error_of(lambda: client.infer("tiny", [images_input(batch(1), True)],
                                          outputs=[triton.InferRequestedOutput("logits")]))
    assert error.status() == "400" and "logits" in error.message()


# --------------------------------------------------------------------------- the image extension


def test_image_extension_with_tritonclient(client: triton.InferenceServerClient) -> None:
    jpeg = SAMPLE_JPG.read_bytes()
    height, width = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape[:2]
    image = triton.InferInput("image", [3], "BYTES")
    image.set_data_from_numpy(np.array([jpeg, png((0, 0, 255)), png((0, 255, 0))], dtype=np.object_))
    result = client.infer("tiny", [image], outputs=[triton.InferRequestedOutput("predictions")])
    predictions = result.as_numpy("predictions")
    assert predictions.shape == (3,)
    sample, red, green = (json.loads(p) for p in predictions)
    assert sample["image"] == {"width": width, "height": height}
    assert sorted(p["class"] for p in sample["predictions"]) == ["b", "g", "r"]
    assert sample["top"] == sample["predictions"][0]["class"]
    assert red["top"] == "r" and green["top"] == "g"  # colour order: BGR pixels, RGB network
    assert red["image"] == {"width": 40, "height": 24}


def test_image_extension_json_base64_with_parameters(http: httpx.Client) -> None:
    import base64

    body = {"id": "img", "parameters": {"confidence": 0.2},
            "inputs": [{"name": "image_bytes", "shape": [1], "datatype": "BYTES",
                        "data": [base64.b64encode(png((255, 0, 0))).decode()]}]}
    response = http.post("/v2/models/tiny/infer", json=body)
    assert response.status_code == 200, response.text
    output = response.json()["outputs"][0]
    assert output["name"] == "predictions" and output["datatype"] == "BYTES" and output["shape"] == [1]
    assert json.loads(output["data"][0])["top"] == "b"
    bad = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["bm90IGFuIGltYWdl"]}]}
    response = http.post("/v2/models/tiny/infer", json=bad)
    assert response.status_code == 400 and "image" in response.json()["error"]


# ----------------------------------------------------------------------------- raw JSON protocol


def test_raw_json_response_shape(http: httpx.Client) -> None:
    x = batch(1, seed=5)
    body = {"id": "42", "inputs": [{"name": "images", "shape": list(x.shape), "datatype": "FP32",
                                    "data": x.reshape(-1).tolist()}],
            "outputs": [{"name": "total"}, {"name": "mean"}]}
    response = http.post("/v2/models/tiny/infer", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert set(payload) == {"model_name", "model_version", "id", "outputs"}
    assert (payload["model_name"], payload["model_version"], payload["id"]) == ("tiny", "1", "42")
    total, mean = payload["outputs"]
    assert set(total) == {"name", "shape", "datatype", "data"}
    assert (total["name"], total["shape"], total["datatype"]) == ("total", [1], "FP32")
    assert (mean["name"], mean["shape"], mean["datatype"]) == ("mean", [1, 3], "FP32")
    np.testing.assert_allclose(mean["data"], x.mean(axis=(2, 3)).reshape(-1), rtol=1e-5)
    np.testing.assert_allclose(total["data"], x.sum(axis=(1, 2, 3)), rtol=1e-5)


def test_raw_binary_request_and_response(http: httpx.Client) -> None:
    x = batch(2, seed=9)
    raw = x.tobytes()
    header = json.dumps({"inputs": [{"name": "images", "shape": [2, 3, SIZE, SIZE], "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(raw)}}],
                         "parameters": {"binary_data_output": True}}).encode()
    response = http.post("/v2/models/tiny/versions/1/infer", content=header + raw,
                         headers={"Inference-Header-Content-Length": str(len(header))})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    length = int(response.headers["inference-header-content-length"])
    meta = json.loads(response.content[:length])
    sizes = [o["parameters"]["binary_data_size"] for o in meta["outputs"]]
    assert sizes == [2 * 3 * 4, 2 * 4]
    assert len(response.content) == length + sum(sizes)
    mean = np.frombuffer(response.content[length:length + sizes[0]], dtype="<f4").reshape(2, 3)
    np.testing.assert_allclose(mean, x.mean(axis=(2, 3)), rtol=1e-5)


def test_gzip_request_body(http: httpx.Client) -> None:
    x = batch(1, seed=3)
    body = json.dumps({"inputs": [{"name": "images", "shape": list(x.shape), "datatype": "FP32",
                                   "data": x.reshape(-1).tolist()}], "outputs": [{"name": "total"}]})
    response = http.post("/v2/models/tiny/infer", content=gzip.compress(body.encode()),
                         headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["outputs"][0]["data"], x.sum(axis=(1, 2, 3)), rtol=1e-5)


def _images_json(data: list, shape: list[int], datatype: str = "FP32") -> dict:
    return {"inputs": [{"name": "images", "shape": shape, "datatype": datatype, "data": data}]}


_EXTRA_BYTES = json.dumps({"inputs": [{"name": "images", "shape": [1], "datatype": "FP32",
                                      "parameters": {"binary_data_size": 4}}]}).encode()


@pytest.mark.parametrize(("content", "headers", "fragment"), [
    (b"{not json", {}, "not valid JSON"),
    (b'{"inputs": []}', {}, "inputs"),
    (json.dumps(_images_json([0.0] * 10, [1, 3, SIZE, SIZE])).encode(), {}, "10 elements"),
    (json.dumps(_images_json(["a"] * 3072, [1, 3, SIZE, SIZE])).encode(), {}, "numbers"),
    (json.dumps(_images_json([0] * 3072, [1, 3, SIZE, SIZE], "BF16")).encode(), {}, "BF16"),
    (b'{"inputs": []}', {"Inference-Header-Content-Length": "999"}, "Inference-Header-Content-Length"),
    (_EXTRA_BYTES + b"\0" * 8, {"Inference-Header-Content-Length": str(len(_EXTRA_BYTES))},
     "bytes after the tensors"),
])
def test_malformed_requests_are_400_with_error_body(http: httpx.Client, content: bytes, headers: dict,
                                                     fragment: str) -> None:
    response = http.post("/v2/models/tiny/infer", content=content, headers=headers)
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert fragment in body["error"]


def test_bytes_tensor_length_prefix_is_checked(http: httpx.Client) -> None:
    raw = struct.pack("<I", 50) + b"short"
    header = json.dumps({"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                                     "parameters": {"binary_data_size": len(raw)}}]}).encode()
    response = http.post("/v2/models/tiny/infer", content=header + raw,
                         headers={"Inference-Header-Content-Length": str(len(header))})
    assert response.status_code == 400
    assert "50 bytes" in response.json()["error"]


def test_unknown_model_error_body(http: httpx.Client) -> None:
    response = http.get("/v2/models/nope")
    assert response.status_code == 404
    assert set(response.json()) == {"error"} and "not found" in response.json()["error"]


def test_zoo_alias_resolves_without_fetching(http: httpx.Client) -> None:
    response = http.get("/v2/models/yolov3-tiny-416/ready")
    assert response.status_code == 503  # an alias not yet fetched into the store
    assert response.json() == {"name": "yolov3-tiny-416", "ready": False}
    assert http.get("/v2/models/yolov3-tiny-416/versions/9/ready").status_code == 404


# ------------------------------------------------------------------------- statistics, repository


def test_stats_count_inferences(client: triton.InferenceServerClient) -> None:
    def counts() -> tuple[int, int, int]:
        entry = client.get_inference_statistics("tiny")["model_stats"][0]
        stats = entry["inference_stats"]
        return entry["inference_count"], stats["success"]["count"], stats["fail"]["count"]

    before = counts()
    client.infer("tiny", [images_input(batch(4), True)])
    error_of(lambda: client.infer("tiny", [images_input(np.zeros((1, 3, 8, 8), np.float32), True)]))
    after = counts()
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (4, 1, 1)
    names = {e["name"] for e in client.get_inference_statistics()["model_stats"]}
    assert names == {"tiny", "multi"}


def test_repository_index_load_unload(client: triton.InferenceServerClient) -> None:
    def state() -> dict[tuple[str, str], str]:
        return {(e["name"], e["version"]): e["state"] for e in client.get_model_repository_index()}

    client.load_model("tiny")
    assert state()[("tiny", "1")] == "READY"
    assert set(state()) == {("tiny", "1"), ("multi", "2"), ("multi", "10")}
    client.unload_model("tiny")
    assert state()[("tiny", "1")] == "UNAVAILABLE"
    client.unload_model("tiny")  # idempotent
    assert client.is_model_ready("tiny")  # still served: loads on the next request
    x = batch(1)
    np.testing.assert_allclose(client.infer("tiny", [images_input(x, True)]).as_numpy("total"),
                               x.sum(axis=(1, 2, 3)), rtol=1e-5)
    assert state()[("tiny", "1")] == "READY"
    assert error_of(lambda: client.load_model("nope")).status() == "404"


def test_oip_requests_take_the_same_path_as_infer(tmp_path: Path) -> None:
    """Admission and per-request limits apply to OIP tensors and images as to /infer (one inference path)."""
    from fastapi.testclient import TestClient

    settings = Settings(home=tmp_path, max_pending_images=2, max_images_per_request=3)
    repository = ModelRepository(settings.model_store_dir)
    onnx.save(tiny_model(), tmp_path / "tiny.onnx")
    repository.add("tiny/1", tmp_path / "tiny.onnx", ModelManifest(
        task="classification", family="classifier", input_width=SIZE, input_height=SIZE, class_names=["r", "g", "b"]))
    rows = np.zeros((3, 3, SIZE, SIZE), np.float32)
    tensors = {"inputs": [{"name": "images", "shape": list(rows.shape), "datatype": "FP32",
                           "data": rows.reshape(-1).tolist()}]}
    import base64

    image = base64.b64encode(png((0, 0, 255))).decode()
    images = {"inputs": [{"name": "image_bytes", "shape": [4], "datatype": "BYTES", "data": [image] * 4}]}
    with TestClient(create_app(settings)) as api:
        refused = api.post("/v2/models/tiny/infer", json=tensors)  # 3 rows can never fit a queue of 2
        assert refused.status_code == 413 and "ARGUS_MAX_PENDING_IMAGES" in refused.json()["error"]
        capped = api.post("/v2/models/tiny/infer", json=images)
        assert capped.status_code == 413 and "ARGUS_MAX_IMAGES_PER_REQUEST" in capped.json()["error"]
        two = {"inputs": [{**tensors["inputs"][0], "shape": [2, 3, SIZE, SIZE],
                           "data": rows[:2].reshape(-1).tolist()}]}
        assert api.post("/v2/models/tiny/infer", json=two).status_code == 200
        batcher = api.app.state.argus.manager.get("tiny/1").batcher  # type: ignore[attr-defined]
        assert batcher.rows_run == 2  # the tensor request ran through the model's batcher


def test_statistics_come_from_the_same_counters_as_metrics(http: httpx.Client) -> None:
    """A request on /infer counts in the OIP statistics too: one set of counters for every protocol."""
    import base64
    import re

    def stats() -> dict:
        return http.get("/v2/models/multi/versions/10/stats").json()["model_stats"][0]

    before = stats()
    image = {"type": "base64", "value": base64.b64encode(png((0, 255, 0))).decode()}
    assert http.post("/infer/classification", json={"model_id": "multi/10", "image": [image, image]}).status_code == 200
    bad = {"inputs": [{"name": "images", "shape": [1, 3, SIZE, SIZE], "datatype": "FP32",
                       "data": [0.0] * (3 * SIZE * SIZE)}], "outputs": [{"name": "nope"}]}
    assert http.post("/v2/models/multi/versions/10/infer", json=bad).status_code == 400
    after = stats()
    assert after["execution_count"] == before["execution_count"] + 1
    assert after["inference_count"] == before["inference_count"] + 2
    assert after["inference_stats"]["fail"]["count"] == before["inference_stats"]["fail"]["count"] + 1
    exposition = http.get("/metrics").text
    total = re.search(r'argus_inference_requests_total\{model="multi/10",outcome="success"\} (\S+)', exposition)
    assert total is not None and float(total.group(1)) == after["execution_count"]
