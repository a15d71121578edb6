"""Shaded renders and overlays, vertex normals, interpolation and differentiable depth."""

import math

import pytest
import torch

from benchmarks.procedural_body import capsule
from renderers import (
    Lighting,
    RendererInputError,
    interpolate,
    rasterize,
    render_overlay,
    shade,
    vertex_normals,
)

SIZE = (64, 64)
FOCAL = 300.0


@pytest.fixture(scope="module")
def ball():
    """A short capsule (nearly a sphere) of radius 0.5 m, 4 m in front of the camera, axis along y."""
    vertices, faces = capsule(torch.tensor([0.0, -0.05, 4.0]), torch.tensor([0.0, 0.05, 4.0]), 0.5, 0.08)
    return vertices[None], faces


def test_vertex_normals_point_outwards(ball):
    vertices, faces = ball
    normals = vertex_normals(vertices, faces)
    outward = vertices - vertices.mean(1, keepdim=True)
    assert torch.allclose(normals.norm(dim=-1), torch.ones(1))
    assert ((normals * outward).sum(-1) > 0.9 * outward.norm(dim=-1)).all()


def test_lambert_shading_is_brightest_facing_the_light_and_double_sided(ball):
    vertices, faces = ball
    lighting = Lighting(ambient=0.2, diffuse=0.8, direction=(0.0, 0.0, 1.0))
    rgb, mask = shade(vertices, faces, FOCAL, None, SIZE, colours=(1.0, 1.0, 1.0), lighting=lighting)
    assert rgb.shape == (1, *SIZE, 3) and mask.shape == (1, *SIZE)
    centre, rim = rgb[0, 32, 32, 0], rgb[0, 32, mask[0, 32].nonzero().min()][0]
    assert centre > 0.99 and 0.2 <= rim < 0.8
    assert torch.all(rgb[~mask] == 0)
    flipped, flipped_mask = shade(vertices, faces.flip(1), FOCAL, None, SIZE, (1.0, 1.0, 1.0), lighting)
    assert torch.equal(mask, flipped_mask) and torch.allclose(rgb, flipped, atol=1e-5)
    flat, _ = shade(vertices, faces, FOCAL, None, SIZE, (1.0, 1.0, 1.0), lighting, smooth=False)
    assert (flat - rgb)[mask].abs().mean() < 0.05


def test_per_vertex_colours_are_interpolated(ball):
    vertices, faces = ball
    # Red on the left half (x < 0), blue on the right: the image shows the same split.
    colours = torch.where(
        vertices[0, :, :1] < 0, torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 0.0, 1.0])
    )
    rgb, mask = shade(vertices, faces, FOCAL, None, SIZE, colours=colours)
    assert rgb[0, 32, 20, 0] > 0.3 and rgb[0, 32, 20, 2] == 0
    assert rgb[0, 32, 44, 2] > 0.3 and rgb[0, 32, 44, 0] == 0


def test_overlay_keeps_the_background_outside_the_mesh(ball):
    vertices, faces = ball
    photo = torch.randint(0, 256, (*SIZE, 3), dtype=torch.uint8)
    overlay = render_overlay(vertices, faces, FOCAL, None, SIZE, background=photo)
    _, mask = shade(vertices, faces, FOCAL, None, SIZE)
    assert overlay.dtype == torch.float32 and overlay.shape == (1, *SIZE, 3)
    assert torch.allclose(overlay[~mask], photo[~mask[0]].float() / 255)
    half = render_overlay(vertices, faces, FOCAL, None, SIZE, background=photo.float() / 255, opacity=0.5)
    opaque = render_overlay(vertices, faces, FOCAL, None, SIZE)
    assert torch.allclose(half[mask], 0.5 * opaque[mask] + 0.5 * photo[mask[0]].float() / 255, atol=1e-6)
    with pytest.raises(RendererInputError, match="background must be"):
        render_overlay(vertices, faces, FOCAL, None, SIZE, background=torch.zeros(3, 64, 64))
    with pytest.raises(RendererInputError, match="colours must be"):
        shade(vertices, faces, FOCAL, None, SIZE, colours=torch.ones(5, 3))


def test_interpolated_positions_lie_on_the_pixel_rays(ball):
    vertices, faces = ball
    fragments = rasterize(vertices, faces, FOCAL, None, SIZE)
    points = interpolate(fragments, faces, vertices)[fragments.mask]
    rows, cols = fragments.mask[0].nonzero().unbind(1)
    expected_u = points[:, 0] / points[:, 2] * FOCAL + SIZE[1] / 2
    assert torch.allclose(expected_u, cols + 0.5, atol=1e-3)
    assert torch.allclose(points[:, 1] / points[:, 2] * FOCAL + SIZE[0] / 2, rows + 0.5, atol=1e-3)
    assert torch.allclose(points[:, 2], fragments.depth[fragments.mask], rtol=1e-6)


def test_depth_is_differentiable_with_respect_to_the_vertices():
    # A fronto-parallel square larger than the view: moving it back by dz moves every depth by dz.
    vertices = torch.tensor([[[-2.0, -2.0, 5.0], [2.0, -2.0, 5.0], [2.0, 2.0, 5.0], [-2.0, 2.0, 5.0]]])
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    shift = torch.zeros(1, 1, 3, requires_grad=True)
    fragments = rasterize(vertices + shift, faces, FOCAL, None, SIZE)
    fragments.depth.sum().backward()
    assert fragments.mask.all()
    assert math.isclose(shift.grad[0, 0, 2].item(), SIZE[0] * SIZE[1], rel_tol=1e-5)
    assert abs(shift.grad[0, 0, 0].item()) < 1e-2 and abs(shift.grad[0, 0, 1].item()) < 1e-2
