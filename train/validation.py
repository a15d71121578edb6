"""Validation metrics of ORIGINAL.md §8, accumulated over batches (and processes) into per-epoch means.

Per-sample values (utils/metrics.py), averaged over the validation samples, under the original's names
(which `train.save_val_metrics` and `train.metrics_to_track` use; the suffix is the alignment, none for
the plain names, unlike evaluation's pelvis-aligned "mpjpe_pelvis" / "pve_pelvis"):
- pves, pves_sc, pves_pa: vertex error without alignment, after scale + translation, after Procrustes;
- pve-ts, pve-ts_sc, pve-ts_pa: the same on zero-pose ("T-pose") vertices of the predicted vs target betas;
- mpjpes, mpjpes_sc, mpjpes_pa: on the LSP-14 joints;
- pose_mses: squared rotation-matrix difference / 216; shape_mses: squared betas difference / 10;
- joints2D_l2es: mean pixel distance over all 17 COCO joints, invisible ones included (as the original).
3D errors are in metres inside and in millimetres in reports and logs (`to_report`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

from configs.loader import ConfigError
from models.bundle import BodyModelBundle
from proxy.bodies import BodyEstimate
from train.synthetic_batch import SyntheticBatch
from utils.cameras import normalised_to_pixels
from utils.metrics import mpjpe, mpjpe_pa, mpjpe_sc, pve, pve_pa, pve_sc

MILLIMETRE_METRICS = (
    "pves",
    "pves_sc",
    "pves_pa",
    "pve-ts",
    "pve-ts_sc",
    "pve-ts_pa",
    "mpjpes",
    "mpjpes_sc",
    "mpjpes_pa",
)
METRIC_NAMES = (*MILLIMETRE_METRICS, "pose_mses", "shape_mses", "joints2D_l2es")


def check_metric_names(names: Sequence[str]) -> None:
    """Raise a one-sentence ConfigError for metric names this module does not compute."""
    unknown = [name for name in names if name not in METRIC_NAMES]
    if unknown:
        raise ConfigError(f"Unknown validation metrics {unknown}; choose from {METRIC_NAMES}.")


def sample_metrics(
    names: Sequence[str],
    prediction: BodyEstimate,
    batch: SyntheticBatch,
    bundle: BodyModelBundle,
    img_wh: int,
) -> dict[str, torch.Tensor]:
    """The requested metrics per sample, each (B,) in metres / pixels / plain units."""
    tpose: list[torch.Tensor] = []

    def predicted_tpose() -> torch.Tensor:  # computed once, only if a PVE-T metric is asked for
        if not tpose:
            tpose.append(bundle.tpose_vertices(prediction.betas))
        return tpose[0]

    p, b = prediction, batch
    table: dict[str, Callable[[], torch.Tensor]] = {
        "pves": lambda: pve(p.vertices, b.target_vertices),
        "pves_sc": lambda: pve_sc(p.vertices, b.target_vertices),
        "pves_pa": lambda: pve_pa(p.vertices, b.target_vertices),
        "pve-ts": lambda: pve(predicted_tpose(), b.target_tpose_vertices),
        "pve-ts_sc": lambda: pve_sc(predicted_tpose(), b.target_tpose_vertices),
        "pve-ts_pa": lambda: pve_pa(predicted_tpose(), b.target_tpose_vertices),
        "mpjpes": lambda: mpjpe(p.lsp14, b.target_lsp14),
        "mpjpes_sc": lambda: mpjpe_sc(p.lsp14, b.target_lsp14),
        "mpjpes_pa": lambda: mpjpe_pa(p.lsp14, b.target_lsp14),
        "pose_mses": lambda: (p.pose_rotmats - b.target_pose_rotmats).square().flatten(1).mean(1),
        "shape_mses": lambda: (p.betas - b.target_betas).square().mean(1),
        "joints2D_l2es": lambda: torch.linalg.vector_norm(
            normalised_to_pixels(p.coco17_normalised, img_wh) - b.target_joints2d, dim=-1
        ).mean(1),
    }
    return {name: table[name]() for name in names}


class MeanAccumulator:
    """Sample-weighted means of a fixed set of named values over batches and, with `all_reduce`, over
    processes (every process holds the same names, so their sums can be reduced as one tensor)."""

    def __init__(self, names: Sequence[str], device: torch.device | str):
        self.names = tuple(names)
        self.sums = torch.zeros(len(self.names) + 1, dtype=torch.float64, device=device)  # last: count

    def add(self, values: Mapping[str, torch.Tensor], batch_size: int) -> None:
        """One batch: (B,) per-sample values are summed, scalars (batch means, e.g. losses) count B times."""
        totals = [
            values[name].detach().double().sum() * (batch_size if values[name].ndim == 0 else 1)
            for name in self.names
        ]
        self.sums += torch.stack([*totals, self.sums.new_tensor(float(batch_size))])

    def means(self, all_reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[str, float]:
        """{name: mean}; `all_reduce` sums a tensor over processes (DDP), None for one process."""
        sums = self.sums if all_reduce is None else all_reduce(self.sums.clone())
        *totals, count = sums.tolist()
        if count == 0:
            raise ValueError("No validation samples were accumulated.")
        return {name: total / count for name, total in zip(self.names, totals, strict=True)}


def to_report(metrics: Mapping[str, float]) -> dict[str, float]:
    """Metres -> millimetres for the 3D errors; other values unchanged."""
    return {name: value * 1000.0 if name in MILLIMETRE_METRICS else value for name, value in metrics.items()}
