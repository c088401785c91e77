"""Darknet -> ONNX converter, checked element by element against OpenCV DNN.

OpenCV's Darknet importer is the oracle: its ``[yolo]`` outputs are rows in
``(grid_y, grid_x, anchor)`` order per head, ``[x, y, w, h]`` normalised to
``[0, 1]``, sigmoid objectness, then ``objectness * class_prob`` zeroed where
it is not above the layer threshold (0.2 unless the cfg sets ``thresh``).
Our ``output0`` has the same rows, boxes in input pixels and raw class
probabilities, so the tests rescale before comparing.
"""

from __future__ import annotations

import ast
import importlib.resources
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from argus.store.importers.darknet import DarknetConversion, convert_darknet

SIZE = 416
N_ROWS = 3 * (13 * 13 + 26 * 26)  # 2535 predictions for a 416x416 YOLOv3-tiny
YOLOV3_TINY_FLOATS = 8_858_734  # parameters of yolov3-tiny.weights after the header
OPENCV_YOLO_THRESH = 0.2  # OpenCV zeroes objectness*class scores at or below this
MAX_ABS_DIFF = 1e-3
PHOTOS = ("astronaut.png", "chelsea.png", "motorcycle_left.png")


def _photo(name: str) -> np.ndarray:
    """Load a scikit-image sample photo as BGR uint8, straight from the installed package."""
    try:
        resource = importlib.resources.files("skimage.data") / name
    except ModuleNotFoundError:
        pytest.skip("scikit-image is not installed")
    with importlib.resources.as_file(resource) as path:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, f"could not read {name}"
    return img


