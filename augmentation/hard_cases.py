"""Training augmentations for the pictures people try first (not in the original; off by default).

Each works on a whole batch of cropped silhouettes (B, R, R) bool and the joints drawn into the heatmaps,
draws only when its probability is above zero (so the original's augmentations see the same random stream
with these off), and leaves the training targets alone: the network learns the whole body from a partial or
dressed outline.
- `cut_by_border`: the picture ends at a random row below the shoulders (waist-up, knee-up portraits) or at
  a random column (someone cut by the side of the frame); silhouette and joints beyond it are gone.
- `occlude_with_ellipse`: an ellipse (a person or an object in front) removes the silhouette and the joints
  under it.
- `dress_silhouette`: the torso and legs grow outwards by a few pixels (a coat, a dress, loose trousers),
  the arms and head do not.
Part labels: 1 L arm, 2 R arm, 3 head, 4 L leg, 5 R leg, 6 torso.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from utils.random_draws import bernoulli, uniform

# Cut lines as a share of the crop side from the top (bottom cuts) or from the kept side (side cuts): the
# crop holds the body at about 1/1.2 of its side, so 0.45-0.85 ends the picture between the waist and the
# shins, and 0.55-0.85 keeps most of the body while cutting an arm, a shoulder or a leg.
BOTTOM_CUT_RANGE = (0.45, 0.85)
SIDE_CUT_RANGE = (0.55, 0.85)
# Ellipse semi-axes as a share of the crop side; its centre is anywhere in the middle 60%.
ELLIPSE_AXIS_RANGE = (0.1, 0.3)
DRESSED_PARTS = (4, 5, 6)  # legs and torso


def cut_by_border(
    silhouettes: torch.Tensor,
    joints2d: torch.Tensor,
    drawn: torch.Tensor,
    generator: torch.Generator,
    prob: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """With probability `prob` per sample, end the picture at a random line: the bottom (half of the cut
    samples) or the left or right side (a quarter each).

    Args:
        silhouettes: (B, R, R) bool; joints2d: (B, 17, 2) crop pixels (u, v); drawn: (B, 17) bool.
    Returns:
        silhouettes (B, R, R) and drawn (B, 17) with everything beyond the line removed.
    """
    if prob <= 0:
        return silhouettes, drawn
    batch, size = silhouettes.shape[0], silhouettes.shape[-1]
    device = silhouettes.device
    cut = bernoulli((batch,), prob, generator).to(device)
    side = torch.randint(0, 4, (batch,), generator=generator, device=generator.device).to(device)
    bottom = uniform((batch,), *BOTTOM_CUT_RANGE, generator).to(device) * size
    kept = uniform((batch,), *SIDE_CUT_RANGE, generator).to(device) * size
    # Sides 0 and 1 cut at the bottom, 2 keeps the left part, 3 the right one.
    line = torch.where(side < 2, bottom, torch.where(side == 2, kept, size - kept))

    def beyond(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Whether points (u, v), batch first, lie at or beyond their sample's line (cut samples only)."""
        shape = (batch,) + (1,) * (max(u.dim(), v.dim()) - 1)
        at, kind = line.view(shape), side.view(shape)
        gone = torch.where(kind < 2, v >= at, torch.where(kind == 2, u >= at, u < at))
        return gone & cut.view(shape)

    centres = torch.arange(size, device=device, dtype=torch.float32) + 0.5
    pixels_gone = beyond(centres[None, None, :], centres[None, :, None])  # pixel centres (B, R, R)
    return silhouettes & ~pixels_gone, drawn & ~beyond(joints2d[..., 0], joints2d[..., 1])


def occlude_with_ellipse(
    silhouettes: torch.Tensor,
    joints2d: torch.Tensor,
    drawn: torch.Tensor,
    generator: torch.Generator,
    prob: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """With probability `prob` per sample, remove an ellipse (axis-aligned, semi-axes ELLIPSE_AXIS_RANGE of
    the crop side, centre in the middle 60%) from the silhouette and hide the joints inside it.

    Args and returns as `cut_by_border`.
    """
    if prob <= 0:
        return silhouettes, drawn
    batch, size = silhouettes.shape[0], silhouettes.shape[-1]
    device = silhouettes.device
    hit = bernoulli((batch,), prob, generator).to(device)
    centre = uniform((batch, 2), 0.2 * size, 0.8 * size, generator).to(device)  # (u, v)
    axes = uniform((batch, 2), ELLIPSE_AXIS_RANGE[0] * size, ELLIPSE_AXIS_RANGE[1] * size, generator).to(
        device
    )
    centres = torch.arange(size, device=device, dtype=torch.float32) + 0.5
    du = (centres[None, None, :] - centre[:, None, None, 0]) / axes[:, None, None, 0]  # (B, 1, R)
    dv = (centres[None, :, None] - centre[:, None, None, 1]) / axes[:, None, None, 1]  # (B, R, 1)
    inside = (du.square() + dv.square() <= 1.0) & hit[:, None, None]
    joint_offsets = (joints2d - centre[:, None, :]) / axes[:, None, :]
    joints_inside = (joint_offsets.square().sum(-1) <= 1.0) & hit[:, None]
    return silhouettes & ~inside, drawn & ~joints_inside


def dress_silhouette(
    silhouettes: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator,
    prob: float,
    max_radius: int,
) -> torch.Tensor:
    """With probability `prob` per sample, grow the torso and legs (`DRESSED_PARTS`) of the label maps by a
    radius uniform in 1..max_radius pixels and add that outline to the silhouette.

    Args:
        silhouettes: (B, R, R) bool (after any part removal or occlusion); labels: (B, R, R) part labels
            of the same crops, before part removal.
    Returns:
        (B, R, R) bool silhouettes.
    """
    if prob <= 0 or max_radius < 1:
        return silhouettes
    batch = silhouettes.shape[0]
    dressed = bernoulli((batch,), prob, generator).to(silhouettes.device)
    radius = torch.randint(1, max_radius + 1, (batch,), generator=generator, device=generator.device)
    radius = radius.to(silhouettes.device)
    body = torch.zeros_like(silhouettes)
    for part in DRESSED_PARTS:
        body |= labels == part
    grown = torch.zeros_like(silhouettes)
    source = body.float()[:, None]
    for r in range(1, max_radius + 1):
        dilated = F.max_pool2d(source, 2 * r + 1, stride=1, padding=r)[:, 0] > 0
        grown = torch.where(((radius == r) & dressed)[:, None, None], dilated, grown)
    return silhouettes | grown
