"""Rotation conversions: the original's 6D layout (ORIGINAL.md §2.4), Rodrigues, the inverse near 0, pi."""

import math

import pytest
import torch
from smplx.lbs import batch_rodrigues

from utils.rotations import axis_angle_to_rotmat, rot6d_to_rotmat, rotmat_to_axis_angle, rotmat_to_rot6d


def random_axis_angle(n: int, angles: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=generator, dtype=torch.float64), dim=-1)
    if angles is None:
        angles = torch.rand(n, generator=generator, dtype=torch.float64) * math.pi
    return axis * angles[:, None]


def assert_rotations(rotmat: torch.Tensor, atol: float = 1e-6) -> None:
    eye = torch.eye(3, dtype=rotmat.dtype).expand_as(rotmat)
    assert torch.allclose(rotmat @ rotmat.transpose(-1, -2), eye, atol=atol)
    assert torch.allclose(
        torch.linalg.det(rotmat), torch.ones(rotmat.shape[:-2], dtype=rotmat.dtype), atol=atol
    )


def test_mean_pose_6d_decodes_to_180_degrees_about_x():
    # First six numbers of SPIN's mean pose (ORIGINAL.md §2.3): [1, 0, 0, -1, 0, ~0].
    rotmat = rot6d_to_rotmat(torch.tensor([1.0, 0.0, 0.0, -1.0, 0.0, 1e-7]))
    assert torch.allclose(rotmat, torch.diag(torch.tensor([1.0, -1.0, -1.0])), atol=1e-6)


def test_rot6d_layout_is_first_two_columns_row_major():
    rotmat = axis_angle_to_rotmat(random_axis_angle(5))
    six = rotmat_to_rot6d(rotmat)
    expected = torch.stack([rotmat[:, r, c] for r in range(3) for c in range(2)], dim=-1)
    assert torch.equal(six, expected)
    assert torch.allclose(rot6d_to_rotmat(six), rotmat, atol=1e-12)


def test_rot6d_to_rotmat_gram_schmidt_on_any_leading_dims():
    x = torch.randn(2, 7, 6, generator=torch.Generator().manual_seed(1))
    rotmat = rot6d_to_rotmat(x)
    assert rotmat.shape == (2, 7, 3, 3)
    assert_rotations(rotmat, atol=1e-5)
    a1 = x.reshape(2, 7, 3, 2)[..., 0]
    # First column is the normalised first 6D column; the second lies in the plane of both.
    assert torch.allclose(rotmat[..., 0], a1 / a1.norm(dim=-1, keepdim=True), atol=1e-6)
    a2 = x.reshape(2, 7, 3, 2)[..., 1]
    normal = torch.linalg.cross(a1, a2, dim=-1)
    assert torch.allclose((normal * rotmat[..., 1]).sum(-1), torch.zeros(2, 7), atol=1e-5)
    assert ((a2 * rotmat[..., 1]).sum(-1) > 0).all()
    # Decoding is idempotent: the 6D of a decoded rotation decodes to itself.
    assert torch.allclose(rot6d_to_rotmat(rotmat_to_rot6d(rotmat)), rotmat, atol=1e-6)


def test_axis_angle_to_rotmat_matches_smplx_and_matrix_exponential():
    aa = random_axis_angle(64)
    ours = axis_angle_to_rotmat(aa)
    assert torch.allclose(ours, batch_rodrigues(aa), atol=1e-6)  # smplx adds 1e-8 to the angle
    # R = exp([aa]_x), an independent reference, also for tiny angles where Taylor series are used.
    tiny = random_axis_angle(8, angles=torch.logspace(-12, -3, 8, dtype=torch.float64))
    for sample in (aa, tiny):
        skew = torch.zeros(sample.shape[0], 3, 3, dtype=torch.float64)
        skew[:, 0, 1], skew[:, 0, 2], skew[:, 1, 2] = -sample[:, 2], sample[:, 1], -sample[:, 0]
        skew = skew - skew.transpose(1, 2)
        assert torch.allclose(axis_angle_to_rotmat(sample), torch.linalg.matrix_exp(skew), atol=1e-14)
    assert torch.equal(axis_angle_to_rotmat(torch.zeros(3)), torch.eye(3))


@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-9), (torch.float32, 2e-6)])
def test_rotmat_to_axis_angle_round_trip_including_near_0_and_pi(dtype, atol):
    angles = torch.cat(
        [
            torch.rand(50, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * math.pi,
            torch.tensor(
                [0.0, 1e-9, 1e-6, 1e-3, math.pi - 1e-3, math.pi - 1e-6, math.pi], dtype=torch.float64
            ),
        ]
    )
    aa = random_axis_angle(len(angles), angles=angles, seed=3).to(dtype)
    rotmat = axis_angle_to_rotmat(aa)
    back = rotmat_to_axis_angle(rotmat)
    assert back.dtype == dtype
    # Compare rotations (at pi, aa and -aa are the same rotation) and angles in [0, pi].
    assert torch.allclose(axis_angle_to_rotmat(back), rotmat, atol=atol)
    assert torch.allclose(back.norm(dim=-1), aa.norm(dim=-1), atol=max(atol, 1e-6))
    # Below pi the axis-angle itself is recovered.
    below_pi = angles < math.pi - 1e-4
    assert torch.allclose(back[below_pi], aa[below_pi], atol=max(atol, 1e-6))


def test_leading_dims_and_finite_gradients_at_identity():
    aa = torch.zeros(2, 24, 3, requires_grad=True)
    rotmat = axis_angle_to_rotmat(aa)
    assert rotmat.shape == (2, 24, 3, 3)
    rotmat.sum().backward()
    assert torch.isfinite(aa.grad).all()

    rot = torch.eye(3).expand(2, 5, 3, 3).clone().requires_grad_(True)
    back = rotmat_to_axis_angle(rot)
    assert back.shape == (2, 5, 3) and torch.equal(back, torch.zeros(2, 5, 3))
    back.sum().backward()
    assert torch.isfinite(rot.grad).all()


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="6"):
        rot6d_to_rotmat(torch.zeros(4, 9))
    with pytest.raises(ValueError, match="3"):
        axis_angle_to_rotmat(torch.zeros(4, 4))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, 3\)"):
        rotmat_to_axis_angle(torch.zeros(4, 9))
