"""BVH motion of a rig: the skeleton's bone offsets from the predicted shape and each frame's joint rotations.

The world is y up, metres, with the image camera at the origin looking down -z (the image camera frame
turned half a turn about x, as in the glb). The hierarchy is the rest skeleton in the body-model frame (a
T-pose standing along +y, facing +z), joints named with SMPL's names; the root (`pelvis`) has OFFSET 0 and
its position channels carry its world position, so readers that add the root's offset and readers that do
not agree. Rotations are Euler angles in degrees, channels `Zrotation Yrotation Xrotation` (a joint's
rotation is Rz @ Ry @ Rx), unwrapped over frames so that no channel jumps by 360 degrees. Each leaf joint
ends in an End Site half its own bone's length further along that bone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from predict.exports.rig import CAMERA_TO_Y_UP, BodyMotion, RiggedBody
from utils.runtime import atomic_path

ROTATION_CHANNELS = "Zrotation Yrotation Xrotation"
END_SITE_FRACTION = 0.5


def rotmats_to_euler_zyx(rotations: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 3) angles (z, y, x) in radians with R = Rz(z) @ Ry(y) @ Rx(x).

    y lies in [-pi/2, pi/2]; at y = +-pi/2 (gimbal lock) x is 0 and z takes the whole turn about the
    vertical, which still gives back R exactly."""
    r = np.asarray(rotations, dtype=np.float64)
    cos_y = np.hypot(r[..., 0, 0], r[..., 1, 0])
    y = np.arctan2(-r[..., 2, 0], cos_y)
    locked = cos_y < 1e-9
    x = np.where(locked, 0.0, np.arctan2(r[..., 2, 1], r[..., 2, 2]))
    z = np.where(locked, np.arctan2(-r[..., 0, 1], r[..., 1, 1]), np.arctan2(r[..., 1, 0], r[..., 0, 0]))
    return np.stack([z, y, x], axis=-1)


def bvh_text(rig: RiggedBody, motion: BodyMotion) -> str:
    """The BVH file of a rig and its T frames (see the module docstring)."""
    num_joints = len(rig.parents)
    if motion.rotations.shape[1] != num_joints:
        raise ValueError(f"The motion has {motion.rotations.shape[1]} joints, the rig {num_joints}.")
    lines = ["HIERARCHY"]
    order: list[int] = []  # joints in the order the hierarchy lists them, which the frame values follow
    _write_joint(rig, 0, 0, lines, order)
    world_rotations = motion.rotations.copy()
    world_rotations[:, 0] = CAMERA_TO_Y_UP @ motion.rotations[:, 0]
    angles = np.degrees(np.unwrap(rotmats_to_euler_zyx(world_rotations), axis=0))  # (T, J, 3)
    root_positions = (motion.translations + rig.rest_joints[0]) @ CAMERA_TO_Y_UP.T  # (T, 3)
    values = np.concatenate([root_positions, angles[:, order].reshape(len(angles), -1)], axis=1)
    lines += ["MOTION", f"Frames: {motion.num_frames}", f"Frame Time: {1.0 / motion.fps:.8f}"]
    lines += [" ".join(f"{value:.6f}" for value in frame) for frame in values]
    return "\n".join(lines) + "\n"


def write_bvh(path: Path, rig: RiggedBody, motion: BodyMotion) -> Path:
    """Write `bvh_text` to `path` (whole or not at all)."""
    text = bvh_text(rig, motion)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="ascii")
    return path


def _write_joint(rig: RiggedBody, joint: int, depth: int, lines: list[str], order: list[int]) -> None:
    """Append joint `joint` and its subtree (depth first) to `lines`, and their indices to `order`."""
    order.append(joint)
    indent = "  " * depth
    is_root = rig.parents[joint] < 0
    offset = np.zeros(3) if is_root else rig.bone_offsets[joint]
    lines.append(f"{indent}{'ROOT' if is_root else 'JOINT'} {rig.joint_names[joint]}")
    lines.append(f"{indent}{{")
    lines.append(f"{indent}  OFFSET {_triple(offset)}")
    channels = f"6 Xposition Yposition Zposition {ROTATION_CHANNELS}" if is_root else f"3 {ROTATION_CHANNELS}"
    lines.append(f"{indent}  CHANNELS {channels}")
    children = [child for child, parent in enumerate(rig.parents) if parent == joint]
    for child in children:
        _write_joint(rig, child, depth + 1, lines, order)
    if not children:
        end = END_SITE_FRACTION * rig.bone_offsets[joint]
        lines += [f"{indent}  End Site", f"{indent}  {{", f"{indent}    OFFSET {_triple(end)}"]
        lines.append(f"{indent}  }}")
    lines.append(f"{indent}}}")


def _triple(values: np.ndarray) -> str:
    return " ".join(f"{value:.6f}" for value in values)
