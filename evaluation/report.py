"""The paper's metrics on predicted and ground-truth bodies, and the report of an evaluation run.

Metric keys (`METRICS`) name their alignment: "_pelvis" moves the prediction's pelvis (mid-hip) onto the
target's (the 3DPW protocol; the table calls these MPJPE and PVE), "_sc" corrects scale and translation,
"_pa" is a Procrustes alignment; "pve_t_sc" compares T-pose vertices after scale correction. The scene
benchmark adds the global orientation's error (the angle of R_pred^T R_true of the root, both in the
camera frame), the build error (relative error of the T-pose's volume / height^3, a scale-free measure
of how heavy the body is for its height), and, per person in the picture, detection recall and whether
the pipeline's first person is the picture's main one (0 or 1 each, averaged). (Training
validation keeps the original's names, whose plain "pves" / "mpjpes" are not aligned at all.) The table
marks each benchmark's headline metrics. The per-sample errors come from utils/metrics.py, which training
validation shares.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from utils.metrics import lsp14_pelvis, mpjpe, mpjpe_pa, mpjpe_sc, pve, pve_pa, pve_sc, root_align

MM_PER_M = 1000.0


@dataclass(frozen=True)
class MetricInfo:
    key: str  # JSON key
    label: str  # table name
    unit: str  # "mm" or "" (a ratio)
    description: str


METRICS = (
    MetricInfo("pve_pelvis", "PVE", "mm", "posed vertices, pelvis-aligned"),
    MetricInfo("pve_sc", "PVE-SC", "mm", "posed vertices, scale and translation corrected"),
    MetricInfo("pve_pa", "PVE-PA", "mm", "posed vertices, Procrustes-aligned"),
    MetricInfo(
        "pve_t_sc", "PVE-T-SC", "mm", "T-pose vertices of the betas, GT's gendered model, scale-corrected"
    ),
    MetricInfo("mpjpe_pelvis", "MPJPE", "mm", "LSP-14 joints, pelvis-aligned"),
    MetricInfo("mpjpe_sc", "MPJPE-SC", "mm", "LSP-14 joints, scale and translation corrected"),
    MetricInfo("mpjpe_pa", "PA-MPJPE", "mm", "LSP-14 joints, Procrustes-aligned"),
    MetricInfo("miou", "mIOU", "", "silhouette IoU, mean of per-image IoUs"),
    MetricInfo("iou_pooled", "IoU (pooled)", "", "silhouette IoU, sum TP / sum (TP+FP+FN) over the dataset"),
    MetricInfo("global_orient", "Global orient", "deg", "root rotation error, camera frame"),
    MetricInfo("build", "Build error", "", "relative error of T-pose volume / height^3"),
    MetricInfo("recall", "Recall", "", "people found / people at least half visible (and main people)"),
    MetricInfo("main_person", "Main person", "", "the pipeline's first person is the picture's main one"),
)
METRIC_KEYS = tuple(m.key for m in METRICS)
SCENE_METRIC_KEYS = ("global_orient", "build", "recall", "main_person")  # the scene benchmark's alone
# The metrics each benchmark is quoted with (the paper's for SSP-3D and 3DPW), marked in the table.
HEADLINE_METRICS = {
    "ssp3d": ("pve_t_sc", "miou"),
    "3dpw": ("mpjpe_pelvis", "mpjpe_pa", "pve_pelvis", "pve_t_sc"),
    "synthetic": ("pve_t_sc", "miou", "mpjpe_pa"),
    "scenes": ("recall", "main_person", "mpjpe_pa", "pve_t_sc", "global_orient"),
}


@dataclass
class TargetBodies:
    """Ground-truth bodies of a batch, body-model frame: vertices (B, V, 3), lsp14 (B, 14, 3),
    tpose_vertices (B, V, 3); root_rotmat (B, 3, 3), the global orientation in the camera frame, where
    known."""

    vertices: Tensor
    lsp14: Tensor
    tpose_vertices: Tensor
    root_rotmat: Tensor | None = None


def body_metrics(
    pred_lsp14: Tensor,
    target: TargetBodies,
    pred_vertices: Tensor | None = None,
    pred_tpose_vertices: Tensor | None = None,
    pred_root_rotmat: Tensor | None = None,
    faces: Tensor | None = None,
) -> dict[str, Tensor]:
    """Per-sample 3D errors in metres (global orientation in degrees, build error a ratio).

    Args:
        pred_lsp14: (B, 14, 3) predicted LSP-14 joints.
        target: the ground truth.
        pred_vertices: (B, V, 3) predicted posed vertices of the target's mesh, or None (no vertex metrics).
        pred_tpose_vertices: (B, V, 3) T-pose vertices of the predicted betas through the target's model,
            or None (no PVE-T-SC).
        pred_root_rotmat: (B, 3, 3) predicted global orientation in the camera frame, or None (no global
            orientation error; also none when the target has no root_rotmat).
        faces: (F, 3) faces of the target's closed mesh, or None (no build error; also none without
            pred_tpose_vertices).
    Returns:
        {metric key: (B,)} for the metrics that apply.
    """
    pred_root, target_root = lsp14_pelvis(pred_lsp14), lsp14_pelvis(target.lsp14)
    errors = {
        "mpjpe_pelvis": mpjpe(root_align(pred_lsp14, pred_root, target_root), target.lsp14),
        "mpjpe_sc": mpjpe_sc(pred_lsp14, target.lsp14),
        "mpjpe_pa": mpjpe_pa(pred_lsp14, target.lsp14),
    }
    if pred_vertices is not None:
        errors["pve_pelvis"] = pve(root_align(pred_vertices, pred_root, target_root), target.vertices)
        errors["pve_sc"] = pve_sc(pred_vertices, target.vertices)
        errors["pve_pa"] = pve_pa(pred_vertices, target.vertices)
    if pred_tpose_vertices is not None:
        errors["pve_t_sc"] = pve_sc(pred_tpose_vertices, target.tpose_vertices)
        if faces is not None:
            true_build = build_index(target.tpose_vertices, faces)
            errors["build"] = (build_index(pred_tpose_vertices, faces) - true_build).abs() / true_build
    if pred_root_rotmat is not None and target.root_rotmat is not None:
        errors["global_orient"] = rotation_angle_deg(pred_root_rotmat, target.root_rotmat)
    return errors


# Metrics that body_metrics returns in units of their own (not metres).
UNSCALED_METRICS = ("global_orient", "build")


def in_report_units(errors: dict[str, Tensor]) -> dict[str, list[float]]:
    """body_metrics' per-sample values as the report holds them: mm for lengths, the rest as they are."""
    return {
        key: (value if key in UNSCALED_METRICS else value * MM_PER_M).tolist()
        for key, value in errors.items()
    }


