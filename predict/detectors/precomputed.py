"""Silhouettes and joints read from files, one pair per image (how benchmark datasets are evaluated).

For an image `<stem>.<ext>`:
- mask: `<mask_dir>/<stem>.png`, single-channel or colour; every nonzero pixel is person, so a binary mask
  (0/1 or 0/255) and a DensePose part-index (I) map both work. Alpha is ignored.
- keypoints, the first that exists of:
  - `<keypoints_dir>/<stem>.npy`: (17, 3) or (P, 17, 3) [u, v, confidence] in COCO order;
  - `<keypoints_dir>/<stem>.json` in COCO format: one annotation {"keypoints": [51 numbers]}, a list of
    them, or {"annotations": [...]}; triplets (u, v, v_flag) with the COCO flags 0/1/2 become confidence
    0 for 0 and 1 otherwise; any other third values are taken as scores, clipped to [0, 1];
  - `<keypoints_dir>/<stem>.json` in OpenPose format: {"people": [{"pose_keypoints_2d": [...]}]} with 75
    numbers (BODY_25) or 54 (COCO-18), mapped to COCO-17 by `OPENPOSE_BODY25_TO_COCO17` /
    `OPENPOSE_COCO18_TO_COCO17`.
Both files are in the pixels of the original image. When the image was downscaled on reading, the mask is
resampled and the keypoints scaled to it. When a file holds several people, the one with the most
confidence inside the mask is taken, so joints and silhouette belong to the same person.
A missing or unreadable file raises `ImageDetectionError` for that image only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from predict.detectors.base import (
    DetectorBackend,
    DetectorUnavailableError,
    ImageDetectionError,
    PersonDetection,
    check_rgb_image,
    mask_box,
)
from utils.annotation_io import AnnotationFileError, read_keypoints_for, read_mask_file


class PrecomputedBackend(DetectorBackend):
    """Reads one person's mask and keypoints per image from files."""

    name = "precomputed"
    looks_at_pixels = False

    def __init__(self, mask_dir: str | Path, keypoints_dir: str | Path | None = None) -> None:
        """
        Args:
            mask_dir: folder of `<stem>.png` masks.
            keypoints_dir: folder of `<stem>.npy` / `<stem>.json` keypoints; defaults to mask_dir.
        """
        self.mask_dir = Path(mask_dir)
        self.keypoints_dir = Path(keypoints_dir) if keypoints_dir is not None else self.mask_dir
        for what, folder in (("mask", self.mask_dir), ("keypoints", self.keypoints_dir)):
            if not folder.is_dir():
                raise DetectorUnavailableError(
                    f"The precomputed {what} folder {folder} does not exist; pass the folder with the files."
                )

    def detect(self, image_rgb: np.ndarray, image_path: Path | None = None) -> list[PersonDetection]:
        """Read the person of `image_path`; see `DetectorBackend.detect`. An all-zero mask gives []."""
        check_rgb_image(image_rgb)
        if image_path is None:
            raise ValueError("The precomputed backend needs image_path to find an image's files.")
        stem = Path(image_path).stem
        try:
            mask = read_mask_file(self.mask_dir / f"{stem}.png")
            candidates = read_keypoints_for(self.keypoints_dir, stem)
        except AnnotationFileError as error:
            raise ImageDetectionError(str(error)) from None
        mask, candidates = _fit_to_image(mask, candidates, (image_rgb.shape[0], image_rgb.shape[1]), stem)
        box = mask_box(mask)
        if box is None:
            return []
        keypoints = keypoints_inside_mask(candidates, mask)
        return [PersonDetection(mask=mask, keypoints=keypoints, box=box, score=1.0)]

    def close(self) -> None:
        """Nothing to release."""


def keypoints_inside_mask(candidates: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Of (P, 17, 3) keypoint sets, the one whose confidences on `mask` (H, W) add up highest -> (17, 3)."""
    if len(candidates) == 1:
        return candidates[0]
    height, width = mask.shape
    cols = np.floor(candidates[:, :, 0]).astype(np.int64)
    rows = np.floor(candidates[:, :, 1]).astype(np.int64)
    inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    on_mask = np.zeros_like(inside)
    on_mask[inside] = mask[rows[inside], cols[inside]]
    support = (candidates[:, :, 2] * on_mask).sum(axis=1)
    return candidates[int(np.argmax(support))]  # argmax: the first set wins ties


def _fit_to_image(
    mask: np.ndarray, keypoints: np.ndarray, image_hw: tuple[int, int], stem: str
) -> tuple[np.ndarray, np.ndarray]:
    """Bring a mask made at the original size (and its keypoints) to the size of the image as read."""
    if mask.shape == tuple(image_hw):
        return mask, keypoints
    (mask_h, mask_w), (height, width) = mask.shape, image_hw
    # The reader keeps the aspect ratio when it downscales, up to rounding each side to whole pixels (at
    # most 0.5 + 0.5 * H / W here); any other size mismatch means a wrong file.
    if abs(mask_h * width / mask_w - height) > 1.0 + mask_h / mask_w:
        raise ImageDetectionError(
            f"The precomputed mask for {stem} is {mask_w}x{mask_h} but the image is {width}x{height}; "
            "masks must have the original image's size."
        )
    rows = np.minimum(((np.arange(height) + 0.5) * mask_h / height).astype(np.int64), mask_h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * mask_w / width).astype(np.int64), mask_w - 1)
    scaled = keypoints.copy()
    scaled[:, :, 0] *= width / mask_w
    scaled[:, :, 1] *= height / mask_h
    return mask[rows[:, None], cols[None, :]], scaled
