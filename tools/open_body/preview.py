"""A small orthographic picture of bodies (front and side views, flat-shaded triangles drawn back to front),
for the open body model's README and for eyeballing a build. OpenCV only; no renderer needed."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

_LIGHT = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])
_SUBPIXEL_BITS = 4  # cv2 polygon coordinates in 1/16 pixel


def _draw(
    canvas: np.ndarray, vertices: np.ndarray, faces: np.ndarray, origin: tuple[float, float], scale: float
):
    """Draws a mesh seen from +z (x right, y up) onto canvas, with painter's-algorithm visibility."""
    tri = vertices[faces]  # (F, 3, 3)
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    # Double-sided Lambert shading, so the picture does not depend on the triangles' winding.
    shade = 0.25 + 0.75 * np.abs(normals @ _LIGHT)
    pixels = np.stack([origin[0] + scale * tri[..., 0], origin[1] - scale * tri[..., 1]], axis=-1)
    points = np.round(pixels * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    for f in np.argsort(tri[..., 2].mean(axis=1)):
        grey = int(255 * shade[f])
        cv2.fillConvexPoly(
            canvas, points[f], (grey, int(0.85 * grey), int(0.7 * grey)), cv2.LINE_AA, _SUBPIXEL_BITS
        )


def render_bodies(
    bodies: list[np.ndarray], faces: np.ndarray, labels: list[str], height_px: int = 360
) -> np.ndarray:
    """Front views of several bodies side by side, then a side view (from the body's left) of the first.

    Args:
        bodies: list of (V, 3) vertices in SMPL's frame (y up, facing +z).
        faces: (F, 3) triangles.
        labels: a caption per body.
        height_px: picture height.
    Returns:
        (height_px, W, 3) uint8 BGR image.
    """
    # Seen from the body's left: its left (+x) comes towards the viewer (+z), its front (+z) goes to -x.
    turn = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    views = [*bodies, bodies[0] @ turn.T]
    captions = [*labels, "side"]
    low = min(v[:, 1].min() for v in views)
    high = max(v[:, 1].max() for v in views)
    scale = 0.86 * height_px / (high - low)
    widths = [int(scale * np.ptp(v[:, 0])) + 20 for v in views]
    canvas = np.full((height_px, sum(widths), 3), 255, dtype=np.uint8)
    left = 0
    for view, width, caption in zip(views, widths, captions, strict=True):
        centre_x = left + width / 2 - scale * (view[:, 0].min() + view[:, 0].max()) / 2
        _draw(canvas, view, faces, (centre_x, 0.96 * height_px + scale * low), scale)
        cv2.putText(
            canvas, caption, (left + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA
        )
        left += width
    return canvas


def write_preview(path: str | Path, bodies: list[np.ndarray], faces: np.ndarray, labels: list[str]) -> None:
    """Writes `render_bodies` as a PNG."""
    if not cv2.imwrite(str(path), render_bodies(bodies, faces, labels)):
        raise OSError(
            f"Could not write the preview picture {path}; check that its folder exists and is writable."
        )
