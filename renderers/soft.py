"""A differentiable soft silhouette, for silhouette losses and model fitting.

Covered pixels (the hard silhouette) are 1; an uncovered pixel is exp(-d / sigma), d being the exact
distance in pixels from its centre to the silhouette. The value is continuous as the outline crosses a pixel
centre, and the gradient reaches the vertices through d, from a band of `cutoff * sigma` pixels around the
outline (the DIB-R construction, with the exact distance instead of a product over faces).

The distance to the union of the triangles is the distance to its boundary, which lies on edges with drawn
faces on one side only (contours, mesh borders): interior edges, with a face on each side, are skipped. So the
work is proportional to the outline, not to the mesh, and the value does not depend on how finely the surface
is triangulated. (SoftRas' probabilistic OR of per-face sigmoids does: on a body mesh, many small and grazing
faces meet at the outline and their OR saturates past it, so the soft outline swells with the mesh density and
a fit shrinks the body to compensate.) `soften_mask` gives a binary target mask the same profile, so a loss
between the two is smallest where the outlines agree.

Memory is bounded: segments are evaluated in windows and chunks like the hard rasterizer's triangles, and each
chunk is recomputed in the backward pass (activation checkpointing) instead of keeping its intermediates.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from renderers.camera import RendererInputError, check_mesh, make_cameras
from renderers.rasterizer import default_max_candidates, nearest_faces
from renderers.triangles import ScreenTriangles, pixel_bounds, screen_triangles
from renderers.windows import Windows, pixel_windows


def soft_silhouette(
    vertices: Tensor,
    faces: Tensor,
    focal_length: Tensor | float,
    principal_point: Tensor | None,
    image_size: tuple[int, int],
    sigma: float = 1.0,
    cutoff: float = 5.0,
    near: float = 0.1,
    far: float = 100.0,
    max_candidates: int | None = None,
    checkpointed: bool = True,
) -> Tensor:
    """(B, H, W) float in [0, 1], differentiable with respect to `vertices` (B, V, 3) camera frame.

    sigma: fall-off length in pixels outside the outline; cutoff: distance, in sigmas, past which a pixel is
    0 (exp(-5) = 0.007 at the default); checkpointed: recompute each chunk in the backward pass instead of
    keeping its intermediates (bounded memory for large batches and rasters; off, small rasters run about
    twice as fast). Other arguments as `rasterize`.
    """
    _check_softness(sigma, cutoff)
    check_mesh(vertices, faces)
    batch_size, device = vertices.shape[0], vertices.device
    cameras = make_cameras(focal_length, principal_point, image_size, batch_size, device, vertices.dtype)
    height, width = cameras.image_size
    faces = faces.to(device, torch.int64)
    triangles = screen_triangles(vertices, faces, cameras, near)
    budget = max_candidates or default_max_candidates(device)
    covered = nearest_faces(triangles, far, budget).reshape(-1) >= 0

    reach = cutoff * sigma
    segments, sample = _outline_segments(triangles, faces, vertices.shape[1], far)
    lo, hi = pixel_bounds(segments.detach(), cameras.image_size, margin=reach)
    distance = vertices.new_full((batch_size * height * width,), reach)
    recompute = checkpointed and torch.is_grad_enabled() and segments.requires_grad
    keep = torch.ones_like(sample, dtype=torch.bool)
    for group in pixel_windows(lo, hi, keep, cameras.image_size):
        # A soft candidate carries more intermediates than a hard one, hence smaller chunks.
        for windows in group.chunks(budget // 4):
            args = (segments, sample, covered, windows, (height, width), reach)
            if recompute:
                chunk = checkpoint(_nearest_distance, *args, use_reentrant=False)
            else:
                chunk = _nearest_distance(*args)
            distance = torch.minimum(distance, chunk)
    outside = torch.exp(-distance / sigma) * (distance < reach)
    return torch.where(covered, torch.ones_like(outside), outside).reshape(batch_size, height, width)


def soften_mask(mask: Tensor, sigma: float = 1.0, cutoff: float = 5.0) -> Tensor:
    """Give a binary mask the profile of `soft_silhouette`, to serve as its target.

    mask: (B, H, W) bool or {0, 1}. Covered pixels stay 1; an uncovered pixel becomes exp(-d / sigma) with d
    the distance from its centre to the nearest covered pixel centre less an offset between 0.5 and 1 px. The
    true outline lies anywhere between the two centres; the offset, sigma * log(sigma * (exp(1 / sigma) - 1)),
    makes the value right on average for an outline uniformly placed between them, so the soft masses of a
    mesh and of its own hard silhouette agree. Returns (B, H, W) float.
    """
    _check_softness(sigma, cutoff)
    if not isinstance(mask, Tensor) or mask.ndim != 3:
        shape = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        raise RendererInputError(f"mask must be a (B, H, W) tensor, got {shape}.")
    covered = mask > 0.5 if mask.is_floating_point() else mask.bool()
    reach = cutoff * sigma
    offset = sigma * math.log(sigma * math.expm1(1.0 / sigma))
    radius = math.ceil(reach + offset)
    padded = F.pad(covered, (radius, radius, radius, radius))
    height, width = covered.shape[1:]
    dtype = mask.dtype if mask.is_floating_point() else torch.float32
    distance = torch.full(covered.shape, reach, dtype=dtype, device=mask.device)
    # Brute force over the offsets within reach: cheap at the small sizes a silhouette loss runs at.
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            gap = math.hypot(dx, dy) - offset
            if (dx, dy) != (0, 0) and gap < reach:
                shifted = padded[:, radius + dy : radius + dy + height, radius + dx : radius + dx + width]
                distance = torch.where(shifted, distance.clamp(max=gap), distance)
    outside = torch.exp(-distance / sigma) * (distance < reach)
    return torch.where(covered, torch.ones_like(outside), outside)


def _check_softness(sigma: float, cutoff: float) -> None:
    if not sigma > 0 or not cutoff > 0:
        raise RendererInputError(f"sigma and cutoff must be positive, got sigma={sigma}, cutoff={cutoff}.")


def _outline_segments(
    triangles: ScreenTriangles, faces: Tensor, num_vertices: int, far: float
) -> tuple[Tensor, Tensor]:
    """Edges that can carry the outline: those whose drawn faces do not lie on both sides of them.

    Returns segments (S, 2, 2), the pixel coordinates of both ends (differentiable), and sample (S,) int64.
    """
    batch_size, num_faces = triangles.batch_size, triangles.num_faces
    drawn = triangles.drawable & (triangles.inv_depth.detach().amax(-1) >= 1.0 / far)
    drawn = drawn.reshape(batch_size, num_faces)

    # Half-edge h = 3 f + i runs from corner i of face f to corner i + 1; corner i + 2 is opposite it.
    # Sorting half-edges by their undirected vertex pair groups each mesh edge's faces together.
    start, end = faces.reshape(-1), faces.roll(-1, dims=1).reshape(-1)
    pair = torch.minimum(start, end) * num_vertices + torch.maximum(start, end)
    order = torch.argsort(pair, stable=True)
    _, count = torch.unique_consecutive(pair[order], return_counts=True)
    first = torch.cumsum(count, 0) - count
    one = order[first]  # (E,) a half-edge of each edge
    other = order[(first + 1).clamp(max=order.shape[0] - 1)]  # its twin where count >= 2
    two_faces = count == 2

    corners = triangles.xy.reshape(batch_size, num_faces * 3, 2)

    def corner(half_edge: Tensor, step: int) -> Tensor:
        """(B, E, 2) the corner `step` places after the start of each half-edge."""
        index = half_edge - half_edge % 3 + (half_edge + step) % 3
        return corners.index_select(1, index)

    a, b = corner(one, 0), corner(one, 1)
    direction = b - a

    def side(point: Tensor) -> Tensor:
        offset = point - a
        return direction[..., 0] * offset[..., 1] - direction[..., 1] * offset[..., 0]

    drawn_one, drawn_other = drawn[:, one // 3], drawn[:, other // 3] & (count >= 2)
    interior = two_faces & drawn_one & drawn_other & (side(corner(one, 2)) * side(corner(other, 2)) < 0)
    sample, edge = ((drawn_one | drawn_other) & ~interior).nonzero(as_tuple=True)
    return torch.stack((a[sample, edge], b[sample, edge]), dim=1), sample


def _nearest_distance(
    segments: Tensor,
    sample: Tensor,
    covered: Tensor,
    windows: Windows,
    image_size: tuple[int, int],
    reach: float,
) -> Tensor:
    """Per pixel, the distance to the nearest segment of one chunk of windows; `reach` where none is nearer.

    segments: (S, 2, 2); sample: (S,); covered: (B * H * W,) bool, pixels the hard silhouette decides and that
    are skipped; windows: one chunk of windows over the segments. Returns (B * H * W,).
    """
    height, width = image_size
    item, origin = windows.item, windows.origin
    column_step, row_step = windows.offsets()
    window_start = sample[item] * (height * width) + origin[:, 1] * width + origin[:, 0]
    pixel = window_start[:, None] + (row_step * width + column_step)[None]
    window, offset = (~covered[pixel]).nonzero(as_tuple=True)
    pixel = pixel[window, offset]
    centre = torch.stack((pixel % width, (pixel // width) % height), dim=-1).to(segments.dtype) + 0.5

    ends = segments.index_select(0, item[window])  # (M, 2, 2)
    direction = ends[:, 1] - ends[:, 0]
    to_centre = centre - ends[:, 0]
    along = ((to_centre * direction).sum(-1) / (direction * direction).sum(-1).clamp(min=1e-12)).clamp(0, 1)
    offset_to_segment = to_centre - along[:, None] * direction
    # Clamped before the square root, whose gradient is infinite at 0.
    distance = (offset_to_segment * offset_to_segment).sum(-1).clamp(min=1e-12).sqrt()
    return segments.new_full(covered.shape, reach).scatter_reduce(0, pixel, distance, "amin")
