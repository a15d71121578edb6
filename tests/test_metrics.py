"""Metrics: alignments undo what they should (and only that), errors and IoUs on known cases."""

import math

import pytest
import torch

from utils.metrics import (
    PooledIoU,
    mpjpe,
    mpjpe_pa,
    mpjpe_sc,
    procrustes_align,
    pve,
    pve_pa,
    pve_sc,
    scale_and_translation_align,
    silhouette_iou,
)
from utils.rotations import axis_angle_to_rotmat


def random_points(batch: int = 3, n: int = 40, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, n, 3, generator=generator, dtype=dtype) * torch.tensor(
        [0.3, 0.8, 0.15], dtype=dtype
    )


def similarity(points: torch.Tensor, seed: int = 1) -> torch.Tensor:
    """Apply a random rotation, scale and translation per sample."""
    generator = torch.Generator().manual_seed(seed)
    batch = points.shape[0]
    rot = axis_angle_to_rotmat(torch.randn(batch, 3, generator=generator, dtype=points.dtype))
    scale = 0.5 + torch.rand(batch, 1, 1, generator=generator, dtype=points.dtype) * 2
    shift = torch.randn(batch, 1, 3, generator=generator, dtype=points.dtype) * 5
    return scale * points @ rot.transpose(1, 2) + shift


def test_procrustes_undoes_a_known_similarity_transform():
    target = random_points()
    pred = similarity(target)
    assert pve(pred, target).min() > 0.1
    assert torch.allclose(procrustes_align(pred, target), target, atol=1e-10)
    assert torch.allclose(pve_pa(pred, target), torch.zeros(3, dtype=torch.float64), atol=1e-10)
    # float32 in, float32 out, still accurate (the alignment itself runs in float64).
    aligned32 = procrustes_align(pred.float(), target.float())
    assert aligned32.dtype == torch.float32 and torch.allclose(aligned32, target.float(), atol=1e-5)


def test_procrustes_never_reflects_and_is_least_squares_optimal():
    target = random_points(seed=2)
    mirrored = target * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    aligned = procrustes_align(mirrored, target)
    assert pve_pa(mirrored, target).min() > 1e-2  # a reflection cannot be undone by a rotation
    # The implied linear map is a proper rotation times a positive scale.
    centred = aligned - aligned.mean(1, keepdim=True)
    source = mirrored - mirrored.mean(1, keepdim=True)
    linear = torch.linalg.lstsq(source, centred).solution
    assert (torch.linalg.det(linear) > 0).all()
    # Least squares: no worse (in RMS) than the scale+translation alignment, which is also a similarity.
    noisy = similarity(target) + random_points(seed=5) * 0.1
    rms = lambda a: (a - target).square().sum(-1).mean(-1).sqrt()  # noqa: E731
    assert (
        rms(procrustes_align(noisy, target)) <= rms(scale_and_translation_align(noisy, target)) + 1e-12
    ).all()


def test_scale_and_translation_correction():
    target = random_points(seed=3)
    pred = 2.5 * target + torch.tensor([0.3, -1.0, 42.0], dtype=torch.float64)
    assert torch.allclose(scale_and_translation_align(pred, target), target, atol=1e-12)
    assert torch.allclose(pve_sc(pred, target), torch.zeros(3, dtype=torch.float64), atol=1e-12)
    # In general: the result has the target's mean and RMS distance from it, and no rotation is applied.
    other = random_points(seed=4) * 3 + 1
    aligned = scale_and_translation_align(other, target)
    rms = lambda p: (p - p.mean(1, keepdim=True)).square().sum((1, 2)).div(p.shape[1]).sqrt()  # noqa: E731
    assert torch.allclose(aligned.mean(1), target.mean(1), atol=1e-12)
    assert torch.allclose(rms(aligned), rms(target), atol=1e-12)
    direction = lambda p: torch.nn.functional.normalize(p - p.mean(1, keepdim=True), dim=-1)  # noqa: E731
    assert torch.allclose(direction(aligned), direction(other), atol=1e-12)


def test_mean_point_errors_by_hand():
    target = torch.zeros(2, 4, 3)
    pred = target.clone()
    pred[0] += torch.tensor([3.0, 4.0, 0.0])  # every point 5 away
    pred[1, 0] = torch.tensor([0.0, 0.0, 2.0])  # one point of four 2 away
    assert torch.allclose(pve(pred, target), torch.tensor([5.0, 0.5]))
    assert torch.equal(mpjpe(pred, target), pve(pred, target))
    # A pure translation is removed by both alignments.
    points = random_points(1, 14, seed=6, dtype=torch.float32)
    assert mpjpe_pa(points + 1.0, points).item() == pytest.approx(0.0, abs=1e-6)
    assert mpjpe_sc(points + 1.0, points).item() == pytest.approx(0.0, abs=1e-6)


def test_shape_checks():
    with pytest.raises(ValueError, match="must both be"):
        pve(torch.zeros(2, 5, 3), torch.zeros(2, 6, 3))
    with pytest.raises(ValueError, match="must both be"):
        procrustes_align(torch.zeros(2, 5, 2), torch.zeros(2, 5, 2))


def masks_from(*rows: str) -> torch.Tensor:
    return torch.tensor([[c == "#" for c in row] for row in rows])


def test_silhouette_iou_of_known_masks():
    pred = masks_from("##..", "##..", "....", "....")
    target = masks_from(".##.", ".##.", "....", "....")
    iou = silhouette_iou(pred[None], target[None])
    assert iou.item() == pytest.approx(2 / 6)  # TP 2, FP 2, FN 2
    empty = torch.zeros(1, 4, 4, dtype=torch.bool)
    assert silhouette_iou(empty, empty).item() == 1.0
    assert silhouette_iou(empty, target[None]).item() == 0.0


def test_pooled_iou_differs_from_mean_of_per_image_ious():
    big = torch.zeros(2, 20, 20, dtype=torch.bool)
    big[0, 2:12, 2:12] = True  # 100 px, predicted perfectly
    pred, target = big.clone(), big.clone()
    target[1, 0, 0] = True  # a 1 px silhouette, predicted as another pixel: IoU 0
    pred[1, 0, 1] = True
    per_image = silhouette_iou(pred, target)
    assert per_image.tolist() == [1.0, 0.0]

    pooled = PooledIoU()
    assert math.isnan(pooled.compute())
    pooled.update(pred[:1], target[:1])
    pooled.update(pred[1:], target[1:])
    assert pooled.num_images == 2
    assert pooled.compute() == pytest.approx(100 / 102)  # TP 100, FP 1, FN 1
    assert per_image.mean().item() == pytest.approx(0.5)
