"""Fit refinement: a few gradient steps that pull each regressed body onto its own silhouette and joints.

The regressor is the faithful STRAPS network; refinement is a stage after it (as SPIN and EFT optimise after
regression), and with `steps = 0` it is skipped and the regressor's output is returned untouched. It works
in the crop the regressor saw, with the regressor's own parameters as variables, batched over images:
pose (B, 24, 6) in 6D, betas (B, 10) and the weak-perspective camera (B, 3), Adam for `steps` steps.

Objective, per image (weights in `RefineConfig`):
- silhouette: mean over the crop's pixels that lie inside the image (a body cut off by the photo's border is
  not pulled into the frame) of (soft - target)^2, where soft is the differentiable soft silhouette of a
  decimated body mesh (renderers/soft.py, renderers/decimate.py) at `silhouette_wh` px and target the input
  silhouette resampled to that size and softened alike (`soften_mask`);
- joints: Geman-McClure rho(r) = r^2 / (r^2 + s^2) of the distance r between the body's projected COCO
  joints and the detected ones, in normalised crop units (s = `joint_scale`), weighted by the detector's
  confidence, over the joints drawn into the heatmaps only (confidence >= the predictor's threshold), and
  averaged over them;
- pose prior: mean over the 24 joints of the squared Frobenius distance between the rotation and the
  regressor's (the network is the prior);
- shape priors: squared distance of the betas to the regressor's, and their squared magnitude (betas are
  N(0, I) in both body models);
- joint-angle limits: squared excess, in radians, of each joint's Euler angles beyond the anatomical limits
  of the procedural pose sampler (data/procedural_poses.py), for every joint but the global orientation.

Each image keeps the parameters with the lowest objective met along the way; when that is the starting point
(the fit only made things worse), it keeps the regressor's result and is reported as such. An image whose
silhouette fills (nearly) its whole crop, i.e. the mask tells nothing of the outline, is not refined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from configs.experiment import CameraConfig
from data.procedural_poses import joint_angle_limits
from models.bundle import BodyModelBundle
from proxy.bodies import decode_bodies
from renderers.decimate import decimate_to_faces
from renderers.soft import soft_silhouette, soften_mask
from utils.cameras import pixels_to_normalised, weak_perspective_to_translation
from utils.joint_names import NUM_BETAS, NUM_SKELETON_JOINTS
from utils.rotations import axis_angle_to_rotmat, rot6d_to_rotmat

# Images whose silhouette covers more than this share of the crop's in-image pixels are not refined.
_FULL_MASK_SHARE = 0.9


@dataclass(frozen=True)
class RefineConfig:
    """Settings of the fit (see the module docstring for the objective)."""

    steps: int = 20
    lr: float = 0.03
    silhouette_wh: int = 64  # side of the soft-silhouette raster
    sigma: float = 1.0  # soft-silhouette fall-off, pixels of that raster
    cutoff: float = 3.0  # in sigmas: the band around the outline where pixels are soft
    target_faces: int = 2000  # faces of the decimated mesh used for the silhouette
    joint_scale: float = 0.1  # Geman-McClure scale, normalised crop units (1 = half the crop side)
    silhouette_weight: float = 1.0
    silhouette_uncovered_weight: float = 1.0  # < 1: the body may lie inside the outline (clothes, hair)
    joint_weight: float = 0.3
    pose_prior_weight: float = 0.002
    betas_prior_weight: float = 0.001
    betas_magnitude_weight: float = 0.0005
    angle_limit_weight: float = 0.1
    # Legs the picture does not show (knee or ankle undetected or outside the image) start standing and are
    # held near standing by this weight on their squared Frobenius distance to it, so the regressor's guess
    # for what it could not see (often a squat) is not kept. 0 turns this off.
    hidden_leg_weight: float = 0.05
    # Starting turns of the body about the camera's vertical axis, degrees: every image is fitted from the
    # regressor's orientation turned by each, batched, and keeps the start that reaches the lowest objective.
    # 180 tries the body facing the other way, the regressor's commonest orientation error (front and back
    # views give near-identical silhouettes).
    orientation_starts: tuple[float, ...] = (0.0,)


@dataclass
class RefineResult:
    """Refined parameters (B, ...) and, per image, the objective before and after and whether the
    regressor's result was kept (`kept_regressor`, bool (B,)) with the reason (`notes`)."""

    cam_wp: Tensor
    pose6d: Tensor
    betas: Tensor
    objective_start: Tensor
    objective_end: Tensor
    kept_regressor: Tensor
    notes: list[str]


