"""What every export format is written from: a rigged body, its motion and the picture's camera, as plain
arrays, so that one image (T = 1) and a video clip (T frames) go through the same writers.

Frames: the body-model frame is SMPL's (metres, y up, the rest body facing +z, its left at +x); the camera
frame is the image camera's (x right, y down, z forward, metres), the frame of the npz's `vertices`. A frame
t of the motion poses the rest body by linear blend skinning with `rotations[t]` and then moves it by
`translations[t]` into the camera frame, as the body model does (without its pose-corrective blend shapes,
which no rig format carries; the open body has none).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from models.body_model import SMPLFormatBodyModel
from utils.joint_names import SMPL_JOINT_NAMES

# Camera frame (x right, y down, z forward) -> a y-up frame whose camera looks down -z (glTF's and the BVH's
# world): a half turn about x, a proper rotation, so it composes with joint rotations.
CAMERA_TO_Y_UP = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class RiggedBody:
    """A body in its rest pose with its skeleton and skinning weights (body-model frame, metres).

    rest_vertices (V, 3), faces (F, 3), rest_joints (J, 3), skin_weights (V, J) (rows sum to 1), parents (J,)
    with -1 for the root and every parent listed before its children, joint_names (J,).
    """

    rest_vertices: np.ndarray
    faces: np.ndarray
    rest_joints: np.ndarray
    skin_weights: np.ndarray
    parents: tuple[int, ...]
    joint_names: tuple[str, ...]

    def __post_init__(self) -> None:
        num_vertices, num_joints = len(self.rest_vertices), len(self.parents)
        if self.rest_vertices.shape != (num_vertices, 3) or self.faces.ndim != 2 or self.faces.shape[1] != 3:
            raise ValueError("rest_vertices must be (V, 3) and faces (F, 3).")
        if self.rest_joints.shape != (num_joints, 3) or len(self.joint_names) != num_joints:
            raise ValueError(f"rest_joints must be ({num_joints}, 3) with {num_joints} joint names.")
        if self.skin_weights.shape != (num_vertices, num_joints):
            raise ValueError(f"skin_weights must be ({num_vertices}, {num_joints}).")
        if self.parents[0] != -1 or any(not 0 <= p < j for j, p in enumerate(self.parents) if j):
            raise ValueError("parents must start with the root (-1) and list parents before their children.")

    @property
    def bone_offsets(self) -> np.ndarray:
        """(J, 3) each joint's rest position relative to its parent's (the root's: its own position)."""
        parents = np.array(self.parents)
        return self.rest_joints - np.where(parents[:, None] >= 0, self.rest_joints[parents], 0.0)


@dataclass(frozen=True)
class BodyMotion:
    """T frames of a rig's pose: rotations (T, J, 3, 3) of each joint relative to its parent (the root's is
    the global orientation), translations (T, 3) from the body-model frame to the camera frame (the npz's
    `cam_t`), at `fps` frames per second (irrelevant for one frame)."""

    rotations: np.ndarray
    translations: np.ndarray
    fps: float = 30.0

    def __post_init__(self) -> None:
        frames = len(self.rotations)
        if frames < 1 or self.rotations.shape[2:] != (3, 3) or self.translations.shape != (frames, 3):
            raise ValueError("rotations must be (T, J, 3, 3) and translations (T, 3), T >= 1.")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}.")

    @property
    def num_frames(self) -> int:
        return len(self.rotations)


@dataclass(frozen=True)
class ImageCamera:
    """The pinhole camera of the pictures: focal length and principal point in pixels, image (H, W)."""

    focal_length: float
    principal_point: tuple[float, float]
    image_hw: tuple[int, int]


def rig_from_body_model(body_model: SMPLFormatBodyModel, betas: np.ndarray | torch.Tensor) -> RiggedBody:
    """The rig of one body shape: the shaped rest mesh, its joints (the model's joint regressor applied to
    it, as the body model's forward pass does) and the model's skinning weights and kinematic tree.

    Args:
        body_model: an SMPL-format body model layer.
        betas: (10,) shape coefficients.
    """
    template = body_model.v_template
    with torch.no_grad():
        shape = torch.as_tensor(np.asarray(betas), dtype=template.dtype, device=template.device)
        rest_vertices = body_model.tpose_vertices(shape.reshape(1, -1))[0].cpu().numpy().astype(np.float64)
    return RiggedBody(
        rest_vertices=rest_vertices,
        faces=body_model.faces.cpu().numpy(),
        rest_joints=body_model.J_regressor.cpu().numpy().astype(np.float64) @ rest_vertices,
        skin_weights=body_model.skinning_weights.cpu().numpy().astype(np.float64),
        parents=tuple(int(p) for p in body_model.parents.tolist()),
        joint_names=SMPL_JOINT_NAMES,
    )
