"""The network input: one silhouette channel and 17 COCO joint heatmaps (ORIGINAL.md §4)."""

from __future__ import annotations

import torch

from proxy.heatmaps import joints_to_heatmaps


def network_input(
    silhouettes: torch.Tensor,
    joints2d: torch.Tensor,
    heatmap_std: float = 4.0,
    visible: torch.Tensor | None = None,
) -> torch.Tensor:
    """Stack cropped silhouettes and the heatmaps of their joints into the regressor's input.

    Args:
        silhouettes: (B, R, R) bool or 0/1 cropped silhouettes.
        joints2d: (B, 17, 2) COCO-17 joints in crop pixels.
        heatmap_std: Gaussian std in pixels.
        visible: (B, 17) bool, joints to draw (None: all); a hidden joint gets an empty heatmap.
    Returns:
        (B, 18, R, R) float32: channel 0 the silhouette, 1..17 the heatmaps.
    """
    heatmaps = joints_to_heatmaps(joints2d, silhouettes.shape[-1], heatmap_std, visible=visible)
    return torch.cat((silhouettes[:, None].to(heatmaps.dtype), heatmaps), dim=1)
