"""Joint names, the SMPL kinematic tree and the SMPL format's sizes: the one definition every package uses.

Orders follow the original (docs/ORIGINAL.md §3): SMPL's 24 skeleton joints, COCO-17 keypoints (the
detectors' and the network's 2D order) and LSP-14 (the 3D loss and metric order, as in SPIN).
"""

from __future__ import annotations

NUM_SKELETON_JOINTS = 24  # SMPL's skeleton joints, global orientation (pelvis) first
NUM_BETAS = 10  # shape coefficients the regressor predicts and the SMPL files' shapedirs provide (at least)

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)

# Parent of each SMPL joint (kintree_table row 0), -1 for the root.
SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)  # fmt: skip

COCO17_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

LSP14_NAMES: tuple[str, ...] = (
    "right_ankle",
    "right_knee",
    "right_hip",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_wrist",
    "right_elbow",
    "right_shoulder",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "neck",
    "head_top",
)

NUM_KEYPOINTS = len(COCO17_NAMES)  # the 17 COCO keypoints of detectors and heatmaps