def _zoomed_out(img: np.ndarray, frac: float = 0.5) -> np.ndarray:
    """Shrink ``img`` so its long side is ``frac * SIZE`` and centre it on a grey SIZE x SIZE canvas."""
    h, w = img.shape[:2]
    s = frac * SIZE / max(h, w)
    small = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    canvas = np.full((SIZE, SIZE, 3), 127, np.uint8)
    y0, x0 = (SIZE - small.shape[0]) // 2, (SIZE - small.shape[1]) // 2
    canvas[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    return canvas


def _blob(img: np.ndarray) -> np.ndarray:
    """Stretch-resize to SIZE x SIZE, BGR -> RGB, scale to [0, 1], NCHW float32."""
    return cv2.dnn.blobFromImage(img, 1 / 255.0, (SIZE, SIZE), swapRB=True, crop=False)


def _framed(name: str, framing: str) -> np.ndarray:
    img = _photo(name)
    return img if framing == "stretch" else _zoomed_out(img)


def _opencv_rows(net: cv2.dnn.Net, blob: np.ndarray) -> np.ndarray:
    """Run OpenCV and stack its yolo-layer outputs head after head in network order."""
    names = sorted(net.getUnconnectedOutLayersNames(), key=net.getLayerId)
    net.setInput(blob)
    outs = net.forward(names)
    return np.concatenate([o.reshape(-1, o.shape[-1]) for o in outs])


def _run(session: ort.InferenceSession, blob: np.ndarray) -> np.ndarray:
    return session.run(["output0"], {"images": blob})[0]


def _compare_with_opencv(ours: np.ndarray, ref: np.ndarray, width: int, height: int) -> dict[str, float]:
    """Element-wise differences between our rows and OpenCV's; asserts OpenCV's zeroing is consistent."""
    assert ours.shape == ref.shape
    boxes = ours[:, :4] / np.array([width, height, width, height], np.float32)
    scores = ours[:, 4:5] * ours[:, 5:]
    kept = ref[:, 5:] != 0
    # Every score OpenCV zeroed must be one that was below its threshold for us too.
    assert scores[~kept].max(initial=0.0) <= OPENCV_YOLO_THRESH + MAX_ABS_DIFF
    return {
        "box": float(np.abs(boxes - ref[:, :4]).max()),
        "obj": float(np.abs(ours[:, 4] - ref[:, 4]).max()),
        "cls": float(np.abs(scores[kept] - ref[:, 5:][kept]).max(initial=0.0)),
        "n_cls": int(kept.sum()),
    }


@pytest.fixture(scope="module")
def converted(
    yolov3_tiny_darknet_files: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, DarknetConversion, list[str]]:
    cfg, weights, names_file = yolov3_tiny_darknet_files
    names = [n.strip() for n in names_file.read_text().splitlines() if n.strip()]
    out = tmp_path_factory.mktemp("darknet") / "yolov3-tiny.onnx"
    return out, convert_darknet(cfg, weights, out, class_names=names), names


@pytest.fixture(scope="module")
def session(converted: tuple[Path, DarknetConversion, list[str]]) -> ort.InferenceSession:
    return ort.InferenceSession(str(converted[0]), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def opencv_net(yolov3_tiny_darknet_files: tuple[Path, Path, Path]) -> cv2.dnn.Net:
    cfg, weights, _ = yolov3_tiny_darknet_files
    return cv2.dnn.readNetFromDarknet(str(cfg), str(weights))


def test_conversion_summary_and_model_interface(converted: tuple[Path, DarknetConversion, list[str]]) -> None:
    path, conversion, names = converted
    assert conversion == DarknetConversion(
        input_width=SIZE, input_height=SIZE, num_classes=80, num_anchors_total=N_ROWS
    )
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "images" and out.name == "output0"
    in_dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    out_dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    assert in_dims == ["batch", 3, SIZE, SIZE]
    assert out_dims == ["batch", N_ROWS, 85]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["task"] == "detect"
    assert meta["imgsz"] == "[416, 416]"
    assert meta["stride"] == "32"
    assert meta["argus_layout"] == "yolov5"
    assert ast.literal_eval(meta["names"]) == dict(enumerate(names))
    assert ast.literal_eval(meta["names"])[0] == "person"


@pytest.mark.parametrize("framing", ["stretch", "zoomed_out"])
@pytest.mark.parametrize("photo", PHOTOS)
def test_matches_opencv_dnn(
    photo: str, framing: str, session: ort.InferenceSession, opencv_net: cv2.dnn.Net
) -> None:
    blob = _blob(_framed(photo, framing))
    ours = _run(session, blob)[0]
    ref = _opencv_rows(opencv_net, blob)
    assert ours.shape == ref.shape == (N_ROWS, 85)
    diff = _compare_with_opencv(ours, ref, SIZE, SIZE)
    assert diff["box"] < MAX_ABS_DIFF and diff["obj"] < MAX_ABS_DIFF and diff["cls"] < MAX_ABS_DIFF, diff
    if framing == "zoomed_out":  # confident detections, so the class comparison is not vacuous
        assert diff["n_cls"] > 0


@pytest.mark.parametrize(
    ("photo", "expected"),
    [("astronaut.png", "person"), ("chelsea.png", "cat"), ("motorcycle_left.png", "motorbike")],
)
def test_top_detection_is_sensible(
    photo: str,
    expected: str,
    session: ort.InferenceSession,
    converted: tuple[Path, DarknetConversion, list[str]],
) -> None:
    """The best box names the photo's subject and sits on it.

    YOLOv3-tiny gives low objectness to subjects that fill the whole frame
    (stretched astronaut.png peaks at 0.24 "bottle", person 0.09 -- OpenCV
    agrees), so the photo is shown at half size on a grey canvas.
    """
    names = converted[2]
    rows = _run(session, _blob(_framed(photo, "zoomed_out")))[0]
    scores = rows[:, 4:5] * rows[:, 5:]
    best_row, best_cls = np.unravel_index(int(scores.argmax()), scores.shape)
    assert names[best_cls] == expected
    assert scores[best_row, best_cls] > 0.5
    cx, cy, w, h = rows[best_row, :4]
    assert SIZE / 4 < cx < 3 * SIZE / 4 and SIZE / 4 < cy < 3 * SIZE / 4  # the photo occupies the centre
    assert 0.15 * SIZE < max(w, h) < 0.75 * SIZE


def test_dynamic_batch_rows_match_single_images(session: ort.InferenceSession) -> None:
    blobs = [_blob(_framed("astronaut.png", "zoomed_out")), _blob(_framed("chelsea.png", "stretch"))]
    batched = _run(session, np.concatenate(blobs))
    assert batched.shape == (2, N_ROWS, 85)
    for i, blob in enumerate(blobs):
        np.testing.assert_allclose(batched[i], _run(session, blob)[0], rtol=1e-5, atol=1e-4)
    assert not np.allclose(batched[0], batched[1], atol=1e-2)


# A small network with random weights that exercises what yolov3-tiny does not:
# shortcut, mish/relu, maxpool size 5, grouped route, multi-input route with an
# absolute index, conv without BN, scale_x_y and a non-square input.
_SYNTHETIC_CFG = """
[net]
width=96
height=64
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[convolutional]
batch_normalize=1
filters=8
size=1
stride=1
pad=1
activation=mish

[shortcut]
from=-2
activation=linear

[maxpool]
size=2
stride=2

[maxpool]
size=2
stride=1

[maxpool]
size=5
stride=1

[route]
layers=-1,-3

[route]
layers=-1
groups=2
group_id=1

[convolutional]
batch_normalize=1
filters=32
size=3
stride=2
pad=1
activation=relu

[convolutional]
size=1
stride=1
pad=1
filters=21
activation=linear

[yolo]
mask=3,4,5
anchors=5,6, 9,12, 14,10, 20,24, 30,22, 40,44
classes=2
num=6
scale_x_y=1.05

[route]
layers=-3

[upsample]
stride=2

[route]
layers=-1, 6

[convolutional]
size=1
stride=1
pad=1
filters=21
activation=linear

[yolo]
mask=0,1,2
anchors=5,6, 9,12, 14,10, 20,24, 30,22, 40,44
classes=2
num=6
"""
# (in_channels, filters, size, batch_normalize) of each [convolutional], in order.
_SYNTHETIC_CONVS = [
    (3, 8, 3, True),
    (8, 8, 1, True),
    (8, 32, 3, True),
    (32, 21, 1, False),
    (48, 21, 1, False),
]


def _write_weights(path: Path, minor: int, rng: np.random.Generator) -> None:
    """Write random Darknet weights for _SYNTHETIC_CONVS with header version 0.<minor>."""
    seen = np.array([1234], np.int64 if minor >= 2 else np.int32)
    parts: list[np.ndarray] = []
    for in_c, filters, size, bn in _SYNTHETIC_CONVS:
        parts.append(rng.normal(0, 0.1, filters))  # biases (BN beta)
        if bn:
            gamma, var = rng.uniform(0.5, 1.5, filters), rng.uniform(0.5, 2.0, filters)
            parts += [gamma, rng.normal(0, 0.1, filters), var]  # scales, rolling mean, rolling variance
        parts.append(rng.normal(0, 1 / np.sqrt(in_c * size * size), filters * in_c * size * size))
    with path.open("wb") as f:
        f.write(np.array([0, minor, 0], np.int32).tobytes() + seen.tobytes())
        f.write(np.concatenate(parts).astype(np.float32).tobytes())


@pytest.mark.parametrize("minor", [1, 2], ids=["seen-int32", "seen-int64"])
def test_synthetic_network_matches_opencv(tmp_path: Path, minor: int) -> None:
    cfg, weights, out = tmp_path / "net.cfg", tmp_path / "net.weights", tmp_path / "net.onnx"
    cfg.write_text(_SYNTHETIC_CFG)
    rng = np.random.default_rng(minor)
    _write_weights(weights, minor, rng)
    conversion = convert_darknet(cfg, weights, out)
    assert conversion == DarknetConversion(96, 64, 2, 3 * (8 * 12 + 16 * 24))

    blob = rng.uniform(0, 1, (1, 3, 64, 96)).astype(np.float32)
    ours = _run(ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]), blob)[0]
    ref = _opencv_rows(cv2.dnn.readNetFromDarknet(str(cfg), str(weights)), blob)
    diff = _compare_with_opencv(ours, ref, 96, 64)
    assert diff["box"] < MAX_ABS_DIFF and diff["obj"] < MAX_ABS_DIFF and diff["cls"] < MAX_ABS_DIFF, diff
    assert diff["n_cls"] > 0


