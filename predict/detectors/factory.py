"""Build a detector backend from the user's choice of silhouette and joint sources.

Supported combinations (silhouettes + joints):
- mediapipe + mediapipe (default): `MediapipeBackend`;
- pointrend + keypointrcnn, densepose + keypointrcnn: `Detectron2Backend` (the original's pair);
- precomputed + precomputed: `PrecomputedBackend`.
Mixing sources (e.g. precomputed silhouettes with mediapipe joints) is refused: each backend pairs its own
silhouettes and joints so that both come from the same person, and a mixed pair has no such guarantee.
"""

from __future__ import annotations

import inspect
from typing import Any

from predict.detectors.base import DetectorBackend, DetectorConfigError
from predict.detectors.detectron2_backend import Detectron2Backend
from predict.detectors.mediapipe_backend import MediapipeBackend
from predict.detectors.precomputed import PrecomputedBackend
from predict.detectors.retry import RETRY_THRESHOLD, RetryingDetector

SILHOUETTE_SOURCES = ("mediapipe", "pointrend", "densepose", "precomputed")
JOINT_SOURCES = ("mediapipe", "keypointrcnn", "precomputed")
# Keypoint R-CNN's joint scores are spatial-softmax probabilities, small even for well-placed joints;
# detectron2's own visualiser draws joints from 0.05 (mediapipe's visibilities suit a higher threshold).
KEYPOINT_RCNN_JOINT_THRESHOLD = 0.05
# mediapipe's landmark visibility is near 1 for joints it sees and falls below ~0.3 for joints that are
# hidden or outside the image, where its guesses are poor; 0 keeps every joint, as the original.
DEFAULT_JOINT_CONFIDENCE_THRESHOLD = 0.3
# The joint source that goes with each silhouette source (each backend pairs its own).
JOINTS_FOR_SILHOUETTES = {
    "mediapipe": "mediapipe",
    "pointrend": "keypointrcnn",
    "densepose": "keypointrcnn",
    "precomputed": "precomputed",
}


def joint_source(silh_from: str, joints_from: str | None = None) -> str:
    """The joint source given, else the one that pairs with the silhouette source."""
    return joints_from or JOINTS_FOR_SILHOUETTES.get(silh_from, silh_from)


def joint_threshold(given: float | None, joints_from: str) -> float:
    """The joint confidence threshold: the one given, else the joint source's default (Keypoint R-CNN's
    scores are spatial-softmax probabilities, far below mediapipe's visibilities)."""
    if given is not None:
        return given
    if joints_from == "keypointrcnn":
        return KEYPOINT_RCNN_JOINT_THRESHOLD
    return DEFAULT_JOINT_CONFIDENCE_THRESHOLD


def make_detector(
    silh_from: str = "mediapipe", joints_from: str = "mediapipe", **options: Any
) -> DetectorBackend:
    """Build the backend for a silhouette/joint source pair.

    Args:
        silh_from: one of SILHOUETTE_SOURCES.
        joints_from: one of JOINT_SOURCES.
        **options: the backend's constructor options, e.g. mask_threshold (mediapipe); checkpoints_dir,
            silhouette_config, device, pad_to_square, min_pair_iou (detectron2); mask_dir, keypoints_dir
            (precomputed).
    Raises:
        DetectorConfigError: unknown source, unsupported pair, unknown or missing option.
        DetectorUnavailableError: the backend's package, weights or files are missing.
    """
    if silh_from not in SILHOUETTE_SOURCES:
        raise DetectorConfigError(
            f"Unknown silhouette source {silh_from!r}; choose one of {', '.join(SILHOUETTE_SOURCES)}."
        )
    if joints_from not in JOINT_SOURCES:
        raise DetectorConfigError(
            f"Unknown joint source {joints_from!r}; choose one of {', '.join(JOINT_SOURCES)}."
        )
    backend_class: type[DetectorBackend]
    fixed: dict[str, Any]
    if silh_from == joints_from == "mediapipe":
        backend_class, fixed = MediapipeBackend, {}
    elif silh_from in ("pointrend", "densepose") and joints_from == "keypointrcnn":
        backend_class, fixed = Detectron2Backend, {"silhouettes": silh_from}
    elif silh_from == joints_from == "precomputed":
        backend_class, fixed = PrecomputedBackend, {}
    else:
        raise DetectorConfigError(
            f"Silhouettes from {silh_from} cannot be combined with joints from {joints_from}; use "
            "mediapipe + mediapipe, pointrend or densepose + keypointrcnn, or precomputed + precomputed."
        )
    _check_options(backend_class, options, fixed, label=silh_from)
    return backend_class(**fixed, **options)


def make_image_detector(
    silh_from: str = "mediapipe", joints_from: str = "mediapipe", retry: bool = True, **options: Any
) -> DetectorBackend:
    """The detector of a run on pictures (`run_predict.py`, the scene benchmark): `make_detector`'s backend,
    mediapipe wrapped in retries (`RetryingDetector`, a fallback at RETRY_THRESHOLD) unless `retry` is
    False (the detectron2 backends already pad to a square, precomputed files do not change)."""
    primary = make_detector(silh_from, joints_from, **options)
    if not retry or silh_from != "mediapipe":
        return primary
    fallback = make_detector(silh_from, joints_from, **options, min_detection_confidence=RETRY_THRESHOLD)
    return RetryingDetector(primary, fallback)


def _check_options(backend_class: type, options: dict[str, Any], fixed: dict[str, Any], label: str) -> None:
    """Turn a wrong option into a usage error naming the accepted ones, not a TypeError from a constructor."""
    parameters = dict(inspect.signature(backend_class).parameters)
    accepted = [name for name in parameters if name not in fixed]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DetectorConfigError(
            f"The {label} detector has no option {', '.join(unknown)}; its options are "
            f"{', '.join(accepted) or 'none'}."
        )
    missing = [
        name
        for name, parameter in parameters.items()
        if parameter.default is inspect.Parameter.empty and name not in options and name not in fixed
    ]
    if missing:
        raise DetectorConfigError(f"The {label} detector needs the option {', '.join(missing)}.")
