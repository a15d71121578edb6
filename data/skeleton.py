"""A plain SMPL-like stick skeleton: joint names, the kinematic tree and forward kinematics.

No body-model file is read. The rest joint positions are round numbers close to those of the SMPL neutral
template in its T-pose (metres, y up, facing +z, the body's left at +x, joint frames world-aligned at
rest). They serve the pose sampler's previews and tests, where only the directions of bones matter.
"""

from __future__ import annotations

import torch

from utils.joint_names import SMPL_JOINT_NAMES, SMPL_PARENTS

# Short names (L_/R_) read better in the pose templates; they follow the shared SMPL order.
JOINT_NAMES: tuple[str, ...] = tuple(
    name.replace("left_", "L_").replace("right_", "R_") for name in SMPL_JOINT_NAMES
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}

PARENTS = SMPL_PARENTS

# (left, right) index pairs; every other joint lies on the body's mid-plane.
LEFT_RIGHT_PAIRS: tuple[tuple[int, int], ...] = tuple(
    (JOINT_INDEX[name], JOINT_INDEX["R_" + name[2:]]) for name in JOINT_NAMES if name.startswith("L_")
)

# Rest positions of the left side and the mid-line; the right side is the mirror image (x -> -x).
_REST_HALF: dict[str, tuple[float, float, float]] = {
    "pelvis": (0.0, -0.22, 0.03),
    "L_hip": (0.07, -0.31, 0.02),
    "spine1": (0.0, -0.10, 0.0),
    "L_knee": (0.10, -0.70, 0.03),
    "spine2": (0.0, 0.03, 0.03),
    "L_ankle": (0.09, -1.10, -0.02),
    "spine3": (0.0, 0.08, 0.03),
    "L_foot": (0.115, -1.155, 0.11),
    "neck": (0.0, 0.29, 0.01),
    "L_collar": (0.08, 0.20, 0.02),
    "head": (0.0, 0.35, 0.06),
    "L_shoulder": (0.17, 0.225, 0.01),
    "L_elbow": (0.435, 0.21, -0.02),
    "L_wrist": (0.69, 0.22, -0.025),
    "L_hand": (0.78, 0.215, -0.04),
}


def rest_joints(dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """Rest (T-pose) joint positions of the stick skeleton.

    Returns:
        (24, 3) metres in the body-model frame.
    """
    rows = []
    for name in JOINT_NAMES:
        if name.startswith("R_"):
            x, y, z = _REST_HALF["L_" + name[2:]]
            rows.append((-x, y, z))
        else:
            rows.append(_REST_HALF[name])
    return torch.tensor(rows, dtype=dtype, device=device)


def forward_kinematics(rotmats: torch.Tensor, rest: torch.Tensor | None = None) -> torch.Tensor:
    """Posed joint positions from local joint rotations (SMPL's rigid chain, without skinning).

    Args:
        rotmats: (B, 24, 3, 3) local rotations, the global orientation first.
        rest: (24, 3) rest joint positions; the stick skeleton's when None.
    Returns:
        (B, 24, 3) posed joints; the root joint stays at its rest position.
    """
    if rotmats.shape[-3:] != (NUM_JOINTS, 3, 3):
        raise ValueError(
            f"forward_kinematics expects rotations of shape (B, 24, 3, 3), got {tuple(rotmats.shape)}."
        )
    if rest is None:
        rest = rest_joints(rotmats.dtype, rotmats.device)
    world_rot = [rotmats[:, 0]]
    world_pos = [rest[0].expand(rotmats.shape[0], 3)]
    # Parents precede children in SMPL's order, so one pass in index order suffices.
    for j in range(1, NUM_JOINTS):
        p = PARENTS[j]
        world_pos.append(world_pos[p] + world_rot[p] @ (rest[j] - rest[p]))
        world_rot.append(world_rot[p] @ rotmats[:, j])
    return torch.stack(world_pos, dim=1)
