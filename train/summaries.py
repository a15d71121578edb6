"""TensorBoard output of training: scalars, and image grids of inputs and predicted meshes.

Only the main process writes (`TrainingLogger(enabled=False)` does nothing elsewhere). Images are cheap: a
few samples, shaded with the renderer at the input resolution.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch.utils.tensorboard import SummaryWriter

from renderers.shading import render_overlay
from utils.cameras import weak_perspective_to_translation

# Colours of the heatmap overlay: one per COCO-17 joint, cycling through six hues.
_HUES = torch.tensor(
    [[1.0, 0.2, 0.2], [1.0, 0.8, 0.1], [0.2, 1.0, 0.3], [0.1, 0.8, 1.0], [0.4, 0.3, 1.0], [1.0, 0.3, 0.9]]
)


class TrainingLogger:
    """TensorBoard scalars and images under `log_dir`; a no-op when not enabled.

    Args:
        log_dir: event files folder.
        enabled: False on every process but the main one.
        purge_step: on resume, the step to continue from (events logged after it are dropped).
    """

    def __init__(self, log_dir: str | Path, enabled: bool = True, purge_step: int | None = None):
        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step) if enabled else None

    def scalars(self, prefix: str, values: Mapping[str, float], step: int) -> None:
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"{prefix}/{name}", value, step)

    def image(self, tag: str, image: torch.Tensor, step: int) -> None:
        """image: (3, H, W) float in [0, 1]."""
        if self.writer is not None:
            self.writer.add_image(tag, image.clamp(0, 1).cpu(), step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def proxy_images(inputs: torch.Tensor) -> torch.Tensor:
    """(N, 18, R, R) proxy representations -> (N, 3, R, R) pictures: grey silhouette, coloured heatmaps."""
    silhouette = inputs[:, :1] * 0.5
    heatmaps = inputs[:, 1:]
    hues = _HUES.to(inputs)[torch.arange(heatmaps.shape[1]) % len(_HUES)]  # (J, 3)
    colour = torch.einsum("njhw,jc->nchw", heatmaps, hues).clamp(max=1.0)
    strength = heatmaps.amax(dim=1, keepdim=True).clamp(max=1.0)
    return silhouette * (1.0 - strength) + colour * strength


def mesh_images(
    vertices: torch.Tensor,
    cam_wp: torch.Tensor,
    faces: torch.Tensor,
    silhouettes: torch.Tensor,
    focal_length: float,
) -> torch.Tensor:
    """Predicted meshes shaded over their input silhouettes.

    Args:
        vertices: (N, V, 3) body-model frame; cam_wp: (N, 3) the regressor's weak-perspective cameras.
        faces: (F, 3); silhouettes: (N, R, R) input silhouettes (the background);
        focal_length: pixels at R, only to place the body at a realistic depth.
    Returns:
        (N, 3, R, R) float in [0, 1].
    """
    size = silhouettes.shape[-1]
    cam_t = weak_perspective_to_translation(cam_wp, focal_length, size)
    background = (silhouettes.float() * 0.35)[..., None].expand(-1, -1, -1, 3)
    rgb = render_overlay(vertices + cam_t[:, None, :], faces, focal_length, None, (size, size), background)
    return rgb.permute(0, 3, 1, 2)


def tile(rows: Sequence[torch.Tensor]) -> torch.Tensor:
    """Rows of (N, 3, H, W) images -> one (3, rows * H, N * W) grid."""
    return torch.cat([torch.cat(list(row), dim=2) for row in rows], dim=1)
