"""Rotation representations: 6D (network side), rotation matrices (inside), axis-angle (files).

All functions are batched over any leading dimensions and differentiable. The 6D layout is the one of
Zhou et al. (CVPR 2019) as used by SPIN and STRAPS: the first two *columns* of R, flattened row-wise,
i.e. ``[R00, R01, R10, R11, R20, R21]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Below this squared angle (rad^2) the Rodrigues coefficients use their Taylor series, which are exact to
# float64 precision there and avoid 0/0.
_SMALL_ANGLE_SQ = 1e-6


def rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """6D rotation representation -> rotation matrix by Gram-Schmidt.

    Args:
        x: (..., 6), read row-major as a (3, 2) matrix whose columns a1, a2 need not be orthonormal.
    Returns:
        (..., 3, 3) rotation matrices R = [b1 | b2 | b3] (columns), b1 = a1/|a1|,
        b2 = normalise(a2 - (b1.a2) b1), b3 = b1 x b2.
    """
    if x.shape[-1] != 6:
        raise ValueError(f"rot6d_to_rotmat expects a last dimension of 6, got shape {tuple(x.shape)}.")
    a = x.reshape(*x.shape[:-1], 3, 2)
    a1, a2 = a[..., 0], a[..., 1]
    b1 = F.normalize(a1, dim=-1, eps=1e-12)
    b2 = F.normalize(a2 - (b1 * a2).sum(dim=-1, keepdim=True) * b1, dim=-1, eps=1e-12)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def rotmat_to_rot6d(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrix (..., 3, 3) -> 6D (..., 6); the inverse of `rot6d_to_rotmat` on rotations."""
    _check_rotmat_shape(rotmat)
    return rotmat[..., :, :2].reshape(*rotmat.shape[:-2], 6)


def axis_angle_to_rotmat(axis_angle: torch.Tensor) -> torch.Tensor:
    """Axis-angle (..., 3) (direction = axis, norm = angle in rad) -> rotation matrices (..., 3, 3).

    Rodrigues' formula R = I + a K + b K^2 with K = [v]_x the cross-product matrix of the unnormalised
    vector v, a = sin(t)/t and b = (1 - cos(t))/t^2, t = |v|. b is evaluated as 2 sin^2(t/2)/t^2 (no
    cancellation for small t) and both use their Taylor series near t = 0, so values and gradients are
    finite at the zero rotation.
    """
    if axis_angle.shape[-1] != 3:
        raise ValueError(
            f"axis_angle_to_rotmat expects a last dimension of 3, got shape {tuple(axis_angle.shape)}."
        )
    theta_sq = (axis_angle * axis_angle).sum(dim=-1)
    small = theta_sq < _SMALL_ANGLE_SQ
    # Keep the unused branch of torch.where finite so that its gradient is not NaN.
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta_sq), theta_sq))
    a = torch.where(small, 1.0 - theta_sq / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta_sq / 24.0, 2.0 * torch.sin(0.5 * theta) ** 2 / theta**2)

    k = _skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def rotmat_to_quaternion(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) -> unit quaternions (..., 4) (w, x, y, z) with w >= 0.

    Shepperd's method: each candidate divides by the largest of 4|w|^2, 4|x|^2, 4|y|^2, 4|z|^2, which is
    well conditioned for every rotation, including angles near 0 and near pi.
    """
    _check_rotmat_shape(rotmat)
    r = rotmat
    r00, r01, r02 = r[..., 0, 0], r[..., 0, 1], r[..., 0, 2]
    r10, r11, r12 = r[..., 1, 0], r[..., 1, 1], r[..., 1, 2]
    r20, r21, r22 = r[..., 2, 0], r[..., 2, 1], r[..., 2, 2]

    # Candidate quaternions (w, x, y, z) scaled by 4*w, 4*x, 4*y, 4*z respectively.
    t = torch.stack(
        (1.0 + r00 + r11 + r22, 1.0 + r00 - r11 - r22, 1.0 - r00 + r11 - r22, 1.0 - r00 - r11 + r22), dim=-1
    )
    candidates = torch.stack(
        (
            torch.stack((t[..., 0], r21 - r12, r02 - r20, r10 - r01), dim=-1),
            torch.stack((r21 - r12, t[..., 1], r01 + r10, r02 + r20), dim=-1),
            torch.stack((r02 - r20, r01 + r10, t[..., 2], r12 + r21), dim=-1),
            torch.stack((r10 - r01, r02 + r20, r12 + r21, t[..., 3]), dim=-1),
        ),
        dim=-2,
    )  # (..., 4, 4)
    best = t.argmax(dim=-1, keepdim=True)  # (..., 1)
    t_best = torch.gather(t, -1, best)  # (..., 1) >= 1 for a rotation
    q = torch.gather(candidates, -2, best[..., None].expand(*best.shape[:-1], 1, 4)).squeeze(-2)
    q = q / (2.0 * torch.sqrt(t_best.clamp_min(1e-12)))
    # q and -q are the same rotation; w >= 0 keeps the rotation angle in [0, pi].
    return torch.where(q[..., :1] < 0, -q, q)


def rotmat_to_axis_angle(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) -> axis-angle (..., 3) with angle in [0, pi].

    Through the unit quaternion of `rotmat_to_quaternion`, then angle = 2 atan2(|q_xyz|, q_w). At exactly pi
    the axis sign is arbitrary (both are the same rotation).
    """
    q = rotmat_to_quaternion(rotmat)
    w, xyz = q[..., 0], q[..., 1:]
    sin_half = torch.linalg.vector_norm(xyz, dim=-1)
    small = sin_half < 1e-6
    safe_sin_half = torch.where(small, torch.ones_like(sin_half), sin_half)
    # angle / sin(angle/2) -> 2 / w as the angle -> 0 (w -> 1).
    scale = torch.where(small, 2.0 / w, 2.0 * torch.atan2(sin_half, w) / safe_sin_half)
    return xyz * scale[..., None]


def _skew(v: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 3, 3) cross-product matrices [v]_x, so that [v]_x u = v x u."""
    x, y, z = v.unbind(dim=-1)
    zero = torch.zeros_like(x)
    return torch.stack((zero, -z, y, z, zero, -x, -y, x, zero), dim=-1).reshape(*v.shape[:-1], 3, 3)


def _check_rotmat_shape(rotmat: torch.Tensor) -> None:
    if rotmat.shape[-2:] != (3, 3):
        raise ValueError(f"Expected rotation matrices of shape (..., 3, 3), got {tuple(rotmat.shape)}.")
