"""``argus ocr`` / ``argus clip`` in-process and through a server, and the Python SDK's foundation methods."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from argus.cli.main import app
from argus.sdk import AsyncClient, Client
from argus.server.app import create_app
from argus.settings import Settings
from foundation_fixtures import FIXTURES, clip_expected, clip_image_paths
from servers import threaded_server
from text_images import render_lines

pytestmark = pytest.mark.slow
PROMPTS = [str(t) for t in clip_expected()["texts"]]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose store holds the tiny CLIP as the default clip/ViT-B-16 (OCR comes from the zoo)."""
    home = tmp_path_factory.mktemp("cli-home")
    result = CliRunner().invoke(app, ["models", "import", str(FIXTURES / "clip-optimum"), "--id", "clip/ViT-B-16"],
                                env={"ARGUS_HOME": str(home)})
    assert result.exit_code == 0, result.output
    assert "a clip bundle" in result.output
    return home


@pytest.fixture
def runner(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    from argus.settings import get_settings

    monkeypatch.setenv("ARGUS_HOME", str(home))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def text_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ocr") / "invoice.png"
    assert cv2.imwrite(str(path), render_lines(["Invoice 4471 due", "Total 93.50 EUR"]))
    return path


@pytest.fixture(scope="module")
def server_url(home: Path) -> Iterator[str]:
    with threaded_server(create_app(Settings(home=home))) as url:
        yield url


def test_ocr_prints_the_text(runner: CliRunner, text_png: Path) -> None:
    result = runner.invoke(app, ["ocr", str(text_png)])
    assert result.exit_code == 0, result.output
    assert "Invoice 4471 due\nTotal 93.50 EUR" in result.output


def test_ocr_json_through_a_server(runner: CliRunner, text_png: Path, server_url: str) -> None:
    result = runner.invoke(app, ["ocr", str(text_png), "--json", "--version", "tiny", "--api-url", server_url])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["result"] == "Invoice 4471 due\nTotal 93.50 EUR" and len(body["predictions"]) == 2


@pytest.mark.parametrize("remote", [False, True])
def test_clip_compare_ranks_the_prompts_by_transformers_similarity(runner: CliRunner, server_url: str,
                                                                   remote: bool) -> None:
    args = ["clip", "compare", str(clip_image_paths()[0]), *[a for p in PROMPTS[:3] for a in ("-p", p)]]
    result = runner.invoke(app, args + (["--api-url", server_url] if remote else []))
    assert result.exit_code == 0, result.output
    expected = clip_expected()["similarity"][0, :3]
    lines = [line.split("  ", 1) for line in result.output.strip().splitlines()]
    assert [text for _, text in lines] == [PROMPTS[i] for i in np.argsort(-expected)]
    np.testing.assert_allclose([float(score) for score, _ in lines], np.sort(expected)[::-1], atol=1e-4)


def test_clip_embed_prints_one_json_line_per_input(runner: CliRunner) -> None:
    result = runner.invoke(app, ["clip", "embed", str(clip_image_paths()[1]), "-t", PROMPTS[0]])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.strip().splitlines()]
    np.testing.assert_allclose(rows[0]["embedding"], clip_expected()["image_embeds"][1], atol=1e-4)
    np.testing.assert_allclose(rows[1]["embedding"], clip_expected()["text_embeds"][0], atol=1e-4)


def test_an_unknown_clip_model_is_a_red_message(runner: CliRunner) -> None:
    result = runner.invoke(app, ["clip", "compare", str(clip_image_paths()[0]), "-p", "x", "-m", "clip/none"])
    assert result.exit_code == 1 and "clip/ViT-B-16" in result.output


def test_sdk_clients(server_url: str, text_png: Path) -> None:
    expected = clip_expected()
    with Client(server_url) as client:
        assert client.ocr(text_png)["result"] == "Invoice 4471 due\nTotal 93.50 EUR"
        np.testing.assert_allclose(client.clip_embed_images(clip_image_paths()), expected["image_embeds"], atol=1e-4)
        np.testing.assert_allclose(client.clip_embed_texts(PROMPTS), expected["text_embeds"], atol=1e-4)
        named = client.clip_compare(clip_image_paths()[2], {"car": PROMPTS[2]})
        assert named == {"car": pytest.approx(float(expected["similarity"][2, 2]), abs=1e-4)}

    async def run_async() -> list[float] | dict[str, float]:
        async with AsyncClient(server_url) as client:
            return await client.clip_compare(PROMPTS[3], clip_image_paths(), subject_type="text",
                                             prompt_type="image")

    import asyncio

    np.testing.assert_allclose(asyncio.run(run_async()), expected["similarity"][:, 3], atol=1e-4)


@pytest.mark.parametrize("remote", [False, True])
def test_depth_writes_a_16_bit_map(runner: CliRunner, home: Path, server_url: str, tmp_path: Path,
                                   remote: bool) -> None:
    from argus.store.importers import import_model
    from argus.store.repository import ModelRepository

    repository = ModelRepository(home / "models")
    if not repository.is_bundle("depth/tiny"):
        import_model(FIXTURES / "dpt-optimum", "depth/tiny", repository)
    out = tmp_path / "depth.png"
    args = ["depth", str(clip_image_paths()[0]), "-o", str(out), "-m", "depth/tiny"]
    result = runner.invoke(app, args + (["--api-url", server_url] if remote else []))
    assert result.exit_code == 0, result.output
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16
    with np.load(FIXTURES / "dpt-optimum-expected" / "expected.npz") as expected:
        np.testing.assert_allclose(written / 65535.0, expected["depth0"], atol=1e-4)
