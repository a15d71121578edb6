"""Reading per-image annotation files: person masks (PNG) and 17 COCO keypoints (.npy, COCO or OpenPose JSON).

Used by the precomputed detector backend and by the benchmark readers. Formats:
- mask: single-channel or colour PNG; every nonzero pixel is person (so a 0/1 or 0/255 mask and a DensePose
  part-index map both work); alpha is ignored;
- keypoints `.npy`: (17, 3) or (P, 17, 3) [u, v, confidence] in COCO order, read without pickle;
- keypoints `.json` in COCO format: one annotation {"keypoints": [51 numbers]}, a list of them, or
  {"annotations": [...]}; COCO visibility flags 0/1/2 become confidence 0 for 0 and 1 otherwise, any other
  third values are scores clipped to [0, 1];
- keypoints `.json` in OpenPose format: {"people": [{"pose_keypoints_2d": [...]}]} with 75 numbers (BODY_25)
  or 54 (COCO-18), mapped to COCO-17.
A missing or unusable file raises `AnnotationFileError`, which costs its image, not the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from utils.errors import InputFileError
from utils.joint_names import NUM_KEYPOINTS

# OpenPose BODY_25 order: 0 nose, 1 neck, 2-4 right shoulder/elbow/wrist, 5-7 left shoulder/elbow/wrist,
# 8 mid-hip, 9-11 right hip/knee/ankle, 12-14 left hip/knee/ankle, 15/16 right/left eye,
# 17/18 right/left ear, 19-24 feet. Entries below are in COCO-17 order.
OPENPOSE_BODY25_TO_COCO17 = (0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11)
# OpenPose COCO-18 order: 0 nose, 1 neck, 2-4 right arm, 5-7 left arm, 8-10 right hip/knee/ankle,
# 11-13 left hip/knee/ankle, 14/15 right/left eye, 16/17 right/left ear.
OPENPOSE_COCO18_TO_COCO17 = (0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10)
_OPENPOSE_MAPS = {25: OPENPOSE_BODY25_TO_COCO17, 18: OPENPOSE_COCO18_TO_COCO17}
_COCO_FLAGS = (0.0, 1.0, 2.0)


class AnnotationFileError(InputFileError):
    """An annotation file (mask or keypoints) is missing or unusable; one sentence naming the file."""


def read_mask_file(path: Path) -> np.ndarray:
    """A mask or I-map PNG -> (H, W) bool, True where any colour channel is nonzero."""
    if not path.is_file():
        raise AnnotationFileError(f"No precomputed mask {path} for this image.")
    data = np.fromfile(path, dtype=np.uint8)
    # IMREAD_UNCHANGED: raw labels and bit depth, no EXIF rotation (masks are stored as computed).
    mask = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if mask is None:
        raise AnnotationFileError(f"The precomputed mask {path} is not a readable image.")
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
    raise AnnotationFileError(f"No precomputed keypoints {npy_path} or {json_path.name} for this image.")


def read_keypoints_npy(path: Path) -> np.ndarray:
    """(17, 3) or (P, 17, 3) .npy -> (P, 17, 3) float32."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise AnnotationFileError(
            f"The keypoints file {path} is not a readable .npy array ({exc})."
        ) from None
    if array.shape[-2:] != (NUM_KEYPOINTS, 3) or array.ndim not in (2, 3) or array.size == 0:
        raise AnnotationFileError(f"The keypoints file {path} holds shape {array.shape}; expected (17, 3).")
    return _finite(array.astype(np.float32).reshape(-1, NUM_KEYPOINTS, 3), path)


def read_keypoints_json(path: Path) -> np.ndarray:
    """COCO or OpenPose keypoints JSON -> (P, 17, 3) float32 in COCO order."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        people = _openpose_people(content) if isinstance(content, dict) and "people" in content else None
        if people is None:
            people = _coco_people(content)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise AnnotationFileError(
            f"The keypoints file {path} is neither COCO nor OpenPose keypoint JSON "
            f"({type(exc).__name__}: {exc})."
        ) from None
    if not people:
        raise AnnotationFileError(f"The keypoints file {path} lists no person.")
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
        raise AnnotationFileError(f"The keypoints file {path} contains NaN or infinite values.")
    return keypoints