def rotation_angle_deg(pred: Tensor, target: Tensor) -> Tensor:
    """(B,) angle in degrees of pred^T target for rotations (B, 3, 3)."""
    relative = pred.transpose(-1, -2) @ target
    cosine = (relative.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0) / 2.0
    return torch.rad2deg(torch.arccos(cosine.clamp(-1.0, 1.0)))


def mesh_volume(vertices: Tensor, faces: Tensor) -> Tensor:
    """(B,) enclosed volume of closed meshes (B, V, 3) with faces (F, 3), by the divergence theorem: the sum
    of the signed volumes of the tetrahedra each face makes with the centroid (taken about the centroid
    so that float32 keeps its digits); the sign of the winding does not matter."""
    centred = vertices - vertices.mean(dim=1, keepdim=True)
    a, b, c = (centred[:, faces[:, i]] for i in range(3))
    return (a * torch.linalg.cross(b, c)).sum(dim=(1, 2)).abs() / 6.0


def build_index(tpose_vertices: Tensor, faces: Tensor) -> Tensor:
    """(B,) volume / height^3 of T-posed closed meshes (B, V, 3), height = their extent along y (up)."""
    height = tpose_vertices[..., 1].amax(dim=1) - tpose_vertices[..., 1].amin(dim=1)
    return mesh_volume(tpose_vertices, faces) / height**3


@dataclass
class SampleResult:
    """One sample: its id, "ok" with metric values (mm or IoU), "failed" with the reason, or (a person of
    the scene benchmark the pipeline did not find) "missed", whose metrics say only that."""

    sample_id: str
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    # The regressor's own values when the source refined its result.
    regressor_metrics: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.sample_id, "status": self.status}
        if self.reason is not None:
            out["reason"] = self.reason
        if self.status == "ok" or self.metrics:
            out["metrics"] = self.metrics
            if self.regressor_metrics is not None:
                out["metrics_regressor"] = self.regressor_metrics
        return out


