"""Detector backends behind one interface: image in; per person a silhouette and 17 COCO keypoints out.

Building a backend imports its heavy dependency (mediapipe, detectron2) then, not when this package is
imported.
"""

from predict.detectors.base import (
    DetectorBackend,
    DetectorConfigError,
    DetectorError,
    DetectorUnavailableError,
    ImageDetectionError,
    PersonDetection,
)
from predict.detectors.factory import (
    DEFAULT_JOINT_CONFIDENCE_THRESHOLD,
    JOINT_SOURCES,
    KEYPOINT_RCNN_JOINT_THRESHOLD,
    SILHOUETTE_SOURCES,
    joint_source,
    joint_threshold,
    make_detector,
    make_image_detector,
)
from utils.joint_names import COCO17_NAMES

__all__ = [
    "COCO17_NAMES",
    "DEFAULT_JOINT_CONFIDENCE_THRESHOLD",
    "JOINT_SOURCES",
    "KEYPOINT_RCNN_JOINT_THRESHOLD",
    "SILHOUETTE_SOURCES",
    "DetectorBackend",
    "DetectorConfigError",
    "DetectorError",
    "DetectorUnavailableError",
    "ImageDetectionError",
    "PersonDetection",
    "joint_source",
    "joint_threshold",
    "make_detector",
    "make_image_detector",
]
