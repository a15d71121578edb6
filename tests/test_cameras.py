"""Cameras: projections, pixel conventions and weak-perspective -> perspective conversions."""

import math

import pytest
import torch

from utils.cameras import (
    crop_camera_to_image_camera,
    intrinsics_matrix,
    normalised_to_pixels,
    perspective_project,
    pixels_to_normalised,
    weak_perspective_project,
    weak_perspective_to_translation,
)


def body_points(batch: int, flat: bool, seed: int = 0) -> torch.Tensor:
    """Body-sized point clouds (about 1.8 m tall) in the body frame, float64."""
    generator = torch.Generator().manual_seed(seed)
    points = (torch.rand(batch, 50, 3, generator=generator, dtype=torch.float64) - 0.5) * torch.tensor(
        [0.8, 1.8, 0.3], dtype=torch.float64
    )
    if flat:
        points[..., 2] = 0.0
    return points


def test_perspective_project_hand_values_and_pixel_convention():
    points = torch.tensor([[[0.0, 0.0, 10.0], [1.0, -2.0, 10.0], [0.001, 0.0, 50.0]]])
    uv = perspective_project(points, 5000.0, torch.tensor([[128.0, 128.0]]))
    assert torch.allclose(uv[0], torch.tensor([[128.0, 128.0], [628.0, -872.0], [128.1, 128.0]]))
    # The optical axis hits the corner between pixels 127 and 128: u = 128.0 lies in column floor(u) = 128.
    assert math.floor(uv[0, 0, 0].item()) == 128
    # A translation argument equals translating the points first; (B,) focal equals a float.
    t = torch.tensor([[0.1, 0.2, 40.0], [0.0, -0.1, 38.0]])
    pts = torch.randn(2, 5, 3) * 0.3
    a = perspective_project(pts, torch.tensor([5000.0, 5000.0]), (128.0, 128.0), translation=t)
    b = perspective_project(pts + t[:, None], 5000.0, torch.tensor([128.0, 128.0]))
    assert torch.allclose(a, b)


def test_intrinsics_matrix_agrees_with_projection():
    f = torch.tensor([1500.0, 5000.0])
    c = torch.tensor([[320.0, 240.0], [128.0, 128.0]])
    k = intrinsics_matrix(f, c)
    assert k.shape == (2, 3, 3)
    points = torch.randn(2, 6, 3) + torch.tensor([0.0, 0.0, 8.0])
    homogeneous = points @ k.transpose(1, 2)
    assert torch.allclose(
        homogeneous[..., :2] / homogeneous[..., 2:], perspective_project(points, f, c), atol=1e-4
    )
    assert intrinsics_matrix(5000.0, (128.0, 128.0)).shape == (1, 3, 3)


def test_normalised_pixel_round_trip():
    assert torch.equal(
        normalised_to_pixels(torch.tensor([-1.0, 0.0, 1.0])), torch.tensor([0.0, 128.0, 256.0])
    )
    x = torch.rand(3, 17, 2) * 2 - 1
    assert torch.allclose(pixels_to_normalised(normalised_to_pixels(x, 512), 512), x, atol=1e-6)


def test_weak_perspective_to_translation_matches_projections():
    cam_wp = torch.tensor([[0.9, 0.05, 0.2], [0.7, -0.1, 0.0]], dtype=torch.float64)
    t = weak_perspective_to_translation(cam_wp, 5000.0, 256)
    assert torch.allclose(t[:, 2], 2 * 5000.0 / (256 * cam_wp[:, 0]))
    assert torch.equal(t[:, :2], cam_wp[:, 1:])
    for flat, tolerance_px in ((True, 1e-7), (False, 1.0)):
        points = body_points(2, flat)
        weak_px = normalised_to_pixels(weak_perspective_project(points, cam_wp), 256)
        persp_px = perspective_project(points, 5000.0, (128.0, 128.0), translation=t)
        assert (weak_px - persp_px).abs().max() < tolerance_px  # exact on z = 0, ~z/tz off elsewhere


def test_crop_camera_to_image_camera_lands_body_where_the_crop_put_it():
    # A 1000 x 700 image with an off-centre principal point, three square crops.
    focal, principal = 1400.0, torch.tensor([510.0, 340.0], dtype=torch.float64)
    bbox = torch.tensor(
        [[100.0, 50.0, 400.0, 350.0], [600.0, 300.0, 680.0, 380.0], [-50.0, -80.0, 950.0, 920.0]],
        dtype=torch.float64,
    )
    cam_wp = torch.tensor([[0.8, 0.1, -0.05], [1.1, -0.2, 0.3], [0.5, 0.0, 0.0]], dtype=torch.float64)
    cam_t = crop_camera_to_image_camera(cam_wp, bbox, focal, principal)
    assert cam_t.shape == (3, 3) and (cam_t[:, 2] > 0).all()

    side = (bbox[:, 2] - bbox[:, 0])[:, None, None]
    for flat in (True, False):
        points = body_points(3, flat, seed=4)
        crop_norm = weak_perspective_project(points, cam_wp)
        expected = bbox[:, None, :2] + (crop_norm + 1.0) * side / 2.0  # crop prediction in full-image pixels
        got = perspective_project(points, focal, principal, translation=cam_t)
        # Exact on the body's z = 0 plane; elsewhere the perspective shrinks offsets from the principal
        # point by tz / (tz + z), the weak-perspective approximation.
        shrink = cam_t[:, None, 2:] / (cam_t[:, None, 2:] + points[..., 2:])
        assert torch.allclose(got - principal, (expected - principal) * shrink, atol=1e-8)
        if not flat:
            assert (got - expected).abs().max() > 1e-3


def test_crop_camera_of_the_full_image_is_weak_perspective_to_translation():
    cam_wp = torch.tensor([[0.9, 0.02, 0.21]])
    full = crop_camera_to_image_camera(
        cam_wp, torch.tensor([[0.0, 0.0, 256.0, 256.0]]), 5000.0, (128.0, 128.0)
    )
    assert torch.allclose(full, weak_perspective_to_translation(cam_wp, 5000.0, 256), rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_outputs_follow_input_dtype(dtype):
    cam_wp = torch.tensor([[0.9, 0.0, 0.0]], dtype=dtype)
    assert weak_perspective_to_translation(cam_wp, 5000.0, 256).dtype == dtype
    bbox = torch.tensor([[0.0, 0.0, 100.0, 100.0]], dtype=dtype)
    assert crop_camera_to_image_camera(cam_wp, bbox, torch.tensor([800.0]), (50.0, 50.0)).dtype == dtype
