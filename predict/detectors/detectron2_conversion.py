"""The detectron2 path's pre- and post-processing as pure numpy functions (no detectron2 needed).

- `SquarePad`: the original's detector input (ORIGINAL.md §9, steps 2-3): pad the photo to a square with
  black borders, resize it to 512x512; and the inverse maps from that square back to the photo's pixels.
- `keypoint_rcnn_to_people`, `pointrend_masks_to_people`, `densepose_to_people`: detectron2 outputs, as
  plain arrays, to `KeypointInstances` / `MaskInstances`.
- `clip_to_image`: boxes and keypoints clipped to the photo (the padded square reaches beyond it).
- `pair_people`: each Keypoint R-CNN person gets the silhouette instance whose box overlaps its box most
  (greedy one-to-one by IoU), so silhouette and joints come from the same person. The original picked
  them independently (ORIGINAL.md §9 step 5), which could mix two people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from predict.detectors.base import PersonDetection, box_iou
from utils.joint_names import NUM_KEYPOINTS

DETECTION_SIZE = 512  # the original's `proxy_rep_input_wh`
PERSON_CLASS = 0  # COCO "person" in detectron2's contiguous class ids


@dataclass(frozen=True)
class KeypointInstances:
    """Keypoint R-CNN people. boxes (N, 4) float32 [x0, y0, x1, y1]; scores (N,) float32;
    keypoints (N, 17, 3) float32 [u, v, confidence in [0, 1]]."""

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray


@dataclass(frozen=True)
class MaskInstances:
    """Silhouette instances (people only, non-empty masks). boxes (M, 4) float32; scores (M,) float32;
    masks (M, H, W) bool."""

    boxes: np.ndarray
    scores: np.ndarray
    masks: np.ndarray


@dataclass(frozen=True)
class SquarePad:
    """Pad an (H, W) image to a centred square of side max(H, W) and resize it to `size` x `size`.

    The original put (max - min) // 2 black pixels on both sides, one pixel short of a square when the
    difference is odd; here the far side takes the odd pixel, so the square is exact.
    """

    image_hw: tuple[int, int]
    size: int = DETECTION_SIZE

    @property
    def side(self) -> int:
        return max(self.image_hw)

    @property
    def offset(self) -> np.ndarray:
        """(2,) [pad_x, pad_y]: the photo's top-left corner in the unscaled square."""
        height, width = self.image_hw
        return np.array([(self.side - width) // 2, (self.side - height) // 2], dtype=np.int64)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """(H, W, C) image -> (size, size, C) padded and bilinearly resized image (the detector input)."""
        if image.shape[:2] != tuple(self.image_hw):
            raise ValueError(f"SquarePad was made for {self.image_hw} images, got {image.shape[:2]}.")
        pad_x, pad_y = (int(v) for v in self.offset)
        height, width = self.image_hw
        square = np.zeros((self.side, self.side) + image.shape[2:], dtype=image.dtype)
        square[pad_y : pad_y + height, pad_x : pad_x + width] = image
        return cv2.resize(square, (self.size, self.size), interpolation=cv2.INTER_LINEAR)

    def points_to_image(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) pixel coordinates (u, v) in the square -> the photo's pixels (float32)."""
        return (np.asarray(points, np.float64) * (self.side / self.size) - self.offset).astype(np.float32)

    def masks_to_image(self, masks: np.ndarray) -> np.ndarray:
        """(N, size, size) bool -> (N, H, W) bool; each photo pixel takes the square pixel at its centre."""
        height, width = self.image_hw
        pad_x, pad_y = (int(v) for v in self.offset)
        scale = self.size / self.side
        rows = np.minimum(((np.arange(height) + pad_y + 0.5) * scale).astype(np.int64), self.size - 1)
        cols = np.minimum(((np.arange(width) + pad_x + 0.5) * scale).astype(np.int64), self.size - 1)
        return masks[:, rows[:, None], cols[None, :]]

    def detections_to_image(self, people: Sequence[PersonDetection]) -> list[PersonDetection]:
        """Map people found in the square back to the photo; people whose silhouette vanishes are dropped."""
        if not people:
            return []
        masks = self.masks_to_image(np.stack([person.mask for person in people]))
        mapped = []
        for person, mask in zip(people, masks, strict=True):
            if not mask.any():
                continue
            keypoints = person.keypoints.copy()
            keypoints[:, :2] = self.points_to_image(person.keypoints[:, :2])
            box = self.points_to_image(person.box.reshape(2, 2)).reshape(4)
            mapped.append(PersonDetection(mask=mask, keypoints=keypoints, box=box, score=person.score))
        return mapped


def keypoint_rcnn_to_people(
    boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray
) -> KeypointInstances:
    """Keypoint R-CNN outputs (`pred_boxes.tensor`, `scores`, `pred_keypoints`) -> KeypointInstances.

    Args:
        boxes: (N, 4) [x0, y0, x1, y1] pixels.
        scores: (N,) person scores.
        keypoints: (N, 17, 3) [u, v, score]; detectron2's keypoint score is a spatial-softmax probability,
            clipped here to [0, 1] (older releases reported a heatmap logit instead, which clips to 0 or 1).
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    keypoints = np.array(keypoints, np.float32).reshape(-1, NUM_KEYPOINTS, 3)
    if not len(boxes) == len(scores) == len(keypoints):
        raise ValueError(f"Got {len(boxes)} boxes, {len(scores)} scores and {len(keypoints)} keypoint sets.")
    keypoints[:, :, 2] = np.clip(keypoints[:, :, 2], 0.0, 1.0)
    return KeypointInstances(boxes=boxes, scores=scores, keypoints=keypoints)


def pointrend_masks_to_people(
    boxes: np.ndarray, scores: np.ndarray, masks: np.ndarray, classes: np.ndarray
) -> MaskInstances:
    """PointRend outputs (`pred_boxes.tensor`, `scores`, `pred_masks`, `pred_classes`) -> person instances.

    Args:
        boxes: (N, 4); scores: (N,); masks: (N, H, W) bool or {0, 1}; classes: (N,) COCO class ids.
    Returns:
        The class-0 (person) instances with a non-empty mask.
    """
    masks = np.asarray(masks).astype(bool, copy=False)
    classes = np.asarray(classes).reshape(-1)
    if masks.ndim != 3 or not len(boxes) == len(scores) == len(masks) == len(classes):
        raise ValueError(f"Expected N boxes, scores, classes and (N, H, W) masks, got masks {masks.shape}.")
    is_person = classes == PERSON_CLASS
    return _mask_instances(np.asarray(boxes)[is_person], np.asarray(scores)[is_person], masks[is_person])


def densepose_to_masks(
    boxes: np.ndarray, i_maps: Sequence[np.ndarray], image_hw: tuple[int, int]
) -> np.ndarray:
    """Paste box-sized DensePose part-index (I) maps into full-image silhouettes (ORIGINAL.md §9 step 5).

    Each map goes into a zero image with its top-left at the box's int-truncated top-left corner (what is
    outside the image is cut off) and is binarised: I != 0 (any of the 24 parts) is person.

    Args:
        boxes: (N, 4) [x0, y0, x1, y1] pixels.
        i_maps: N arrays (h, w) of part indices 0..24 (0 = background), one per box.
        image_hw: (H, W) of the image.
    Returns:
        (N, H, W) bool.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(boxes) != len(i_maps):
        raise ValueError(f"Got {len(boxes)} boxes and {len(i_maps)} I maps.")
    height, width = image_hw
    masks = np.zeros((len(boxes), height, width), dtype=bool)
    for mask, box, i_map in zip(masks, boxes, i_maps, strict=True):
        x0, y0 = int(box[0]), int(box[1])  # truncation, as the original
        part = np.asarray(i_map) != 0
        top, left = max(y0, 0), max(x0, 0)
        bottom, right = min(y0 + part.shape[0], height), min(x0 + part.shape[1], width)
        if bottom > top and right > left:
            mask[top:bottom, left:right] = part[top - y0 : bottom - y0, left - x0 : right - x0]
    return masks


def densepose_to_people(
    boxes: np.ndarray, scores: np.ndarray, i_maps: Sequence[np.ndarray], image_hw: tuple[int, int]
) -> MaskInstances:
    """DensePose outputs (person boxes, scores, box-sized I maps) -> person instances with non-empty masks."""
    return _mask_instances(np.asarray(boxes), np.asarray(scores), densepose_to_masks(boxes, i_maps, image_hw))


def pair_people(
    keypoint_people: KeypointInstances, mask_people: MaskInstances, min_iou: float = 0.5
) -> list[PersonDetection]:
    """Pair keypoint people with silhouettes, greedily by highest box IoU, one-to-one.

    A keypoint person whose best remaining silhouette overlaps less than `min_iou` is dropped: a person
    without a silhouette cannot be reconstructed, and a far-off mask would belong to someone else.
    Returns:
        One PersonDetection per pair, in keypoint-instance order, with the Keypoint R-CNN box and score.
    """
    iou = box_iou(keypoint_people.boxes, mask_people.boxes)
    partner: dict[int, int] = {}
    used_masks: set[int] = set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        person, silhouette = np.unravel_index(flat, iou.shape)
        if iou[person, silhouette] < min_iou:
            break
        if person not in partner and silhouette not in used_masks:
            partner[int(person)] = int(silhouette)
            used_masks.add(int(silhouette))
    return [
        PersonDetection(
            mask=mask_people.masks[partner[person]],
            keypoints=keypoint_people.keypoints[person],
            box=keypoint_people.boxes[person],
            score=float(keypoint_people.scores[person]),
        )
        for person in sorted(partner)
    ]


def clip_to_image(person: PersonDetection, image_hw: tuple[int, int]) -> PersonDetection:
    """The person with box and keypoint coordinates clipped to the (H, W) image: [0, W] x [0, H].

    Detections on the padded square can reach into the padding, which is not part of the photo.
    """
    height, width = image_hw
    limits = np.array([width, height], np.float32)
    keypoints = person.keypoints.copy()
    keypoints[:, :2] = np.clip(keypoints[:, :2], 0.0, limits)
    box = np.clip(person.box.reshape(2, 2), 0.0, limits).reshape(4)
    return PersonDetection(mask=person.mask, keypoints=keypoints, box=box, score=person.score)


def _mask_instances(boxes: np.ndarray, scores: np.ndarray, masks: np.ndarray) -> MaskInstances:
    """Keep the instances with at least one mask pixel; a box without a mask cannot give a silhouette."""
    # any over the pixel axes, not reshape(len, -1): numpy cannot infer -1 for (0, H, W), which is what
    # detectron2 returns for an image without detections.
    non_empty = masks.any(axis=(1, 2))
    boxes = boxes.astype(np.float32).reshape(-1, 4)[non_empty]
    scores = scores.astype(np.float32).reshape(-1)[non_empty]
    return MaskInstances(boxes=boxes, scores=scores, masks=masks[non_empty])
