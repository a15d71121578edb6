"""Camera models and coordinate conversions.

Conventions (docs/ARCHITECTURE.md): camera frame x right, y down, z forward, metres. Pixel coordinates
(u, v) = (column, row) with pixel centres at +0.5, so a point projecting to (u, v) lies in the pixel with
integer index (row, col) = (floor(v), floor(u)). The principal point of a W x W render is (W/2, W/2).

Two camera models are used:
- full perspective with focal length f (px) and principal point c: u = f x / z + c_u (rendering and 2D
  training targets; f = 5000 in the original);
- weak perspective ``cam_wp = [s, tx, ty]`` predicted by the regressor, in normalised [-1, 1] crop
  coordinates: u_n = s (x + tx), v_n = s (y + ty), pixels = (u_n + 1) W / 2.
"""

from __future__ import annotations

import torch


def perspective_project(
    points: torch.Tensor,
    focal_length: torch.Tensor | float,
    principal_point: torch.Tensor | tuple[float, float],
    translation: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pinhole projection to pixels.

    Args:
        points: (B, N, 3) in the camera frame (or in the body frame when `translation` is given).
        focal_length: (B,) or a float, in pixels (fx = fy).
        principal_point: (B, 2) or (2,), (c_u, c_v) in pixels.
        translation: optional (B, 3) camera translation added to the points first (R = I).
    Returns:
        (B, N, 2) pixel coordinates (u, v).
    """
    if translation is not None:
        points = points + translation[:, None, :]
    f = _per_batch(focal_length, points)[:, None, None]  # (B, 1, 1)
    c = _per_batch_2d(principal_point, points)[:, None, :]  # (B, 1, 2)
    return f * points[..., :2] / points[..., 2:3] + c


def weak_perspective_project(points: torch.Tensor, cam_wp: torch.Tensor) -> torch.Tensor:
    """Weak-perspective projection: (B, N, 3) points, (B, 3) [s, tx, ty] -> (B, N, 2) in [-1, 1] units."""
    s = cam_wp[:, None, :1]
    t = cam_wp[:, None, 1:3]
    return s * (points[..., :2] + t)


def normalised_to_pixels(coords: torch.Tensor, img_wh: int | float = 256) -> torch.Tensor:
    """Normalised [-1, 1] coordinates -> pixels of an img_wh x img_wh image: (x + 1) * img_wh / 2."""
    return (coords + 1.0) * (img_wh / 2.0)


def pixels_to_normalised(coords: torch.Tensor, img_wh: int | float = 256) -> torch.Tensor:
    """Pixels of an img_wh x img_wh image -> normalised [-1, 1] coordinates: 2 * px / img_wh - 1."""
    return coords * (2.0 / img_wh) - 1.0


def weak_perspective_to_translation(
    cam_wp: torch.Tensor, focal_length: torch.Tensor | float, img_wh: int | float
) -> torch.Tensor:
    """Weak-perspective camera of a W x W image -> perspective camera translation (B, 3).

    t = [tx, ty, 2 f / (W s + 1e-9)] (the original's conversion): with principal point (W/2, W/2), the
    perspective projection of body points with z = 0 then equals the weak-perspective projection in
    pixels; other points are off by a relative z / t_z (about 0.5% for a body at 40 m).

    Args:
        cam_wp: (B, 3) [s, tx, ty].
        focal_length: (B,) or float, pixels.
        img_wh: side of the square image the weak-perspective camera refers to, pixels.
    """
    f = _per_batch(focal_length, cam_wp)
    tz = 2.0 * f / (img_wh * cam_wp[:, 0] + 1e-9)
    return torch.stack((cam_wp[:, 1], cam_wp[:, 2], tz), dim=-1)


def crop_camera_to_image_camera(
    cam_wp: torch.Tensor,
    bbox: torch.Tensor,
    focal_length: torch.Tensor | float,
    principal_point: torch.Tensor | tuple[float, float],
) -> torch.Tensor:
    """Weak-perspective camera predicted in a square crop -> translation in the full image's camera frame.

    The crop [x0, y0, x1, y1] (pixels of the full image) was resized to the network input, so the crop
    prediction puts a body point (x, y, z) at full-image pixels
        u = x0 + L/2 + (L/2) s (x + tx),  v = y0 + L/2 + (L/2) s (y + ty),   L = crop side.
    The returned cam_t makes the full perspective camera (focal_length, principal_point, R = I) give
    exactly these pixels for body points with z = 0:
        t_z = 2 f / (L s),  t_x = tx + 2 (x0 + L/2 - c_u) / (L s),  t_y likewise with y0, c_v.
    Approximation: points off the z = 0 plane of the body frame are off by a relative z / t_z (the usual
    weak-perspective error, small for a body far away relative to its depth). A non-square crop has no
    exact equivalent; the mean of its two sides is used as L.

    Args:
        cam_wp: (B, 3) [s, tx, ty] in the crop's normalised coordinates.
        bbox: (B, 4) crop corners [x0, y0, x1, y1] in full-image pixels.
        focal_length: (B,) or float, full-image focal length in pixels.
        principal_point: (B, 2) or (2,), full-image principal point in pixels.
    Returns:
        (B, 3) cam_t.
    """
    f = _per_batch(focal_length, cam_wp)
    c = _per_batch_2d(principal_point, cam_wp)
    side = 0.5 * ((bbox[:, 2] - bbox[:, 0]) + (bbox[:, 3] - bbox[:, 1]))  # (B,)
    centre = 0.5 * (bbox[:, :2] + bbox[:, 2:])  # (B, 2)
    half_scale = 0.5 * side * cam_wp[:, 0] + 1e-9  # (L/2) s: pixels per metre at the body
    tz = f / half_scale
    txy = cam_wp[:, 1:3] + (centre - c) / half_scale[:, None]
    return torch.cat((txy, tz[:, None]), dim=-1)


def intrinsics_matrix(
    focal_length: torch.Tensor | float, principal_point: torch.Tensor | tuple[float, float]
) -> torch.Tensor:
    """Pinhole intrinsics K (B, 3, 3) = [[f, 0, c_u], [0, f, c_v], [0, 0, 1]].

    Args:
        focal_length: (B,) or float, pixels.
        principal_point: (B, 2) or (2,), pixels.
    Returns:
        (B, 3, 3), with B = 1 when neither argument is batched.
    """
    ref = next((x for x in (focal_length, principal_point) if isinstance(x, torch.Tensor)), None)
    dtype = ref.dtype if ref is not None else torch.get_default_dtype()
    device = ref.device if ref is not None else None
    f = torch.as_tensor(focal_length, dtype=dtype, device=device).reshape(-1)
    c = torch.as_tensor(principal_point, dtype=dtype, device=device).reshape(-1, 2)
    k = f.new_zeros(max(f.shape[0], c.shape[0]), 3, 3)
    k[:, 0, 0] = f
    k[:, 1, 1] = f
    k[:, :2, 2] = c
    k[:, 2, 2] = 1.0
    return k


def _per_batch(value: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """A scalar or (B,) value -> (B,) tensor with the dtype and device of `like` (batch first)."""
    out = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return out.expand(like.shape[0]) if out.dim() == 0 else out


def _per_batch_2d(value: torch.Tensor | tuple[float, float], like: torch.Tensor) -> torch.Tensor:
    """A (2,) or (B, 2) value -> (B, 2) tensor with the dtype and device of `like`."""
    out = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return out.expand(like.shape[0], 2) if out.dim() == 1 else out
