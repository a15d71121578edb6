"""Body-shape sampling for synthetic training (ORIGINAL.md §5.2 step 2).

The training set's own shapes are discarded in training: every sample gets fresh betas around the mean
shape, so the network sees far more body shapes than the pose data sets contain.
"""

from __future__ import annotations

import torch

from configs.experiment import ShapeAugmentConfig
from utils.random_draws import normal, uniform

SHAPE_DISTRIBUTIONS = ("normal", "uniform")


def sample_betas(
    batch_size: int,
    mean: torch.Tensor,
    generator: torch.Generator,
    distribution: str = ShapeAugmentConfig.distribution,
    std: float | torch.Tensor = ShapeAugmentConfig.std,
    uniform_range: float = ShapeAugmentConfig.uniform_range,
) -> torch.Tensor:
    """Random shape parameters around the mean shape (defaults: `configs.ShapeAugmentConfig`).

    Args:
        batch_size: B.
        mean: (10,) mean betas (the bundle's mean parameters; SPIN's mean shape for SMPL).
        generator: seeds the draw; its device is where the draw happens.
        distribution: "normal" (default): mean + N(0, std^2) per dimension; "uniform": mean +
            U(-uniform_range, uniform_range), the original's unused alternative.
        std: a scalar or a (10,) per-dimension std, 1.5 as in the original.
        uniform_range: half-width of the uniform alternative, 3 as in the original.
    Returns:
        (B, 10) betas on mean's device and dtype.
    """
    shape = (batch_size, mean.shape[-1])
    if distribution == "normal":
        std = torch.as_tensor(std, dtype=mean.dtype, device=generator.device)
        offsets = normal(shape, generator, std)
    elif distribution == "uniform":
        offsets = uniform(shape, -uniform_range, uniform_range, generator)
    else:
        raise ValueError(f"Shape distribution must be one of {SHAPE_DISTRIBUTIONS}, got {distribution!r}.")
    return mean + offsets.to(mean)
