"""Seeded random draws shared by the augmentations and the pose sampler.

Every draw happens on the generator's device (create a CUDA generator with
`torch.Generator(device="cuda")`), so one seed reproduces a batch on a given device type and no host
round trip is needed when the data lives on the GPU.
"""

from __future__ import annotations

import torch


def uniform(
    shape: tuple[int, ...], low: float | torch.Tensor, high: float | torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """U(low, high) draws of the given shape; tensor bounds broadcast against it."""
    return low + (high - low) * torch.rand(shape, generator=generator, device=generator.device)


def normal(
    shape: tuple[int, ...], generator: torch.Generator, std: float | torch.Tensor = 1.0
) -> torch.Tensor:
    """N(0, std^2) draws of the given shape."""
    return std * torch.randn(shape, generator=generator, device=generator.device)


def bernoulli(shape: tuple[int, ...], p: float | torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Bool draws, True with probability p (a tensor p broadcasts against the shape)."""
    return torch.rand(shape, generator=generator, device=generator.device) < p
