"""The regressor's output decoded into bodies: 6D rotations -> rotation matrices -> the body model.

Training (losses and validation) and the predictor (before it places the bodies in the image's camera)
decode the same way, here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from models.bundle import BodyModelBundle
from utils.cameras import weak_perspective_project
from utils.joint_names import NUM_SKELETON_JOINTS
from utils.rotations import rot6d_to_rotmat


@dataclass
class BodyEstimate:
    """Bodies estimated by the regressor (or refined from its estimate), in the body-model frame.

    cam_wp: (B, 3) weak-perspective camera [s, tx, ty] in the crop's normalised coordinates;
    pose_rotmats: (B, 24, 3, 3), global orientation first; betas: (B, 10);
    vertices: (B, V, 3) posed; coco17: (B, 17, 3) and lsp14: (B, 14, 3) 3D joints;
    coco17_normalised: (B, 17, 2) the COCO-17 joints through the weak-perspective camera, in normalised
    crop coordinates [-1, 1] (pixel = (x + 1) R / 2).
    """

    cam_wp: torch.Tensor
    pose_rotmats: torch.Tensor
    betas: torch.Tensor
    vertices: torch.Tensor
    coco17: torch.Tensor
    lsp14: torch.Tensor
    coco17_normalised: torch.Tensor


def decode_bodies(
    bundle: BodyModelBundle, cam_wp: torch.Tensor, pose6d: torch.Tensor, betas: torch.Tensor
) -> BodyEstimate:
    """Regressor outputs cam_wp (B, 3), pose6d (B, 144), betas (B, 10) -> posed bodies, in float32."""
    cam_wp, pose6d, betas = cam_wp.float(), pose6d.float(), betas.float()
    pose_rotmats = rot6d_to_rotmat(pose6d.reshape(-1, NUM_SKELETON_JOINTS, 6))
    body = bundle(pose_rotmats, betas)
    return BodyEstimate(
        cam_wp=cam_wp,
        pose_rotmats=pose_rotmats,
        betas=betas,
        vertices=body.vertices,
        coco17=body.coco17,
        lsp14=body.lsp14,
        coco17_normalised=weak_perspective_project(body.coco17, cam_wp),
    )
