"""Test videos with objects of known motion, and a real RTSP server to stream them.

``moving_square`` draws a white square on black that moves ``speed`` px right per frame, so each
frame's content says which frame it is (:func:`square_x`). The RTSP server is aio-rtsp-toolkit's
(pure Python, pip-installable, serves H.264 files over RTSP/TCP), run as a child process.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Self

import av
import numpy as np

SQUARE = 20
SQUARE_TOP = 40


def moving_square(count: int, width: int = 160, height: int = 120, speed: int = 3, start: int = 0
                  ) -> list[np.ndarray]:
    """``count`` BGR frames; in frame ``i`` (0-based) the square's left edge is at ``start + i * speed``."""
    frames = []
    for i in range(count):
        image = np.zeros((height, width, 3), np.uint8)
        left = start + i * speed
        image[SQUARE_TOP:SQUARE_TOP + SQUARE, left:left + SQUARE] = 255
        frames.append(image)
    return frames


def square_x(image: np.ndarray) -> float:
    """Left edge of the bright square (centroid of bright pixels minus half the side)."""
    columns = np.nonzero(image.mean(axis=2) > 128)[1]
    return float(columns.mean()) - (SQUARE - 1) / 2 if columns.size else float("nan")


def write_video(path: Path, frames: Iterable[np.ndarray], fps: int = 10, codec: str = "libx264") -> Path:
    """Encode frames with PyAV (H.264, every frame a keyframe-friendly low-latency GOP)."""
    frames = list(frames)
    container = av.open(str(path), mode="w")
    stream = container.add_stream(codec, rate=fps)
    stream.height, stream.width = frames[0].shape[:2]
    stream.pix_fmt = "yuv420p"
    if codec == "libx264":
        stream.options = {"crf": "10", "g": str(fps), "bf": "0", "tune": "zerolatency"}
    for image in frames:
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def count_frames(path: Path) -> int:
    """Frames in a video file, by decoding all of them."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_SERVE = ("import asyncio, sys; import aio_rtsp_toolkit.server as s; "
          "asyncio.run(s.serve(sys.argv[1], host='127.0.0.1', port=int(sys.argv[2])))")


class RtspServer:
    """aio-rtsp-toolkit's RTSP server over ``directory`` on ``port``, in a child process."""

    def __init__(self, directory: Path, port: int | None = None, log: Path | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.log = log or directory / f"rtsp-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, name: str, loop: bool = True) -> str:
        """The stream of file ``name`` (looping forever with ``play_count=0``)."""
        return f"rtsp://127.0.0.1:{self.port}/{name}" + ("?play_count=0" if loop else "")

    def start(self, timeout: float = 20.0) -> Self:
        """Start and wait until the port accepts connections."""
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-c", _SERVE, str(self.directory), str(self.port)],
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the RTSP server exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the RTSP server did not listen on {self.port}: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """Kill the server (open sessions drop, as when a camera goes away)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