@dataclass
class RefineInputs:
    """What the regressor saw, in its crop of side S.

    silhouettes: (B, S, S) bool; joints: (B, 17, 2) crop pixels; joint_weights: (B, 17) detector confidence
    for the joints to fit, 0 for the others; in_image: (B, S, S) bool, crop pixels inside the image.
    """

    silhouettes: Tensor
    joints: Tensor
    joint_weights: Tensor
    in_image: Tensor


@dataclass
class _FitTargets:
    """What the objective compares against, fixed for the whole fit: the starting rotations (B, 24, 3, 3)
    with each joint's prior weight (B, 24) and the regressor's betas (B, 10); the softened silhouettes
    (B, s, s) at the raster size with per-pixel weights (B, s, s); the detected joints (B, 17, 2) in
    normalised crop units with their weights (B, 17)."""

    start_rotmats: Tensor
    joint_prior_weights: Tensor
    start_betas: Tensor
    silhouettes: Tensor
    pixel_weights: Tensor
    joints: Tensor
    joint_weights: Tensor


class Refiner:
    """Batched fit of regressed bodies to their silhouettes and joints.

    Args:
        bundle: the body-model bundle (on the prediction device).
        config: steps, raster size, weights.
        focal_per_pixel: the training camera's focal length per pixel of crop side (5000 / 256), which
            turns the weak-perspective camera into a perspective one for the soft silhouette.
    """

    def __init__(
        self,
        bundle: BodyModelBundle,
        config: RefineConfig | None = None,
        focal_per_pixel: float = CameraConfig.focal_length / CameraConfig.render_wh,
    ):
        self.bundle = bundle
        self.config = config or RefineConfig()
        self.focal_per_pixel = focal_per_pixel
        device = bundle.faces.device
        mean_betas = bundle.mean_params[-NUM_BETAS:].detach().cpu()[None]
        rest = bundle.tpose_vertices(mean_betas.to(device))[0].detach().cpu().numpy()
        groups = bundle.skinning_weights.argmax(dim=1).cpu().numpy()
        mesh = decimate_to_faces(rest, bundle.faces.cpu().numpy(), groups, self.config.target_faces)
        self.vertex_index = torch.as_tensor(mesh.vertex_index, device=device)
        self.faces = torch.as_tensor(mesh.faces, device=device)
        lower, upper = joint_angle_limits()
        self.angle_lower = torch.deg2rad(lower).to(device)[1:]  # (23, 3), the global orientation is free
        self.angle_upper = torch.deg2rad(upper).to(device)[1:]

    def refine(self, cam_wp: Tensor, pose6d: Tensor, betas: Tensor, inputs: RefineInputs) -> RefineResult:
        """Fit (B, 3) cameras, (B, 144) 6D poses and (B, 10) betas to `inputs`; see the module docstring.

        With several `orientation_starts`, the K starts of all B images are fitted as one batch of K B and
        each image keeps its best start; the objective before the fit is the regressor's (the first start).
        """
        batch_size = cam_wp.shape[0]
        turns = self.config.orientation_starts
        start = (
            cam_wp.detach().float(),
            pose6d.detach().float().reshape(batch_size, NUM_SKELETON_JOINTS, 6),
            betas.detach(),
        )
        silhouettes, pixel_weights = self._silhouette_targets(inputs)
        hidden = hidden_leg_joints(inputs) if self.config.hidden_leg_weight > 0 else None
        if hidden is not None:
            standing = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.0], device=hidden.device)  # identity in 6D
            start = (start[0], torch.where(hidden[..., None], standing, start[1]), start[2])
        prior_weights = torch.full(
            (batch_size, NUM_SKELETON_JOINTS),
            self.config.pose_prior_weight / NUM_SKELETON_JOINTS,
            device=cam_wp.device,
        )
        if hidden is not None:
            prior_weights = prior_weights + self.config.hidden_leg_weight * hidden
        targets = _FitTargets(
            start_rotmats=rot6d_to_rotmat(start[1]),
            joint_prior_weights=prior_weights,
            start_betas=start[2],
            silhouettes=silhouettes,
            pixel_weights=pixel_weights,
            joints=pixels_to_normalised(inputs.joints, inputs.silhouettes.shape[-1]),
            joint_weights=inputs.joint_weights,
        )
        active = self._refinable(inputs)
        if len(turns) > 1:
            start, targets = _with_orientation_starts(start, targets, turns)
            active = active.repeat(len(turns))
        fitted, objective_start, best_objective = self._fit(start, targets, active)
        if len(turns) > 1:
            # Each image's best start (index k of K); the regressor's own objective is that of start 0.
            per_start = best_objective.view(len(turns), batch_size)
            choice = per_start.argmin(0)
            rows = choice * batch_size + torch.arange(batch_size, device=choice.device)
            fitted = (fitted[0][rows], fitted[1][rows], fitted[2][rows])
            start = (start[0][:batch_size], start[1][:batch_size], start[2][:batch_size])
            best_objective = per_start.gather(0, choice[None])[0]
            objective_start = objective_start[:batch_size]
            active = active[:batch_size]
        return self._result(start, fitted, objective_start, best_objective, active, (cam_wp, pose6d, betas))

    def _fit(
        self, start: tuple[Tensor, Tensor, Tensor], targets: _FitTargets, active: Tensor
    ) -> tuple[tuple[Tensor, Tensor, Tensor], Tensor, Tensor]:
        """Adam from `start` (cam (N, 3), pose (N, 24, 6), betas (N, 10)); returns the parameters with the
        lowest objective met per row, the objective at the start (N,) and that lowest objective (N,)."""
        cfg = self.config
        batch_size = start[0].shape[0]
        cam_wp = start[0]

        variables = [tensor.clone().requires_grad_(True) for tensor in start]
        cam_variable, pose_variable, betas_variable = variables
        optimiser = torch.optim.Adam(variables, lr=cfg.lr)
        best = [tensor.clone() for tensor in start]
        best_objective = torch.full((batch_size,), math.inf, device=cam_wp.device)
        objective_start: Tensor | None = None
        with torch.enable_grad():
            for step in range(cfg.steps + 1):
                objective = self._objective(cam_variable, pose_variable, betas_variable, targets)
                detached = objective.detach()
                if objective_start is None:
                    objective_start = detached.clone()
                better = (detached < best_objective) & active
                for kept, current in zip(best, variables, strict=True):
                    kept[better] = current.detach()[better]
                best_objective = torch.where(better, detached, best_objective)
                if step == cfg.steps:
                    break
                optimiser.zero_grad(set_to_none=True)
                (objective * active).sum().backward()  # type: ignore[no-untyped-call]  # untyped in torch
                optimiser.step()

        assert objective_start is not None  # set by the loop's first pass, which always runs (steps >= 0)
        return (best[0], best[1], best[2]), objective_start, best_objective

    @staticmethod
    def _result(
        start: tuple[Tensor, ...],
        best: tuple[Tensor, ...],
        objective_start: Tensor,
        best_objective: Tensor,
        active: Tensor,
        given: tuple[Tensor, Tensor, Tensor],
    ) -> RefineResult:
        """The fitted parameters, or the regressor's where the fit is off or did not lower the objective,
        in the dtypes and shapes of `given` (cam_wp, pose6d, betas)."""
        cam_wp, pose6d, betas = given
        batch_size = cam_wp.shape[0]
        best = tuple(tensor.clone() for tensor in best)
        kept_regressor = ~active | (best_objective >= objective_start)
        for kept, original in zip(best, start, strict=True):
            kept[kept_regressor] = original[kept_regressor]
        objective_end = torch.where(kept_regressor, objective_start, best_objective)
        notes = [
            ""
            if not keep
            else "the silhouette fills its crop, so it was not refined"
            if not is_active
            else "the fit did not lower its objective, so the regressor's result was kept"
            for keep, is_active in zip(kept_regressor.tolist(), active.tolist(), strict=True)
        ]
        cam, pose, shape = best
        return RefineResult(
            cam_wp=cam.to(cam_wp.dtype),
            pose6d=pose.reshape(batch_size, -1).to(pose6d.dtype),
            betas=shape.to(betas.dtype),
            objective_start=objective_start,
            objective_end=objective_end,
            kept_regressor=kept_regressor,
            notes=notes,
        )

    # ------------------------------------------------------------------------------------------------------

    def _objective(self, cam_wp: Tensor, pose6d: Tensor, betas: Tensor, targets: _FitTargets) -> Tensor:
        """(B,) the weighted objective at the current parameters."""
        cfg = self.config
        body = decode_bodies(self.bundle, cam_wp, pose6d, betas)
        rotmats = body.pose_rotmats

        size = cfg.silhouette_wh
        focal = self.focal_per_pixel * size
        translation = weak_perspective_to_translation(cam_wp, focal, size)
        vertices = body.vertices[:, self.vertex_index] + translation[:, None]
        soft = soft_silhouette(
            vertices, self.faces, focal, None, (size, size), cfg.sigma, cfg.cutoff, checkpointed=False
        )
        # Body outside the silhouette costs fully; silhouette the body leaves uncovered costs
        # `silhouette_uncovered_weight` of that, so loose clothes and hair need not be filled by the body.
        residual = soft - targets.silhouettes
        weighted = torch.where(residual > 0, residual, residual * math.sqrt(cfg.silhouette_uncovered_weight))
        silhouette = (weighted.square() * targets.pixel_weights).flatten(1).sum(1)

        squared = (body.coco17_normalised - targets.joints).square().sum(-1)
        robust = squared / (squared + cfg.joint_scale**2)
        weights = targets.joint_weights
        joints = (robust * weights).sum(1) / weights.sum(1).clamp_min(1e-6)

        pose_prior = (
            (rotmats - targets.start_rotmats).square().sum((-1, -2)) * targets.joint_prior_weights
        ).sum(1)
        betas_prior = (betas - targets.start_betas).square().sum(1)
        betas_magnitude = betas.square().sum(1)
        angles = _euler_xyz(rotmats[:, 1:])
        excess = F.relu(self.angle_lower - angles) + F.relu(angles - self.angle_upper)
        angle_limits = excess.square().sum((1, 2))

        return (
            cfg.silhouette_weight * silhouette
            + cfg.joint_weight * joints
            + pose_prior
            + cfg.betas_prior_weight * betas_prior
            + cfg.betas_magnitude_weight * betas_magnitude
            + cfg.angle_limit_weight * angle_limits
        )

    def _silhouette_targets(self, inputs: RefineInputs) -> tuple[Tensor, Tensor]:
        """Softened (B, s, s) targets at the raster size and per-pixel weights that average over the crop's
        in-image pixels."""
        size = self.config.silhouette_wh
        coverage = F.interpolate(inputs.silhouettes[:, None].float(), size=(size, size), mode="area")[:, 0]
        target = soften_mask(coverage > 0.5, self.config.sigma, self.config.cutoff)
        in_image = F.interpolate(inputs.in_image[:, None].float(), size=(size, size), mode="area")[:, 0] > 0.5
        weights = in_image.float() / in_image.flatten(1).sum(1).clamp_min(1)[:, None, None]
        return target, weights

    @staticmethod
    def _refinable(inputs: RefineInputs) -> Tensor:
        """(B,) bool: images whose silhouette leaves some of the crop's in-image pixels free."""
        inside = inputs.in_image.flatten(1).sum(1)
        covered = (inputs.silhouettes & inputs.in_image).flatten(1).sum(1)
        return (covered > 0) & (covered < _FULL_MASK_SHARE * inside)


