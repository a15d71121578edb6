"""Our batched PyTorch rasterizer (CPU and CUDA, one code path): label maps, silhouettes, depth, shaded
overlays and a differentiable soft silhouette. Conventions: renderers/camera.py."""

from renderers.camera import PinholeCameras, RendererInputError
from renderers.maps import label_map, silhouette
from renderers.rasterizer import Fragments, rasterize, rasterize_face_index
from renderers.shading import Lighting, interpolate, render_overlay, shade, vertex_normals
from renderers.soft import soft_silhouette, soften_mask

__all__ = [
    "Fragments",
    "Lighting",
    "PinholeCameras",
    "RendererInputError",
    "interpolate",
    "label_map",
    "rasterize",
    "rasterize_face_index",
    "render_overlay",
    "shade",
    "silhouette",
    "soft_silhouette",
    "soften_mask",
    "vertex_normals",
]
