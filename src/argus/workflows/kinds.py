"""Kinds: the types of data that flow between workflow steps.

A kind is a name (the reference's names, so definitions and ``describe_interface`` answers match
Roboflow Inference) with a description. A selector field of a block manifest lists the kinds it
accepts; every block output and every workflow input declares the kinds it produces. The compiler
refuses a connection when the two lists share no kind (the wildcard ``*`` matches everything).

Example:
    >>> kinds_compatible([OBJECT_DETECTION_PREDICTION_KIND], [OBJECT_DETECTION_PREDICTION_KIND, IMAGE_KIND])
    True
    >>> kinds_compatible([IMAGE_KIND], [INTEGER_KIND])
    False
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One kind of data: ``name`` is the wire name, ``internal_type`` the Python type blocks see."""

    name: str
    description: str = ""
    internal_type: str = "Any"

    def describe(self) -> dict[str, str]:
        """As ``describe`` answers list it."""
        return {"name": self.name, "description": self.description, "docs": ""}


WILDCARD_KIND = Kind("*", "Equivalent of any element", "Any")
IMAGE_KIND = Kind("image", "Image in workflows", "WorkflowImageData")
VIDEO_METADATA_KIND = Kind("video_metadata", "Video image metadata", "VideoMetadata")
OBJECT_DETECTION_PREDICTION_KIND = Kind(
    "object_detection_prediction", "Prediction with detected bounding boxes in form of sv.Detections(...) object",
    "sv.Detections")
INSTANCE_SEGMENTATION_PREDICTION_KIND = Kind(
    "instance_segmentation_prediction", "Prediction with detected bounding boxes and segmentation masks in form "
    "of sv.Detections(...) object", "sv.Detections")
KEYPOINT_DETECTION_PREDICTION_KIND = Kind(
    "keypoint_detection_prediction", "Prediction with detected bounding boxes and detected keypoints in form of "
    "sv.Detections(...) object", "sv.Detections")
CLASSIFICATION_PREDICTION_KIND = Kind("classification_prediction", "Predictions from classifier", "dict")
STRING_KIND = Kind("string", "String value", "str")
INTEGER_KIND = Kind("integer", "Integer value", "int")
FLOAT_KIND = Kind("float", "Float value", "float")
FLOAT_ZERO_TO_ONE_KIND = Kind("float_zero_to_one", "`float` value in range `[0.0, 1.0]`", "float")
BOOLEAN_KIND = Kind("boolean", "Boolean flag", "bool")
DICTIONARY_KIND = Kind("dictionary", "Dictionary", "dict")
LIST_OF_VALUES_KIND = Kind("list_of_values", "List of values of any type", "list")
ROBOFLOW_MODEL_ID_KIND = Kind("roboflow_model_id", "Roboflow model id", "str")
ROBOFLOW_PROJECT_KIND = Kind("roboflow_project", "Roboflow project name", "str")
ROBOFLOW_API_KEY_KIND = Kind("roboflow_api_key", "Roboflow API key", "str")
SECRET_KIND = Kind("secret", "Secret value", "str")
IMAGE_KEYPOINTS_KIND = Kind("image_keypoints", "Image keypoints detected by classical Computer Vision method", "list")
POINT_KIND = Kind("point", "Single point in 2D", "tuple")
ZONE_KIND = Kind("zone", "Definition of polygon zone", "list")
CONTOURS_KIND = Kind("contours", "List of numpy arrays where each array represents contour points", "list")
NUMPY_ARRAY_KIND = Kind("numpy_array", "Numpy array", "np.ndarray")
BYTES_KIND = Kind("bytes", "This kind represent bytes", "bytes")
DETECTION_KIND = Kind("detection", "Single element of detections-based prediction (like `object_detection_prediction`)",
                      "tuple")
SERIALISED_PAYLOADS_KIND = Kind("serialised_payloads", "Serialised element that is usually accepted by sink",
                                "list")
TOP_CLASS_KIND = Kind("top_class", "String value representing top class predicted by classification model", "str")
PARENT_ID_KIND = Kind("parent_id", "Identifier of parent for step output", "str")
PREDICTION_TYPE_KIND = Kind("prediction_type", "String value with type of prediction", "str")
INFERENCE_ID_KIND = Kind("inference_id", "Inference identifier", "str")
RGB_COLOR_KIND = Kind("rgb_color", "RGB color", "tuple")
LANGUAGE_MODEL_OUTPUT_KIND = Kind("language_model_output", "LLM / VLM output", "str")
IMAGE_METADATA_KIND = Kind("image_metadata", "Dictionary with image metadata required by supervision", "dict")
BAR_CODE_DETECTION_KIND = Kind("bar_code_detection", "Prediction with barcode detection", "sv.Detections")
QR_CODE_DETECTION_KIND = Kind("qr_code_detection", "Prediction with QR code detection", "sv.Detections")
TIMESTAMP_KIND = Kind("timestamp", "Timestamp", "datetime")
EMBEDDING_KIND = Kind("embedding", "A list of floating point numbers representing a vector embedding.", "List[float]")
DETECTIONS_OVERLAPS_KIND = Kind("detections_overlaps", "List of per-pair detection overlap records",
                                "List[Dict[str, Any]]")

DETECTION_KINDS = (OBJECT_DETECTION_PREDICTION_KIND, INSTANCE_SEGMENTATION_PREDICTION_KIND,
                   KEYPOINT_DETECTION_PREDICTION_KIND)
"""The three kinds of ``sv.Detections`` results; fields that take any detections list these."""

BOX_DETECTION_KINDS = (OBJECT_DETECTION_PREDICTION_KIND, INSTANCE_SEGMENTATION_PREDICTION_KIND)
"""Detections with boxes (and masks), no keypoints: what trackers, stitching and perspective take and give."""

ALL_KINDS: dict[str, Kind] = {
    kind.name: kind for kind in list(globals().values()) if isinstance(kind, Kind)
}


def kinds_compatible(produced: Iterable[Kind], accepted: Iterable[Kind]) -> bool:
    """Whether data of the ``produced`` kinds may feed a field accepting ``accepted`` (wildcards match all)."""
    produced_names = {kind.name for kind in produced}
    accepted_names = {kind.name for kind in accepted}
    if not produced_names or not accepted_names or "*" in produced_names or "*" in accepted_names:
        return True
    return bool(produced_names & accepted_names)


def kind_names(kinds: Iterable[Kind]) -> list[str]:
    """Wire names of ``kinds``."""
    return [kind.name for kind in kinds]
