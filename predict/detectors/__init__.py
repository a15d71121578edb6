"""Detector backends behind one interface: image in; per person a silhouette and 17 COCO keypoints out.

Building a backend imports its heavy dependency (mediapipe, detectron2) then, not when this package is
imported.
"""

from predict.detectors.base import (
    COCO17_NAMES,
    DetectorBackend,
    DetectorConfigError,
    DetectorError,
    DetectorUnavailableError,
    ImageDetectionError,
    PersonDetection,
)
from predict.detectors.factory import (
    JOINT_SOURCES,
    KEYPOINT_RCNN_JOINT_THRESHOLD,
    SILHOUETTE_SOURCES,
    make_detector,
)

__all__ = [
    "COCO17_NAMES",
    "JOINT_SOURCES",
    "KEYPOINT_RCNN_JOINT_THRESHOLD",
    "SILHOUETTE_SOURCES",
    "DetectorBackend",
    "DetectorConfigError",
    "DetectorError",
    "DetectorUnavailableError",
    "ImageDetectionError",
    "PersonDetection",
    "make_detector",
]
