"""Batch augmentations and the body crop (issue 7, first half)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from augmentation.camera import sample_camera_translation
from augmentation.crop_jitter import sample_crop_jitter
from augmentation.proxy import (
    drop_joints,
    jitter_joints,
    jitter_vertices,
    occlude_box,
    perturb_silhouette_edges,
    remove_body_parts,
)
from augmentation.shape import sample_betas
from configs.experiment import ProxyAugmentConfig
from proxy.crop import (
    crop_bilinear,
    crop_nearest,
    crop_points,
    crop_to_body,
    mask_bbox,
    original_crop_boxes,
    square_crop_boxes,
    uncrop_points,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _assert_frequency(flags: torch.Tensor, p: float) -> None:
    """The share of True in flags matches p within 4.5 binomial standard deviations."""
    n = flags.numel()
    assert abs(flags.double().mean().item() - p) <= 4.5 * math.sqrt(p * (1 - p) / n) + 1e-12


def _rectangle_maps(boxes: list[tuple[int, int, int, int]], size: int = 256, label: int = 6) -> torch.Tensor:
    """(B, size, size) int64 maps with one filled rectangle [col0, row0, col1, row1] (inclusive) each."""
    maps = torch.zeros(len(boxes), size, size, dtype=torch.int64)
    for i, (c0, r0, c1, r1) in enumerate(boxes):
        maps[i, r0 : r1 + 1, c0 : c1 + 1] = label
    return maps


# ----------------------------------------------------------------------------------------------------------
# Shape, camera, vertices.


def test_betas_normal_and_uniform():
    mean = torch.linspace(-0.5, 0.5, 10, dtype=torch.float64)
    betas = sample_betas(20000, mean, _gen(1))
    assert betas.shape == (20000, 10) and betas.dtype == torch.float64
    assert ((betas.mean(0) - mean).abs() < 4.5 * 1.5 / math.sqrt(20000)).all()
    assert ((betas.std(0) - 1.5).abs() < 0.05).all()
    uniform = sample_betas(20000, mean, _gen(1), distribution="uniform")
    offsets = uniform - mean
    assert offsets.abs().max() <= 3.0 and offsets.abs().max() > 2.99
    assert ((offsets.std(0) - 3.0 / math.sqrt(3)).abs() < 0.05).all()
    torch.testing.assert_close(sample_betas(5, mean, _gen(2)), sample_betas(5, mean, _gen(2)), rtol=0, atol=0)
    with pytest.raises(ValueError, match="Shape distribution must be one of"):
        sample_betas(2, mean, _gen(), distribution="gamma")


def test_camera_translation_ranges():
    t = sample_camera_translation(20000, _gen(3))
    assert t.shape == (20000, 3) and t.dtype == torch.float32
    assert (t[:, 2] >= 37.0).all() and (t[:, 2] <= 47.0).all()
    assert t[:, 2].min() < 37.1 and t[:, 2].max() > 46.9
    assert ((t[:, :2].std(0) - 0.05).abs() < 0.002).all()
    assert (t.mean(0) - torch.tensor([0.0, 0.2, 42.0])).abs().max() < 0.1
    fixed = sample_camera_translation(4, _gen(), xy_std=0.0, z_range=0.0)
    torch.testing.assert_close(fixed, torch.tensor([[0.0, 0.2, 42.0]]).expand(4, 3))


def test_vertex_jitter_moves_x_and_y_only():
    vertices = torch.randn(4, 500, 3, generator=_gen(4))
    before = vertices.clone()
    jittered = jitter_vertices(vertices, _gen(5))
    assert torch.equal(vertices, before)  # input untouched
    delta = jittered - vertices
    assert torch.equal(delta[..., 2], torch.zeros(4, 500))
    assert delta[..., :2].abs().max() <= 0.01 + 1e-7 and delta[..., :2].abs().max() > 0.009


# ----------------------------------------------------------------------------------------------------------
# Proxy-representation augmentations.


def test_part_removal_frequencies_and_effect():
    # Each 4 x 4 map holds every label 0..6, so a removal draw shows up in the pixels.
    labels = (torch.arange(16) % 7).view(1, 4, 4).expand(20000, 4, 4).clone()
    out, removed = remove_body_parts(labels, _gen(6))
    assert removed.shape == (20000, 6)
    assert ProxyAugmentConfig.part_removal_probs == (0.1, 0.1, 0.1, 0.1, 0.05, 0.05)  # ORIGINAL.md §6
    for k, p in enumerate(ProxyAugmentConfig.part_removal_probs):
        _assert_frequency(removed[:, k], p)
        gone = ~(out == k + 1).flatten(1).any(dim=1)
        assert torch.equal(gone, removed[:, k])  # exactly the drawn parts vanish
    assert torch.equal(out[labels == 0], labels[labels == 0])
    kept = labels.masked_fill(out == 0, 0)
    assert torch.equal(kept, out)  # nothing but removal happened


def test_box_occlusion_frequency_size_and_position():
    _assert_frequency(occlude_box(torch.ones(20000, 4, 4), _gen(7))[1], 0.5)
    masks = torch.ones(1000, 256, 256, dtype=torch.uint8)
    out, occluded = occlude_box(masks, _gen(7))
    zero = out == 0
    assert torch.equal(zero.flatten(1).any(dim=1), occluded)
    rows = zero.any(dim=2)[occluded].float()
    cols = zero.any(dim=1)[occluded].float()
    assert (rows.sum(1) == 48).all() and (cols.sum(1) == 48).all()  # one whole 48 x 48 box
    assert (zero[occluded].flatten(1).sum(1) == 48 * 48).all()
    first_row = rows.argmax(dim=1)
    # Centre in [89.6, 166.4) and corners truncated: the first row lies in [int(65.6), int(142.4)].
    assert first_row.min() >= 65 and first_row.max() <= 142
    assert first_row.min() < 70 and first_row.max() > 137
    assert masks.min() == 1  # input untouched


def test_joint_noise_ranges_with_separate_hip_range():
    joints = torch.zeros(20000, 17, 2)
    default = jitter_joints(joints, _gen(8))
    assert default.abs().max() <= 8.0 and default.abs().max() > 7.99
    custom = jitter_joints(joints, _gen(8), max_offset=2.0, hip_max_offset=15.0)
    hips = custom[:, [11, 12]]
    others = custom[:, [i for i in range(17) if i not in (11, 12)]]
    assert others.abs().max() <= 2.0 and hips.abs().max() <= 15.0 and hips.abs().max() > 14.9
    assert (others.std() - 2.0 / math.sqrt(3)).abs() < 0.02


def test_joint_dropout_frequency():
    visible = torch.ones(4000, 17, dtype=torch.bool)
    assert torch.equal(drop_joints(visible, _gen(9)), visible)  # off by default
    kept = drop_joints(visible, _gen(9), prob=0.15)
    _assert_frequency(~kept, 0.15)
    hidden = torch.zeros_like(visible)
    assert not drop_joints(hidden, _gen(9), prob=0.5).any()  # never revives a hidden joint


def test_silhouette_edge_noise():
    masks = _rectangle_maps([(10, 8, 29, 47)] * 2000, size=64, label=1).float()  # a 20 x 40 rectangle
    assert torch.equal(perturb_silhouette_edges(masks, _gen(10)), masks)  # off by default
    out = perturb_silhouette_edges(masks, _gen(10), prob=0.3, max_radius=2)
    area = out.flatten(1).sum(1)
    expected = {(20 + 2 * s * r) * (40 + 2 * s * r) for s in (-1, 1) for r in (1, 2)} | {20 * 40}
    assert set(area.long().tolist()) == expected
    changed = area != 20 * 40
    _assert_frequency(changed, 0.3)
    _assert_frequency((area > 20 * 40)[changed], 0.5)
    assert out.dtype == masks.dtype


def test_augmentations_are_seeded():
    labels = _rectangle_maps([(30, 40, 200, 220)] * 8)
    labels[:, 100:] = 3
    for fn in (remove_body_parts, occlude_box):
        a, b = fn(labels, _gen(11))[0], fn(labels, _gen(11))[0]
        assert torch.equal(a, b)
    joints = torch.rand(8, 17, 2, generator=_gen())
    assert torch.equal(jitter_joints(joints, _gen(12)), jitter_joints(joints, _gen(12)))
    assert not torch.equal(jitter_joints(joints, _gen(12)), jitter_joints(joints, _gen(13)))


# ----------------------------------------------------------------------------------------------------------
# Crop.


def test_mask_bbox_exact_and_empty():
    maps = _rectangle_maps([(100, 50, 139, 149), (0, 0, 0, 0), (3, 200, 255, 255)])
    maps = torch.cat((maps, torch.zeros(1, 256, 256, dtype=torch.int64)))
    bbox, found = mask_bbox(maps)
    expected = [[100, 50, 139, 149], [0, 0, 0, 0], [3, 200, 255, 255], [0, 0, 255, 255]]
    assert bbox.tolist() == expected and found.tolist() == [True, True, True, False]


def test_square_crop_of_known_rectangle():
    maps = _rectangle_maps([(100, 50, 139, 149)])  # 40 wide, 100 high: pixel edges [100, 140] x [50, 150]
    joints = torch.tensor([[[120.0, 100.0], [100.0, 50.0], [140.0, 150.0]]])
    result = crop_to_body(maps, joints)
    torch.testing.assert_close(result.boxes, torch.tensor([[60.0, 40.0, 180.0, 160.0]]))  # side 1.2 * 100
    expected_joints = torch.tensor(
        [[[128.0, 128.0], [256 * 40 / 120, 256 * 10 / 120], [256 * 80 / 120, 256 * 110 / 120]]]
    )
    torch.testing.assert_close(result.joints2d, expected_joints)
    # Every crop pixel shows the source pixel under its centre.
    k = torch.arange(256) + 0.5
    src = uncrop_points(
        torch.stack(torch.meshgrid(k, k, indexing="xy"), dim=-1).view(1, -1, 2), result.boxes, 256
    )
    inside = (src[..., 0] >= 100) & (src[..., 0] < 140) & (src[..., 1] >= 50) & (src[..., 1] < 150)
    assert torch.equal(result.maps.view(1, -1) != 0, inside)


def test_square_crop_pads_beyond_the_border():
    maps = _rectangle_maps([(0, 0, 99, 59)])  # touches the top-left corner
    result = crop_to_body(maps, torch.tensor([[[0.0, 0.0]]]))
    x0, y0, x1, y1 = result.boxes[0].tolist()
    assert x0 == pytest.approx(-10.0) and y0 == pytest.approx(-30.0) and x1 - x0 == pytest.approx(120.0)
    assert y1 - y0 == pytest.approx(120.0)  # square although it crosses the border
    # Crop pixel k samples y = -30 + (k + 0.5) * 120 / 256, inside the body's rows [0, 60) for k in
    # 64..191 (padding above); x = -10 + (k + 0.5) * 120 / 256 is inside [0, 100) for k in 21..234.
    expected = torch.zeros(256, 256, dtype=torch.int64)
    expected[64:192, 21:235] = 6
    assert torch.equal(result.maps[0], expected)
    torch.testing.assert_close(result.joints2d[0, 0], torch.tensor([10.0, 30.0]) * 256 / 120)


def _reference_original_crop(seg: np.ndarray, joints: np.ndarray, scale: float, shift_xy: np.ndarray):
    """The original's training crop of one map, from docs/ORIGINAL.md §5.2 step 7, with numpy and cv2."""
    rows, cols = np.nonzero(seg)
    centre = np.array([(rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2]) + shift_xy[::-1]
    wh = max(rows.max() - rows.min(), cols.max() - cols.min()) * scale
    top_left = (centre - wh / 2).astype(np.int16)
    bottom_right = (centre + wh / 2).astype(np.int16)
    top_left[top_left < 0] = 0
    bottom_right[bottom_right < 0] = 0
    crop = seg[top_left[0] : bottom_right[0], top_left[1] : bottom_right[1]]
    out = cv2.resize(crop, (256, 256), interpolation=cv2.INTER_NEAREST)
    cropped_joints = (joints - top_left[::-1]) * np.array([256 / crop.shape[1], 256 / crop.shape[0]])
    return out, cropped_joints


def test_original_crop_matches_the_original_algorithm():
    g = _gen(14)
    n = 48
    c0 = torch.randint(-40, 200, (n,), generator=g).clamp(0, 250)
    r0 = torch.randint(-40, 200, (n,), generator=g).clamp(0, 250)
    # Bodies of 20+ px and shifts of 10 px keep every crop non-empty (the original crashed on empty ones).
    c1 = (c0 + torch.randint(20, 180, (n,), generator=g)).clamp(max=255)
    r1 = (r0 + torch.randint(20, 180, (n,), generator=g)).clamp(max=255)
    maps = _rectangle_maps(list(zip(c0.tolist(), r0.tolist(), c1.tolist(), r1.tolist(), strict=True)))
    maps = maps * torch.randint(1, 7, (n, 256, 256), generator=g)  # varied labels inside the body
    maps = maps.to(torch.uint8)
    joints = torch.rand(n, 17, 2, generator=g) * 300 - 20
    jitter = sample_crop_jitter(mask_bbox(maps)[0], g, centre_jitter=10.0)
    result = crop_to_body(maps, joints, mode="original", scale=jitter.scale, shift=jitter.shift)
    assert result.maps.dtype == torch.uint8
    for i in range(n):
        ref_map, ref_joints = _reference_original_crop(
            maps[i].numpy(),
            joints[i].double().numpy(),
            float(jitter.scale[i]),
            jitter.shift[i].double().numpy(),
        )
        assert np.array_equal(result.maps[i].numpy(), ref_map), i
        np.testing.assert_allclose(result.joints2d[i].numpy(), ref_joints, rtol=1e-5, atol=1e-3)
    widths = result.boxes[:, 2] - result.boxes[:, 0]
    heights = result.boxes[:, 3] - result.boxes[:, 1]
    assert (widths != heights).any()  # border crops are truncated, not padded


def test_original_crop_boxes_truncate_and_clip():
    bbox = torch.tensor([[100.0, 50.0, 139.0, 149.0], [0.0, 0.0, 99.0, 59.0], [200.0, 180.0, 255.0, 255.0]])
    boxes = original_crop_boxes(bbox, (256, 256))
    # centre (119.5, 99.5), side 99 * 1.2 = 118.8: corners 60.1, 40.1, 178.9, 158.9, truncated;
    # centre (49.5, 29.5), side 118.8: corners -9.9 -> 0 (truncated, clipped), 108.9, 88.9;
    # centre (227.5, 217.5), side 75 * 1.2 = 90: 182.5, 172.5 and 272.5, 262.5 clipped at 256.
    assert boxes.tolist() == [[60, 40, 178, 158], [0, 0, 108, 88], [182, 172, 256, 256]]


def test_crop_of_empty_maps_does_not_crash():
    maps = torch.zeros(2, 64, 64, dtype=torch.int64)
    for mode in ("square", "original"):
        result = crop_to_body(maps, torch.zeros(2, 17, 2), out_size=32, mode=mode)
        assert result.maps.shape == (2, 32, 32) and not result.maps.any()
        assert not result.found.any() and torch.isfinite(result.joints2d).all()
    with pytest.raises(ValueError, match="Crop mode must be one of"):
        crop_to_body(maps, torch.zeros(2, 17, 2), mode="tight")


def test_crop_jitter_ranges_and_partial_crops():
    bbox = torch.tensor([[10.0, 20.0, 109.0, 219.0]]).expand(20000, 4)
    jitter = sample_crop_jitter(bbox, _gen(15))
    assert jitter.scale.min() >= 1.0 and jitter.scale.max() <= 1.4 and jitter.scale.min() < 1.001
    assert jitter.shift.abs().max() <= 5.0 and jitter.shift.abs().max() > 4.99
    partial = sample_crop_jitter(bbox, _gen(15), partial_prob=0.2)
    tight = partial.scale < 1.0
    _assert_frequency(tight, 0.2)  # partial scales are U(0.6, 1.0), the others at least 1
    assert partial.shift[tight].abs().max() > 5.0 and partial.shift.abs().max() <= 0.2 * 200 + 1e-4


def test_nearest_and_bilinear_crops_agree_with_slicing():
    image = torch.rand(2, 3, 40, 50, generator=_gen(16))
    boxes = torch.tensor([[5.0, 7.0, 37.0, 39.0], [-8.0, 20.0, 24.0, 52.0]])  # pixel-aligned, 32 x 32
    nearest = crop_nearest(image, boxes, 32)
    bilinear = crop_bilinear(image, boxes, 32)
    torch.testing.assert_close(nearest[0], image[0, :, 7:39, 5:37])
    torch.testing.assert_close(bilinear[0], image[0, :, 7:39, 5:37])
    # The second box reaches past the left and bottom borders: zero there, the image elsewhere.
    expected = torch.zeros(3, 32, 32)
    expected[:, :20, 8:] = image[1, :, 20:40, 0:24]
    torch.testing.assert_close(nearest[1], expected)
    torch.testing.assert_close(bilinear[1], expected)


def test_crop_points_round_trip():
    boxes = torch.tensor([[-10.0, 5.0, 110.0, 125.0], [3.0, 4.0, 50.0, 90.0]])
    points = torch.rand(2, 17, 2, generator=_gen(17)) * 200
    torch.testing.assert_close(uncrop_points(crop_points(points, boxes, 256), boxes, 256), points)
    square = square_crop_boxes(torch.tensor([[0.0, 0.0, 9.0, 19.0]]), scale=torch.tensor([2.0]))
    torch.testing.assert_close(square, torch.tensor([[-15.0, -10.0, 25.0, 30.0]]))
