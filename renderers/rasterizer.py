"""Batched triangle rasterizer in plain PyTorch, one code path for CPU and CUDA.

Semantics (the original's neural_renderer settings, ORIGINAL.md §14.4): double-sided faces, no
anti-aliasing, a pixel is covered when its centre (j + 0.5, i + 0.5) lies inside or on the edge of a triangle,
perspective-correct depth, near 0.1 / far 100. Faces with a corner nearer than `near` are culled whole;
pixels whose depth is beyond `far` are dropped.

Algorithm: each triangle is evaluated on a small square window of pixels around it (renderers/windows.py);
candidates that pass the edge tests get a 64-bit key, 1 / depth in the high 32 bits and the inverted face
index in the low 32 bits, and one scatter_reduce(amax) per chunk into a (B * H * W) buffer keeps the nearest
face at every pixel. Since the key orders by depth first and face index second, the result does not depend on
face order, chunking or batch size (equal depths go to the lower face index).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from renderers.camera import check_mesh, make_cameras
from renderers.triangles import ScreenTriangles, barycentric, pixel_bounds, screen_triangles
from renderers.windows import pixel_windows

_FACE_BITS = 32
_MAX_FACE = 2**31 - 1


@dataclass(frozen=True)
class Fragments:
    """What the rasterizer found at every pixel.

    face_index: (B, H, W) int64, index into `faces` of the nearest face; -1 for background.
    depth: (B, H, W) camera-frame z of the visible surface; 0 for background.
    bary: (B, H, W, 3) perspective-correct barycentric coordinates in that face (non-negative, sum 1);
        0 for background.
    depth and bary are differentiable with respect to the vertices (face_index is not).
    """

    face_index: Tensor
    depth: Tensor
    bary: Tensor

    @property
    def mask(self) -> Tensor:
        """(B, H, W) bool, True where a face is visible."""
        return self.face_index >= 0


def default_max_candidates(device: torch.device) -> int:
    """Window pixels evaluated at once: bounds the working memory (about 40 bytes per candidate)."""
    return 2**25 if device.type == "cuda" else 2**21


def samples_per_group(batch_size: int, num_faces: int, device: torch.device) -> int:
    """How many samples to set up and rasterize together: bounds the per-triangle tensors (about 100 bytes
    per triangle). On the CPU, groups of about half a million triangles also stay in cache and run twice as
    fast as a whole batch of 256 bodies; a GPU takes the batch at once."""
    max_triangles = 2**23 if device.type == "cuda" else 2**19
    return max(1, min(batch_size, max_triangles // max(num_faces, 1)))


def rasterize(
    vertices: Tensor,
    faces: Tensor,
    focal_length: Tensor | float,
    principal_point: Tensor | None,
    image_size: tuple[int, int],
    near: float = 0.1,
    far: float = 100.0,
    max_candidates: int | None = None,
) -> Fragments:
    """Rasterize a batch of meshes that share one face list.

    vertices: (B, V, 3) camera frame (x right, y down, z forward). faces: (F, 3) int64.
    focal_length: float or (B,) pixels. principal_point: (B, 2) or (2,) pixels, None for the image centre.
    image_size: (H, W). max_candidates: window pixels per chunk (memory bound); None picks a device default.
    """
    groups = [
        _fragments(triangles, vertices.dtype, far, max_candidates)
        for triangles in _triangle_groups(vertices, faces, focal_length, principal_point, image_size, near)
    ]
    return Fragments(*(torch.cat(parts) for parts in zip(*groups, strict=True)))


@torch.no_grad()
def rasterize_face_index(
    vertices: Tensor,
    faces: Tensor,
    focal_length: Tensor | float,
    principal_point: Tensor | None,
    image_size: tuple[int, int],
    near: float = 0.1,
    far: float = 100.0,
    max_candidates: int | None = None,
) -> Tensor:
    """Only the visible face per pixel, (B, H, W) int64 with -1 for background; arguments as `rasterize`.

    The fast path for label maps and silhouettes: no depth or barycentrics are reconstructed.
    """
    return torch.cat(
        [
            nearest_faces(triangles, far, max_candidates)
            for triangles in _triangle_groups(
                vertices, faces, focal_length, principal_point, image_size, near
            )
        ]
    )


def _triangle_groups(
    vertices: Tensor,
    faces: Tensor,
    focal_length: Tensor | float,
    principal_point: Tensor | None,
    image_size: tuple[int, int],
    near: float,
) -> Iterator[ScreenTriangles]:
    """Check the inputs, then set up the triangles of a few samples at a time (`samples_per_group`)."""
    check_mesh(vertices, faces)
    batch_size, device = vertices.shape[0], vertices.device
    cameras = make_cameras(focal_length, principal_point, image_size, batch_size, device, vertices.dtype)
    faces = faces.to(device, torch.int64)
    step = samples_per_group(batch_size, faces.shape[0], device)
    for start in range(0, max(batch_size, 1), step):  # an empty batch still yields one (empty) group
        group = slice(start, start + step)
        yield screen_triangles(vertices[group], faces, cameras[group], near)


def _fragments(
    triangles: ScreenTriangles, dtype: torch.dtype, far: float, max_candidates: int | None
) -> tuple[Tensor, Tensor, Tensor]:
    """face_index, depth and bary of one group of samples (see `Fragments`)."""
    face_index = nearest_faces(triangles, far, max_candidates)
    batch_size, height, width = face_index.shape
    pixels = face_index.reshape(-1)
    covered = (pixels >= 0).nonzero().squeeze(1)
    sample = covered // (height * width)
    triangle = sample * triangles.num_faces + pixels[covered]
    within = covered - sample * height * width
    centre = torch.stack((within % width, within // width), dim=1).to(dtype) + 0.5

    # Recomputed per covered pixel (with autograd) rather than carried through the scatter: one gather per
    # pixel gives full-precision, differentiable depth and barycentrics.
    screen_bary = triangles.barycentric(triangle, centre).clamp(min=0)
    screen_bary = screen_bary / screen_bary.sum(-1, keepdim=True)
    weighted = screen_bary * triangles.inv_depth[triangle]
    inv_depth = weighted.sum(-1)
    depth = weighted.new_zeros(batch_size * height * width).index_put((covered,), 1.0 / inv_depth)
    bary = weighted.new_zeros(batch_size * height * width, 3).index_put(
        (covered,), weighted / inv_depth[:, None]
    )
    return face_index, depth.reshape(batch_size, height, width), bary.reshape(batch_size, height, width, 3)


@torch.no_grad()
def nearest_faces(triangles: ScreenTriangles, far: float, max_candidates: int | None) -> Tensor:
    """The z-buffer pass. Returns (B, H, W) int64 face indices, -1 for background."""
    height, width = triangles.image_size
    batch_size, num_faces = triangles.batch_size, triangles.num_faces
    device = triangles.xy.device
    budget = max_candidates or default_max_candidates(device)
    edges, inv_depth = triangles.edges, triangles.inv_depth

    # Background keeps key 0; any covered pixel has a positive key because 1 / depth > 0.
    keys = torch.zeros(batch_size * height * width, dtype=torch.int64, device=device)
    lo, hi = pixel_bounds(triangles.xy, triangles.image_size)
    for group in pixel_windows(lo, hi, triangles.drawable, triangles.image_size):
        column_step, row_step = group.offsets()
        pixel_step = row_step * width + column_step
        column_step = column_step.to(edges.dtype)[None, :, None]
        row_step = row_step.to(edges.dtype)[None, :, None]
        for windows in group.chunks(budget):
            coeffs = edges.index_select(0, windows.item)
            # Barycentrics at the centre of the window's first pixel, then stepped across it: (J, k * k, 3).
            first = barycentric(coeffs, windows.origin.to(edges.dtype) + 0.5)
            bary = torch.addcmul(first[:, None, :], coeffs[:, None, :, 0], column_step)
            bary.addcmul_(coeffs[:, None, :, 1], row_step)
            window, offset = (bary.amin(-1) >= 0).nonzero(as_tuple=True)
            triangle = windows.item[window]
            inv_z = (bary[window, offset] * inv_depth[triangle]).sum(-1)
            keep = inv_z >= 1.0 / far
            window, offset, triangle, inv_z = window[keep], offset[keep], triangle[keep], inv_z[keep]

            sample = triangle // num_faces
            origin = windows.origin[window]
            pixel = sample * (height * width) + origin[:, 1] * width + origin[:, 0] + pixel_step[offset]
            # Positive float32 bit patterns order like the floats, so nearer (larger 1/z) means larger key.
            depth_bits = inv_z.float().view(torch.int32).long() << _FACE_BITS
            keys.scatter_reduce_(0, pixel, depth_bits | (_MAX_FACE - (triangle - sample * num_faces)), "amax")

    face_index = torch.where(keys > 0, _MAX_FACE - (keys & (2**_FACE_BITS - 1)), -1)
    return face_index.reshape(batch_size, height, width)
