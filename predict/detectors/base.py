"""The one interface every detector backend implements: image in, people out.

A person is a silhouette mask plus the 17 COCO keypoints, both from the same individual, in the pixels of
the image that was passed in. Coordinates are continuous pixel coordinates (u = column, v = row; the pixel
with integer index (i, j) covers u in [j, j+1), v in [i, i+1)), the convention of the whole project and of
mediapipe and detectron2 outputs.

Errors a caller must tell apart:
- `DetectorUnavailableError`: the backend cannot be built (missing package, weights or config). The run
  stops with its one-sentence message.
- `DetectorConfigError`: an invalid backend selection or option (a usage error). The run stops.
- `ImageDetectionError`: this one image cannot be processed (e.g. its precomputed mask file is missing).
  The caller records the message as the image's summary line and goes on.
An image without a person is not an error: `detect` returns [].
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from proxy.crop import mask_bbox
from utils.errors import AssetError, InputFileError, StrapsError, UsageError
from utils.joint_names import NUM_KEYPOINTS


class DetectorError(StrapsError):
    """Base class of the detector errors."""


class DetectorUnavailableError(DetectorError, AssetError):
    """A backend cannot be built: a package, weights file or config is missing."""


class DetectorConfigError(DetectorError, UsageError, ValueError):
    """An invalid backend selection or backend option."""


class ImageDetectionError(DetectorError, InputFileError):
    """One image cannot be processed by the backend; the run goes on with the next image."""


@dataclass(frozen=True, eq=False)  # eq=False: identity comparison; numpy fields have no single truth value
class PersonDetection:
    """One detected person.

    Attributes:
        mask: (H, W) bool silhouette at the input image's size, with at least one True pixel.
        keypoints: (17, 3) float32 [u, v, confidence] in COCO order (`COCO17_NAMES`), pixels of the input
            image; confidence in [0, 1] as the detector reports it (no threshold applied here).
        box: (4,) float32 [x0, y0, x1, y1] person box in pixels (the detector's box, or the mask's).
        score: detector confidence in this person, in [0, 1].
    """

    mask: np.ndarray
    keypoints: np.ndarray
    box: np.ndarray
    score: float

    def __post_init__(self) -> None:
        # Cheap checks that catch a wrong conversion at its source rather than deep in the predictor.
        if self.mask.ndim != 2 or self.mask.dtype != np.bool_ or not self.mask.any():
            raise ValueError(
                f"mask must be a non-empty (H, W) bool array, got {self.mask.dtype} {self.mask.shape}"
            )
        keypoints, box = self.keypoints, self.box
        if keypoints.shape != (NUM_KEYPOINTS, 3) or keypoints.dtype != np.float32:
            raise ValueError(f"keypoints must be (17, 3) float32, got {keypoints.dtype} {keypoints.shape}.")
        if box.shape != (4,) or box.dtype != np.float32:
            raise ValueError(f"box must be (4,) float32 [x0, y0, x1, y1], got {box.dtype} {box.shape}.")

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return float(max(self.box[2] - self.box[0], 0.0) * max(self.box[3] - self.box[1], 0.0))

    @property
    def centre(self) -> tuple[float, float]:
        """Box centre (u, v) in pixels."""
        return float(self.box[0] + self.box[2]) / 2.0, float(self.box[1] + self.box[3]) / 2.0


class DetectorBackend(ABC):
    """Finds people in RGB images. Backends hold models: build one, reuse it, close it (or use `with`)."""

    name: str
    # Whether people are found in the pixels passed in (a window of a picture works like a picture), as
    # opposed to files named after the image (precomputed masks): the people search tiles large pictures
    # only for backends that look at pixels.
    looks_at_pixels: bool = True

    @abstractmethod
    def detect(self, image_rgb: np.ndarray, image_path: Path | None = None) -> list[PersonDetection]:
        """Detect the people in one image.

        Args:
            image_rgb: (H, W, 3) uint8 RGB image (as `utils.image_io.read_image_rgb` returns it).
            image_path: the file the image came from; needed by backends that read per-image files.
        Returns:
            Every person found (any order; `predict.people` orders them by prominence), [] if none.
        Raises:
            ImageDetectionError: this image cannot be processed.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the backend's models (idempotent)."""

    @property
    def primary(self) -> DetectorBackend:
        """The backend that makes one plain detection: this one, or the one a wrapper retries
        (`retry.RetryingDetector`). Searches for further people use it, without the retries."""
        return self

    @property
    def last_attempt(self) -> str | None:
        """Which retry (`retry.ATTEMPTS`) found the people of the last `detect` call; None when nobody was
        found or the backend does not retry."""
        return None

    def __enter__(self) -> DetectorBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def check_rgb_image(image_rgb: np.ndarray) -> None:
    """Raise ValueError unless `image_rgb` is an (H, W, 3) uint8 array."""
    if not isinstance(image_rgb, np.ndarray) or image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        got = getattr(image_rgb, "shape", type(image_rgb))
        raise ValueError(f"Expected an (H, W, 3) RGB image, got {got}.")
    if image_rgb.dtype != np.uint8:
        raise ValueError(f"Expected a uint8 RGB image, got {image_rgb.dtype}.")


def mask_box(mask: np.ndarray) -> np.ndarray | None:
    """Bounding box of the True pixels of an (H, W) mask, as a person box.

    `proxy.crop.mask_bbox` finds the box in inclusive pixel indices; a person box is in continuous pixels,
    so its far edges are those indices + 1 (the last column and row are inside the box).
    Returns:
        (4,) float32 [x0, y0, x1, y1] (x1 = last column + 1, y1 = last row + 1), or None for an empty mask.
    """
    bbox, found = mask_bbox(torch.from_numpy(np.ascontiguousarray(mask))[None])
    if not bool(found[0]):
        return None
    return (bbox[0].numpy() + np.array([0, 0, 1, 1])).astype(np.float32)


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """(N, 4) and (M, 4) [x0, y0, x1, y1] boxes -> (N, M) intersection over union (0 for empty unions)."""
    a = np.asarray(boxes_a, np.float64).reshape(-1, 1, 4)
    b = np.asarray(boxes_b, np.float64).reshape(1, -1, 4)
    inter_w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0.0, None)
    inter_h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0.0, None)
    intersection = inter_w * inter_h
    area_a = (a[..., 2] - a[..., 0]).clip(0.0) * (a[..., 3] - a[..., 1]).clip(0.0)
    area_b = (b[..., 2] - b[..., 0]).clip(0.0) * (b[..., 3] - b[..., 1]).clip(0.0)
    union = area_a + area_b - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)
