"""2D joints -> Gaussian heatmaps, the joint channels of the proxy representation.

The default reproduces the original STRAPS heatmaps bit for bit (ORIGINAL.md §4), quirks included, since
the released checkpoint was trained on them:
- joint coordinates are truncated toward zero to integers (cx, cy);
- a fixed (2h x 2h) patch, h = 2 std, is sampled at linspace(-h, h, 2h) (the samples skip 0), so the
  peak lies half a pixel before the integer joint position;
- the patch covers rows [cy - h, cy + h) and columns [cx - h, cx + h), clipped to [0, W - 1): the last
  row and column of the image are never written;
- a joint is drawn only if both integer coordinates lie in (-h, W - 1 + h), i.e. (-8, 263) for the
  default W = 256, std = 4.
Unlike the original this is vectorised: every patch cell is scattered into one flat buffer at once.
"""

from __future__ import annotations

import functools

import torch


def joints_to_heatmaps(
    joints2d: torch.Tensor,
    img_wh: int = 256,
    std: float = 4.0,
    visible: torch.Tensor | None = None,
) -> torch.Tensor:
    """Draw one truncated Gaussian per joint.

    Args:
        joints2d: (B, J, 2) pixel coordinates (u = column, v = row) in the img_wh x img_wh image.
        img_wh: image side in pixels.
        std: Gaussian standard deviation in pixels; the patch half-size 2 * std must be an integer.
        visible: optional (B, J) bool; joints marked False get an all-zero channel (confidence threshold,
            joint dropout). Non-finite coordinates also give an all-zero channel.
    Returns:
        (B, J, img_wh, img_wh) float32 heatmaps on the device of `joints2d`, values in [0, 0.982].
    """
    if joints2d.dim() != 3 or joints2d.shape[-1] != 2:
        raise ValueError(f"joints2d must have shape (B, J, 2), got {tuple(joints2d.shape)}.")
    half = 2.0 * std
    if half <= 0 or half != int(half):
        raise ValueError(
            f"Heatmap std must be a positive multiple of 0.5 (patch half-size 2*std), got {std}."
        )
    half = int(half)
    batch, num_joints = joints2d.shape[:2]
    device = joints2d.device

    finite = torch.isfinite(joints2d).all(dim=-1)
    # Clamp before the integer cast so that far-away or non-finite joints cannot overflow it; such joints
    # are outside the drawing window anyway. trunc() rounds toward zero like the original's .int().
    limit = float(4 * (img_wh + half))
    coords = torch.nan_to_num(joints2d, nan=-limit).clamp(-limit, limit).trunc().long()  # (B, J, 2)
    drawn = finite & ((coords > -half) & (coords < img_wh - 1 + half)).all(dim=-1)
    if visible is not None:
        if visible.shape != (batch, num_joints):
            raise ValueError(
                f"visible must have shape {(batch, num_joints)} like joints2d, got {tuple(visible.shape)}."
            )
        drawn = drawn & visible.to(device=device, dtype=torch.bool)

    # Image rows/columns covered by each patch, (B, J, 2h); only those in [0, W - 1) are written.
    offsets = torch.arange(-half, half, device=device)
    cols = coords[..., 0:1] + offsets
    rows = coords[..., 1:2] + offsets
    col_ok = (cols >= 0) & (cols < img_wh - 1)
    row_ok = (rows >= 0) & (rows < img_wh - 1)
    write = drawn[..., None, None] & row_ok[..., :, None] & col_ok[..., None, :]  # (B, J, 2h, 2h)

    channel = torch.arange(batch * num_joints, device=device).view(batch, num_joints, 1, 1)
    flat_index = channel * (img_wh * img_wh) + rows[..., :, None] * img_wh + cols[..., None, :]
    # Cells that are not written all go to one extra slot at the end, dropped afterwards.
    dump = batch * num_joints * img_wh * img_wh
    flat_index = torch.where(write, flat_index, torch.full_like(flat_index, dump))

    out = torch.zeros(dump + 1, dtype=torch.float32, device=device)
    patch = _gaussian_patch(half, float(std)).to(device).expand(batch, num_joints, -1, -1)
    out[flat_index.reshape(-1)] = patch.reshape(-1)
    return out[:dump].view(batch, num_joints, img_wh, img_wh)


@functools.lru_cache(maxsize=8)
def _gaussian_patch(half: int, std: float) -> torch.Tensor:
    """(2h, 2h) float32 patch, computed on the CPU with the original's exact operations (bit-exact)."""
    grid = torch.linspace(-half, half, 2 * half, dtype=torch.float32)
    x, y = torch.meshgrid(grid, grid, indexing="ij")
    d = torch.sqrt(x * x + y * y)
    return torch.exp(-(d**2 / (2.0 * std**2)))
