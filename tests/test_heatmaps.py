"""Heatmaps: the original's exact drawing rules (ORIGINAL.md §4), checked by hand and against a loop."""

import math

import numpy as np
import pytest
import torch

from proxy.heatmaps import joints_to_heatmaps

W = 256
LIN = [-8 + i * 16 / 15 for i in range(16)]  # linspace(-8, 8, 16) in float64


def patch_value(i: int, j: int) -> float:
    """Hand formula of the original patch at cell (i, j), float64."""
    return math.exp(-(LIN[i] ** 2 + LIN[j] ** 2) / (2 * 4.0**2))


def draw(*joints):
    """One sample, one channel per given (u, v) joint."""
    return joints_to_heatmaps(torch.tensor([joints], dtype=torch.float32))[0]


def reference_heatmaps(joints: np.ndarray, img_wh: int = W, std: float = 4.0) -> np.ndarray:
    """Straightforward per-joint loop following docs/ORIGINAL.md §4 word for word."""
    size = int(2 * std)
    grid = torch.linspace(-size, size, 2 * size)
    x, y = torch.meshgrid(grid, grid, indexing="ij")
    patch = torch.exp(-(torch.sqrt(x * x + y * y) ** 2 / (2.0 * std**2))).numpy()
    out = np.zeros((*joints.shape[:2], img_wh, img_wh), dtype=np.float32)
    for b in range(joints.shape[0]):
        for j in range(joints.shape[1]):
            cx, cy = int(joints[b, j, 0]), int(joints[b, j, 1])  # int() truncates toward zero
            if not (-size < cx < img_wh - 1 + size and -size < cy < img_wh - 1 + size):
                continue
            r0, r1 = max(0, cy - size), min(img_wh - 1, cy + size)
            c0, c1 = max(0, cx - size), min(img_wh - 1, cx + size)
            out[b, j, r0:r1, c0:c1] = patch[r0 - cy + size : r1 - cy + size, c0 - cx + size : c1 - cx + size]
    return out


def test_centre_joint_hand_values():
    hm = draw((100.7, 50.2))[0]  # truncates to (cx, cy) = (100, 50)
    assert hm.shape == (W, W) and hm.dtype == torch.float32
    nonzero = hm.nonzero()
    assert nonzero[:, 0].min() == 42 and nonzero[:, 0].max() == 57  # rows [cy-8, cy+8)
    assert nonzero[:, 1].min() == 92 and nonzero[:, 1].max() == 107
    for i, j in [(0, 0), (7, 7), (8, 8), (7, 8), (0, 15), (3, 11)]:
        assert hm[42 + i, 92 + j].item() == pytest.approx(patch_value(i, j), rel=1e-6)
    assert hm.max().item() == pytest.approx(0.98238, abs=1e-5)
    assert hm[42, 92].item() == pytest.approx(math.exp(-4.0), rel=1e-6)  # corner: d^2 = 128
    # The four central cells hold the peak, at rows 49, 50 and columns 99, 100.
    peak = (hm == hm.max()).nonzero().tolist()
    assert sorted(peak) == [[49, 99], [49, 100], [50, 99], [50, 100]]


def test_peak_is_half_a_pixel_before_the_joint():
    for joint in [(100.0, 50.0), (100.99, 50.6)]:
        hm = draw(joint)[0].double()
        centres = torch.arange(W, dtype=torch.float64) + 0.5  # pixel centres
        u = (hm.sum(0) * centres).sum() / hm.sum()
        v = (hm.sum(1) * centres).sum() / hm.sum()
        # The centroid sits at the integer coordinate: the joint's pixel centre (100.5, 50.5) minus 0.5.
        assert u.item() == pytest.approx(100.0, abs=1e-9) and v.item() == pytest.approx(50.0, abs=1e-9)


def test_left_border_truncation_toward_zero():
    drawn, not_drawn, edge = draw((-7.5, 100.0), (-8.3, 100.0), (-8.0, 100.0))
    # -7.5 truncates to -7 (floor would give -8 and skip it): only column 0 is written, with patch column 15.
    assert drawn[:, 1:].abs().sum() == 0
    for i in range(16):
        assert drawn[92 + i, 0].item() == pytest.approx(patch_value(i, 15), rel=1e-6)
    assert not_drawn.abs().sum() == 0
    assert edge.abs().sum() == 0