# Each leg as (COCO knee, COCO ankle, SMPL hip, knee, ankle, foot), left then right.
_LEGS = ((13, 15, 1, 4, 7, 10), (14, 16, 2, 5, 8, 11))


def hidden_leg_joints(inputs: RefineInputs) -> Tensor:
    """(B, 24) bool: the SMPL leg joints whose motion the picture does not show. A knee without a fitted
    detection inside the picture hides its whole leg (hip, knee, ankle, foot); a hidden ankle alone hides
    the knee's rotation and those below it."""
    size = inputs.silhouettes.shape[-1]
    pixel = inputs.joints.round().long().clamp(0, size - 1)  # (B, 17, 2) crop pixels (u, v)
    inside = inputs.in_image.gather(1, pixel[..., 1:2].expand(-1, -1, size)).gather(2, pixel[..., :1])[..., 0]
    shown = (inputs.joint_weights > 0) & inside  # (B, 17)
    hidden = torch.zeros(shown.shape[0], NUM_SKELETON_JOINTS, dtype=torch.bool, device=shown.device)
    for knee, ankle, hip_joint, knee_joint, ankle_joint, foot_joint in _LEGS:
        leg_hidden = ~shown[:, knee]
        shin_hidden = leg_hidden | ~shown[:, ankle]
        hidden[:, hip_joint] = leg_hidden
        for joint in (knee_joint, ankle_joint, foot_joint):
            hidden[:, joint] = shin_hidden
    return hidden


