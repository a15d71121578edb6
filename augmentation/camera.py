"""Camera-translation sampling for synthetic training (ORIGINAL.md §5.2 step 3).

The camera has R = I, focal length 5000 px and the principal point at the centre of the 256 x 256 render;
only its translation varies. Around the mean [0, 0.2, 42] m a 1.7 m person projects to about 180-230 px.
"""

from __future__ import annotations

import torch

from configs.experiment import CameraConfig
from utils.random_draws import normal, uniform


def sample_camera_translation(
    batch_size: int,
    generator: torch.Generator,
    mean_translation: tuple[float, float, float] = CameraConfig.mean_translation,
    xy_std: float = CameraConfig.xy_std,
    z_range: float = CameraConfig.z_range,
) -> torch.Tensor:
    """Camera translations t = mean_translation + [N(0, xy_std^2), N(0, xy_std^2), U(-z_range, z_range)].

    Defaults: `configs.CameraConfig`.
    Validation uses the mean itself: pass xy_std=0 and z_range=0.

    Returns:
        (B, 3) float32 metres on the generator's device.
    """
    mean_t = torch.tensor(mean_translation, dtype=torch.float32, device=generator.device)
    xy = normal((batch_size, 2), generator, xy_std)
    z = uniform((batch_size, 1), -z_range, z_range, generator)
    return mean_t + torch.cat((xy, z), dim=1)
