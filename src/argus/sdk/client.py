"""Clients for an Argus server (sync and async, over httpx), with typed results.

Example:
    >>> from argus.sdk import Client  # doctest: +SKIP
    >>> with Client("http://127.0.0.1:9001") as client:  # doctest: +SKIP
    ...     result = client.infer("street.jpg", model_id="yolov3-tiny-416")
    ...     result.to_supervision()
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

from argus.core.images import encode_jpeg, load_image
from argus.core.predictions import ClassificationResult, DetectionResult
from argus.errors import ArgusError, ClientError, ModelNotFoundError, ServerError, UnauthorizedError
from argus.sdk.results import result_from_json

DEFAULT_URL = "http://127.0.0.1:9001"
_ROUTES = {"object-detection": "object_detection", "instance-segmentation": "instance_segmentation",
           "keypoint-detection": "keypoints_detection", "classification": "classification",
           "multi-label-classification": "classification"}

Result = DetectionResult | ClassificationResult


def encode_image(image: Any) -> str:
    """Base64 of an image: file bytes as they are, arrays and PIL images as JPEG."""
    if isinstance(image, (str, Path)) and Path(image).is_file():
        return base64.b64encode(Path(image).read_bytes()).decode()
    if isinstance(image, (bytes, bytearray)):
        return base64.b64encode(bytes(image)).decode()
    array = image if isinstance(image, np.ndarray) else load_image(image)
    return base64.b64encode(encode_jpeg(load_image(array), quality=95)).decode()


def raise_for_error(response: httpx.Response) -> None:
    """Turn an error response into the matching :class:`ArgusError`."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
        message = body.get("message") or body.get("error") or response.text
    except ValueError:
        message = response.text
    error_type: type[ArgusError] = {401: UnauthorizedError, 404: ModelNotFoundError}.get(
        response.status_code, ClientError if response.status_code < 500 else ServerError)
    error = error_type(f"HTTP {response.status_code}: {message}")
    error.status_code = response.status_code
    raise error