def _with_orientation_starts(
    start: tuple[Tensor, Tensor, Tensor], targets: _FitTargets, turns: tuple[float, ...]
) -> tuple[tuple[Tensor, Tensor, Tensor], _FitTargets]:
    """K = len(turns) copies of the B starts and targets, stacked start by start (row k B + b is image b
    turned by turns[k] degrees about the camera's vertical axis through the root). The pose prior of each
    copy points at its own turned start, so that no start is penalised for its turn."""
    cam_wp, pose6d, betas = start
    angles = torch.deg2rad(torch.tensor(turns, dtype=pose6d.dtype, device=pose6d.device))
    about_y = torch.stack([torch.zeros_like(angles), angles, torch.zeros_like(angles)], dim=1)
    turn = axis_angle_to_rotmat(about_y)[:, None]  # (K, 1, 3, 3)
    root = pose6d[:, 0].reshape(-1, 3, 2)  # the 6D columns turn with the rotation they stand for
    turned_roots = (turn @ root).reshape(len(turns), -1, 6)  # (K, B, 6)
    poses = pose6d.repeat(len(turns), 1, 1)
    poses[:, 0] = turned_roots.reshape(-1, 6)
    rotmats = targets.start_rotmats.repeat(len(turns), 1, 1, 1)
    rotmats[:, 0] = (turn @ targets.start_rotmats[:, 0]).reshape(-1, 3, 3)
    count = len(turns)
    repeated = _FitTargets(
        start_rotmats=rotmats,
        joint_prior_weights=targets.joint_prior_weights.repeat(count, 1),
        start_betas=targets.start_betas.repeat(count, 1),
        silhouettes=targets.silhouettes.repeat(count, 1, 1),
        pixel_weights=targets.pixel_weights.repeat(count, 1, 1),
        joints=targets.joints.repeat(count, 1, 1),
        joint_weights=targets.joint_weights.repeat(count, 1),
    )
    return (cam_wp.repeat(count, 1), poses, betas.repeat(count, 1)), repeated


