"""The 6 face parts of the original's part-removal augmentation, from SMPL-joint skinning weights:
1 left arm (with hand), 2 right arm, 3 head (with neck), 4 left leg (with foot), 5 right leg, 6 torso."""

from __future__ import annotations

import numpy as np

from tools.open_body.mesh import connected_components, face_adjacency
from tools.open_body.skeleton import NUM_JOINTS, SMPL_JOINT_NAMES

PART_NAMES = ("left arm", "right arm", "head", "left leg", "right leg", "torso")
_PART_JOINTS = (
    ("left_shoulder", "left_elbow", "left_wrist", "left_hand"),
    ("right_shoulder", "right_elbow", "right_wrist", "right_hand"),
    ("neck", "head"),
    ("left_hip", "left_knee", "left_ankle", "left_foot"),
    ("right_hip", "right_knee", "right_ankle", "right_foot"),
    ("pelvis", "spine1", "spine2", "spine3", "left_collar", "right_collar"),
)


def joint_to_part() -> np.ndarray:
    """(24,) part id (1..6) of each SMPL joint."""
    parts = np.zeros(NUM_JOINTS, dtype=np.int64)
    for part, joints in enumerate(_PART_JOINTS, start=1):
        parts[[SMPL_JOINT_NAMES.index(j) for j in joints]] = part
    return parts


def face_parts(faces: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(F,) part id of each face: the part holding most of its three vertices' skinning weight.

    Where weights are mixed a part can come out in several pieces: every piece but the largest of its
    part joins the part it shares most edges with, until each part is one edge-connected piece.

    Args:
        faces: (F, 3) triangles of one connected mesh.
        weights: (V, 24) SMPL-joint skinning weights.
    """
    one_hot = np.eye(len(PART_NAMES))[joint_to_part() - 1]  # (24, 6)
    labels = np.argmax(weights[faces].sum(axis=1) @ one_hot, axis=1) + 1
    pairs = face_adjacency(faces)
    while True:
        # Pieces: faces of one part connected through shared edges.
        pieces = connected_components(len(faces), pairs[labels[pairs[:, 0]] == labels[pairs[:, 1]]])
        piece = _smallest_stray_piece(pieces, labels)
        if piece is None:
            return labels
        # The piece joins the label found most often across its border (once per shared edge).
        border = pairs[(pieces[pairs[:, 0]] == piece) != (pieces[pairs[:, 1]] == piece)]
        outside = np.where(pieces[border[:, 0]] == piece, border[:, 1], border[:, 0])
        labels[pieces == piece] = np.bincount(labels[outside]).argmax()


def _smallest_stray_piece(pieces: np.ndarray, labels: np.ndarray) -> int | None:
    """The smallest piece of the first part found in several pieces, or None if every part is one piece."""
    for part in np.unique(labels):
        ids, counts = np.unique(pieces[labels == part], return_counts=True)
        if len(ids) > 1:
            return int(ids[np.argmin(counts)])
    return None
