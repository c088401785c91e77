"""The web console in a real browser: Debian's Chromium driven by Playwright, against a live server with API keys.

Every page must load with no console error and no request outside the server. The playground must draw the
server's own detections: the drawn boxes are counted, and the canvas pixels are compared with the photo. The
key must be entered once. Screenshots of each page go to ``build/screenshots`` (or ``$ARGUS_SCREENSHOTS``),
which is not committed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, Page, Request, sync_playwright

KEY = "console-key-1"
DETECTOR_ALIAS = "yolov3-tiny-416"  # in the live servers' store (conftest.py)
SCREENSHOTS = Path(os.environ.get("ARGUS_SCREENSHOTS", Path(__file__).parents[2] / "build" / "screenshots"))
VIEWPORTS = {"desktop": {"width": 1280, "height": 720}, "phone": {"width": 390, "height": 844}}
PAGES = {"overview": "#version-panel", "models": "#zoo-table", "playground": "#model option", "workflows": "#workflow-graph",
         "video": "#video-form",
         "endpoints": "#endpoint-form"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, "the console tests need Debian's chromium (apt-get install chromium; .ci/run installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A media folder with a 40-frame clip of the photo collage panning."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "streams"))
    from stream_videos import write_video

    from photos import collage

    folder = tmp_path_factory.mktemp("console-media")
    base = cv2.resize(collage(), (640, 360), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(40):
        canvas = np.full((400, 800, 3), 127, np.uint8)
        canvas[20:380, 8 + i * 3:8 + i * 3 + 640] = base
        frames.append(canvas)
    write_video(folder / "pan.mp4", frames)
    return folder


@pytest.fixture(scope="module")
def server(launch_server, media: Path) -> Any:
    return launch_server({"ARGUS_API_KEYS": KEY, "ARGUS_ENABLE_STREAM_API": "true", "ARGUS_MEDIA_DIR": str(media)},
                         name="console")


class Console:
    """A page on the console that records console errors and every request that leaves the server."""

    def __init__(self, page: Page, server: Any) -> None:
        self.page = page
        self.server = server
        self.errors: list[str] = []
        self.expected: list[str] = []
        """Error texts a test provokes on purpose (the browser logs every 4xx fetch)."""
        self.outside: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", self._request)

    def _request(self, request: Request) -> None:
        if not request.url.startswith((self.server.url + "/", "data:", "blob:")):
            self.outside.append(request.url)

    def open(self, page: str, ready: str) -> None:
        self.page.goto(f"{self.server.url}/#/{page}")
        self.page.wait_for_selector(ready, state="attached")

    def enter_key(self, key: str = KEY) -> None:
        self.page.fill("#api-key", key)
        self.page.click("#key-form button[type=submit]")

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def console(browser: Browser, server: Any) -> Iterator[Console]:
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = Console(context.new_page(), server)
    page.page.goto(server.url + "/")
    page.page.wait_for_selector("#version-panel")
    page.enter_key()
    page.page.wait_for_selector("#health-panel >> text=healthy")
    page.errors.clear()  # the 401s of the first render, before the key was entered
    yield page
    context.close()
    unexpected = [error for error in page.errors if not any(text in error for text in page.expected)]
    assert (unexpected, page.outside) == ([], [])


def _client(server: Any) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60, trust_env=False)


def test_every_page_loads_offline_without_errors_at_desktop_and_phone_width(console: Console) -> None:
    for viewport, size in VIEWPORTS.items():
        console.page.set_viewport_size(size)
        for page, ready in PAGES.items():
            console.open(page, ready)
            console.screenshot(f"{page}-{viewport}")
    console.open("overview", "#version-panel")
    console.page.wait_for_selector("#version-panel >> text=Argus Inference Server")
    assert console.page.inner_text("#health-panel").startswith("Health\nhealthy")
    # The API docs are package assets too: they render with no request leaving the server.
    console.page.goto(f"{console.server.url}/docs")
    console.page.wait_for_selector(".swagger-ui .information-container")
    console.screenshot("docs")
    console.page.goto(f"{console.server.url}/redoc")
    console.page.wait_for_selector("redoc [role=navigation], .api-content", state="attached")
    console.screenshot("redoc")


def test_without_the_key_the_console_says_what_to_do(browser: Browser, server: Any) -> None:
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    page.goto(f"{server.url}/#/models")
    page.wait_for_selector(".empty >> text=Enter the API key")
    context.close()


def test_the_key_is_kept_for_the_tab_and_never_put_in_a_url(console: Console) -> None:
    urls: list[str] = []
    console.page.on("request", lambda request: urls.append(request.url))
    console.open("models", "#zoo-table")
    console.page.reload()
    console.page.wait_for_selector("#zoo-table")  # still authorised after a reload: sessionStorage
    assert urls and not any(KEY in url for url in urls)


def test_the_playground_draws_the_servers_detections_on_the_photo(console: Console, collage_jpg: Path) -> None:
    with _client(console.server) as client:
        expected = client.post("/infer/object_detection", json={
            "model_id": DETECTOR_ALIAS, "confidence": 0.4, "iou_threshold": 0.5,
            "image": {"type": "base64", "value": __import__("base64").b64encode(collage_jpg.read_bytes()).decode()},
        }).json()["predictions"]
    assert expected, "the oracle found nothing to draw"
    console.open("playground", "#model option")
    console.page.select_option("#model", DETECTOR_ALIAS)
    console.page.set_input_files("#image-file", str(collage_jpg))
    console.page.click("#run:not([disabled])")
    console.page.wait_for_selector("#drawing[data-boxes]", state="attached")
    assert int(console.page.get_attribute("#drawing", "data-boxes") or -1) == len(expected)
    assert console.page.inner_text("#answer").count('"detection_id"') == len(expected)
    console.screenshot("playground-result")

    # The pixels: the canvas as displayed, against the photo scaled the same way.
    shot = cv2.imdecode(np.frombuffer(console.page.locator("#drawing").screenshot(), np.uint8), cv2.IMREAD_COLOR)
    photo = cv2.imread(str(collage_jpg))
    scale = shot.shape[1] / photo.shape[1]
    photo = cv2.resize(photo, (shot.shape[1], shot.shape[0]), interpolation=cv2.INTER_AREA)
    changed = np.abs(shot.astype(int) - photo.astype(int)).max(axis=2) > 60

    def near(x: float, y: float) -> bool:
        cx, cy = round(x * scale), round(y * scale)
        return bool(changed[max(cy - 2, 0):cy + 3, max(cx - 2, 0):cx + 3].any())

    for p in expected:  # every box's left and bottom edges are drawn
        assert near(p["x"] - p["width"] / 2, p["y"]), p
        assert near(p["x"], p["y"] + p["height"] / 2), p
    away = [(x, y) for x in range(20, photo.shape[1], 40) for y in range(20, photo.shape[0], 40)
            if all(abs(x / scale - p["x"]) > p["width"] / 2 + 12 / scale or abs(y / scale - p["y"]) > p["height"] / 2 + 40
                   for p in expected)]
    assert away and sum(near(x / scale, y / scale) for x, y in away) <= len(away) // 20  # the rest is the photo


def test_models_are_loaded_and_unloaded_from_the_models_page(console: Console) -> None:
    with _client(console.server) as client:
        client.post("/model/clear")
        console.open("models", "#store-table")
        row = f"#store-table tr[data-model='{_detector_store_id(client)}']"
        console.page.click(f"{row} >> text=Load")
        console.page.wait_for_selector(f"{row} >> text=loaded")
        assert _detector_store_id(client) in [m["model_id"] for m in client.get("/model/registry").json()["models"]]
        console.page.click(f"{row} button.link")  # the model's id opens its manifest
        console.page.wait_for_selector("#manifest >> text=yolov5")
        console.page.click(f"{row} >> text=Unload")
        console.page.wait_for_selector(f"{row} >> text=on disk")
        assert client.get("/model/registry").json()["models"] == []
    console.screenshot("models-manifest")


def _detector_store_id(client: httpx.Client) -> str:
    return next(m["model_id"] for m in client.get("/models/zoo").json()["models"] if m["alias"] == DETECTOR_ALIAS)


def test_an_endpoint_is_created_paused_and_deleted_through_the_forms(console: Console) -> None:
    console.page.on("dialog", lambda dialog: dialog.accept())  # "Delete people?"
    with _client(console.server) as client:
        store_id = _detector_store_id(client)
        console.open("endpoints", "#endpoint-form")
        console.page.fill("#ep-name", "people")
        console.page.select_option("#ep-model", store_id)
        console.page.select_option("#ep-type", "private")
        console.page.fill("#ep-min", "0")
        console.page.fill("#ep-max", "2")
        console.page.fill("#ep-env", "GREETING=hello")
        console.page.click("#endpoint-form button[type=submit]")
        console.page.wait_for_selector("#endpoint-table tr[data-endpoint='people']")
        created = client.get("/v2/endpoint/default/people").json()
        assert (created["model"]["repository"], created["type"], created["model"]["env"]) == (
            store_id, "private", {"GREETING": "hello"})
        assert (created["compute"]["scaling"]["minReplica"], created["compute"]["scaling"]["maxReplica"]) == (0, 2)
        console.screenshot("endpoints-desktop")

        console.page.click("#endpoint-table tr[data-endpoint='people'] >> text=Pause")
        console.page.wait_for_selector("#endpoint-table tr[data-endpoint='people'] >> text=Resume")
        assert client.get("/v2/endpoint/default/people").json()["status"]["state"] == "paused"
        console.page.click("#key-create button[type=submit]")
        console.page.wait_for_selector("#key-secret code")
        secret = console.page.inner_text("#key-secret code")
        assert client.get("/v2/endpoint-keys/default").json()["items"][0]["prefix"] in secret  # shown once, whole
        console.page.click("#endpoint-table tr[data-endpoint='people'] >> text=Delete")
        console.page.wait_for_selector("#endpoint-table tr[data-endpoint='people']", state="detached")
        assert client.get("/v2/endpoint/default/people").status_code == 404
        actions = [entry["action"] for entry in client.get("/v2/endpoint-audit/default").json()["items"]]
        assert {"endpoint.create", "endpoint.pause", "endpoint.delete"} <= set(actions), actions


def _workflow(**model_fields: Any) -> dict[str, Any]:
    return {"version": "1.0", "inputs": [{"type": "WorkflowImage", "name": "image"}],
            "steps": [{"type": "roboflow_core/roboflow_object_detection_model@v2", "name": "model",
                       "images": "$inputs.image", "model_id": DETECTOR_ALIAS, **model_fields},
                      {"type": "roboflow_core/bounding_box_visualization@v1", "name": "boxes",
                       "image": "$inputs.image", "predictions": "$steps.model.predictions"}],
            "outputs": [{"type": "JsonField", "name": "predictions", "selector": "$steps.model.predictions"},
                        {"type": "JsonField", "name": "annotated", "selector": "$steps.boxes.image"}]}


def test_a_compile_error_is_shown_at_the_step_and_field_it_names(console: Console) -> None:
    console.expected.append("status of 400")  # the compiler's answer
    console.open("workflows", "#workflow-graph")
    console.page.fill("#workflow-editor", __import__("json").dumps(_workflow(confidence="$inputs.nothing")))
    console.page.click("#wf-validate")
    error = console.page.wait_for_selector("#workflow-errors li[data-step='model']")
    assert "field confidence" in error.inner_text() and "nothing" in error.inner_text()
    console.page.wait_for_selector("#workflow-graph g.error[data-step='model']", state="attached")
    assert console.page.query_selector("#workflow-graph g.error[data-step='boxes']") is None  # only the named step
    console.screenshot("workflows-error")


def test_a_workflow_runs_on_an_uploaded_image_and_is_saved(console: Console, collage_jpg: Path) -> None:
    console.open("workflows", "#workflow-graph")
    console.page.fill("#workflow-editor", __import__("json").dumps(_workflow()))
    console.page.set_input_files("#wf-image", str(collage_jpg))
    console.page.click("#wf-run")
    console.page.wait_for_selector("#workflow-outputs [data-output='annotated'] img")
    assert '"class"' in console.page.inner_text("#workflow-outputs [data-output='predictions'] pre")
    console.screenshot("workflows-run")
    console.page.fill("#wf-id", "people-boxes")
    console.page.click("#wf-save")
    console.page.wait_for_selector("#saved-workflows option[value='local/people-boxes']", state="attached")
    with _client(console.server) as client:
        saved = client.get("/workflows/store/local/people-boxes").json()["specification"]
    assert saved == _workflow()


def test_a_video_pipeline_is_started_previewed_and_terminated(console: Console, media: Path) -> None:
    console.open("video", "#video-form")
    console.page.fill("#video-source", str(media / "pan.mp4"))
    console.page.select_option("#video-model", DETECTOR_ALIAS)
    console.page.fill("#video-fps", "20")
    console.page.click("#video-form button[type=submit]")
    console.page.wait_for_selector("#video-preview img")
    assert "detections in the latest frame" in console.page.inner_text("#video-preview")
    console.screenshot("video-preview")
    with _client(console.server) as client:
        (pipeline_id,) = client.get("/inference_pipelines/list").json()["pipelines"]
        console.page.click(f"#pipelines tr[data-pipeline='{pipeline_id}'] >> text=terminate")
        console.page.wait_for_selector("#pipelines >> text=No pipelines running.")
        assert client.get("/inference_pipelines/list").json()["pipelines"] == []


def test_the_video_page_says_when_the_stream_api_is_off(browser: Browser, live_server: Any) -> None:
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    page.goto(f"{live_server.url}/#/video")
    assert "ARGUS_ENABLE_STREAM_API=true" in page.wait_for_selector("#video-off").inner_text()
    context.close()


def test_the_pages_are_reachable_from_the_keyboard(console: Console) -> None:
    console.open("overview", "#version-panel")
    console.page.focus(".brand")  # the first link; the pages follow in order
    reached = []
    for _ in range(8):
        console.page.keyboard.press("Tab")
        reached.append(console.page.locator(":focus").get_attribute("href"))
    assert reached[:7] == ["#/overview", "#/models", "#/playground", "#/workflows", "#/video", "#/endpoints",
                           "/docs"], reached
    assert console.page.locator(":focus").get_attribute("id") == "api-key"  # then the key field
    for _ in range(4):
        console.page.keyboard.press("Shift+Tab")  # back over API docs, Endpoints and Video to Workflows
    console.page.keyboard.press("Enter")
    console.page.wait_for_selector("#workflow-graph")
