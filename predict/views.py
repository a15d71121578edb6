"""Pictures of predictions: mesh over the photo, side view, T-pose view, and the proxy the network saw.

All renders go through our rasterizer (`renderers.render_overlay`), batched where the pictures share a
size, on the device the predictions are on. Only the smallest window holding the meshes' projections is
rendered and pasted into the picture: the pixels outside it show the background alone, so skipping them
saves their shading cost (over a third of the render time for a person in a photo) and changes no pixel.
Pictures come back as (H, W, 3) uint8 RGB arrays.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np
import torch
from torch import Tensor

from predict.predictor import PredictionBatch
from renderers import render_overlay

VIEW_BACKGROUND = 235  # plain light grey behind the side and T-pose views
VIEW_FILL = 0.85  # the body's larger extent fills this fraction of a view
VIEW_FOCAL_PER_PIXEL = 3.0  # view focal length / view size: a mild perspective, like a ~19 degree lens
PROXY_SILHOUETTE_GREY = 0.35
RENDER_NEAR = 0.1  # the rasterizer's near plane (renderers.rasterize)


class Meshes(Protocol):
    """What `render_side_views` reads of a batch: camera-frame vertices (B, V, 3) and faces (F, 3)."""

    @property
    def vertices(self) -> Tensor: ...

    @property
    def faces(self) -> Tensor: ...


def overlay_size(image_hw: tuple[int, int], max_side: int) -> tuple[tuple[int, int], float]:
    """Size (H, W) of the overlay picture of an image and its scale (overlay pixels per image pixel)."""
    height, width = image_hw
    scale = min(1.0, max_side / max(height, width))
    return (max(1, round(height * scale)), max(1, round(width * scale))), scale


@torch.inference_mode()
def render_overlays(
    batch: PredictionBatch, backgrounds: Sequence[np.ndarray], max_side: int = 1600
) -> list[tuple[np.ndarray, float]]:
    """The posed mesh over each whole image, downscaled so that the long side is at most `max_side`.

    Args:
        batch: predictions; their camera refers to images of size `batch.image_hw`.
        backgrounds: per row, the image as an (h, w, 3) uint8 RGB array of any size with the same aspect
            (e.g. a copy downscaled on reading); it is resized to the overlay size.
        max_side: long side of the overlay pictures, pixels.
    Returns:
        Per row (overlay (H', W', 3) uint8, scale = overlay pixels per image pixel).
    """
    sizes = [overlay_size((int(h), int(w)), max_side) for h, w in batch.image_hw.tolist()]
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for row, (size, _) in enumerate(sizes):
        groups[size].append(row)
    results: list[tuple[np.ndarray, float] | None] = [None] * len(batch)
    vertices = batch.vertices
    for (height, width), rows in groups.items():
        scale = torch.tensor([sizes[row][1] for row in rows], device=vertices.device)
        pictures = np.stack([resize_picture(backgrounds[row], (height, width)) for row in rows])
        rendered = _render_windowed(
            vertices[rows],
            batch.faces,
            batch.focal_length[rows] * scale,
            batch.principal_point[rows] * scale[:, None],
            pictures,
        )
        for row, picture in zip(rows, rendered, strict=True):
            results[row] = (picture, sizes[row][1])
    return results  # type: ignore[return-value]


@torch.inference_mode()
def render_side_views(batch: Meshes, size: int = 384) -> np.ndarray:
    """The posed mesh turned 90 degrees about the vertical axis, on a plain background -> (B, S, S, 3)."""
    vertices = batch.vertices
    # A quarter turn about the camera's y axis, (x, y, z) -> (-z, y, x): the body's side faces the camera.
    # The body is framed afresh afterwards, so the centre of the turn does not matter.
    turned = torch.stack((-vertices[..., 2], vertices[..., 1], vertices[..., 0]), dim=-1)
    return _render_views(turned, batch.faces, size)


@torch.inference_mode()
def render_tpose_views(batch: PredictionBatch, size: int = 384) -> np.ndarray:
    """The zero-pose body (its shape) from the front on a plain background -> (B, S, S, 3)."""
    body = batch.tpose_vertices
    # Body-model frame (y up, facing +z) -> camera frame (y down, facing the camera at -z): 180 deg about x.
    upright = torch.stack((body[..., 0], -body[..., 1], -body[..., 2]), dim=-1)
    return _render_views(upright, batch.faces, size)


@torch.inference_mode()
def proxy_pictures(batch: PredictionBatch) -> np.ndarray:
    """The network's input as a picture: silhouette in grey, each joint heatmap in its own colour.

    Returns (B, S, S, 3) uint8; joints left out for low confidence have no blob.
    """
    heatmaps = batch.heatmaps()  # (B, 17, S, S)
    colours = torch.from_numpy(joint_colours(heatmaps.shape[1])).to(heatmaps.device)  # (17, 3)
    picture = PROXY_SILHOUETTE_GREY * batch.crop_silhouettes[..., None].float()
    picture = picture + torch.einsum("bjhw,jc->bhwc", heatmaps, colours)
    return _to_uint8(picture)


def joint_colours(num_joints: int) -> np.ndarray:
    """(J, 3) float32 RGB in [0, 1]: evenly spaced hues, bright and saturated."""
    hues = np.linspace(0, 180, num_joints, endpoint=False).astype(np.uint8)  # OpenCV hue range 0..179
    hsv = np.stack([hues, np.full_like(hues, 230), np.full_like(hues, 255)], axis=-1)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0].astype(np.float32) / 255.0


def _render_views(vertices: Tensor, faces: Tensor, size: int) -> np.ndarray:
    """Centre each mesh (B, V, 3) in a square view and render it lit on the plain background."""
    focal = VIEW_FOCAL_PER_PIXEL * size
    low, high = vertices.amin(dim=1), vertices.amax(dim=1)  # (B, 3)
    centre = (low + high) / 2
    extent = (high - low)[:, :2].amax(dim=1)  # (B,) larger of width and height, metres
    # Distance at which the extent spans VIEW_FILL of the view, measured at the mesh's nearest depth.
    distance = focal * extent / (VIEW_FILL * size) + (high - low)[:, 2] / 2
    translation = torch.stack((torch.zeros_like(distance), torch.zeros_like(distance), distance), dim=-1)
    framed = vertices - centre[:, None] + translation[:, None]
    focal_length = torch.full_like(distance, focal)
    principal_point = torch.full_like(framed[:, 0, :2], size / 2)
    backgrounds = np.full((vertices.shape[0], size, size, 3), VIEW_BACKGROUND, dtype=np.uint8)
    return _render_windowed(framed, faces, focal_length, principal_point, backgrounds)


def _render_windowed(
    vertices: Tensor, faces: Tensor, focal_length: Tensor, principal_point: Tensor, backgrounds: np.ndarray
) -> np.ndarray:
    """`render_overlay` of meshes (B, V, 3) over pictures (B, H, W, 3) uint8 -> (B, H, W, 3) uint8, rendering
    only the smallest window (shared by the batch) that holds the projections of all vertices in front of
    the near plane: a face covers no pixel outside the bounding box of its corners' projections, and faces
    with a corner behind the near plane are not drawn at all."""
    batch_size, height, width = backgrounds.shape[:3]
    xy, z = vertices[..., :2], vertices[..., 2:]
    in_front = z > RENDER_NEAR
    uv = focal_length[:, None, None] * xy / torch.where(in_front, z, 1.0) + principal_point[:, None]
    limit = uv.new_tensor([width, height])
    low = torch.where(in_front, uv, torch.inf).amin(dim=1).floor().clamp(0)  # (B, 2), inf where none
    high = torch.where(in_front, uv, -torch.inf).amax(dim=1).ceil().minimum(limit)
    visible = (high > low).all(dim=1)
    if not bool(visible.any()):
        return backgrounds.copy()
    window = (high - low)[visible].amax(dim=0).long()  # (w, h) shared by the batch
    origin = torch.where(visible[:, None], low, 0).minimum(limit - window).long()  # window inside the picture
    window_w, window_h = window.tolist()
    corners = origin.tolist()
    crops = np.stack([backgrounds[b, y : y + window_h, x : x + window_w] for b, (x, y) in enumerate(corners)])
    rendered = render_overlay(
        vertices,
        faces,
        focal_length,
        principal_point - origin,
        (window_h, window_w),
        background=torch.from_numpy(crops).to(vertices.device),
    )
    pictures = backgrounds.copy()
    for b, ((x, y), crop) in enumerate(zip(corners, _to_uint8(rendered), strict=True)):
        pictures[b, y : y + window_h, x : x + window_w] = crop
    return pictures


def resize_picture(image: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """A picture (H, W, C) at size (h, w): itself when already that size, else area-averaged when shrinking
    and bilinear when enlarging."""
    if image.shape[:2] == tuple(size_hw):
        return image
    shrinking = size_hw[0] * size_hw[1] < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (size_hw[1], size_hw[0]), interpolation=interpolation)


def _to_uint8(images: Tensor) -> np.ndarray:
    """(..., 3) float in [0, 1] -> uint8 numpy on the CPU."""
    return (images.clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy()
