"""Training losses (ORIGINAL.md §7): per-task MSE terms and their homoscedastic-uncertainty weighting.

Tasks (the original's five, plus our optional silhouette term):
- verts: predicted vs target vertices (B, V, 3), body-model frame, no alignment;
- joints3D: LSP-14 3D joints (B, 14, 3), no alignment;
- pose_params: rotation matrices (B, 24, 3, 3), global orientation included;
- shape_params: betas (B, 10);
- joints2D: weak-perspective projection of the predicted COCO-17 vs the clean cropped targets normalised as
  2 px / R - 1, over the visible target joints only (mean over #visible x 2; 0 when none is visible, where
  the original's empty MSE gave NaN);
- silhouette (off by default): the predicted body's soft silhouette (renderers/soft.py) against the clean
  target silhouette softened alike (`soften_mask`), MSE over the S x S pixels. The weak-perspective camera
  becomes a perspective one with t_z = 2 f / (S s) at the focal length of the training render scaled to S,
  so the body sits about 42 m away as in the render. Cost: one soft rasterization with its backward per
  sample; it runs at loss.silhouette_wh (64 by default) to stay cheap beside the 256 px regressor.

Each term is weighted by a learned log-variance s_k (Kendall et al.): total = sum_k L_k exp(-s_k) + s_k.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from configs.loader import ConfigError
from proxy.bodies import BodyEstimate

if TYPE_CHECKING:
    from train.synthetic_batch import SyntheticBatch
from renderers.soft import soft_silhouette, soften_mask
from utils.cameras import pixels_to_normalised, weak_perspective_to_translation

ORIGINAL_TASKS = ("verts", "joints2D", "joints3D", "pose_params", "shape_params")
TASKS = (*ORIGINAL_TASKS, "silhouette")


class SilhouetteLoss:
    """MSE between the predicted body's soft silhouette and the softened target silhouette.

    Args:
        faces: (F, 3) body-model faces.
        focal_length: focal length in pixels of the S x S silhouette image (the render's, scaled to S).
        sigma: soft-silhouette fall-off in pixels.
    """

    def __init__(self, faces: torch.Tensor, focal_length: float, sigma: float = 1.0):
        self.faces = faces
        self.focal_length = focal_length
        self.sigma = sigma

    def __call__(self, vertices: torch.Tensor, cam_wp: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """vertices (B, V, 3) body-model frame, cam_wp (B, 3), target (B, S, S) bool -> scalar loss."""
        size = target.shape[-1]
        cam_t = weak_perspective_to_translation(cam_wp, self.focal_length, size)
        predicted = soft_silhouette(
            vertices + cam_t[:, None, :], self.faces, self.focal_length, None, (size, size), self.sigma
        )
        return F.mse_loss(predicted, soften_mask(target, self.sigma))


def task_losses(
    prediction: BodyEstimate,
    batch: SyntheticBatch,
    losses_on: Sequence[str],
    img_wh: int,
    silhouette_loss: SilhouetteLoss | None = None,
) -> dict[str, torch.Tensor]:
    """The unweighted MSE of every enabled task (module docstring).

    Args:
        prediction: the regressor's output decoded (`proxy.bodies.decode_bodies`).
        batch: a `train.synthetic_batch.SyntheticBatch` (targets).
        losses_on: enabled task names, a subset of `TASKS`.
        img_wh: side R of the network input, to normalise the 2D targets.
        silhouette_loss: needed when "silhouette" is enabled.
    """
    losses: dict[str, torch.Tensor] = {}
    if "verts" in losses_on:
        losses["verts"] = F.mse_loss(prediction.vertices, batch.target_vertices)
    if "joints3D" in losses_on:
        losses["joints3D"] = F.mse_loss(prediction.lsp14, batch.target_lsp14)
    if "pose_params" in losses_on:
        losses["pose_params"] = F.mse_loss(prediction.pose_rotmats, batch.target_pose_rotmats)
    if "shape_params" in losses_on:
        losses["shape_params"] = F.mse_loss(prediction.betas, batch.target_betas)
    if "joints2D" in losses_on:
        target = pixels_to_normalised(batch.target_joints2d, img_wh)
        visible = batch.joints2d_visible[..., None].to(target.dtype)
        squared = (prediction.coco17_normalised - target).square() * visible
        losses["joints2D"] = squared.sum() / (2.0 * visible.sum()).clamp(min=1.0)
    if "silhouette" in losses_on:
        if silhouette_loss is None or batch.target_silhouettes is None:
            raise ValueError(
                "The silhouette loss needs a SilhouetteLoss and batches with target silhouettes."
            )
        losses["silhouette"] = silhouette_loss(
            prediction.vertices, prediction.cam_wp, batch.target_silhouettes
        )
    return losses


class HomoscedasticMultiTaskLoss(nn.Module):
    """total = sum_k L_k exp(-s_k) + s_k over the enabled tasks, with learned log-variances s_k.

    Parameters are named `<task>_log_var` (verts_log_var, joints2D_log_var, joints3D_log_var,
    pose_params_log_var, shape_params_log_var) like the original's, which exist whether or not their task
    is on, so the original's criterion_state_dict loads; only enabled ones get requires_grad. The
    silhouette task's `silhouette_log_var` exists only when it is enabled. s_k starts at -ln(w_k + 1e-6).

    Args:
        losses_on: enabled task names (a subset of `TASKS`).
        init_loss_weights: initial weight w_k of each enabled task (others default to 1, i.e. s = 0).
    """

    def __init__(self, losses_on: Sequence[str], init_loss_weights: Mapping[str, float]):
        super().__init__()
        if not losses_on:
            raise ConfigError(f"loss.losses_on is empty; enable at least one of {TASKS}.")
        unknown = [task for task in losses_on if task not in TASKS]
        if unknown:
            raise ConfigError(f"Unknown loss tasks {unknown}; choose from {TASKS}.")
        missing = [task for task in losses_on if task not in init_loss_weights]
        if missing:
            raise ConfigError(
                f"No initial weight for the enabled loss tasks {missing}: add them to "
                f"loss.init_loss_weights, e.g. loss.init_loss_weights.{missing[0]}=0.1."
            )
        negative = [task for task, weight in init_loss_weights.items() if weight < 0]
        if negative:
            raise ConfigError(f"loss.init_loss_weights must be >= 0, but {negative} are negative.")
        self.losses_on = tuple(losses_on)
        for task in TASKS:
            if task in ORIGINAL_TASKS or task in self.losses_on:
                weight = float(init_loss_weights.get(task, 1.0))
                log_var = torch.tensor(-math.log(weight + 1e-6), dtype=torch.float32)
                self.register_parameter(
                    f"{task}_log_var", nn.Parameter(log_var, requires_grad=task in self.losses_on)
                )

    def log_var(self, task: str) -> torch.Tensor:
        """The scalar log-variance s of a task."""
        return getattr(self, f"{task}_log_var")

    def forward(self, losses: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Unweighted task losses -> (total, weighted terms L_k exp(-s_k) per enabled task, as logged)."""
        weighted = {task: losses[task] * torch.exp(-self.log_var(task)) for task in self.losses_on}
        total = sum(weighted[task] + self.log_var(task) for task in self.losses_on)
        assert isinstance(total, torch.Tensor)  # losses_on is never empty (checked in __init__)
        return total, weighted
