"""Re-posing Anny's rest bodies (an A-pose: arms 48 degrees down, elbows bent 42 degrees, legs 5 degrees
apart, knees slightly bent) into SMPL's rest T-pose: arms straight along +-x, legs straight and vertical,
feet, spine and head as they were.

Each step rotates one bone and its whole subtree about the bone's head by the shortest arc that brings a
chain direction onto its target, so no twist is added: the palms end up facing down as in SMPL. The
vertices follow by Anny's own linear blend skinning over its 104 bones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_DOWN = np.array([0.0, -1.0, 0.0])
_LEFT = np.array([1.0, 0.0, 0.0])  # SMPL's left is +x


@dataclass
class _Pose:
    """World transforms x -> R x + t of every bone, for N bodies: R (N, K, 3, 3), t (N, K, 3)."""

    rotations: np.ndarray
    translations: np.ndarray

    def heads(self, rest_heads: np.ndarray) -> np.ndarray:
        """(N, K, 3) posed bone heads."""
        return np.einsum("nkij,nkj->nki", self.rotations, rest_heads) + self.translations


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 3), (N, 3) -> (N, 3, 3): the smallest rotation taking direction a onto direction b.

    Raises:
        ValueError: a and b point in opposite directions (the rotation axis is undefined).
    """
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    axis = np.cross(a, b)
    cos = np.sum(a * b, axis=-1)
    if np.any(cos < -0.99):
        raise ValueError("Cannot take a direction onto its opposite by a unique smallest rotation.")
    skew = np.zeros(a.shape[:-1] + (3, 3))
    skew[..., 0, 1], skew[..., 0, 2], skew[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    skew = skew - np.swapaxes(skew, -1, -2)
    # Rodrigues with sin = |axis|, 1 - cos = |axis|^2 / (1 + cos): exact and stable for small angles.
    return np.eye(3) + skew + skew @ skew / (1.0 + cos)[..., None, None]


def _subtrees(parents: np.ndarray) -> np.ndarray:
    """(K, K) bool: [k, j] is True when bone j is k or one of its descendants. Parents precede children."""
    count = len(parents)
    inside = np.eye(count, dtype=bool)
    for j in range(1, count):
        inside[:, j] |= inside[:, parents[j]]
    return inside


def _rotate_subtree(pose: _Pose, rest_heads: np.ndarray, bone: int, subtree: np.ndarray, rot: np.ndarray):
    """Rotates bone `bone` and its descendants by rot (N, 3, 3) about the bone's posed head, in place."""
    rot = np.array(rot)  # a copy: rot may be a view of the rotations updated below
    pivot = pose.heads(rest_heads)[:, bone]  # (N, 3)
    pose.rotations[:, subtree] = np.einsum("nij,nkjl->nkil", rot, pose.rotations[:, subtree])
    moved = pose.translations[:, subtree] - pivot[:, None]
    pose.translations[:, subtree] = np.einsum("nij,nkj->nki", rot, moved) + pivot[:, None]


def tpose(
    vertices: np.ndarray,
    bone_heads: np.ndarray,
    bone_weights: np.ndarray,
    bone_labels: tuple[str, ...],
    bone_parents: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """T-pose Anny rest bodies.

    Args:
        vertices: (N, V, 3) rest vertices, SMPL axes.
        bone_heads: (N, K, 3) rest bone heads, SMPL axes.
        bone_weights: (V, K) skinning weights.
        bone_labels, bone_parents: the rig (K bones, parents before children).
    Returns:
        (N, V, 3) T-posed vertices and (N, K, 3) T-posed bone heads.
    """
    count, num_bones = bone_heads.shape[:2]
    pose = _Pose(np.tile(np.eye(3), (count, num_bones, 1, 1)), np.zeros((count, num_bones, 3)))
    subtrees = _subtrees(bone_parents)
    index = {label: k for k, label in enumerate(bone_labels)}

    def head(label: str) -> np.ndarray:
        return pose.heads(bone_heads)[:, index[label]]

    def rotate(label: str, rot: np.ndarray) -> None:
        _rotate_subtree(pose, bone_heads, index[label], subtrees[index[label]], rot)

    for side, outward in (("L", _LEFT), ("R", -_LEFT)):
        hip, knee, ankle = f"upperleg01.{side}", f"lowerleg01.{side}", f"foot.{side}"
        # Straighten the knee, then swing the whole leg vertical, then give the foot back its rest
        # orientation (sole flat, toes forward).
        rotate(knee, rotation_between(head(ankle) - head(knee), head(knee) - head(hip)))
        rotate(hip, rotation_between(head(ankle) - head(hip), np.broadcast_to(_DOWN, (count, 3))))
        rotate(ankle, np.swapaxes(pose.rotations[:, index[ankle]], -1, -2))

        shoulder, elbow, wrist = f"upperarm01.{side}", f"lowerarm01.{side}", f"wrist.{side}"
        # Straighten the elbow, then raise the arm horizontal and straight out to the side. Only the
        # humerus rotates at the shoulder: lifting the clavicle too distorts the shoulder more.
        rotate(elbow, rotation_between(head(wrist) - head(elbow), head(elbow) - head(shoulder)))
        rotate(shoulder, rotation_between(head(wrist) - head(shoulder), np.broadcast_to(outward, (count, 3))))
        # The hand hangs ~5 degrees below the forearm; SMPL's is level.
        knuckles = np.mean([head(f"finger{i}-1.{side}") for i in range(2, 6)], axis=0)
        rotate(wrist, rotation_between(knuckles - head(wrist), np.broadcast_to(outward, (count, 3))))

    # Linear blend skinning: each vertex moves by the weighted mean of its bones' transforms.
    blend_rot = (bone_weights @ pose.rotations.reshape(count, num_bones, 9)).reshape(count, -1, 3, 3)
    posed = np.einsum("nvij,nvj->nvi", blend_rot, vertices) + bone_weights @ pose.translations
    return posed, pose.heads(bone_heads)