def test_right_and_bottom_borders():
    right, beyond, bottom = draw((262.9, 100.0), (263.0, 100.0), (100.0, 262.0))
    # cx = 262 < 263: columns [254, 270) clip to [254, 255), so only column 254 with patch column 0.
    assert right.nonzero()[:, 1].unique().tolist() == [254]
    for i in range(16):
        assert right[92 + i, 254].item() == pytest.approx(patch_value(i, 0), rel=1e-6)
    assert beyond.abs().sum() == 0
    assert bottom.nonzero()[:, 0].unique().tolist() == [254]
    assert bottom[254, 92].item() == pytest.approx(patch_value(0, 0), rel=1e-6)


def test_last_row_and_column_never_written():
    corner, top_left = draw((255.5, 255.9), (0.3, 0.9))
    # Joint (255, 255): rows/cols [247, 263) clip to [247, 255); row and column 255 stay zero even
    # though the peak (patch cells 7, 8) would cover them.
    assert corner[255, :].abs().sum() == 0 and corner[:, 255].abs().sum() == 0
    assert corner[254, 254].item() == pytest.approx(patch_value(7, 7), rel=1e-6)
    assert corner[247, 247].item() == pytest.approx(patch_value(0, 0), rel=1e-6)
    # Joint (0, 0): the patch is offset, pixel (0, 0) gets patch cell (8, 8) (a peak cell).
    assert top_left[0, 0].item() == pytest.approx(patch_value(8, 8), rel=1e-6)
    assert top_left.nonzero().max(dim=0).values.tolist() == [7, 7]


def test_visibility_and_non_finite_joints_give_empty_channels():
    joints = torch.tensor([[[60.0, 60.0], [120.0, 80.0], [float("nan"), 10.0], [1e30, -1e30]]])
    visible = torch.tensor([[True, False, True, True]])
    hm = joints_to_heatmaps(joints, visible=visible)
    assert hm[0, 0].sum() > 0
    assert hm[0, 1:].abs().sum() == 0
    # Without the mask the second joint is drawn, and the first channel is unchanged.
    plain = joints_to_heatmaps(joints)
    assert plain[0, 1].sum() > 0 and torch.equal(plain[0, 0], hm[0, 0])


def test_matches_per_joint_reference_bit_for_bit():
    generator = torch.Generator().manual_seed(0)
    joints = torch.rand(4, 17, 2, generator=generator) * 300.0 - 22.0  # covers inside, borders, outside
    joints[0, :4] = torch.tensor([[-7.9, 3.0], [262.5, 262.5], [-8.0, -8.0], [127.5, -7.01]])
    ours = joints_to_heatmaps(joints).numpy()
    ref = reference_heatmaps(joints.numpy())
    assert np.array_equal(ours, ref)
    assert (ours.reshape(4, 17, -1).max(-1) > 0).sum() > 40  # most joints were actually drawn


def test_other_sizes_generalise_the_window():
    joints = torch.tensor([[[-5.5, 30.0], [70.5, 70.2], [68.9, 20.0], [40.0, 40.0]]])
    ours = joints_to_heatmaps(joints, img_wh=64, std=3.0).numpy()
    assert np.array_equal(ours, reference_heatmaps(joints.numpy(), img_wh=64, std=3.0))
    assert ours[0, 2].sum() > 0 and ours[0, 1].sum() == 0  # 68 < 64 - 1 + 6 = 69 drawn, 70 not


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="shape"):
        joints_to_heatmaps(torch.zeros(17, 2))
    with pytest.raises(ValueError, match="std"):
        joints_to_heatmaps(torch.zeros(1, 17, 2), std=4.2)
    with pytest.raises(ValueError, match="visible"):
        joints_to_heatmaps(torch.zeros(1, 17, 2), visible=torch.ones(1, 16, dtype=torch.bool))
