"""Pinhole cameras for the renderers: input checking and perspective projection.

The convention is the project's one (docs/ARCHITECTURE.md): camera frame x right, y down, z forward;
u = f * x / z + cx (column), v = f * y / z + cy (row); the pixel with integer index (row i, column j)
covers u in [j, j + 1), v in [i, i + 1), so its centre is (j + 0.5, i + 0.5). A projected vertex therefore
lands in pixel (floor(v), floor(u)), the same pixel the 2D joint projection puts it in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from utils.cameras import perspective_project


class RendererInputError(ValueError):
    """Raised for renderer inputs of the wrong shape, type or value; the message says what to pass."""


@dataclass(frozen=True)
class PinholeCameras:
    """One pinhole camera per batch sample.

    focal_length: (B,) pixels. principal_point: (B, 2) pixels (cx, cy). image_size: (H, W).
    """

    focal_length: Tensor
    principal_point: Tensor
    image_size: tuple[int, int]

    def __getitem__(self, samples: slice) -> PinholeCameras:
        """The cameras of a slice of the batch."""
        return PinholeCameras(self.focal_length[samples], self.principal_point[samples], self.image_size)

    def project(self, points: Tensor) -> Tensor:
        """Perspective projection. points: (B, N, 3) camera frame -> (B, N, 2) pixels (u, v)."""
        return perspective_project(points, self.focal_length, self.principal_point)


def check_mesh(vertices: Tensor, faces: Tensor) -> None:
    """Validate a batched mesh. vertices: (B, V, 3) floating; faces: (F, 3) integer indices into V."""
    if not isinstance(vertices, Tensor) or vertices.ndim != 3 or vertices.shape[-1] != 3:
        shape = tuple(vertices.shape) if isinstance(vertices, Tensor) else type(vertices).__name__
        raise RendererInputError(f"vertices must be a (B, V, 3) tensor in the camera frame, got {shape}.")
    if not vertices.is_floating_point():
        raise RendererInputError(f"vertices must be a floating-point tensor, got {vertices.dtype}.")
    if not isinstance(faces, Tensor) or faces.ndim != 2 or faces.shape[-1] != 3:
        shape = tuple(faces.shape) if isinstance(faces, Tensor) else type(faces).__name__
        raise RendererInputError(f"faces must be an (F, 3) integer tensor, got {shape}.")
    if faces.dtype.is_floating_point or faces.dtype == torch.bool:
        raise RendererInputError(f"faces must hold integer vertex indices, got {faces.dtype}.")
    if faces.numel() and (int(faces.min()) < 0 or int(faces.max()) >= vertices.shape[1]):
        raise RendererInputError(
            f"faces index vertices 0..{vertices.shape[1] - 1}, but hold values "
            f"{int(faces.min())}..{int(faces.max())}; pass the faces that belong to these vertices."
        )
    if faces.shape[0] >= 2**31:
        raise RendererInputError("meshes with 2**31 faces or more are not supported; split the mesh.")


def make_cameras(
    focal_length: Tensor | float,
    principal_point: Tensor | None,
    image_size: tuple[int, int],
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
) -> PinholeCameras:
    """Normalise camera arguments to per-sample tensors on `device`.

    focal_length: float, (), (1,) or (B,). principal_point: None (the image centre, (W/2, H/2)), (2,) or
    (B, 2). image_size: (H, W) positive ints.
    """
    if len(tuple(image_size)) != 2 or any(int(s) != s or s <= 0 for s in image_size):
        raise RendererInputError(f"image_size must be (H, W) with positive integers, got {image_size}.")
    height, width = int(image_size[0]), int(image_size[1])

    focal = torch.as_tensor(focal_length, dtype=dtype, device=device).reshape(-1)
    if focal.numel() == 1:
        focal = focal.expand(batch_size)
    if focal.shape != (batch_size,):
        raise RendererInputError(
            f"focal_length must be a float or a ({batch_size},) tensor, got shape {tuple(focal.shape)}."
        )
    if principal_point is None:
        principal_point = torch.tensor([width / 2.0, height / 2.0])
    centre = torch.as_tensor(principal_point, dtype=dtype, device=device)
    if centre.shape == (2,):
        centre = centre.expand(batch_size, 2)
    if centre.shape != (batch_size, 2):
        raise RendererInputError(
            f"principal_point must be (2,) or ({batch_size}, 2) pixels, got shape {tuple(centre.shape)}."
        )
    return PinholeCameras(focal, centre, (height, width))
