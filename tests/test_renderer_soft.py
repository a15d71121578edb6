"""The differentiable soft silhouette: exact distances, gradients that fit, bounded chunks."""

import numpy as np
import pytest
import torch

from benchmarks.procedural_body import place_in_camera, procedural_body
from renderers import RendererInputError, silhouette, soft_silhouette
from renderers.soft import soften_mask

SIZE = (48, 40)
FOCAL = 1000.0


@pytest.fixture(scope="module")
def body():
    mesh = procedural_body(edge=0.08)
    return place_in_camera(mesh.vertices)[None], mesh.faces


def distance_to_union(vertices, faces, focal, size):
    """Brute force over all faces in float64: distance from each pixel centre to the nearest triangle."""
    v = vertices[0].double().numpy()
    uv = v[:, :2] / v[:, 2:] * focal + np.array([size[1] / 2, size[0] / 2])
    rows, cols = np.mgrid[0 : size[0], 0 : size[1]]
    p = np.stack((cols + 0.5, rows + 0.5), -1).reshape(-1, 1, 2)
    corners = uv[faces.numpy()][None]  # (1, F, 3, 2)
    best = np.full(p.shape[0], np.inf)
    for i in range(3):
        a, b = corners[:, :, i], corners[:, :, (i + 1) % 3]
        d, q = b - a, p - a
        t = np.clip((q * d).sum(-1) / (d * d).sum(-1), 0, 1)
        best = np.minimum(best, np.linalg.norm(q - t[..., None] * d, axis=-1).min(1))
    return best.reshape(size)


def test_outside_values_follow_the_exact_distance_to_the_mesh(body):
    vertices, faces = body
    soft = soft_silhouette(vertices, faces, FOCAL, None, SIZE, sigma=1.5)[0]
    hard = silhouette(vertices, faces, FOCAL, None, SIZE)[0]
    distance = distance_to_union(vertices, faces, FOCAL, SIZE)
    outside = ~hard.numpy() & (distance < 7.0)
    assert outside.sum() > 100
    # Only outline edges are searched; the brute force searches every edge of every face.
    expected = np.exp(-distance[outside] / 1.5)
    assert np.allclose(soft.numpy()[outside], expected, atol=1e-5)
    assert torch.all(soft[hard] == 1) and np.all(soft.numpy()[distance > 7.6] == 0)


def test_open_mesh_in_a_batch_with_the_body(body):
    vertices, faces = body
    # Sample 0: the body and a square; sample 1: the square alone (body collapsed behind the near plane).
    # The square is an open mesh: its border edges carry the outline.
    square = torch.tensor([[-0.2, -0.3, 42.0], [0.25, -0.3, 42.0], [0.25, 0.2, 42.0], [-0.2, 0.2, 42.0]])
    square_faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    meshes = torch.stack(
        (torch.cat((vertices[0], square)), torch.cat((torch.zeros_like(vertices[0]), square)))
    )
    all_faces = torch.cat((faces, square_faces + vertices.shape[1]))
    batched = soft_silhouette(meshes, all_faces, FOCAL, None, SIZE)
    for i in range(2):
        assert torch.equal(batched[i], soft_silhouette(meshes[i : i + 1], all_faces, FOCAL, None, SIZE)[0])
    distance = distance_to_union(square[None], square_faces, FOCAL, SIZE)
    hard = silhouette(square[None], square_faces, FOCAL, None, SIZE)[0].numpy()
    band = ~hard & (distance < 5)
    assert band.sum() > 20
    assert np.allclose(batched[1].numpy()[band], np.exp(-distance[band]), atol=1e-5)


def test_chunking_does_not_change_values_or_gradients(body):
    vertices, faces = body
    results = []
    for budget in (None, 64):
        shift = torch.zeros(1, 1, 3, requires_grad=True)
        soft = soft_silhouette(vertices + shift, faces, FOCAL, None, SIZE, max_candidates=budget)
        (soft * torch.linspace(0, 1, SIZE[1])).sum().backward()
        results.append((soft.detach(), shift.grad))
    assert torch.allclose(results[0][0], results[1][0]) and torch.allclose(results[0][1], results[1][1])
    assert results[0][1].abs().sum() > 0


def test_gradient_matches_finite_differences(body):
    vertices, faces = body
    vertices = vertices.double()
    weights = torch.rand(SIZE, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def loss(shift):
        return (soft_silhouette(vertices + shift, faces, FOCAL, None, SIZE, sigma=2.0) * weights).sum()

    shift = torch.tensor([[[0.003, -0.002, 0.1]]], dtype=torch.float64, requires_grad=True)
    loss(shift).backward()
    for axis, step in ((0, 1e-5), (1, 1e-5), (2, 1e-3)):
        delta = torch.zeros(1, 1, 3, dtype=torch.float64)
        delta[..., axis] = step
        with torch.no_grad():
            numeric = (loss(shift + delta) - loss(shift - delta)) / (2 * step)
        assert torch.isclose(shift.grad[..., axis], numeric, rtol=0.02, atol=1e-3), axis


def test_a_gradient_step_reduces_the_silhouette_error_and_a_short_fit_recovers_the_pose(body):
    vertices, faces = body
    target_mask = silhouette(vertices, faces, FOCAL, None, SIZE)
    target = soften_mask(target_mask, sigma=1.0)
    # Translation in metres; depth is scaled up because the image barely changes with it at 42 m.
    parameters = torch.tensor([[[0.06, -0.05, 0.06]]], requires_grad=True)
    scale = torch.tensor([1.0, 1.0, 50.0])

    def error():
        soft = soft_silhouette(vertices + parameters * scale, faces, FOCAL, None, SIZE, sigma=1.0)
        return ((soft - target) ** 2).mean()

    def iou():
        mask = silhouette(vertices + parameters.detach() * scale, faces, FOCAL, None, SIZE)
        return ((mask & target_mask).sum() / (mask | target_mask).sum()).item()

    start_error, start_iou = error(), iou()
    start_error.backward()
    with torch.no_grad():
        parameters -= 0.02 * parameters.grad / parameters.grad.norm()
    assert error() < start_error

    optimiser = torch.optim.Adam([parameters], lr=0.01)
    for _ in range(40):
        optimiser.zero_grad()
        error().backward()
        optimiser.step()
    assert start_iou < 0.6 and iou() > 0.9


def test_soften_mask_matches_the_soft_silhouette_of_the_same_mesh(body):
    vertices, faces = body
    soft = soft_silhouette(vertices, faces, FOCAL, None, SIZE)
    softened = soften_mask(silhouette(vertices, faces, FOCAL, None, SIZE))
    assert torch.equal(softened == 1, soft == 1)
    # Pixel-centre distances stand in for exact ones: close per pixel, and unbiased over the outline band.
    band = soft < 1
    assert (soft - softened)[band].abs().mean() < 0.05
    assert abs(soft[band].sum() - softened[band].sum()) < 0.05 * soft[band].sum()


def test_bad_softness_raises_a_clear_error(body):
    vertices, faces = body
    with pytest.raises(RendererInputError, match="sigma and cutoff must be positive"):
        soft_silhouette(vertices, faces, FOCAL, None, SIZE, sigma=0.0)
    with pytest.raises(RendererInputError, match="mask must be"):
        soften_mask(torch.ones(4, 4))
