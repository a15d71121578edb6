"""The hard rasterizer against analytic cases and a brute-force float64 reference."""

import numpy as np
import pytest
import torch

from benchmarks.procedural_body import place_in_camera, procedural_body
from renderers import RendererInputError, label_map, rasterize, rasterize_face_index, silhouette

FOCAL = 100.0
CENTRE = (24.3, 19.7)
SIZE = (40, 48)  # (H, W): non-square on purpose, to catch swapped axes


def lift(uv, depth, focal=FOCAL, centre=CENTRE):
    """Pixel positions (N, 2) and depths (N,) -> camera-frame points (N, 3) that project onto them."""
    uv, depth = torch.as_tensor(uv, dtype=torch.float64), torch.as_tensor(depth, dtype=torch.float64)
    depth = depth.expand(uv.shape[0])
    xy = (uv - torch.tensor(centre, dtype=torch.float64)) * depth[:, None] / focal
    return torch.cat((xy, depth[:, None]), 1).float()


def render(vertices, faces, **kwargs):
    return rasterize(vertices[None], torch.as_tensor(faces), FOCAL, torch.tensor(CENTRE), SIZE, **kwargs)


def brute_force(vertices, faces, focal, centre, size, near=0.1, far=100.0):
    """Nearest face per pixel centre in float64, and pixels too close to an edge or a depth tie to judge."""
    v = vertices.double().numpy()
    uv = v[:, :2] / v[:, 2:] * focal + np.asarray(centre)
    rows, cols = np.mgrid[0 : size[0], 0 : size[1]]
    p = np.stack((cols + 0.5, rows + 0.5), -1).reshape(-1, 1, 2)
    a, b, c = (uv[faces[:, i]][None] for i in range(3))
    area = (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (
        c[..., 0] - a[..., 0]
    )

    def cross(s, e):
        return (e[..., 0] - s[..., 0]) * (p[..., 1] - s[..., 1]) - (e[..., 1] - s[..., 1]) * (
            p[..., 0] - s[..., 0]
        )

    bary = np.stack((cross(b, c), cross(c, a), cross(a, b)), -1) / area[..., None]
    inside = (bary >= 0).all(-1)
    inv_z = (bary / v[faces, 2][None]).sum(-1)
    z = np.where(inside & (v[faces, 2].min(-1) >= near) & (inv_z >= 1 / far), 1 / inv_z, np.inf)
    nearest = np.where(np.isfinite(z.min(1)), z.argmin(1), -1)
    near_edge = (np.abs(bary).min(-1) < 1e-4).any(1)
    z_sorted = np.sort(z, 1)
    with np.errstate(invalid="ignore"):  # inf - inf where fewer than two faces cover a pixel
        tie = np.isfinite(z_sorted[:, 1]) & (z_sorted[:, 1] - z_sorted[:, 0] < 1e-4)
    return nearest.reshape(size), (near_edge | tie).reshape(size)


def test_square_of_two_triangles_covers_exactly_the_pixels_whose_centres_it_holds():
    u0, u1, v0, v1 = 10.2, 20.7, 5.3, 30.6
    vertices = lift([[u0, v0], [u1, v0], [u1, v1], [u0, v1]], 7.0)
    expected = torch.zeros(SIZE, dtype=torch.bool)
    expected[5:31, 10:21] = True  # rows i: v0 <= i + 0.5 <= v1; columns j: u0 <= j + 0.5 <= u1
    for faces in ([[0, 1, 2], [0, 2, 3]], [[0, 2, 1], [0, 3, 2]]):  # both windings
        fragments = render(vertices, faces)
        assert torch.equal(fragments.mask[0], expected)
        assert set(fragments.face_index[0][expected].unique().tolist()) == {0, 1}
        assert torch.all(fragments.depth[0][~expected] == 0) and torch.all(fragments.bary[0][~expected] == 0)


def test_projected_point_lands_in_the_pixel_of_its_floor_coordinates_with_y_down():
    # A small triangle around (37.3, 12.8) holds only the pixel centre (37.5, 12.5): row 12, column 37.
    point = torch.tensor([37.3, 12.8])
    vertices = lift(point + torch.tensor([[-0.4, -0.45], [0.5, -0.45], [0.3, 0.2]]), 5.0)
    mask = render(vertices, [[0, 1, 2]]).mask[0]
    assert mask.nonzero().tolist() == [[12, 37]]


def test_positive_y_is_down_in_the_image():
    triangle = torch.tensor([[0.0, 0.0, 5.0], [0.1, 0.4, 5.0], [-0.1, 0.4, 5.0]])  # points down (+y)
    rows = render(triangle, [[0, 1, 2]]).mask[0].nonzero()[:, 0]
    assert rows.min() >= int(CENTRE[1]) and rows.max() > CENTRE[1] + 5


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_nearer_of_two_overlapping_triangles_wins_whatever_the_face_order(order):
    # Two crossing (tilted) triangles: the nearer one differs across the image.
    near_tri = lift([[5, 5], [40, 8], [20, 35]], torch.tensor([4.0, 4.0, 9.0]))
    far_tri = lift([[8, 3], [42, 30], [6, 36]], torch.tensor([6.0, 6.0, 6.0]))
    vertices = torch.cat((near_tri, far_tri) if order == (0, 1) else (far_tri, near_tri))
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    result = render(vertices, faces).face_index[0]
    reference, ambiguous = brute_force(vertices, faces, FOCAL, CENTRE, SIZE)
    assert (reference[~ambiguous] == 0).any() and (reference[~ambiguous] == 1).any()
    assert np.array_equal(result.numpy()[~ambiguous], reference[~ambiguous])


def test_back_faces_render_like_front_faces():
    vertices = lift([[3.1, 2.2], [30.7, 6.4], [12.3, 33.9]], 3.0)
    front = render(vertices, [[0, 1, 2]])
    back = render(vertices, [[0, 2, 1]])
    assert front.mask.sum() > 300
    assert torch.equal(front.mask, back.mask)
    assert torch.allclose(front.depth, back.depth)


def test_depth_and_barycentrics_match_a_tilted_plane():
    # Plane n . X = h, tilted in x and y; two triangles of it cover most of the image.
    normal, offset = torch.tensor([0.3, -0.2, 1.0], dtype=torch.float64), 5.0
    uv = torch.tensor([[-3.0, -2.0], [50.0, -1.0], [51.0, 42.0], [-2.0, 43.0]], dtype=torch.float64)
    rays = torch.cat(((uv - torch.tensor(CENTRE, dtype=torch.float64)) / FOCAL, torch.ones(4, 1)), 1)
    vertices = (rays * (offset / (rays @ normal))[:, None]).float()
    fragments = render(vertices, [[0, 1, 2], [0, 2, 3]])
    assert fragments.mask.all()

    rows, cols = torch.meshgrid(torch.arange(SIZE[0]), torch.arange(SIZE[1]), indexing="ij")
    pixel_rays = torch.stack(
        ((cols + 0.5 - CENTRE[0]) / FOCAL, (rows + 0.5 - CENTRE[1]) / FOCAL, torch.ones(SIZE)), -1
    ).double()
    plane_depth = offset / (pixel_rays @ normal)
    assert torch.allclose(fragments.depth[0].double(), plane_depth, rtol=1e-5)
    # Perspective-correct barycentrics give the 3D point on each pixel's ray.
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    corners = vertices[faces[fragments.face_index[0]]]  # (H, W, 3, 3)
    points = (fragments.bary[0][..., None] * corners).sum(-2)
    assert torch.allclose(points.double(), pixel_rays * plane_depth[..., None], atol=1e-4)
    assert torch.allclose(fragments.bary.sum(-1), torch.ones(1), atol=1e-6)


def test_random_overlapping_triangles_match_the_brute_force_reference():
    # Sizes from sub-pixel to larger than the largest window (tiled path), crossing the image border.
    generator = torch.Generator().manual_seed(0)
    num = 150
    centres = torch.rand(num, 1, 2, generator=generator) * torch.tensor([60.0, 50.0]) - 6
    spread = torch.rand(num, 1, 1, generator=generator) ** 6 * 45 + 0.3
    uv = (centres + torch.randn(num, 3, 2, generator=generator) * spread).reshape(-1, 2)
    # Larger triangles lie further back, so that many small ones stay visible in front of them.
    depth = (
        2
        + spread[:, 0] * 0.2
        + torch.rand(num, 1, generator=generator)
        + torch.rand(num, 3, generator=generator)
    )
    depth = depth.reshape(-1)
    vertices = lift(uv, depth)
    faces = np.arange(3 * num).reshape(num, 3)
    reference, ambiguous = brute_force(vertices, faces, FOCAL, CENTRE, SIZE)
    assert ambiguous.mean() < 0.05 and len(np.unique(reference)) > 40
    assert (spread > 33).any()  # at least one triangle needs tiles
    for budget in (None, 37):  # one chunk per window size, and many small chunks
        result = render(vertices, faces, max_candidates=budget).face_index[0].numpy()
        assert np.array_equal(result[~ambiguous], reference[~ambiguous])


def test_near_and_far_planes():
    triangle = [[5.0, 5.0], [40.0, 8.0], [20.0, 35.0]]
    faces = [[0, 1, 2]]
    assert render(lift(triangle, 50.0), faces).mask.any()
    assert not render(lift(triangle, 150.0), faces).mask.any()  # beyond far
    crossing_near = lift(triangle, torch.tensor([0.05, 3.0, 3.0]))
    assert not render(crossing_near, faces).mask.any()  # a corner nearer than near: culled whole
    assert render(crossing_near, faces, near=0.01).mask.any()
    # Per pixel beyond far: a plane receding from 50 m to 150 m is cut where its depth passes 100 m.
    receding = render(lift(triangle, torch.tensor([50.0, 150.0, 50.0])), faces)
    assert receding.mask.any() and receding.depth.max() <= 100.0


def body_batch(batch_size, edge=0.05, seed=0):
    mesh = procedural_body(edge)
    generator = torch.Generator().manual_seed(seed)
    shift = torch.randn(batch_size, 1, 3, generator=generator) * torch.tensor([0.1, 0.1, 3.0])
    return place_in_camera(mesh.vertices) + shift, mesh


def test_results_identical_across_batch_sizes_and_chunkings():
    vertices, mesh = body_batch(4)
    whole = rasterize(vertices, mesh.faces, 5000.0, None, (96, 80))
    chunked = rasterize(vertices, mesh.faces, 5000.0, None, (96, 80), max_candidates=50)
    singles = [rasterize(v[None], mesh.faces, 5000.0, None, (96, 80)) for v in vertices]
    assert whole.mask.float().mean() > 0.2
    assert torch.equal(whole.face_index, chunked.face_index) and torch.equal(whole.depth, chunked.depth)
    assert torch.equal(whole.face_index, torch.cat([s.face_index for s in singles]))
    assert torch.equal(whole.depth, torch.cat([s.depth for s in singles]))
    assert torch.equal(whole.bary, torch.cat([s.bary for s in singles]))
    assert torch.equal(whole.face_index, rasterize_face_index(vertices, mesh.faces, 5000.0, None, (96, 80)))


def test_per_sample_cameras_and_float64():
    vertices, mesh = body_batch(2)
    focal = torch.tensor([5000.0, 4000.0])
    centre = torch.tensor([[40.0, 48.0], [30.0, 50.0]])
    batched = rasterize(vertices, mesh.faces, focal, centre, (96, 80))
    for i in range(2):
        single = rasterize(vertices[i : i + 1], mesh.faces, float(focal[i]), centre[i], (96, 80))
        assert torch.equal(batched.face_index[i], single.face_index[0])
    double = rasterize(vertices.double(), mesh.faces, focal, centre, (96, 80))
    assert double.depth.dtype == torch.float64
    assert (double.face_index != batched.face_index).float().mean() < 0.01


def test_label_map_and_silhouette_of_the_body():
    vertices, mesh = body_batch(2, edge=0.03)
    size = (128, 128)
    labels = label_map(vertices, mesh.faces, mesh.face_labels, 2500.0, None, size)
    fragments = rasterize(vertices, mesh.faces, 2500.0, None, size)
    assert labels.dtype == torch.int64 and labels.shape == (2, *size)
    assert torch.equal(labels == 0, ~fragments.mask)
    assert torch.equal(labels[fragments.mask], mesh.face_labels[fragments.face_index[fragments.mask]])
    assert torch.equal(silhouette(vertices, mesh.faces, 2500.0, None, size), fragments.mask)
    rows = torch.arange(size[0])[:, None].expand(size)
    mean_row = {part: rows[labels[0] == part].float().mean() for part in range(1, 7)}
    assert all(mean_row[part] > 0 for part in mean_row)  # all six parts visible
    # y down: the head (3) is above the torso (6), which is above the legs (4, 5).
    assert mean_row[3] < mean_row[6] < min(mean_row[4], mean_row[5])
    columns = torch.arange(size[1])[None].expand(size)
    # Facing the camera after the 180 deg flip about x, the body's left (+x) stays at +x: image right.
    assert columns[labels[0] == 1].float().mean() > columns[labels[0] == 2].float().mean()


def test_huge_triangle_is_tiled_within_a_small_memory_budget():
    vertices = lift([[-500.0, -500.0], [2000.0, -400.0], [-400.0, 2000.0]], 3.0, centre=(256.0, 256.0))
    mask = rasterize(
        vertices[None], torch.tensor([[0, 1, 2]]), FOCAL, None, (512, 512), max_candidates=4096
    ).mask
    assert mask.all()


def test_empty_inputs():
    vertices = torch.zeros(2, 0, 3)
    fragments = rasterize(vertices, torch.zeros(0, 3, dtype=torch.int64), FOCAL, None, SIZE)
    assert fragments.face_index.shape == (2, *SIZE) and (fragments.face_index == -1).all()
    no_samples = rasterize(torch.zeros(0, 3, 3), torch.tensor([[0, 1, 2]]), FOCAL, None, SIZE)
    assert no_samples.face_index.shape == (0, *SIZE) and no_samples.bary.shape == (0, *SIZE, 3)


@pytest.mark.parametrize(
    ("vertices", "faces", "message"),
    [
        (torch.zeros(5, 3), torch.zeros(1, 3, dtype=torch.int64), "vertices must be a \\(B, V, 3\\)"),
        (torch.zeros(1, 5, 3, dtype=torch.int64), torch.zeros(1, 3, dtype=torch.int64), "floating-point"),
        (torch.zeros(1, 5, 3), torch.zeros(1, 3), "integer"),
        (torch.zeros(1, 5, 3), torch.tensor([[0, 1, 5]]), "faces index vertices 0..4"),
    ],
)
def test_bad_meshes_raise_a_clear_error(vertices, faces, message):
    with pytest.raises(RendererInputError, match=message):
        rasterize(vertices, faces, FOCAL, None, SIZE)


def test_bad_cameras_raise_a_clear_error():
    vertices, faces = torch.ones(2, 3, 3), torch.tensor([[0, 1, 2]])
    with pytest.raises(RendererInputError, match="focal_length"):
        rasterize(vertices, faces, torch.ones(3), None, SIZE)
    with pytest.raises(RendererInputError, match="principal_point"):
        rasterize(vertices, faces, FOCAL, torch.ones(3, 2), SIZE)
    with pytest.raises(RendererInputError, match="image_size"):
        rasterize(vertices, faces, FOCAL, None, (0, 10))
    with pytest.raises(RendererInputError, match="face_labels"):
        label_map(vertices, faces, torch.ones(2, dtype=torch.int64), FOCAL, None, SIZE)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_and_cuda_agree():
    vertices, mesh = body_batch(8, edge=0.014)
    size = (256, 256)
    cpu = rasterize(vertices, mesh.faces, 5000.0, None, size)
    cuda = rasterize(vertices.cuda(), mesh.faces.cuda(), 5000.0, None, size)
    differ = cpu.face_index != cuda.face_index.cpu()
    assert differ.float().mean() < 1e-4  # only float rounding at edges and depth ties may differ
    same = ~differ & cpu.mask
    assert torch.allclose(cpu.depth[same], cuda.depth.cpu()[same], rtol=1e-5)
    assert torch.allclose(cpu.bary[same], cuda.bary.cpu()[same], atol=1e-4)
    labels = label_map(vertices.cuda(), mesh.faces.cuda(), mesh.face_labels.cuda(), 5000.0, None, size)
    assert (
        labels.cpu() != label_map(vertices, mesh.faces, mesh.face_labels, 5000.0, None, size)
    ).float().mean() < 1e-4
