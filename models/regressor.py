"""The STRAPS regressor: ResNet encoder + IEF head, proxy representation -> camera, pose, shape."""

from __future__ import annotations

import torch
from torch import nn

from configs.loader import ConfigError
from models.ief import IEFModule
from models.resnet import resnet18, resnet50

# Encoder builder and IEF hidden widths per supported depth (ORIGINAL.md §2.1: 50 exists but is unused).
_ENCODERS = {18: (resnet18, (512, 512)), 50: (resnet50, (1024, 1024))}


class SingleInputRegressor(nn.Module):
    """(B, in_channels, 256, 256) proxy representation -> (cam_wp, pose6d, betas).

    Attribute names (`image_encoder`, `ief_module`) and the module tree match the original, so its
    checkpoint loads strictly: 132 state-dict keys and 11,909,789 parameters for the default.

    Args:
        mean_params: (157,) IEF initial estimate, e.g. `bundle.mean_params`.
        in_channels: 1 silhouette + 17 joint heatmaps by default.
        resnet_layers: 18 or 50.
        ief_iters: IEF iterations.
    """

    def __init__(
        self, mean_params: torch.Tensor, in_channels: int = 18, resnet_layers: int = 18, ief_iters: int = 3
    ):
        super().__init__()
        if resnet_layers not in _ENCODERS:
            raise ConfigError(f"resnet_layers must be one of {sorted(_ENCODERS)}, got {resnet_layers}.")
        build_encoder, hidden = _ENCODERS[resnet_layers]
        self.image_encoder = build_encoder(in_channels)
        self.ief_module = IEFModule(
            mean_params, in_features=self.image_encoder.out_features, hidden=hidden, iterations=ief_iters
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, C, H, W) -> (cam_wp (B, 3), pose6d (B, 144), betas (B, 10))."""
        return self.ief_module(self.image_encoder(x))
