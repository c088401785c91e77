"""No request takes more than its share: images and pixels per request (413 before decoding), decoded memory
across requests (wait, then 503), batches decoded as they are about to run, gone clients dropped."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from onnx import TensorProto, helper

from argus.errors import ClientGoneError, ImageTooLargeError, OverloadedError
from argus.inputs.request_image import EncodedImage
from argus.runtime.decode_budget import DecodeBudget
from argus.runtime.manager import ModelManager
from argus.runtime.service import InferenceService, RenderOptions
from argus.settings import Settings
from argus.store.manifest import ModelManifest
from argus.store.repository import ModelRepository


def channel_means(path: Path) -> Path:
    """images [B,3,8,8] → mean over H,W → [B,3]: the scores are the image's mean colour (an exact oracle)."""
    import onnx

    node = helper.make_node("ReduceMean", ["images"], ["scores"], axes=[2, 3], keepdims=0)
    graph = helper.make_graph([node], "means",
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, 8, 8])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def png(width: int, height: int, bgr: tuple[int, int, int] = (0, 0, 255)) -> dict[str, str]:
    ok, data = cv2.imencode(".png", np.full((height, width, 3), bgr, np.uint8))
    assert ok
    return {"type": "base64", "value": base64.b64encode(data.tobytes()).decode()}


def service_for(settings: Settings, tmp_path: Path) -> InferenceService:
    repository = ModelRepository(settings.model_store_dir)
    repository.add("means/1", channel_means(tmp_path / "means.onnx"),
                   ModelManifest(task="classification", family="classifier", input_width=8, input_height=8,
                                 class_names=["r", "g", "b"]))
    return InferenceService(ModelManager(settings, repository=repository))


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts EncodedImage.decode calls (the pixels actually decoded)."""
    calls: list[int] = []
    real = EncodedImage.decode

    def counting(self: EncodedImage, *args: object, **kwargs: object) -> np.ndarray:
        calls.append(self.pixels)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(EncodedImage, "decode", counting)
    return calls


def test_too_many_images_is_a_413_before_anything_is_decoded(settings: Settings, tmp_path: Path,
                                                             decodes: list[int]) -> None:
    service = service_for(settings.model_copy(update={"max_images_per_request": 4}), tmp_path)
    with pytest.raises(ImageTooLargeError, match="5 images; the limit is 4.*ARGUS_MAX_IMAGES_PER_REQUEST") as caught:
        service.infer("means/1", [png(2, 2)] * 5, {}, RenderOptions())
    assert caught.value.status_code == 413
    assert decodes == []
    assert len(service.infer("means/1", [png(2, 2)] * 4, {}, RenderOptions()).bodies) == 4


def test_too_many_pixels_is_a_413_before_anything_is_decoded(settings: Settings, tmp_path: Path,
                                                             decodes: list[int]) -> None:
    service = service_for(settings.model_copy(update={"max_request_pixels": 15_000}), tmp_path)
    with pytest.raises(ImageTooLargeError, match="20000 pixels; the limit is 15000.*ARGUS_MAX_REQUEST_PIXELS"):
        service.infer("means/1", [png(100, 100), png(100, 100)], {}, RenderOptions())
    assert decodes == []
    assert service.manager.get("means/1").batcher.rows_run == 0
    assert service.manager.get("means/1").batcher.pending_rows == 0  # its admission was given back

def test_images_are_decoded_one_batch_at_a_time_under_the_budget(settings: Settings, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    service = service_for(settings, tmp_path)
    held: list[int] = []
    real = EncodedImage.decode

    def watching(self: EncodedImage, *args: object, **kwargs: object) -> np.ndarray:
        held.append(service.decode_budget.in_use)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(EncodedImage, "decode", watching)
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0)] * 7  # 21 images: chunks of 8, 8, 5
    outcome = service.infer("means/1", [png(10, 10, c) for c in colours], {}, RenderOptions())
    chunk = service.manager.get("means/1").chunk_size
    assert chunk == 8
    assert max(held) == chunk * 10 * 10 * 3  # never more than one batch of decoded pixels held
    assert service.decode_budget.in_use == 0
    assert [body["top"] for body in outcome.bodies] == ["r", "g", "b"] * 7  # BGR red is the model's r channel


def test_a_gone_client_runs_nothing(settings: Settings, tmp_path: Path, decodes: list[int]) -> None:
    service = service_for(settings, tmp_path)
    with pytest.raises(ClientGoneError) as caught:
        service.infer("means/1", [png(4, 4)] * 3, {}, RenderOptions(), client_gone=lambda: True)
    assert caught.value.status_code == 499
    assert decodes == []
    assert service.manager.get("means/1").batcher.rows_run == 0


def test_the_budget_waits_then_answers_503() -> None:
    budget = DecodeBudget(capacity_bytes=100, wait_s=0.05)
    with budget.reserve(80):
        with pytest.raises(OverloadedError, match="ARGUS_DECODED_MEMORY_MB") as caught:
            with budget.reserve(30):
                pass
        assert caught.value.retry_after >= 1
        with budget.reserve(20):  # a small request fits beside the large one
            assert budget.in_use == 100
    with budget.reserve(500):  # larger than the whole budget: let in alone, never refused forever
        assert budget.in_use == 500
    assert budget.in_use == 0 and budget.refused == 1


def test_a_waiting_reservation_goes_in_when_memory_is_released() -> None:
    budget = DecodeBudget(capacity_bytes=100, wait_s=30)
    release = threading.Event()
    entered = threading.Event()

    def holder() -> None:
        with budget.reserve(90):
            entered.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    assert entered.wait(30)
    threading.Timer(0.05, release.set).start()
    with budget.reserve(50):  # waits for the holder, then proceeds
        assert budget.in_use == 50
    thread.join(30)


def test_settings_refuse_a_budget_smaller_than_one_request() -> None:
    with pytest.raises(ValueError, match="ARGUS_DECODED_MEMORY_MB"):
        Settings(decoded_memory_mb=100, max_request_pixels=160_000_000)
