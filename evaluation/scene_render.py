"""A scene benchmark picture and its ground truth, rendered from its layout (evaluation/scene_cases.py).

Meshes, in the level camera's frame: each person's dressed body; over it, for loose clothing, a coat: the
body's own surface pushed out along its vertex normals by `coat_offset` times the share of each vertex's
skinning weight on the covered joints (torso and upper arms, and the thighs for a coat or dress), so the
coat joins the body smoothly at its hem and cuffs; and any occluding boxes. They are rendered together,
dressed, lit and shadowed (`evaluation.photo_render.compose_picture`).

Ground truth per person, in the pitched camera's frame (the picture's): pose, betas, cam_t; the body's
silhouette in the picture (the naked body, whole: also where it is hidden, never the coat); the visible
fraction (body pixels that nothing else hides, the own coat excepted, over the whole body's projected
area, inside the picture or not); COCO-17 joints [u, v, inside the picture]; and the picture's label map
of who is seen where (coat included: what a detector's person mask covers). The main person follows
`evaluation.main_person`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from evaluation.main_person import main_person
from evaluation.photo_render import (
    ROOMS,
    Textures,
    compose_picture,
    pitch_rotation,
    turn_level_to_camera,
    vertex_colours,
)
from evaluation.scene_cases import Dress, Occluder, PictureLayout
from models.bundle import BodyModelBundle
from renderers import silhouette
from renderers.rasterizer import rasterize_face_index
from utils.cameras import perspective_project

# SMPL joints under a coat or dress (pelvis, spine, collars, shoulders = upper arms) and under its skirt.
COAT_JOINTS = (0, 3, 6, 9, 13, 14, 16, 17)
SKIRT_JOINTS = (1, 2)
MAX_CANVAS = 4096  # the whole-body area of a person far beyond the picture is measured at a lower scale


@dataclass
class RenderedPicture:
    """A picture and its truth. P people; pixels (H, W).

    picture (H, W, 3) uint8 RGB; seen (H, W) uint8 (k + 1 where person k is seen, coat included; 0
    elsewhere, occluders too); silhouettes (P, H, W) bool (each body whole, in the picture);
    visible_fraction (P,) float32; joints2d (P, 17, 3) float32 [u, v, inside]; main: the main person.
    """

    picture: np.ndarray
    seen: np.ndarray
    silhouettes: np.ndarray
    visible_fraction: np.ndarray
    joints2d: np.ndarray
    main: int


class BodyPoser:
    """Posed bodies of one body model on the CPU, without translation."""

    def __init__(self, bundle: BodyModelBundle):
        self.bundle = bundle

    def __call__(self, pose: np.ndarray, betas: np.ndarray) -> Tensor:
        """(V, 3) float32 vertices of pose (72,) and betas (10,)."""
        return self.vertices_and_joints(pose, betas)[0]

    def vertices_and_joints(self, pose: np.ndarray, betas: np.ndarray) -> tuple[Tensor, Tensor]:
        """(V, 3) vertices and (17, 3) COCO-17 joints."""
        out = self.bundle.forward_axis_angle(torch.from_numpy(pose)[None], torch.from_numpy(betas)[None])
        return out.vertices[0], out.coco17[0]


@torch.no_grad()
def render_picture(
    layout: PictureLayout, poser: BodyPoser, textures: Textures, rng: np.random.Generator
) -> RenderedPicture:
    """Render a layout (sensor noise from `rng`) and measure its ground truth."""
    bundle = poser.bundle
    height, width = layout.image_hw
    focal = layout.focal_length
    centre = torch.tensor([width / 2, height / 2])
    to_level = pitch_rotation(layout.pitch_deg)  # x_level = x_camera @ R for x_camera = R x_level
    weights = bundle.skinning_weights.numpy()
    bodies, joints = [], []
    meshes: list[tuple[Tensor, Tensor, Tensor, int]] = []  # level-frame vertices, faces, colours, owner
    for k, person in enumerate(layout.people):
        vertices, coco = poser.vertices_and_joints(person.pose, person.betas)
        t = torch.from_numpy(person.cam_t)
        bodies.append(vertices + t)
        joints.append(coco + t)
        level = (vertices + t) @ to_level
        colours = vertex_colours(bundle, person.dress, weights, rng)
        meshes.append((level, bundle.faces, colours, k))
        if person.dress.coat_offset > 0:
            meshes.append(_coat(level, bundle.faces, bundle.skinning_weights, person.dress, rng, k))
    floor_y = max(float(mesh[0][:, 1].max()) for mesh in meshes)  # everybody stands on one floor
    meshes.extend(_box(occluder, floor_y) for occluder in layout.occluders)

    vertices, faces, colours, owners = _concatenate(meshes)
    picture = compose_picture(
        vertices[None],
        faces,
        colours,
        focal,
        layout.image_hw,
        ROOMS[layout.room],
        layout.light_deg,
        textures,
        rng,
        layout.pitch_deg,
    )
    seen_face = rasterize_face_index(
        turn_level_to_camera(vertices, layout.pitch_deg)[None], faces, focal, centre, layout.image_hw
    )[0]
    seen = torch.where(seen_face >= 0, owners[seen_face.clamp(min=0)], -1).numpy()

    count = len(layout.people)
    silhouettes = np.zeros((count, height, width), bool)
    fractions = np.zeros(count, np.float32)
    joints2d = np.zeros((count, 17, 3), np.float32)
    for k in range(count):
        silhouettes[k] = silhouette(bodies[k][None], bundle.faces, focal, centre, layout.image_hw)[0].numpy()
        visible = int((silhouettes[k] & (seen == k)).sum())
        fractions[k] = visible / max(_whole_area(bodies[k], bundle.faces, focal), 1.0)
        uv = perspective_project(joints[k][None], focal, centre)[0]
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (uv[:, 1] < height)
        joints2d[k] = torch.cat((uv, inside[:, None].float()), dim=1).numpy()
    visible_bodies = silhouettes & (seen[None] == np.arange(count)[:, None, None])
    return RenderedPicture(
        picture=picture,
        seen=(seen + 1).astype(np.uint8),
        silhouettes=silhouettes,
        visible_fraction=fractions,
        joints2d=joints2d,
        main=main_person(visible_bodies, fractions),
    )


def _coat(
    level: Tensor, faces: Tensor, skinning: Tensor, dress: Dress, rng: np.random.Generator, owner: int
) -> tuple[Tensor, Tensor, Tensor, int]:
    """The coat mesh over a body (level-frame vertices (V, 3)): vertices, its faces, colours, owner."""
    joints = COAT_JOINTS + (SKIRT_JOINTS if dress.coat_down_to_knees else ())
    cover = skinning[:, list(joints)].sum(dim=1).clamp(0.0, 1.0)
    vertices = level + _vertex_normals(level, faces) * (dress.coat_offset * cover)[:, None]
    kept = faces[(cover[faces] > 0.5).all(dim=1)]  # faces well inside the coat: no z-fight at the hem
    noise = 1.0 + 0.04 * torch.from_numpy(rng.standard_normal((len(level), 1)).astype(np.float32))
    colours = (torch.tensor(dress.coat, dtype=torch.float32) * noise).clamp(0.0, 1.0)
    return vertices, kept, colours, owner


def _vertex_normals(vertices: Tensor, faces: Tensor) -> Tensor:
    """(V, 3) unit area-weighted vertex normals, outward for the body model's winding."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    face_normals = torch.linalg.cross(b - a, c - a)
    normals = torch.zeros_like(vertices).index_add_(
        0, faces.reshape(-1), face_normals.repeat_interleave(3, 0)
    )
    return normals / normals.norm(dim=1, keepdim=True).clamp(min=1e-12)


