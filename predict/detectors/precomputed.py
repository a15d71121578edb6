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

import json
from pathlib import Path

import cv2
import numpy as np

from predict.detectors.base import (
    NUM_KEYPOINTS,
    DetectorBackend,
    DetectorUnavailableError,
    ImageDetectionError,
    PersonDetection,
    check_rgb_image,
    mask_box,
)

# OpenPose BODY_25 order: 0 nose, 1 neck, 2-4 right shoulder/elbow/wrist, 5-7 left shoulder/elbow/wrist,
# 8 mid-hip, 9-11 right hip/knee/ankle, 12-14 left hip/knee/ankle, 15/16 right/left eye,
# 17/18 right/left ear, 19-24 feet. Entries below are in COCO-17 order.
OPENPOSE_BODY25_TO_COCO17 = (0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11)
# OpenPose COCO-18 order: 0 nose, 1 neck, 2-4 right arm, 5-7 left arm, 8-10 right hip/knee/ankle,
# 11-13 left hip/knee/ankle, 14/15 right/left eye, 16/17 right/left ear.
OPENPOSE_COCO18_TO_COCO17 = (0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10)
_OPENPOSE_MAPS = {25: OPENPOSE_BODY25_TO_COCO17, 18: OPENPOSE_COCO18_TO_COCO17}
_COCO_FLAGS = (0.0, 1.0, 2.0)


class PrecomputedBackend(DetectorBackend):
    """Reads one person's mask and keypoints per image from files."""

    name = "precomputed"

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
        mask = read_mask_file(self.mask_dir / f"{stem}.png")
        candidates = read_keypoints_for(self.keypoints_dir, stem)
        mask, candidates = _fit_to_image(mask, candidates, image_rgb.shape[:2], stem)
        box = mask_box(mask)
        if box is None:
            return []
        keypoints = keypoints_inside_mask(candidates, mask)
        return [PersonDetection(mask=mask, keypoints=keypoints, box=box, score=1.0)]

    def close(self) -> None:
        """Nothing to release."""


def read_mask_file(path: Path) -> np.ndarray:
    """A mask or I-map PNG -> (H, W) bool, True where any colour channel is nonzero."""
    if not path.is_file():
        raise ImageDetectionError(f"No precomputed mask {path} for this image.")
    data = np.fromfile(path, dtype=np.uint8)
    # IMREAD_UNCHANGED: raw labels and bit depth, no EXIF rotation (masks are stored as computed).
    mask = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if mask is None:
        raise ImageDetectionError(f"The precomputed mask {path} is not a readable image.")
    if mask.ndim == 3:
        return mask[:, :, :3].any(axis=2)  # colour channels only: alpha ignored
    return mask != 0


def read_keypoints_for(keypoints_dir: Path, stem: str) -> np.ndarray:
    """Keypoints of image `stem` from `<stem>.npy` or `<stem>.json` -> (P, 17, 3) float32, P >= 1."""
    npy_path, json_path = keypoints_dir / f"{stem}.npy", keypoints_dir / f"{stem}.json"
    if npy_path.is_file():
        return read_keypoints_npy(npy_path)
    if json_path.is_file():
        return read_keypoints_json(json_path)
    raise ImageDetectionError(f"No precomputed keypoints {npy_path} or {json_path.name} for this image.")


def read_keypoints_npy(path: Path) -> np.ndarray:
    """(17, 3) or (P, 17, 3) .npy -> (P, 17, 3) float32."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ImageDetectionError(
            f"The keypoints file {path} is not a readable .npy array ({exc})."
        ) from None
    if array.shape[-2:] != (NUM_KEYPOINTS, 3) or array.ndim not in (2, 3) or array.size == 0:
        raise ImageDetectionError(f"The keypoints file {path} holds shape {array.shape}; expected (17, 3).")
    return _finite(array.astype(np.float32).reshape(-1, NUM_KEYPOINTS, 3), path)


def read_keypoints_json(path: Path) -> np.ndarray:
    """COCO or OpenPose keypoints JSON -> (P, 17, 3) float32 in COCO order."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        people = _openpose_people(content) if isinstance(content, dict) and "people" in content else None
        if people is None:
            people = _coco_people(content)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ImageDetectionError(
            f"The keypoints file {path} is neither COCO nor OpenPose keypoint JSON "
            f"({type(exc).__name__}: {exc})."
        ) from None
    if not people:
        raise ImageDetectionError(f"The keypoints file {path} lists no person.")
    return _finite(np.stack(people).astype(np.float32), path)


def openpose_to_coco17(flat: list[float]) -> np.ndarray:
    """OpenPose `pose_keypoints_2d` (75 BODY_25 or 54 COCO-18 numbers) -> (17, 3) [u, v, confidence]."""
    triplets = np.asarray(flat, dtype=np.float64).reshape(-1, 3)
    index_map = _OPENPOSE_MAPS.get(len(triplets))
    if index_map is None or triplets.size != len(flat):
        raise ValueError(f"pose_keypoints_2d has {len(flat)} numbers; expected 75 (BODY_25) or 54 (COCO-18)")
    keypoints = triplets[list(index_map)]
    keypoints[:, 2] = np.clip(keypoints[:, 2], 0.0, 1.0)
    return keypoints


def coco_to_coco17(flat: list[float]) -> np.ndarray:
    """COCO `keypoints` (51 numbers, u, v, flag) -> (17, 3) [u, v, confidence]."""
    triplets = np.asarray(flat, dtype=np.float64)
    if triplets.shape != (NUM_KEYPOINTS * 3,):
        raise ValueError(f"COCO keypoints have {triplets.size} numbers; expected 51")
    triplets = triplets.reshape(NUM_KEYPOINTS, 3).copy()
    third = triplets[:, 2]
    if np.isin(third, _COCO_FLAGS).all():
        triplets[:, 2] = (third > 0).astype(np.float64)  # labelled (visible or not) -> 1, unlabelled -> 0
    else:
        triplets[:, 2] = np.clip(third, 0.0, 1.0)  # detector results: a score per keypoint
    return triplets


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


def _openpose_people(content: dict) -> list[np.ndarray]:
    return [openpose_to_coco17(person["pose_keypoints_2d"]) for person in content["people"]]


def _coco_people(content: object) -> list[np.ndarray]:
    if isinstance(content, dict):
        annotations = content["annotations"] if "annotations" in content else [content]
    elif isinstance(content, list):
        annotations = content
    else:
        raise TypeError("expected a JSON object or list")
    return [coco_to_coco17(annotation["keypoints"]) for annotation in annotations]


def _finite(keypoints: np.ndarray, path: Path) -> np.ndarray:
    if not np.isfinite(keypoints).all():
        raise ImageDetectionError(f"The keypoints file {path} contains NaN or infinite values.")
    return keypoints


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
