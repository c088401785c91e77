# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""QR Code Generator: a QR code image of a text (the ``qrcode`` package, 10-pixel modules), as the reference."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import numpy as np
from pydantic import Field

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.blocks.visualization.common import str_to_color
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import IMAGE_KIND, INTEGER_KIND, STRING_KIND

ERROR_CORRECTION = {"Low (~7% word recovery / highest data capacity)": "L", "Medium (~15% word recovery)": "M",
                    "Quartile (~25% word recovery)": "Q", "High (~30% word recovery / lowest data capacity)": "H"}
MAX_BORDER = 100


class QRCodeGeneratorManifest(BlockManifest):
    model_config = block_config(name="QR Code Generator", category="transformation",
                                description="Generate a QR code image from text.")
    type: Literal["roboflow_core/qr_code_generator@v1", "QRCodeGenerator"]
    text: str | Selector(kind=[STRING_KIND])
    error_correct: Literal[tuple(ERROR_CORRECTION)] = "Medium (~15% word recovery)"  # type: ignore[valid-type]
    border: int | Selector(kind=[INTEGER_KIND]) = Field(default=4)
    fill_color: str | Selector(kind=[STRING_KIND]) = "BLACK"
    back_color: str | Selector(kind=[STRING_KIND]) = "WHITE"

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="qr_code", kind=[IMAGE_KIND])]


class QRCodeGeneratorBlockV1(Block):
    manifest_class = QRCodeGeneratorManifest

    def run(self, text: Any, error_correct: str = "Medium (~15% word recovery)", border: int = 4,
            fill_color: str = "BLACK", back_color: str = "WHITE") -> dict[str, Any]:
        import qrcode
        from qrcode.exceptions import DataOverflowError

        if not isinstance(border, int) or isinstance(border, bool) or not 0 <= border <= MAX_BORDER:
            raise InvalidInputError(f"'border' must be an integer from 0 to {MAX_BORDER}, not {border!r}")
        level = getattr(qrcode.constants, f"ERROR_CORRECT_{ERROR_CORRECTION.get(error_correct, 'M')}")
        code = qrcode.QRCode(version=None, error_correction=level, box_size=10, border=border)
        code.add_data(str(text))
        try:
            code.make(fit=True)
        except (DataOverflowError, ValueError):  # fit=True asks for a version above 40 when it cannot fit
            raise InvalidInputError(f"the text ({len(str(text))} characters) is too long for a QR code at this "
                                    "error correction level") from None
        picture = code.make_image(fill_color=str_to_color(fill_color).as_rgb(),
                                  back_color=str_to_color(back_color).as_rgb()).convert("RGB")
        pixels = np.ascontiguousarray(np.array(picture)[:, :, ::-1])
        return {"qr_code": WorkflowImageData.root(pixels, f"qr_code.{uuid.uuid4()}")}