def _box(occluder: Occluder, floor_y: float) -> tuple[Tensor, Tensor, Tensor, int]:
    """A box standing on the floor (owner -1), level frame."""
    corners = torch.tensor(
        [[x, y, z] for x in (-0.5, 0.5) for y in (-1.0, 0.0) for z in (-0.5, 0.5)], dtype=torch.float32
    )
    size = torch.tensor([occluder.width, occluder.height, occluder.depth])
    vertices = corners * size + torch.tensor([occluder.x, floor_y, occluder.z])
    # Corner index = 4 ix + 2 iy + iz; two triangles per side.
    quads = ((0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3))
    faces = torch.tensor([tri for a, b, c, d in quads for tri in ((a, b, c), (a, c, d))])
    colours = torch.tensor(occluder.colour, dtype=torch.float32).expand(8, 3)
    return vertices, faces, colours, -1


def _concatenate(meshes: list[tuple[Tensor, Tensor, Tensor, int]]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One mesh of many: vertices (V, 3), faces (F, 3), colours (V, 3) and each face's owner (F,)."""
    offsets = np.cumsum([0] + [len(mesh[0]) for mesh in meshes[:-1]])
    return (
        torch.cat([mesh[0] for mesh in meshes]),
        torch.cat([mesh[1] + int(offset) for mesh, offset in zip(meshes, offsets, strict=True)]),
        torch.cat([mesh[2] for mesh in meshes]),
        torch.cat([torch.full((len(mesh[1]),), mesh[3]) for mesh in meshes]),
    )


def _whole_area(vertices: Tensor, faces: Tensor, focal: float) -> float:
    """Projected area in pixels of a camera-frame body (V, 3), inside the picture or not: its silhouette on a
    canvas around its projected box (at a lower scale when that canvas would be very large)."""
    uv = vertices[:, :2] / vertices[:, 2:]
    low, high = uv.amin(0), uv.amax(0)
    scale = min(1.0, MAX_CANVAS / (focal * float((high - low).max()) + 4.0))
    f = focal * scale
    origin = (low * f).floor() - 2.0
    size = ((high * f).ceil() - origin + 2.0).int().tolist()
    mask = silhouette(vertices[None], faces, f, -origin, (size[1], size[0]))
    return float(mask.sum()) / scale**2
