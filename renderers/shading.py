"""Shaded renders for visualisation: a Lambert-lit mesh, optionally composited over a photo.

Used for prediction overlays, side and T-pose views and TensorBoard images. Faces are double-sided: normals
are turned towards the camera before lighting, so a mesh seen from inside or with flipped winding still
looks lit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from renderers.camera import RendererInputError
from renderers.rasterizer import Fragments, rasterize

DEFAULT_COLOUR = (0.65, 0.74, 0.86)


@dataclass(frozen=True)
class Lighting:
    """Ambient plus one directional light. direction: the way the light travels, camera frame (y down);
    the default comes from above and behind the camera."""

    ambient: float = 0.45
    diffuse: float = 0.6
    direction: tuple[float, float, float] = (0.0, 0.5, 1.0)


def vertex_normals(vertices: Tensor, faces: Tensor) -> Tensor:
    """Area-weighted unit vertex normals. vertices: (B, V, 3); faces: (F, 3) -> (B, V, 3)."""
    corners = vertices[:, faces]
    face_normals = torch.linalg.cross(
        corners[:, :, 1] - corners[:, :, 0], corners[:, :, 2] - corners[:, :, 0]
    )
    normals = torch.zeros_like(vertices)
    for corner in range(3):
        normals.index_add_(1, faces[:, corner], face_normals)
    return F.normalize(normals, dim=-1)


def interpolate(fragments: Fragments, faces: Tensor, attributes: Tensor) -> Tensor:
    """Per-pixel barycentric interpolation of per-vertex attributes.

    attributes: (B, V, C) -> (B, H, W, C), 0 for background pixels.
    """
    batch_size, height, width = fragments.face_index.shape
    channels = attributes.shape[-1]
    corner_ids = faces[fragments.face_index.clamp(min=0).reshape(batch_size, -1)]
    values = attributes.gather(1, corner_ids.reshape(batch_size, -1, 1).expand(-1, -1, channels))
    values = values.reshape(batch_size, height, width, 3, channels)
    return (values * fragments.bary[..., None]).sum(-2)


def shade(
    vertices: Tensor,
    faces: Tensor,
    focal_length: Tensor | float,
    principal_point: Tensor | None,
    image_size: tuple[int, int],
    colours: Tensor | tuple[float, float, float] | None = None,
    lighting: Lighting | None = None,
    smooth: bool = True,
    near: float = 0.1,
    far: float = 100.0,
) -> tuple[Tensor, Tensor]:
    """Render a lit mesh on black.

    vertices: (B, V, 3) camera frame; faces: (F, 3). colours: None (a light blue), an RGB triple, (V, 3) or
    (B, V, 3) per-vertex colours in [0, 1]. smooth: interpolated vertex normals (True) or flat face normals.
    Returns rgb (B, H, W, 3) float in [0, 1] and mask (B, H, W) bool.
    """
    lighting = lighting or Lighting()
    fragments = rasterize(vertices, faces, focal_length, principal_point, image_size, near, far)
    faces = faces.to(vertices.device, torch.int64)
    batch_size, num_vertices = vertices.shape[:2]
    albedo = interpolate(fragments, faces, _vertex_colours(colours, batch_size, num_vertices, vertices))

    if smooth:
        normals = F.normalize(interpolate(fragments, faces, vertex_normals(vertices, faces)), dim=-1)
    else:
        corners = vertices[:, faces]
        face_normals = torch.linalg.cross(
            corners[:, :, 1] - corners[:, :, 0], corners[:, :, 2] - corners[:, :, 0]
        )
        visible = fragments.face_index.clamp(min=0).reshape(batch_size, -1, 1).expand(-1, -1, 3)
        normals = F.normalize(face_normals.gather(1, visible), dim=-1).reshape(albedo.shape)
    # Double-sided: a normal pointing away from the camera (along the viewing ray) is flipped.
    position = interpolate(fragments, faces, vertices)
    normals = torch.where((normals * position).sum(-1, keepdim=True) > 0, -normals, normals)

    towards_light = -F.normalize(vertices.new_tensor(lighting.direction), dim=0)
    lambert = (normals * towards_light).sum(-1, keepdim=True).clamp(min=0)
    rgb = (albedo * (lighting.ambient + lighting.diffuse * lambert)).clamp(0, 1)
    mask = fragments.mask
    return rgb * mask[..., None], mask


def render_overlay(
    vertices: Tensor,
    faces: Tensor,
    focal_length: Tensor | float,
    principal_point: Tensor | None,
    image_size: tuple[int, int],
    background: Tensor | None = None,
    colours: Tensor | tuple[float, float, float] | None = None,
    lighting: Lighting | None = None,
    opacity: float = 1.0,
    smooth: bool = True,
) -> Tensor:
    """A lit mesh composited over a background image.

    background: None (black), (H, W, 3) or (B, H, W, 3), float in [0, 1] or uint8 in [0, 255], RGB or BGR
    alike (the mesh colour is taken in the same channel order). Returns (B, H, W, 3) float in [0, 1].
    opacity: the mesh's weight where it covers the background.
    """
    rgb, mask = shade(vertices, faces, focal_length, principal_point, image_size, colours, lighting, smooth)
    if background is None:
        return rgb
    height, width = rgb.shape[1:3]
    if (
        not isinstance(background, Tensor)
        or background.shape[-3:] != (height, width, 3)
        or background.ndim > 4
    ):
        shape = tuple(background.shape) if isinstance(background, Tensor) else type(background).__name__
        raise RendererInputError(
            f"background must be an ({height}, {width}, 3) or (B, {height}, {width}, 3) image, got {shape}."
        )
    background = background.to(rgb.device)
    background = (
        background.to(rgb.dtype) / 255.0 if background.dtype == torch.uint8 else background.to(rgb.dtype)
    )
    weight = opacity * mask[..., None].to(rgb.dtype)
    return weight * rgb + (1.0 - weight) * background


def _vertex_colours(
    colours: Tensor | tuple[float, float, float] | None, batch_size: int, num_vertices: int, like: Tensor
) -> Tensor:
    """Any accepted colour argument -> (B, V, 3) on like's device and dtype."""
    colours = torch.as_tensor(
        DEFAULT_COLOUR if colours is None else colours, dtype=like.dtype, device=like.device
    )
    if colours.shape == (3,):
        colours = colours.expand(num_vertices, 3)
    if colours.shape == (num_vertices, 3):
        colours = colours.expand(batch_size, num_vertices, 3)
    if colours.shape != (batch_size, num_vertices, 3):
        raise RendererInputError(
            f"colours must be an RGB triple, ({num_vertices}, 3) or ({batch_size}, {num_vertices}, 3), "
            f"got {tuple(colours.shape)}."
        )
    return colours
