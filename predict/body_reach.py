"""The region a person's body can occupy, drawn from their 2D joints, to keep other people out of their mask.

A person segmentation (mediapipe's included) marks every person pixel near the one it was asked about, so
the silhouette of someone standing in front of or beside another takes part of the other person along: the
body fitted to it is inflated, and the other person, painted out with it, is never found. Limiting each
mask to the reach of that person's own skeleton (thick limbs, the torso, a head disc, hands and feet)
splits a silhouette that covers two people, and is mirror-symmetric by construction.

Sizes are fractions of the person's torso length (shoulders to hips), so the reach scales with the person;
they are generous (loose sleeves and hair stay in), because cutting into the body is worse than keeping a
little of a neighbour.
"""

from __future__ import annotations

import cv2
import numpy as np

from predict.detectors.base import PersonDetection, mask_box

# COCO-17 indices.
_NOSE, _L_EAR, _R_EAR = 0, 3, 4
_L_SHOULDER, _R_SHOULDER, _L_HIP, _R_HIP = 5, 6, 11, 12
_TORSO = (_L_SHOULDER, _R_SHOULDER, _R_HIP, _L_HIP)  # a polygon, in drawing order
_LIMBS = ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16))  # upper/lower arms, legs
_ENDS = (9, 10, 15, 16)  # wrists and ankles: hands and feet reach past them

TORSO_MARGIN = 0.45  # the torso polygon grown by this share of the torso length (belly, hips, clothes)
LIMB_RADIUS = 0.3  # half-thickness of an arm or leg
END_RADIUS = 0.4  # disc around each wrist and ankle (hand, foot)
HEAD_RADIUS = 0.55  # disc around the head's centre (hair, hats)
MIN_CONFIDENCE = 0.05  # joints below this are not drawn (keypoint files mark missing joints with 0)
# A torso shorter than this share of the silhouette's height means keypoints that do not describe the
# silhouette (a landmark model lost on an odd pose or view): the mask is then left as it is.
MIN_TORSO_SHARE = 0.15
_ON = (1,)  # the drawing value of the one-channel reach map


def body_reach(keypoints: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray | None:
    """(H, W) bool region the person's body can cover, or None when the torso's four joints are not all
    known (the reach cannot be sized; the mask is then left as it is).

    Args:
        keypoints: (17, 3) [u, v, confidence] COCO-17 in pixels; joints may lie outside the picture.
        image_hw: (height, width).
    """
    points, confidence = keypoints[:, :2].astype(np.float64), keypoints[:, 2]
    torso = torso_length(keypoints)
    if torso is None or torso < 1.0:
        return None
    limb_width = 2 * max(1, round(LIMB_RADIUS * torso))
    height, width = image_hw
    # Drawn with 4 fractional bits: sub-pixel joint positions keep the drawing mirror-symmetric.
    shift = 4
    scale = float(1 << shift)

    def fixed(point: np.ndarray) -> tuple[int, int]:
        return int(round(point[0] * scale - 0.5 * scale)), int(round(point[1] * scale - 0.5 * scale))

    def radius(share: float) -> int:
        return max(1, int(round(share * torso * scale)))

    reach = np.zeros((height, width), np.uint8)
    polygon = np.array([fixed(points[j]) for j in _TORSO], np.int32)
    cv2.fillPoly(reach, [polygon], _ON, lineType=cv2.LINE_8, shift=shift)
    # The polygon's outline drawn thick grows it by the margin on every side.
    cv2.polylines(reach, [polygon], True, _ON, thickness=2 * max(1, round(TORSO_MARGIN * torso)), shift=shift)
    for start, end in _LIMBS:
        if min(confidence[start], confidence[end]) >= MIN_CONFIDENCE:
            cv2.line(reach, fixed(points[start]), fixed(points[end]), _ON, thickness=limb_width, shift=shift)
    for joint in _ENDS:
        if confidence[joint] >= MIN_CONFIDENCE:
            cv2.circle(reach, fixed(points[joint]), radius(END_RADIUS), _ON, thickness=-1, shift=shift)
    head = [j for j in (_NOSE, _L_EAR, _R_EAR) if confidence[j] >= MIN_CONFIDENCE]
    neck = 0.5 * (points[_L_SHOULDER] + points[_R_SHOULDER])
    centre = points[head].mean(0) if head else neck + 0.35 * (neck - 0.5 * (points[_L_HIP] + points[_R_HIP]))
    cv2.circle(reach, fixed(centre), radius(HEAD_RADIUS), _ON, thickness=-1, shift=shift)
    cv2.line(reach, fixed(neck), fixed(centre), _ON, thickness=limb_width, shift=shift)
    return reach.astype(bool)


def torso_length(keypoints: np.ndarray) -> float | None:
    """Mean shoulder-to-hip distance in pixels of COCO-17 keypoints (17, 3); None when one of the four
    joints is missing."""
    if (keypoints[list(_TORSO), 2] < MIN_CONFIDENCE).any():
        return None
    points = keypoints[:, :2].astype(np.float64)
    left = np.linalg.norm(points[_L_SHOULDER] - points[_L_HIP])
    return float(0.5 * (left + np.linalg.norm(points[_R_SHOULDER] - points[_R_HIP])))


def within_reach(person: PersonDetection) -> PersonDetection | None:
    """The person with their mask limited to their body's reach; None when nothing of the mask is left.
    A person whose reach cannot be drawn, or whose torso is implausibly short for the silhouette
    (`MIN_TORSO_SHARE`), is returned unchanged."""
    torso = torso_length(person.keypoints)
    if torso is None or torso < MIN_TORSO_SHARE * float(person.box[3] - person.box[1]):
        return person
    reach = body_reach(person.keypoints, (person.mask.shape[0], person.mask.shape[1]))
    if reach is None:
        return person
    mask = person.mask & reach
    box = mask_box(mask)
    if box is None:
        return None
    return PersonDetection(mask=mask, keypoints=person.keypoints, box=box, score=person.score)
