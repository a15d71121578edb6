"""Screen-space triangle set-up shared by the hard rasterizer and the soft silhouette.

Each face of each sample becomes one screen-space triangle, flattened over the batch: triangle t = b * F + f.
Its three edge functions are stored normalised by the signed doubled area, so that they are the screen-space
barycentric coordinates of the three corners whichever way the triangle winds (double-sided faces).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from renderers.camera import PinholeCameras


@dataclass(frozen=True)
class ScreenTriangles:
    """Projected triangles of a batch, T = B * F.

    xy: (T, 3, 2) pixel coordinates (u, v) of the corners.
    inv_depth: (T, 3) 1 / z of the corners (z in the camera frame).
    edges: (T, 3, 4) for corner i: [a, b, u_j, v_j] with j = (i + 1) mod 3, such that the screen-space
        barycentric coordinate of corner i at pixel position (u, v) is a * (u - u_j) + b * (v - v_j).
    drawable: (T,) bool: finite, all corners at z >= near, non-zero screen area.
    batch_size, num_faces: B and F, to split a triangle index into (sample, face).
    image_size: (H, W) of the cameras they were projected with.
    """

    xy: Tensor
    inv_depth: Tensor
    edges: Tensor
    drawable: Tensor
    batch_size: int
    num_faces: int
    image_size: tuple[int, int]

    def barycentric(self, triangle: Tensor, uv: Tensor) -> Tensor:
        """Screen-space barycentric coordinates. triangle: (P,) indices; uv: (P, 2) pixels -> (P, 3)."""
        return barycentric(self.edges.index_select(0, triangle), uv)


def barycentric(edges: Tensor, uv: Tensor) -> Tensor:
    """Screen-space barycentric coordinates from edge rows. edges: (P, 3, 4) as ScreenTriangles.edges;
    uv: (P, 2) pixels -> (P, 3)."""
    return edges[..., 0] * (uv[:, None, 0] - edges[..., 2]) + edges[..., 1] * (uv[:, None, 1] - edges[..., 3])


def screen_triangles(
    vertices: Tensor, faces: Tensor, cameras: PinholeCameras, near: float
) -> ScreenTriangles:
    """Project a batched mesh and set up its triangles. vertices: (B, V, 3) camera frame; faces: (F, 3).

    Differentiable with respect to `vertices` (the drawable mask is not).
    """
    batch_size, num_faces = vertices.shape[0], faces.shape[0]
    z = vertices[..., 2]
    # Faces with a corner nearer than `near` are culled whole (no clipping). Such corners are projected at
    # z = 1 instead, so that no value or gradient meets a division by zero.
    in_front = z >= near
    safe_z = torch.where(in_front, z, torch.ones_like(z))
    uv = cameras.project(torch.cat((vertices[..., :2], safe_z[..., None]), dim=-1))
    flat_faces = faces.reshape(-1)
    # index_select rather than advanced indexing: several times faster on the CPU.
    xy = uv.index_select(1, flat_faces).reshape(-1, 3, 2)
    inv_depth = (1.0 / safe_z).index_select(1, flat_faces).reshape(-1, 3)
    in_front = in_front.index_select(1, flat_faces).reshape(-1, 3).all(-1)

    # The edge opposite corner i runs from corner j = i + 1 to corner k = i + 2 (mod 3).
    start = xy.roll(-1, dims=1)
    direction = xy.roll(-2, dims=1) - start
    to_corner = xy[:, 0] - start[:, 0]
    doubled_area = direction[:, 0, 0] * to_corner[:, 1] - direction[:, 0, 1] * to_corner[:, 0]
    # The doubled area involves all six coordinates, so it is not finite whenever one of them is not.
    drawable = in_front & (doubled_area != 0) & torch.isfinite(doubled_area)
    safe_area = torch.where(drawable, doubled_area, torch.ones_like(doubled_area))[:, None]
    edges = torch.stack(
        (-direction[..., 1] / safe_area, direction[..., 0] / safe_area, start[..., 0], start[..., 1]), dim=-1
    )
    return ScreenTriangles(xy, inv_depth, edges, drawable, batch_size, num_faces, cameras.image_size)


def pixel_bounds(xy: Tensor, image_size: tuple[int, int], margin: float = 0.0) -> tuple[Tensor, Tensor]:
    """Inclusive range of pixels whose centres lie in each primitive's bounding box grown by `margin` px.

    xy: (T, n, 2) corner coordinates (triangles or segments) -> lo, hi: (T, 2) int64 (column, row), clipped
    to the image; empty where hi < lo. Meaningless for non-finite corners, which callers filter out.
    """
    height, width = image_size
    limit = xy.new_tensor([width, height])
    # Clamp first so that far-off or huge coordinates cannot overflow the integer conversion.
    low = xy.amin(1).clamp(min=-1.0 - margin).minimum(limit + 1.0 + margin)
    high = xy.amax(1).clamp(min=-1.0 - margin).minimum(limit + 1.0 + margin)
    lo = torch.ceil(low - 0.5 - margin).long().clamp(min=0)
    hi = torch.floor(high - 0.5 + margin).long().minimum(limit.long() - 1)
    return lo, hi