def crop_pixels_in_image(boxes: Tensor, image_hw: Tensor, size: int) -> Tensor:
    """(B, S, S) bool: which pixels of each square crop box (B, 4) [x0, y0, x1, y1] lie inside its image
    (B, 2) (height, width); S = size."""
    centres = (torch.arange(size, device=boxes.device, dtype=boxes.dtype) + 0.5) / size
    side = (boxes[:, 2] - boxes[:, 0])[:, None]
    xs = boxes[:, :1] + centres[None] * side  # (B, S)
    ys = boxes[:, 1:2] + centres[None] * side
    inside_x = (xs >= 0) & (xs < image_hw[:, 1:2])
    inside_y = (ys >= 0) & (ys < image_hw[:, :1])
    return inside_y[:, :, None] & inside_x[:, None, :]


def _euler_xyz(rotmats: Tensor) -> Tensor:
    """Angles (a, b, c) of R = R_x(a) @ R_y(b) @ R_z(c), (..., 3, 3) -> (..., 3) radians (the procedural
    sampler's convention); b is kept off +-90 degrees, where the decomposition is not unique."""
    b = torch.asin(rotmats[..., 0, 2].clamp(-0.9999, 0.9999))
    a = torch.atan2(-rotmats[..., 1, 2], rotmats[..., 2, 2])
    c = torch.atan2(-rotmats[..., 0, 1], rotmats[..., 0, 0])
    return torch.stack((a, b, c), dim=-1)
