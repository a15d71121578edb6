"""A procedural humanoid mesh: six closed capsules with the six body-part labels, for tests and benchmarks.

It stands in for a body model where none is at hand: about 27k small, near-uniform triangles (like SMPL's
13,776 or the open body's 27,420 faces), in the body-model frame (y up, facing +z, left at +x, metres).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

# Part labels, as the bundles define them: 1 L arm, 2 R arm, 3 head, 4 L leg, 5 R leg, 6 torso.
# (label, bottom end, top end, radius); ends in metres, body-model frame, A-pose, feet at y = 0.
_PARTS = (
    (1, (0.57, 0.92, 0.02), (0.21, 1.36, 0.0), 0.045),
    (2, (-0.57, 0.92, 0.02), (-0.21, 1.36, 0.0), 0.045),
    (3, (0.0, 1.52, 0.01), (0.0, 1.61, 0.0), 0.1),
    (4, (0.13, 0.07, 0.0), (0.09, 0.85, 0.0), 0.075),
    (5, (-0.13, 0.07, 0.0), (-0.09, 0.85, 0.0), 0.075),
    (6, (0.0, 0.9, 0.0), (0.0, 1.32, 0.0), 0.17),
)


@dataclass(frozen=True)
class LabelledMesh:
    """vertices: (V, 3) float32; faces: (F, 3) int64; face_labels: (F,) int64 in 1..6."""

    vertices: Tensor
    faces: Tensor
    face_labels: Tensor


def capsule(bottom: Tensor, top: Tensor, radius: float, edge: float) -> tuple[Tensor, Tensor]:
    """A closed capsule around the segment bottom -> top with triangles of side about `edge` metres.

    Rings are spaced evenly along the profile (cap arc, cylinder, cap arc) so triangles stay near-uniform.
    Returns vertices (V, 3) float32 and faces (F, 3) int64, wound counter-clockwise seen from outside.
    """
    axis = top - bottom
    length = float(axis.norm())
    arc = math.pi * radius / 2
    profile_length = 2 * arc + length
    around = max(3, math.ceil(2 * math.pi * radius / edge))
    rings = max(1, math.ceil(profile_length / edge) - 1)

    s = torch.arange(1, rings + 1, dtype=torch.float64) * profile_length / (rings + 1)
    in_bottom, in_top = s < arc, s > arc + length
    bottom_angle, top_angle = s / radius, (profile_length - s) / radius
    ring_radius = torch.where(in_bottom, radius * torch.sin(bottom_angle), torch.full_like(s, radius))
    ring_radius = torch.where(in_top, radius * torch.sin(top_angle), ring_radius)
    height = torch.where(in_bottom, -radius * torch.cos(bottom_angle), s - arc)
    height = torch.where(in_top, length + radius * torch.cos(top_angle), height)

    angle = torch.arange(around, dtype=torch.float64) * 2 * math.pi / around
    ring_points = torch.stack(
        (
            ring_radius[:, None] * torch.cos(angle),
            height[:, None].expand(rings, around),
            ring_radius[:, None] * torch.sin(angle),
        ),
        dim=-1,
    ).reshape(-1, 3)
    poles = torch.tensor([[0.0, -radius, 0.0], [0.0, length + radius, 0.0]], dtype=torch.float64)
    local = torch.cat((poles[:1], ring_points, poles[1:]))

    # Vertex 0 is the bottom pole, 1 + r * around + a is ring r at angle a, the last is the top pole.
    a = torch.arange(around)
    a_next = (a + 1) % around
    top_pole = 1 + rings * around
    fans = [torch.stack((torch.zeros_like(a), 1 + a, 1 + a_next), 1)]
    for r in range(rings - 1):
        lower, upper = 1 + r * around, 1 + (r + 1) * around
        fans.append(torch.stack((lower + a, upper + a, lower + a_next), 1))
        fans.append(torch.stack((lower + a_next, upper + a, upper + a_next), 1))
    last = 1 + (rings - 1) * around
    fans.append(torch.stack((last + a, torch.full_like(a, top_pole), last + a_next), 1))
    faces = torch.cat(fans)

    # Rotate the local y axis onto the segment direction (Rodrigues), then move to `bottom`.
    y = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    direction = (axis / length).double()
    cross, cos = torch.linalg.cross(y, direction), float(y @ direction)
    skew = torch.tensor(
        [[0.0, -cross[2], cross[1]], [cross[2], 0.0, -cross[0]], [-cross[1], cross[0], 0.0]],
        dtype=torch.float64,
    )
    rotation = torch.eye(3, dtype=torch.float64) + skew + skew @ skew / (1.0 + cos)
    vertices = local @ rotation.T + bottom.double()
    return vertices.float(), faces


def procedural_body(edge: float = 0.0139) -> LabelledMesh:
    """The six-capsule humanoid, 1.71 m tall. The default edge length gives 13,688 vertices and 27,352
    faces."""
    vertices, faces, labels, offset = [], [], [], 0
    for label, bottom, top, radius in _PARTS:
        part_vertices, part_faces = capsule(torch.tensor(bottom), torch.tensor(top), radius, edge)
        vertices.append(part_vertices)
        faces.append(part_faces + offset)
        labels.append(torch.full((part_faces.shape[0],), label, dtype=torch.int64))
        offset += part_vertices.shape[0]
    return LabelledMesh(torch.cat(vertices), torch.cat(faces), torch.cat(labels))


def place_in_camera(vertices: Tensor, depth: float = 42.0) -> Tensor:
    """Body-model frame -> camera frame: 180 deg about x (y up -> y down), bounding-box centre on the
    optical axis at `depth` metres. vertices: (..., V, 3)."""
    flipped = vertices * vertices.new_tensor([1.0, -1.0, -1.0])
    centre = (flipped.amax(-2, keepdim=True) + flipped.amin(-2, keepdim=True)) / 2
    return flipped - centre + vertices.new_tensor([0.0, 0.0, depth])
