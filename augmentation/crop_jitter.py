"""Random crop scales and centre shifts for training (ORIGINAL.md §6): proxy/crop.py's body crop, jittered."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from configs.experiment import ProxyAugmentConfig, ProxyRepConfig
from utils.random_draws import bernoulli, uniform


@dataclass
class CropJitter:
    """Per-sample crop-box scale (B,) and centre shift (B, 2) in pixels (x, y)."""

    scale: torch.Tensor
    shift: torch.Tensor


def sample_crop_jitter(
    bbox: torch.Tensor,
    generator: torch.Generator,
    scale: float = ProxyRepConfig.crop_scale,
    scale_jitter: float = ProxyAugmentConfig.bbox_scale_range,
    centre_jitter: float = ProxyAugmentConfig.bbox_centre_shift,
    partial_prob: float = 0.0,
    partial_scale: tuple[float, float] = (0.6, 1.0),
    partial_shift: float = 0.2,
) -> CropJitter:
    """Random crop scales and centre shifts for training.

    The original's jitter: scale = scale + U(-scale_jitter, scale_jitter), shift = U(-centre_jitter,
    centre_jitter) px per axis. Beyond the original (off by default): with probability partial_prob a
    sample gets a tight or partial crop instead, with scale U(partial_scale) (below 1 cuts into the body)
    and a shift of U(-partial_shift, partial_shift) times the bbox side per axis, as when a photo cuts off
    part of a person.

    Args:
        bbox: (B, 4) from `mask_bbox` (sets the size that partial shifts are relative to).
    """
    b = bbox.shape[0]
    side = torch.maximum(bbox[:, 2] - bbox[:, 0], bbox[:, 3] - bbox[:, 1]).to(generator.device) + 1.0
    scales = uniform((b,), scale - scale_jitter, scale + scale_jitter, generator)
    shifts = uniform((b, 2), -centre_jitter, centre_jitter, generator)
    partial = bernoulli((b,), partial_prob, generator)
    partial_scales = uniform((b,), partial_scale[0], partial_scale[1], generator)
    partial_shifts = uniform((b, 2), -partial_shift, partial_shift, generator) * side[:, None]
    scales = torch.where(partial, partial_scales, scales)
    shifts = torch.where(partial[:, None], partial_shifts, shifts)
    return CropJitter(scales.to(bbox.device), shifts.to(bbox.device))
