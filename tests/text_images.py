"""Images of text rendered in the test with a real TrueType font (DejaVu Sans, shipped in matplotlib's wheel)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont


def font_path() -> Path:
    """DejaVu Sans from matplotlib's package data (matplotlib comes with supervision)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def render_lines(lines: list[str], size: int = 32, width: int = 900, angle: float = 0.0,
                 background: np.ndarray | None = None, origin: tuple[int, int] = (30, 20),
                 ink: str = "black") -> np.ndarray:
    """Black text lines (one per row, ``size`` px) on white or on a BGR photo; optionally rotated (degrees)."""
    font = ImageFont.truetype(str(font_path()), size)
    if background is None:
        canvas = Image.new("RGB", (width, len(lines) * size * 2 + 2 * origin[1]), "white")
    else:
        canvas = Image.fromarray(cv2.cvtColor(background, cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(canvas)
    for row, line in enumerate(lines):
        draw.text((origin[0], origin[1] + row * size * 2), line, fill=ink, font=font)
    if angle:
        canvas = canvas.rotate(angle, expand=True, fillcolor="white")
    return cv2.cvtColor(np.array(canvas), cv2.COLOR_RGB2BGR)


def columns(left: list[str], right: list[str], size: int = 28) -> np.ndarray:
    """Two columns of lines side by side (reading order: row by row, left before right)."""
    font = ImageFont.truetype(str(font_path()), size)
    rows = max(len(left), len(right))
    canvas = Image.new("RGB", (1000, rows * size * 2 + 40), "white")
    draw = ImageDraw.Draw(canvas)
    for row in range(rows):
        for x, lines in ((30, left), (560, right)):
            if row < len(lines):
                draw.text((x, 20 + row * size * 2), lines[row], fill="black", font=font)
    return cv2.cvtColor(np.array(canvas), cv2.COLOR_RGB2BGR)