@dataclass
class EvalReport:
    """Aggregates (means over the evaluated samples; mm for 3D) and the per-sample values of one run."""

    dataset: str
    data_dir: str
    samples: list[SampleResult]
    aggregates: dict[str, float]
    notes: list[str]
    settings: dict[str, Any]
    elapsed_s: float
    # The regressor's own result when the source refined it (the paper's protocol is the regressor alone).
    regressor_aggregates: dict[str, float] | None = None
    subsets: list[Subset] = field(default_factory=list)  # labelled parts of the benchmark, each aggregated

    @property
    def num_evaluated(self) -> int:
        return sum(s.status == "ok" for s in self.samples)

    @property
    def num_failed(self) -> int:
        return sum(s.status == "failed" for s in self.samples)

    @property
    def num_missed(self) -> int:
        return sum(s.status == "missed" for s in self.samples)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: settings, counts, aggregates with their units, notes, per-sample values."""
        headline = HEADLINE_METRICS.get(self.dataset, ())
        return {
            "dataset": self.dataset,
            "data_dir": self.data_dir,
            "settings": self.settings,
            "num_samples": len(self.samples),
            "num_evaluated": self.num_evaluated,
            "num_failed": self.num_failed,
            "elapsed_s": round(self.elapsed_s, 3),
            "metrics": {
                m.key: {
                    "label": m.label,
                    "value": self.aggregates[m.key],
                    "unit": m.unit,
                    "description": m.description,
                    "headline": m.key in headline,
                }
                for m in METRICS
                if m.key in self.aggregates
            },
            **(
                {"metrics_regressor": dict(self.regressor_aggregates)}
                if self.regressor_aggregates is not None
                else {}
            ),
            **({"num_missed": self.num_missed} if self.num_missed else {}),
            **(
                {"subsets": {subset.name: subset.to_dict() for subset in self.subsets}}
                if self.subsets
                else {}
            ),
            "notes": self.notes,
            "samples": [s.to_dict() for s in self.samples],
        }


@dataclass
class Subset:
    """The aggregates of a labelled part of a benchmark (a scene benchmark case)."""

    name: str
    description: str
    num_samples: int
    aggregates: dict[str, float]
    regressor_aggregates: dict[str, float] | None = None

    @classmethod
    def of(cls, name: str, description: str, samples: list[SampleResult]) -> Subset:
        regressor = any(s.regressor_metrics is not None for s in samples)
        return cls(
            name,
            description,
            len(samples),
            aggregate_metrics(samples),
            aggregate_metrics(samples, regressor=True) if regressor else None,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "description": self.description,
            "num_samples": self.num_samples,
            "metrics": self.aggregates,
        }
        if self.regressor_aggregates is not None:
            out["metrics_regressor"] = self.regressor_aggregates
        return out


def format_table(report: EvalReport) -> str:
    """The metrics table: one row per metric (name, value, unit, what it is); '*' marks the paper's."""
    headline = HEADLINE_METRICS.get(report.dataset, ())
    regressor = report.regressor_aggregates
    columns = f"{'regressor':>9} {'refined':>9}" if regressor is not None else f"{'value':>9}"
    missed = f", {report.num_missed} missed" if report.num_missed else ""
    lines = [
        f"{report.dataset}: {report.num_evaluated} samples evaluated, {report.num_failed} failed{missed}",
        f"{'metric':<14} {columns}  {'unit':<4}  description",
    ]

    for metric in METRICS:
        if metric.key not in report.aggregates:
            continue
        values = _text(report.aggregates[metric.key], metric.unit)
        if regressor is not None:
            values = f"{_text(regressor.get(metric.key, math.nan), metric.unit):>9} {values:>9}"
        name = metric.label + (" *" if metric.key in headline else "")
        lines.append(f"{name:<14} {values:>9}  {metric.unit:<4}  {metric.description}")
    if any(key in report.aggregates for key in headline):
        lines.append("* this benchmark's headline metrics (for SSP-3D and 3DPW, the paper's)")
    lines.extend(f"note: {note}" for note in report.notes)
    if report.subsets:
        lines.extend(("", format_subset_table(report)))
    return "\n".join(lines)


# The per-subset table's columns (the rest are in the JSON report).
SUBSET_COLUMNS = (
    "recall", "main_person", "mpjpe_pelvis", "mpjpe_pa", "pve_t_sc", "global_orient", "build", "miou"
)  # fmt: skip


def format_subset_table(report: EvalReport) -> str:
    """A Markdown table, one row per subset: its sample count and the SUBSET_COLUMNS metrics any subset
    has, as "regressor / refined" where the regressor's own values exist."""
    keys = [
        m
        for key in SUBSET_COLUMNS
        for m in METRICS
        if m.key == key and any(key in subset.aggregates for subset in report.subsets)
    ]
    header = ["case", "people"] + [m.label + (f" ({m.unit})" if m.unit else "") for m in keys]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for subset in report.subsets:
        cells = [subset.name, str(subset.num_samples)]
        for metric in keys:
            value = _text(subset.aggregates.get(metric.key, math.nan), metric.unit)
            regressor = subset.regressor_aggregates
            if regressor is not None and metric.key not in ("recall", "main_person"):
                value = f"{_text(regressor.get(metric.key, math.nan), metric.unit)} / {value}"
            cells.append(value)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _text(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.1f}" if unit in ("mm", "deg") else f"{value:.4f}"


def write_report_json(report: EvalReport, path: str | Path) -> Path:
    """Write `report.to_dict()` as JSON (NaN written as null) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(report.to_dict()), indent=2) + "\n", encoding="utf-8")
    return path


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def aggregate_metrics(samples: list[SampleResult], regressor: bool = False) -> dict[str, float]:
    """Mean of each metric over the samples that have a finite value for it (the regressor's own values
    when `regressor`)."""
    tables = [s.regressor_metrics if regressor else s.metrics for s in samples]
    aggregates = {}
    for key in METRIC_KEYS:
        values = [t[key] for t in tables if t is not None and key in t and math.isfinite(t[key])]
        if values:
            aggregates[key] = float(np.mean(values))
    return aggregates