def _depth_maps(body: Any) -> np.ndarray | list[np.ndarray]:
    """Decode ``png16`` depth answers to float32 arrays in [0, 1]."""
    def decode(answer: dict[str, Any]) -> np.ndarray:
        data = np.frombuffer(base64.b64decode(answer["normalized_depth"]), np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if image is None:
            raise ServerError("the server's depth map is not a PNG")
        return image.astype(np.float32) / 65535.0

    return [decode(b) for b in body] if isinstance(body, list) else decode(body)


class _Base:
    def __init__(self, api_url: str, api_key: str | None) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key
        self._tasks: dict[str, str] = {}

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    @staticmethod
    def _payload(model_id: str, images: list[Any], visualize: bool, params: dict[str, Any]) -> dict[str, Any]:
        objects = [{"type": "base64", "value": encode_image(i)} for i in images]
        return {"model_id": model_id, "image": objects if len(objects) > 1 else objects[0],
                "visualize_predictions": visualize, **params}

    @staticmethod
    def _ocr_payload(image: Any, version: str | None, model_id: str | None) -> dict[str, Any]:
        """``/ocr/pp-ocr``'s body: one image (or a list), the stages as ``det-rec`` or a stored OCR model."""
        images = list(image) if isinstance(image, list) else [image]
        objects = [{"type": "base64", "value": encode_image(i)} for i in images]
        payload: dict[str, Any] = {"image": objects if isinstance(image, list) else objects[0]}
        if version:
            payload["pp_ocr_version_id"] = version
        if model_id:
            payload["model_id"] = model_id
        return payload

    @staticmethod
    def _depth_payload(image: Any, model_id: str | None) -> dict[str, Any]:
        """``/infer/depth-estimation``'s body, asking for 16-bit PNG maps (small, lossless to 1/65535)."""
        images = list(image) if isinstance(image, list) else [image]
        objects = [{"type": "base64", "value": encode_image(i)} for i in images]
        return {"image": objects if isinstance(image, list) else objects[0], "depth_map_format": "png16",
                **({"model_id": model_id} if model_id else {})}

    @staticmethod
    def _compare_payload(subject: Any, prompts: list[Any] | dict[str, Any], subject_type: str, prompt_type: str,
                         model_id: str | None) -> dict[str, Any]:
        """``/clip/compare``'s body; image subjects and prompts are sent as base64 images."""
        def wire(value: Any, kind: str) -> Any:
            return {"type": "base64", "value": encode_image(value)} if kind == "image" else value

        prompt = ({k: wire(v, prompt_type) for k, v in prompts.items()} if isinstance(prompts, dict)
                  else [wire(v, prompt_type) for v in prompts])
        return {"subject": wire(subject, subject_type), "subject_type": subject_type, "prompt": prompt,
                "prompt_type": prompt_type, **({"model_id": model_id} if model_id else {})}

    @staticmethod
    def _embed_payload(field: str, values: list[Any], model_id: str | None) -> dict[str, Any]:
        """``/clip/embed_image`` or ``/clip/embed_text``'s body."""
        items = [{"type": "base64", "value": encode_image(v)} for v in values] if field == "image" else values
        return {field: items, **({"model_id": model_id} if model_id else {})}

    @staticmethod
    def _task_from_registry(body: dict[str, Any], model_id: str) -> str | None:
        for entry in body.get("models", []):
            if entry["model_id"] == model_id or model_id in entry.get("request_aliases", []):
                return str(entry["task_type"])
        return None


class Client(_Base):
    """Synchronous client."""

    def __init__(self, api_url: str = DEFAULT_URL, api_key: str | None = None, timeout: float = 60.0) -> None:
        super().__init__(api_url, api_key)
        self._http = httpx.Client(base_url=self.api_url, timeout=timeout, headers=self._headers())

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        raise_for_error(response)
        return response.json()

    def server_info(self) -> dict[str, Any]:
        """``GET /info``."""
        return dict(self._json("GET", "/info"))

    def ready(self) -> bool:
        """True when ``/readiness`` answers 200."""
        return self._http.get("/readiness").status_code == 200

    def list_models(self) -> dict[str, Any]:
        """``GET /model/registry``."""
        return dict(self._json("GET", "/model/registry"))

    def load_model(self, model_id: str) -> dict[str, Any]:
        """``POST /model/add``."""
        return dict(self._json("POST", "/model/add", json={"model_id": model_id}))

    def unload_model(self, model_id: str) -> dict[str, Any]:
        """``POST /model/remove``."""
        self._tasks.pop(model_id, None)
        return dict(self._json("POST", "/model/remove", json={"model_id": model_id}))

    def unload_all(self) -> dict[str, Any]:
        """``POST /model/clear``."""
        self._tasks.clear()
        return dict(self._json("POST", "/model/clear"))

    def task_of(self, model_id: str) -> str:
        """The model's task (loading it on the server if needed); cached."""
        if model_id not in self._tasks:
            task = self._task_from_registry(self.list_models(), model_id) or self._task_from_registry(
                self.load_model(model_id), model_id)
            if task is None:
                raise ModelNotFoundError(f"the server did not report model '{model_id}' after loading it")
            self._tasks[model_id] = task
        return self._tasks[model_id]

    def infer_json(self, image: Any, model_id: str, visualize: bool = False, **params: Any) -> Any:
        """Response JSON for one image (or a list of images → list)."""
        images = list(image) if isinstance(image, list) else [image]
        route = _ROUTES[self.task_of(model_id)]
        return self._json("POST", f"/infer/{route}", json=self._payload(model_id, images, visualize, params))

    def infer(self, image: Any, model_id: str, **params: Any) -> Result | list[Result]:
        """Typed result(s), like :meth:`argus.models.vision.VisionModel.infer`."""
        body = self.infer_json(image, model_id, **params)
        task = self.task_of(model_id)
        if isinstance(body, list):
            return [result_from_json(b, task, model_id) for b in body]
        return result_from_json(body, task, model_id)

    def ocr(self, image: Any, version: str | None = None, model_id: str | None = None) -> Any:
        """``/ocr/pp-ocr``: the text of an image (a list of images gives a list); ``version`` is ``det-rec``."""
        return self._json("POST", "/ocr/pp-ocr", json=self._ocr_payload(image, version, model_id))

    def depth(self, image: Any, model_id: str | None = None) -> np.ndarray | list[np.ndarray]:
        """Relative depth in [0, 1] (1 nearest) at the image's size; a list of images gives a list."""
        body = self._json("POST", "/infer/depth-estimation", json=self._depth_payload(image, model_id))
        return _depth_maps(body)

    def clip_embed_images(self, images: list[Any], model_id: str | None = None) -> np.ndarray:
        """Normalised CLIP embeddings of images, ``(N, D)``."""
        body = self._json("POST", "/clip/embed_image", json=self._embed_payload("image", images, model_id))
        return np.array(body["embeddings"], np.float32)

    def clip_embed_texts(self, texts: list[str], model_id: str | None = None) -> np.ndarray:
        """Normalised CLIP embeddings of prompts, ``(N, D)``."""
        body = self._json("POST", "/clip/embed_text", json=self._embed_payload("text", texts, model_id))
        return np.array(body["embeddings"], np.float32)

    def clip_compare(self, subject: Any, prompts: list[Any] | dict[str, Any], subject_type: str = "image",
                     prompt_type: str = "text", model_id: str | None = None) -> list[float] | dict[str, float]:
        """Cosine similarity of ``subject`` to each prompt (named prompts give a dict)."""
        payload = self._compare_payload(subject, prompts, subject_type, prompt_type, model_id)
        return self._json("POST", "/clip/compare", json=payload)["similarity"]  # type: ignore[no-any-return]

    def infer_paths(self, paths: list[Path], model_id: str, concurrency: int = 4, visualize: bool = False,
                    **params: Any) -> Iterator[tuple[Path, dict[str, Any], bytes | None]]:
        """Infer many files with ``concurrency`` requests in flight; yields in input order."""
        self.task_of(model_id)
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            futures = [pool.submit(self.infer_json, path, model_id, visualize, **params) for path in paths]
            for path, future in zip(paths, futures):
                body = future.result()
                picture = base64.b64decode(body.pop("visualization")) if visualize and "visualization" in body \
                    else None
                yield path, body, picture


class AsyncClient(_Base):
    """Asynchronous client (same methods, awaitable)."""

    def __init__(self, api_url: str = DEFAULT_URL, api_key: str | None = None, timeout: float = 60.0) -> None:
        super().__init__(api_url, api_key)
        self._http = httpx.AsyncClient(base_url=self.api_url, timeout=timeout, headers=self._headers())

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._http.request(method, path, **kwargs)
        raise_for_error(response)
        return response.json()

    async def server_info(self) -> dict[str, Any]:
        """``GET /info``."""
        return dict(await self._json("GET", "/info"))

    async def list_models(self) -> dict[str, Any]:
        """``GET /model/registry``."""
        return dict(await self._json("GET", "/model/registry"))

    async def load_model(self, model_id: str) -> dict[str, Any]:
        """``POST /model/add``."""
        return dict(await self._json("POST", "/model/add", json={"model_id": model_id}))

    async def unload_model(self, model_id: str) -> dict[str, Any]:
        """``POST /model/remove``."""
        self._tasks.pop(model_id, None)
        return dict(await self._json("POST", "/model/remove", json={"model_id": model_id}))

    async def task_of(self, model_id: str) -> str:
        """The model's task (loading it on the server if needed); cached."""
        if model_id not in self._tasks:
            task = self._task_from_registry(await self.list_models(), model_id) or self._task_from_registry(
                await self.load_model(model_id), model_id)
            if task is None:
                raise ModelNotFoundError(f"the server did not report model '{model_id}' after loading it")
            self._tasks[model_id] = task
        return self._tasks[model_id]

    async def infer_json(self, image: Any, model_id: str, visualize: bool = False, **params: Any) -> Any:
        """Response JSON for one image (or a list of images → list)."""
        images = list(image) if isinstance(image, list) else [image]
        route = _ROUTES[await self.task_of(model_id)]
        return await self._json("POST", f"/infer/{route}", json=self._payload(model_id, images, visualize, params))

    async def infer(self, image: Any, model_id: str, **params: Any) -> Result | list[Result]:
        """Typed result(s)."""
        body = await self.infer_json(image, model_id, **params)
        task = await self.task_of(model_id)
        if isinstance(body, list):
            return [result_from_json(b, task, model_id) for b in body]
        return result_from_json(body, task, model_id)

    async def ocr(self, image: Any, version: str | None = None, model_id: str | None = None) -> Any:
        """``/ocr/pp-ocr``: the text of an image (a list of images gives a list); ``version`` is ``det-rec``."""
        return await self._json("POST", "/ocr/pp-ocr", json=self._ocr_payload(image, version, model_id))

    async def depth(self, image: Any, model_id: str | None = None) -> np.ndarray | list[np.ndarray]:
        """Relative depth in [0, 1] (1 nearest) at the image's size; a list of images gives a list."""
        body = await self._json("POST", "/infer/depth-estimation", json=self._depth_payload(image, model_id))
        return _depth_maps(body)

    async def clip_embed_images(self, images: list[Any], model_id: str | None = None) -> np.ndarray:
        """Normalised CLIP embeddings of images, ``(N, D)``."""
        body = await self._json("POST", "/clip/embed_image", json=self._embed_payload("image", images, model_id))
        return np.array(body["embeddings"], np.float32)

    async def clip_embed_texts(self, texts: list[str], model_id: str | None = None) -> np.ndarray:
        """Normalised CLIP embeddings of prompts, ``(N, D)``."""
        body = await self._json("POST", "/clip/embed_text", json=self._embed_payload("text", texts, model_id))
        return np.array(body["embeddings"], np.float32)

    async def clip_compare(self, subject: Any, prompts: list[Any] | dict[str, Any], subject_type: str = "image",
                     prompt_type: str = "text", model_id: str | None = None) -> list[float] | dict[str, float]:
        """Cosine similarity of ``subject`` to each prompt (named prompts give a dict)."""
        payload = self._compare_payload(subject, prompts, subject_type, prompt_type, model_id)
        return (await self._json("POST", "/clip/compare", json=payload))["similarity"]  # type: ignore[no-any-return]