def test_unknown_section_is_rejected(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(
        "[net]\nwidth=32\nheight=32\n\n[convolutional]\nfilters=4\nsize=3\n\n[dropout]\nprobability=.5\n"
    )
    with pytest.raises(ValueError, match=r"bad\.cfg:9: unsupported Darknet section \[dropout\]"):
        convert_darknet(cfg, tmp_path / "unused.weights", tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


def test_route_to_a_later_layer_is_rejected(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.cfg"
    cfg.write_text("[net]\nwidth=32\nheight=32\n\n[route]\nlayers=0\n")
    with pytest.raises(ValueError, match=r"\[route\] at line 5: layer reference 0 is out of range"):
        convert_darknet(cfg, tmp_path / "unused.weights", tmp_path / "out.onnx")


def test_truncated_weights_are_rejected(
    yolov3_tiny_darknet_files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    cfg, weights, _ = yolov3_tiny_darknet_files
    truncated = tmp_path / "truncated.weights"
    with weights.open("rb") as f:
        truncated.write_bytes(f.read(20 + 4 * 250_000))  # header + the first 250k floats
    expected = rf"weights file .*truncated\.weights has 250000 floats, expected {YOLOV3_TINY_FLOATS}"
    with pytest.raises(ValueError, match=expected):
        convert_darknet(cfg, truncated, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


def test_class_names_must_match_class_count(
    yolov3_tiny_darknet_files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    cfg, weights, _ = yolov3_tiny_darknet_files
    with pytest.raises(ValueError, match="class_names has 2 entries but the model predicts 80 classes"):
        convert_darknet(cfg, weights, tmp_path / "out.onnx", class_names=["a", "b"])
