"""Evaluation metrics shared by training validation and benchmark evaluation.

3D errors are per sample, (B,), in the input's units (metres): the mean over points of the L2 distance,
after one of three alignments of the prediction to the target (ORIGINAL.md §8):
- none: PVE (vertices), MPJPE (joints);
- scale and translation ("_sc"): centre the prediction, scale it to the target's RMS distance from its
  mean, move it to the target's mean. PVE-T-SC (SSP-3D) is `pve_sc` on zero-pose vertices;
- Procrustes ("_pa"): the similarity transform (rotation, scale, translation) that best maps the
  prediction onto the target in the least-squares sense.
Benchmarks whose bodies carry no common translation (3DPW's protocol, predictions from a weak-perspective
camera) first move the prediction so that its root lands on the target's (`root_align`); the root of LSP-14
joints is the pelvis, the mid-point of the hips (`lsp14_pelvis`).
Alignments run in float64 (SVD conditioning) and return the input dtype.

Silhouette IoU: per image (`silhouette_iou`) and pooled over a dataset (`PooledIoU`:
sum TP / (sum TP + FP + FN), the original's "overall IoU"), which weights big silhouettes more.
"""

from __future__ import annotations

import torch

LSP14_HIPS = (2, 3)  # right hip, left hip in the LSP-14 order


def procrustes_align(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Similarity-align each prediction to its target.

    Solves min_{s, R, t} sum_n |s R p_n + t - q_n|^2 with R a proper rotation (det +1; the SVD sign fix
    forbids reflections), as in HMR's compute_similarity_transform.

    Args:
        pred, target: (B, N, 3).
    Returns:
        (B, N, 3) aligned prediction.
    """
    _check_points(pred, target)
    p, q = pred.double(), target.double()
    mu_p, mu_q = p.mean(dim=1, keepdim=True), q.mean(dim=1, keepdim=True)
    x, y = p - mu_p, q - mu_q
    k = x.transpose(1, 2) @ y  # (B, 3, 3) = sum_n x_n y_n^T
    u, _, vh = torch.linalg.svd(k)
    v = vh.transpose(1, 2)
    # R = V Z U^T maximises trace(R K); Z flips the last axis when V U^T would be a reflection.
    z = torch.ones(p.shape[0], 3, dtype=p.dtype, device=p.device)
    z[:, 2] = torch.sign(torch.linalg.det(v @ u.transpose(1, 2)))
    rot = v @ (z[:, :, None] * u.transpose(1, 2))
    scale = (rot * k.transpose(1, 2)).sum(dim=(1, 2)) / (x * x).sum(dim=(1, 2))  # trace(R K) / |X|^2
    aligned = scale[:, None, None] * (x @ rot.transpose(1, 2)) + mu_q
    return aligned.to(pred.dtype)


def scale_and_translation_align(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Give each prediction the target's mean and RMS distance from the mean (no rotation).

    Args:
        pred, target: (B, N, 3).
    Returns:
        (B, N, 3) aligned prediction.
    """
    _check_points(pred, target)
    p, q = pred.double(), target.double()
    x = p - p.mean(dim=1, keepdim=True)
    mu_q = q.mean(dim=1, keepdim=True)
    rms_p = x.square().sum(dim=(1, 2), keepdim=True).div(p.shape[1]).sqrt()
    rms_q = (q - mu_q).square().sum(dim=(1, 2), keepdim=True).div(q.shape[1]).sqrt()
    return (x * (rms_q / rms_p) + mu_q).to(pred.dtype)


def mean_point_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, N, D) x2 -> (B,) mean over points of the L2 distance, no alignment."""
    _check_points(pred, target, dims=None)
    return torch.linalg.vector_norm(pred - target, dim=-1).mean(dim=-1)


def mean_point_error_sc(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, N, 3) x2 -> (B,) mean point error after scale and translation alignment."""
    return mean_point_error(scale_and_translation_align(pred, target), target)


def mean_point_error_pa(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, N, 3) x2 -> (B,) mean point error after Procrustes alignment."""
    return mean_point_error(procrustes_align(pred, target), target)


def lsp14_pelvis(joints: torch.Tensor) -> torch.Tensor:
    """(B, 14, 3) LSP-14 joints -> (B, 3) pelvis: the mid-point of the right and left hips."""
    if joints.dim() != 3 or joints.shape[1:] != (14, 3):
        raise ValueError(f"LSP-14 joints must be (B, 14, 3); got {tuple(joints.shape)}.")
    return joints[:, list(LSP14_HIPS)].mean(dim=1)


def root_align(pred: torch.Tensor, pred_root: torch.Tensor, target_root: torch.Tensor) -> torch.Tensor:
    """Translate each prediction (B, N, 3) so that its root (B, 3) lands on the target's root (B, 3)."""
    return pred + (target_root - pred_root)[:, None, :]


# The vertex and joint metrics are the same computation on different point sets; the names say which.
pve = mpjpe = mean_point_error
pve_sc = mpjpe_sc = mean_point_error_sc
pve_pa = mpjpe_pa = mean_point_error_pa


def silhouette_confusion(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image pixel counts of (B, H, W) boolean masks -> (B, 3) int64 [TP, FP, FN]."""
    if pred.shape != target.shape or pred.dim() != 3:
        raise ValueError(
            f"Silhouettes must both be (B, H, W); got {tuple(pred.shape)} and {tuple(target.shape)}."
        )
    pred, target = pred.bool(), target.bool()
    tp = (pred & target).sum(dim=(1, 2))
    fp = (pred & ~target).sum(dim=(1, 2))
    fn = (~pred & target).sum(dim=(1, 2))
    return torch.stack((tp, fp, fn), dim=-1)


def silhouette_iou(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image IoU of (B, H, W) boolean masks -> (B,) float; two empty masks count as IoU 1."""
    tp, fp, fn = silhouette_confusion(pred, target).double().unbind(dim=-1)
    union = tp + fp + fn
    return torch.where(union > 0, tp / union.clamp_min(1), torch.ones_like(union))


class PooledIoU:
    """Dataset-level IoU = sum TP / (sum TP + sum FP + sum FN), accumulated batch by batch."""

    def __init__(self) -> None:
        self.counts = torch.zeros(3, dtype=torch.int64)  # [TP, FP, FN] over every image added
        self.num_images = 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch of (B, H, W) boolean masks."""
        self.counts += silhouette_confusion(pred, target).sum(dim=0).cpu()
        self.num_images += pred.shape[0]

    def compute(self) -> float:
        """The pooled IoU so far (1.0 if every mask pair was empty, NaN before any update)."""
        if self.num_images == 0:
            return float("nan")
        tp, fp, fn = (int(c) for c in self.counts)
        return tp / (tp + fp + fn) if tp + fp + fn > 0 else 1.0


def _check_points(pred: torch.Tensor, target: torch.Tensor, dims: int | None = 3) -> None:
    if pred.shape != target.shape or pred.dim() != 3 or (dims is not None and pred.shape[-1] != dims):
        want = f"(B, N, {dims})" if dims is not None else "(B, N, D)"
        raise ValueError(
            f"Prediction and target must both be {want}; got {tuple(pred.shape)} and {tuple(target.shape)}."
        )
