"""One overlay for a group: every person of a picture over it, in depth order, each in its own colour."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from predict.predictor import PredictionBatch
from predict.views import overlay_size
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


@torch.inference_mode()
def render_group_overlay(
    batch: PredictionBatch, rows: Sequence[int], background: np.ndarray, max_side: int = 1600
) -> tuple[np.ndarray, float]:
    """Every person of one picture (batch rows `rows`, p0 first) over it, in depth order, each in its own
    colour -> (overlay (H', W', 3) uint8, overlay pixels per image pixel).

    Each person has a camera of their own (focal length from their crop); the overlay uses the largest of
    them, and each mesh's depths are scaled by f_common / f_person, which leaves every vertex's projection
    unchanged and sets the depth order by apparent distance.
    """
    rows = list(rows)
    height, width = (int(s) for s in batch.image_hw[rows[0]].tolist())
    (out_h, out_w), scale = overlay_size((height, width), max_side)
    focal = batch.focal_length[rows]
    common = focal.max()
    vertices = batch.vertices[rows].clone()  # (P, V, 3)
    vertices[..., 2] *= (common / focal)[:, None]
    count, num_vertices = vertices.shape[:2]
    faces = torch.cat([batch.faces + k * num_vertices for k in range(count)])
    colours = torch.tensor(
        [PERSON_COLOURS[k % len(PERSON_COLOURS)] for k in range(count)], device=vertices.device
    ).repeat_interleave(num_vertices, dim=0)
    picture = cv2.resize(background, (out_w, out_h), interpolation=cv2.INTER_AREA)
    rendered = render_overlay(
        vertices.reshape(1, -1, 3),
        faces,
        (common * scale).reshape(1),
        (batch.principal_point[rows[0]] * scale)[None],
        (out_h, out_w),
        background=torch.from_numpy(picture).to(vertices.device),
        colours=colours,
    )
    return (rendered[0].clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy(), scale
