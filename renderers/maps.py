"""Label maps and silhouettes: the training renders (ORIGINAL.md §5.2 step 6), on the z-buffer fast path."""

from __future__ import annotations

import torch
from torch import Tensor

from renderers.camera import RendererInputError
from renderers.rasterizer import rasterize_face_index


def label_map(
    vertices: Tensor,
    faces: Tensor,
    face_labels: Tensor,
    focal_length: Tensor | float,
    principal_point: Tensor | None,
    image_size: tuple[int, int],
    near: float = 0.1,
    far: float = 100.0,
    max_candidates: int | None = None,
) -> Tensor:
    """Per-pixel label of the visible face, (B, H, W) int64 with 0 for background.

    vertices: (B, V, 3) camera frame; faces: (F, 3); face_labels: (F,) integers, e.g. the bundle's six body
    parts 1..6 (a label of 0 would read as background). Other arguments as `rasterize`.
    """
    if not isinstance(face_labels, Tensor) or face_labels.shape != (faces.shape[0],):
        shape = tuple(face_labels.shape) if isinstance(face_labels, Tensor) else type(face_labels).__name__
        raise RendererInputError(
            f"face_labels must be an ({faces.shape[0]},) tensor, one per face, got {shape}."
        )
    face_index = rasterize_face_index(
        vertices, faces, focal_length, principal_point, image_size, near, far, max_candidates
    )
    # Label 0 is prepended for the background, so the lookup is a single gather at face_index + 1.
    table = torch.cat((face_labels.new_zeros(1), face_labels)).to(face_index.device, torch.int64)
    return table[face_index + 1]


def silhouette(
    vertices: Tensor,
    faces: Tensor,
    focal_length: Tensor | float,
    principal_point: Tensor | None,
    image_size: tuple[int, int],
    near: float = 0.1,
    far: float = 100.0,
    max_candidates: int | None = None,
) -> Tensor:
    """(B, H, W) bool, True where any face covers the pixel centre. Arguments as `rasterize`."""
    face_index = rasterize_face_index(
        vertices, faces, focal_length, principal_point, image_size, near, far, max_candidates
    )
    return face_index >= 0
