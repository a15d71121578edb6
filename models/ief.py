"""Iterative error feedback (IEF) regressor head (Carreira et al. 2016; HMR), as in STRAPS (ORIGINAL.md §2.2).

Parameter vector layout (157): ``[s, tx, ty | pose6d of joints 0..23 (144) | betas (10)]``.
"""

from __future__ import annotations

import torch
from torch import nn

from configs.loader import ConfigError
from utils.joint_names import NUM_BETAS, NUM_SKELETON_JOINTS

NUM_CAM_PARAMS = 3
NUM_POSE6D_PARAMS = NUM_SKELETON_JOINTS * 6
NUM_PARAMS = NUM_CAM_PARAMS + NUM_POSE6D_PARAMS + NUM_BETAS


def split_params(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, 157) -> (cam_wp (B, 3), pose6d (B, 144), betas (B, 10))."""
    cam_wp, pose6d, betas = torch.split(params, [NUM_CAM_PARAMS, NUM_POSE6D_PARAMS, NUM_BETAS], dim=-1)
    return cam_wp, pose6d, betas


class IEFModule(nn.Module):
    mean_params: torch.Tensor  # (157,) buffer
    """Refines parameters by `iterations` additive updates from an MLP fed [features, current params].

    fc1 (in_features + 157 -> hidden[0]) - ReLU - fc2 - ReLU - fc3 (-> 157), no dropout, zero biases,
    PyTorch-default weights. Only the final estimate is returned.

    `ief_layers` is an nn.Sequential re-registering the very same fc modules (and the one shared ReLU), so
    the state dict holds every fc tensor twice, as `fcK.*` and `ief_layers.{0,2,4}.*`: exactly the key
    set of the original checkpoint, which therefore loads strictly.

    Args:
        mean_params: (157,) initial estimate ``[0.9, 0, 0 | mean pose6d | mean betas]``; kept as a
            non-persistent buffer (moves with .to(), not in the state dict, like the original's tensor).
        in_features: encoder feature size (512 for ResNet-18).
        hidden: widths of fc1 and fc2.
        iterations: number of refinement steps.
    """

    def __init__(
        self,
        mean_params: torch.Tensor,
        in_features: int = 512,
        hidden: tuple[int, int] = (512, 512),
        iterations: int = 3,
    ):
        super().__init__()
        mean_params = torch.as_tensor(mean_params, dtype=torch.float32)
        if mean_params.shape != (NUM_PARAMS,):
            raise ValueError(
                f"mean_params must have shape ({NUM_PARAMS},) = [cam 3 | pose6d 144 | betas 10], "
                f"got {tuple(mean_params.shape)}; use the body-model bundle's mean_params."
            )
        if iterations < 1:
            raise ConfigError(f"IEF needs at least one iteration, got {iterations}.")
        self.iterations = iterations
        self.fc1 = nn.Linear(in_features + NUM_PARAMS, hidden[0])
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.fc3 = nn.Linear(hidden[1], NUM_PARAMS)
        self.relu = nn.ReLU(inplace=True)
        for fc in (self.fc1, self.fc2, self.fc3):
            nn.init.zeros_(fc.bias)
        self.ief_layers = nn.Sequential(self.fc1, self.relu, self.fc2, self.relu, self.fc3)
        self.register_buffer("mean_params", mean_params.clone(), persistent=False)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, in_features) -> (cam_wp (B, 3), pose6d (B, 144), betas (B, 10))."""
        params = self.mean_params.to(features.dtype).expand(features.shape[0], -1)
        for _ in range(self.iterations):
            params = params + self.ief_layers(torch.cat((features, params), dim=1))
        return split_params(params)
