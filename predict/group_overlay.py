"""One overlay for a group: every person of a picture over it, in depth order, each in its own colour."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from predict.predictor import PredictionBatch
from predict.views import overlay_size, resize_picture
from renderers import render_overlay

# Distinct colours (RGB in [0, 1]) for the people of a group overlay, p0 first.
PERSON_COLOURS = (
    (0.62, 0.74, 0.95),
    (0.95, 0.66, 0.45),
    (0.55, 0.88, 0.6),
    (0.92, 0.58, 0.82),
    (0.95, 0.9, 0.5),
    (0.55, 0.9, 0.92),
)


def render_group_overlay(
    batch: PredictionBatch, rows: Sequence[int], background: np.ndarray, max_side: int = 1600
) -> tuple[np.ndarray, float]:
    """Every person of one picture (batch rows `rows`, p0 first) over it -> (overlay (H', W', 3) uint8,
    overlay pixels per image pixel); see `render_people_overlay`."""
    rows = list(rows)
    height, width = (int(s) for s in batch.image_hw[rows[0]].tolist())
    return render_people_overlay(
        batch.vertices[rows], batch.faces, batch.focal_length[rows], batch.principal_point[rows[0]],
        (height, width), background, max_side,
    )  # fmt: skip


@torch.inference_mode()
def render_people_overlay(
    vertices: Tensor,
    faces: Tensor,
    focal_length: Tensor,
    principal_point: Tensor,
    image_hw: tuple[int, int],
    background: np.ndarray,
    max_side: int = 1600,
) -> tuple[np.ndarray, float]:
    """People's camera-frame meshes (P, V, 3) with their focal lengths (P,) and the picture's principal
    point (2,), drawn over the picture (h, w, 3) uint8 of any size with the image's aspect, in depth order,
    each in its own colour (p0 first) -> (overlay (H', W', 3) uint8, overlay pixels per image pixel).

    Each person may have a camera of their own (focal length from their crop); the overlay uses the largest
    of them, and each mesh's depths are scaled by f_common / f_person, which leaves every vertex's
    projection unchanged and sets the depth order by apparent distance.
    """
    (out_h, out_w), scale = overlay_size(image_hw, max_side)
    common = focal_length.max()
    vertices = vertices.clone()
    vertices[..., 2] *= (common / focal_length)[:, None]
    count, num_vertices = vertices.shape[:2]
    faces = torch.cat([faces + k * num_vertices for k in range(count)])
    colours = torch.tensor(
        [PERSON_COLOURS[k % len(PERSON_COLOURS)] for k in range(count)], device=vertices.device
    ).repeat_interleave(num_vertices, dim=0)
    picture = np.ascontiguousarray(resize_picture(background, (out_h, out_w)))  # torch needs plain strides
    rendered = render_overlay(
        vertices.reshape(1, -1, 3),
        faces,
        (common * scale).reshape(1),
        (principal_point * scale)[None],
        (out_h, out_w),
        background=torch.from_numpy(picture).to(vertices.device),
        colours=colours,
    )
    return (rendered[0].clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy(), scale
