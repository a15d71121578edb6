"""Augmentations of the proxy representation (silhouette / part labels and 2D joints), ORIGINAL.md §6.

All functions work on whole batches on any device, draw with the given generator and return new tensors
(inputs are never modified). Label maps are (B, H, W) integer maps with 0 = background and 1..6 = body
parts (1 L arm, 2 R arm, 3 head, 4 L leg, 5 R leg, 6 torso).

The original's augmentations, on by default in training, in the order the batch generator applies them:
`jitter_vertices` (before rendering), `remove_body_parts`, `occlude_box`, `jitter_joints`.
Beyond the original, off by default: `drop_joints` (keypoints hidden as low-confidence detections are
at inference) and `perturb_silhouette_edges` (eroded or dilated masks, as detector masks are too thin or
too fat).
Defaults are the original's values from `configs.ProxyAugmentConfig`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from configs.experiment import ProxyAugmentConfig
from utils.random_draws import bernoulli, uniform

# COCO-17 indices of the hips, which detectors place least reliably and the original jitters separately.
COCO_HIP_INDICES = (11, 12)


def jitter_vertices(
    vertices: torch.Tensor, generator: torch.Generator, max_offset: float = ProxyAugmentConfig.vertex_noise
) -> torch.Tensor:
    """Add U(-max_offset, max_offset) metres to the x and y of every vertex, to rough up rendered edges.

    At 42 m, 0.01 m is about 1.2 px. Used for rendering only; joints come from the clean body.

    Args:
        vertices: (B, V, 3) camera-frame vertices.
    Returns:
        (B, V, 3) jittered vertices.
    """
    b, v, _ = vertices.shape
    offsets = uniform((b, v, 2), -max_offset, max_offset, generator).to(vertices)
    return torch.cat((vertices[..., :2] + offsets, vertices[..., 2:]), dim=-1)


def remove_body_parts(
    labels: torch.Tensor,
    generator: torch.Generator,
    probs: tuple[float, ...] = ProxyAugmentConfig.part_removal_probs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Erase whole body parts from label maps: part k (1-based) of each sample with probability probs[k-1].

    Joints of removed parts are kept, as in the original: the network learns to place limbs it cannot see.

    Args:
        labels: (B, H, W) integer part labels.
        probs: one removal probability per part label 1..len(probs).
    Returns:
        labels with removed parts set to 0 (B, H, W), and the removal draws (B, len(probs)) bool.
    """
    p = torch.tensor(probs, dtype=torch.float32, device=generator.device)
    removed = bernoulli((labels.shape[0], len(probs)), p, generator).to(labels.device)
    # Row b of the lookup says, for every label value, whether sample b erases it (background: never).
    erase = F.pad(removed, (1, 0), value=False)  # (B, 1 + num parts)
    hit = erase.gather(1, labels.long().clamp(0, len(probs)).flatten(1)).view_as(labels)
    return labels.masked_fill(hit, 0), removed


def occlude_box(
    labels: torch.Tensor,
    generator: torch.Generator,
    prob: float = ProxyAugmentConfig.occlusion_prob,
    box_size: int = ProxyAugmentConfig.occlusion_size,
    centre_range: tuple[float, float] = ProxyAugmentConfig.occlusion_centre_range,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero one box_size x box_size square per sample with probability prob.

    The box centre's row and column are uniform in [centre_range[0] * H, centre_range[1] * H) (the
    central 30% of a 256 image: [89.6, 166.4)); its corners are centre -/+ box_size / 2 truncated to
    integers, as in the original.

    Args:
        labels: (B, H, W) label maps or masks.
    Returns:
        occluded maps (B, H, W) and the draws (B,) bool saying which samples got a box.
    """
    b, h, w = labels.shape
    occluded = bernoulli((b,), prob, generator).to(labels.device)
    centre = uniform((b, 2), centre_range[0] * w, centre_range[1] * w, generator).to(labels.device)
    start = (centre - box_size / 2).trunc().long()  # (B, 2) row, col
    stop = (centre + box_size / 2).trunc().long()
    rows = torch.arange(h, device=labels.device)
    cols = torch.arange(w, device=labels.device)
    in_rows = (rows >= start[:, :1]) & (rows < stop[:, :1])  # (B, H)
    in_cols = (cols >= start[:, 1:]) & (cols < stop[:, 1:])  # (B, W)
    box = in_rows[:, :, None] & in_cols[:, None, :] & occluded[:, None, None]
    return labels.masked_fill(box, 0), occluded


def jitter_joints(
    joints2d: torch.Tensor,
    generator: torch.Generator,
    max_offset: float = ProxyAugmentConfig.joint_noise,
    hip_max_offset: float = ProxyAugmentConfig.hip_noise,
    hip_indices: tuple[int, ...] = COCO_HIP_INDICES,
) -> torch.Tensor:
    """Add U(-m, m) pixels to each coordinate of each joint: m = hip_max_offset for the hips, else max_offset.

    Apply to the joints that feed the heatmaps only; the 2D loss targets stay clean. The original's
    function defaults were 5 and 15 px; its training script set both to 8.

    Args:
        joints2d: (B, J, 2) pixels.
    Returns:
        (B, J, 2) jittered joints.
    """
    b, j, _ = joints2d.shape
    limit = torch.full((j, 1), float(max_offset), device=generator.device)
    limit[list(hip_indices)] = float(hip_max_offset)
    return joints2d + uniform((b, j, 2), -limit, limit, generator).to(joints2d)


def drop_joints(visible: torch.Tensor, generator: torch.Generator, prob: float = 0.0) -> torch.Tensor:
    """Hide each joint independently with probability prob (not in the original; off by default).

    At inference, keypoints a detector is unsure of can be left out of the heatmaps; training with dropped
    joints teaches the network to cope with missing heatmaps.

    Args:
        visible: (B, J) bool, the joints that would otherwise be drawn.
    Returns:
        (B, J) bool visibility with the dropped joints set to False.
    """
    return visible & ~bernoulli(tuple(visible.shape), prob, generator).to(visible.device)


def perturb_silhouette_edges(
    masks: torch.Tensor, generator: torch.Generator, prob: float = 0.0, max_radius: int = 2
) -> torch.Tensor:
    """Erode or dilate binary masks by 1..max_radius pixels (not in the original; off by default).

    With probability prob a sample's mask is dilated or eroded (even odds) with a square structuring element
    of a radius uniform in 1..max_radius, mimicking detector masks that are too fat or too thin.

    Args:
        masks: (B, H, W) binary masks (any dtype, values 0 / 1).
    Returns:
        (B, H, W) masks of the same dtype.
    """
    b = masks.shape[0]
    x = masks.float()[:, None]  # (B, 1, H, W)
    changed = bernoulli((b,), prob, generator)
    dilate = bernoulli((b,), 0.5, generator)
    radius = torch.randint(1, max_radius + 1, (b,), generator=generator, device=generator.device)
    out = x
    for r in range(1, max_radius + 1):
        k = 2 * r + 1
        dilated = F.max_pool2d(x, k, stride=1, padding=r)
        eroded = 1.0 - F.max_pool2d(1.0 - x, k, stride=1, padding=r)
        pick = (changed & (radius == r)).to(masks.device)[:, None, None, None]
        out = torch.where(
            pick, torch.where(dilate.to(masks.device)[:, None, None, None], dilated, eroded), out
        )
    return out[:, 0].to(masks.dtype)
