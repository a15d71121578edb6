"""Default detector: the mediapipe 0.10.21 pose solution (BlazePose full + segmentation), CPU, offline.

Its wheel ships the detection, landmark (model_complexity=1, "full") and segmentation models, so nothing is
downloaded. It finds at most one person per image. The 33 BlazePose landmarks map to COCO-17 by name (see
`BLAZEPOSE_TO_COCO17`); a landmark's `visibility` becomes the keypoint confidence. The silhouette is the
segmentation probability above `mask_threshold` (0.5 by default: the pixel is more likely person than not).
The graph's native INFO and WARNING log lines are hidden unless `native_logs` is set (`utils.native_logs`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from predict.detectors.base import (
    DetectorBackend,
    DetectorUnavailableError,
    PersonDetection,
    check_rgb_image,
    mask_box,
)
from utils.native_logs import hide_native_logs

# BlazePose landmark index for each COCO-17 keypoint, in COCO order (mediapipe's PoseLandmark enum): nose 0,
# left/right eye 2/5, left/right ear 7/8, shoulders 11/12, elbows 13/14, wrists 15/16, hips 23/24,
# knees 25/26, ankles 27/28. Left/right are the person's, as in COCO.
BLAZEPOSE_TO_COCO17 = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
NUM_BLAZEPOSE_LANDMARKS = 33
# model_complexity=1 is the only landmark model inside the wheel (0 and 2 are downloaded on first use).
_MODEL_COMPLEXITY = 1
_WARM_UP_SIDE = 64  # the blank frame processed once when the graph is built


def blazepose_to_coco17(landmarks: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """Convert mediapipe's normalised landmarks to COCO-17 pixel keypoints.

    Args:
        landmarks: (33, 3) [x, y, visibility]; x, y normalised by the image width and height (may lie
            outside [0, 1] for joints beyond the image border).
        image_hw: (height, width) of the image the landmarks belong to.
    Returns:
        (17, 3) float32 [u, v, confidence]; confidence = visibility clipped to [0, 1].
    """
    if landmarks.shape != (NUM_BLAZEPOSE_LANDMARKS, 3):
        raise ValueError(f"Expected (33, 3) BlazePose landmarks, got {landmarks.shape}.")
    height, width = image_hw
    selected = landmarks[list(BLAZEPOSE_TO_COCO17)].astype(np.float64)
    keypoints = np.empty((len(BLAZEPOSE_TO_COCO17), 3), dtype=np.float32)
    keypoints[:, 0] = selected[:, 0] * width
    keypoints[:, 1] = selected[:, 1] * height
    keypoints[:, 2] = np.clip(selected[:, 2], 0.0, 1.0)
    return keypoints


class MediapipeBackend(DetectorBackend):
    """mediapipe pose on still images. One `Pose` graph is built and reused for every image."""

    name = "mediapipe"

    def __init__(
        self,
        mask_threshold: float = 0.5,
        min_detection_confidence: float = 0.5,
        tracking: bool = False,
        native_logs: bool = False,
    ) -> None:
        """
        Args:
            mask_threshold: segmentation probability above which a pixel is person.
            min_detection_confidence: mediapipe's person-detector threshold (its default 0.5).
            tracking: for the frames of one video, in order: the person found in a frame is followed into
                the next (mediapipe's tracking mode: the person detector runs only when the track is lost).
            native_logs: let mediapipe's and TFLite's INFO and WARNING lines through to stderr.
        """
        if not 0.0 <= mask_threshold < 1.0:
            raise ValueError(f"mask_threshold must lie in [0, 1), got {mask_threshold}.")
        self.mask_threshold = mask_threshold
        self.native_logs = native_logs
        # Building the graph logs the delegate and feedback-manager lines; the first images log more.
        with hide_native_logs(not native_logs):
            try:
                from mediapipe.python.solutions import pose as mp_pose
            except ImportError:
                raise DetectorUnavailableError(
                    "mediapipe is not installed; run `pip install -r requirements.txt` (mediapipe==0.10.21)."
                ) from None
            self._pose = mp_pose.Pose(
                static_image_mode=not tracking,  # photos: every image on its own, no tracking between them
                model_complexity=_MODEL_COMPLEXITY,
                enable_segmentation=True,
                min_detection_confidence=min_detection_confidence,
            )
            # The graph opens its models on worker threads after `Pose` returns, logging as it goes; one
            # blank frame waits for that inside the hidden window.
            self._pose.process(np.zeros((_WARM_UP_SIDE, _WARM_UP_SIDE, 3), np.uint8))

    def detect(self, image_rgb: np.ndarray, image_path: Path | None = None) -> list[PersonDetection]:
        """Detect the (single) person; see `DetectorBackend.detect`."""
        check_rgb_image(image_rgb)
        if self._pose is None:
            raise RuntimeError("This MediapipeBackend was closed; build a new one.")
        with hide_native_logs(not self.native_logs):
            result = self._pose.process(np.ascontiguousarray(image_rgb))
        if result.pose_landmarks is None or result.segmentation_mask is None:
            return []
        landmarks = np.array(
            [(mark.x, mark.y, mark.visibility) for mark in result.pose_landmarks.landmark], dtype=np.float32
        )
        keypoints = blazepose_to_coco17(landmarks, (image_rgb.shape[0], image_rgb.shape[1]))
        mask = result.segmentation_mask > self.mask_threshold
        box = mask_box(mask)
        if box is None:  # landmarks without any silhouette pixel: nothing to reconstruct from
            return []
        # The legacy solution API does not expose the detector's score; the mean keypoint visibility is the
        # closest confidence it gives.
        return [PersonDetection(mask=mask, keypoints=keypoints, box=box, score=float(keypoints[:, 2].mean()))]

    def close(self) -> None:
        """Free the mediapipe graph (idempotent)."""
        if self._pose is not None:
            with hide_native_logs(not self.native_logs):
                self._pose.close()
            self._pose = None
