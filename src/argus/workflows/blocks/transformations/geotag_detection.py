# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""GeoTag Detection: each detection's GPS position, from a nadir camera's position, altitude, field of view and
heading (flat ground, pinhole camera), as a list and as GeoJSON, as the reference computes it."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import supervision as sv

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import CLASS_NAME_KEY, WorkflowImageData
from argus.workflows.kinds import BOX_DETECTION_KINDS, DICTIONARY_KIND, FLOAT_KIND, IMAGE_KIND, LIST_OF_VALUES_KIND

METERS_PER_DEG_LAT = 111_320.0


class GeoTagDetectionManifest(BlockManifest):
    model_config = block_config(name="GeoTag Detection", category="transformation",
                                description="GPS positions of detections seen by a downward-looking camera.")
    type: Literal["roboflow_core/geotag_detection@v1"]
    image: Selector(kind=[IMAGE_KIND])
    predictions: Selector(kind=list(BOX_DETECTION_KINDS))
    latitude: Selector(kind=[FLOAT_KIND]) | float
    longitude: Selector(kind=[FLOAT_KIND]) | float
    altitude: Selector(kind=[FLOAT_KIND]) | float
    horizontal_fov: Selector(kind=[FLOAT_KIND]) | float = 73.7
    heading: Selector(kind=[FLOAT_KIND]) | float = 0.0

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="geo_detections", kind=[LIST_OF_VALUES_KIND]),
                OutputDefinition(name="geojson", kind=[DICTIONARY_KIND])]


def pixel_to_gps(x: float, y: float, width: int, height: int, latitude: float, longitude: float, altitude: float,
                 fov: float, heading: float) -> tuple[float, float]:
    """The ground point under pixel (x, y): similar triangles in the image's axes, rotated by the heading."""
    if altitude <= 0:
        return latitude, longitude
    ground_width = 2 * altitude * math.tan(math.radians(fov) / 2)
    ground_height = ground_width * (height / width)
    right = (x - width / 2) / width * ground_width
    up = -(y - height / 2) / height * ground_height
    psi = math.radians(heading)
    east = right * math.cos(psi) + up * math.sin(psi)
    north = -right * math.sin(psi) + up * math.cos(psi)
    return (latitude + north / METERS_PER_DEG_LAT,
            longitude + east / (METERS_PER_DEG_LAT * math.cos(math.radians(latitude))))


class GeoTagDetectionBlockV1(Block):
    manifest_class = GeoTagDetectionManifest

    def run(self, image: WorkflowImageData, predictions: sv.Detections, latitude: float, longitude: float,
            altitude: float, horizontal_fov: float = 73.7, heading: float = 0.0) -> dict[str, Any]:
        values = (latitude, longitude, altitude, horizontal_fov, heading)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values) or not -90 < latitude < 90 \
                or not 0 < horizontal_fov < 180:
            raise InvalidInputError("latitude (-90..90), longitude, altitude, horizontal_fov (0..180) and heading "
                                    "must be finite numbers")
        height, width = image.numpy_image.shape[:2]
        names = predictions.data.get(CLASS_NAME_KEY, np.array([]))
        confidences = predictions.confidence if predictions.confidence is not None else np.zeros(len(predictions))
        records, features = [], []
        for i, (x1, y1, x2, y2) in enumerate(predictions.xyxy):
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            lat, lon = pixel_to_gps(cx, cy, width, height, latitude, longitude, altitude, horizontal_fov, heading)
            record = {"class": str(names[i]) if i < len(names) else "unknown",
                      "confidence": round(float(confidences[i]), 4), "lat": round(lat, 7), "lon": round(lon, 7),
                      "pixel_x": round(float(cx), 1), "pixel_y": round(float(cy), 1),
                      "width": round(float(x2 - x1), 1), "height": round(float(y2 - y1), 1)}
            records.append(record)
            features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [record["lon"],
                                                                                             record["lat"]]},
                             "properties": {"class": record["class"], "confidence": record["confidence"]}})
        return {"geo_detections": records, "geojson": {"type": "FeatureCollection", "features": features}}
