# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Barcode and QR code detection: zxing-cpp reads barcodes, OpenCV's QRCodeDetector reads QR codes.

Each code is a detection with confidence 1 and its text in ``data``, as the reference gives them. An image with no
QR code answers no detections (the reference's block fails on it: OpenCV returns no points to iterate).
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
import supervision as sv
from pydantic import AliasChoices, Field

from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import CLASS_NAME_KEY, PREDICTION_TYPE_KEY, WorkflowImageData, attach_lineage
from argus.workflows.kinds import BAR_CODE_DETECTION_KIND, IMAGE_KIND, QR_CODE_DETECTION_KIND

ImagesField = Field(validation_alias=AliasChoices("images", "image"), description="The image to read codes in")


def code_detections(image: WorkflowImageData, boxes: list[list[float]], texts: list[str], class_name: str,
                    prediction_type: str) -> sv.Detections:
    """One detection per code read, with its text under ``data``."""
    n = len(boxes)
    detections = sv.Detections(xyxy=np.array(boxes, dtype=float).reshape(n, 4), confidence=np.ones(n),
                               class_id=np.zeros(n, dtype=int), data={CLASS_NAME_KEY: np.array([class_name] * n)})
    attach_lineage(detections, image)
    detections.data[PREDICTION_TYPE_KEY] = np.array([prediction_type] * n)
    detections.data["data"] = np.array(texts, dtype=object if not texts else None)
    return detections


class BarcodeDetectorManifest(BlockManifest):
    model_config = block_config(name="Barcode Detection", category="model",
                                description="Detect and read barcodes (zxing-cpp).")
    type: Literal["roboflow_core/barcode_detector@v1", "BarcodeDetector", "BarcodeDetection"]
    images: Selector(kind=[IMAGE_KIND]) = ImagesField

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="predictions", kind=[BAR_CODE_DETECTION_KIND])]


class BarcodeDetectorBlockV1(Block):
    manifest_class = BarcodeDetectorManifest

    def run(self, images: WorkflowImageData) -> dict[str, Any]:
        import zxingcpp

        codes = zxingcpp.read_barcodes(images.numpy_image)
        boxes = [[c.position.top_left.x, c.position.top_left.y, c.position.bottom_right.x, c.position.bottom_right.y]
                 for c in codes]
        return {"predictions": code_detections(images, boxes, [c.text for c in codes], "barcode",
                                               "barcode-detection")}


class QRCodeDetectorManifest(BlockManifest):
    model_config = block_config(name="QR Code Detection", category="model",
                                description="Detect and read QR codes (OpenCV).")
    type: Literal["roboflow_core/qr_code_detector@v1", "QRCodeDetector", "QRCodeDetection"]
    images: Selector(kind=[IMAGE_KIND]) = ImagesField

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="predictions", kind=[QR_CODE_DETECTION_KIND])]


class QRCodeDetectorBlockV1(Block):
    manifest_class = QRCodeDetectorManifest

    def run(self, images: WorkflowImageData) -> dict[str, Any]:
        _, texts, corners, _ = cv2.QRCodeDetector().detectAndDecodeMulti(images.numpy_image)
        boxes = []
        for points in corners if corners is not None else []:
            # the reference's box: from the first corner, as wide and high as the third corner is from it
            x, y = float(points[0][0]), float(points[0][1])
            boxes.append([x, y, float(points[2][0]), float(points[2][1])])
        texts = list(texts)[:len(boxes)] if corners is not None else []
        return {"predictions": code_detections(images, boxes, texts, "qr_code", "qrcode-detection")}
