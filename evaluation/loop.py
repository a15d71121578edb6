"""Benchmark evaluation: dataset inputs -> predictions -> the paper's metrics -> a table and a JSON report.

One loop serves every benchmark (evaluation/datasets.py). Per batch of samples:
1. inputs: each sample's silhouette and 17 joints, from the dataset's own files (`DatasetInputs`, the
   default) or from a detector run on its image (`DetectorInputs`); a sample whose input cannot be had
   (missing file, nobody detected) is recorded as failed with its reason and left out of the means;
2. predictions from a `PredictionSource`: the real one wraps the `Predictor` (`PredictorSource`); tests
   inject ground-truth predictions through the same protocol;
3. ground truth: the dataset's body model with each sample's gender (`GroundTruthBodies`);
4. metrics (utils/metrics.py, shared with training validation), millimetres for 3D:
   - MPJPE, MPJPE-SC, PA-MPJPE on the LSP-14 joints; MPJPE after moving the prediction's pelvis (mid-hip)
     onto the target's, the 3DPW protocol (neither carries a common translation);
   - PVE, PVE-SC, PVE-PA on the posed vertices (PVE pelvis-aligned like MPJPE): only when the predictions
     use the ground truth's body model, since vertices of different meshes do not correspond;
   - PVE-T-SC (SSP-3D's shape metric): T-pose vertices of the predicted and of the ground-truth betas, both
     through the ground truth's gendered model, after scale and translation correction; again only when
     the predicted betas live in the ground truth's shape space (same body-model kind);
   - silhouette IoU of the predicted body rendered into the image with the predicted camera against the
     ground-truth silhouette (datasets with silhouettes): "mIOU" is the mean of per-image IoUs (the
     paper's), "IoU (pooled)" is sum TP / sum (TP + FP + FN) over the dataset (the original's "overall IoU").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from evaluation.datasets import GENDER_NAMES, EvalDataset, ProxyInput
from evaluation.report import (
    EvalReport,
    SampleResult,
    TargetBodies,
    aggregate_metrics,
    body_metrics,
    in_report_units,
)
from models.bundle import BodyModelBundle, load_bundle
from predict.detectors.base import DetectorBackend
from predict.people import find_people
from predict.predictor import PredictionBatch, Predictor
from proxy.crop import crop_bilinear
from renderers import silhouette
from utils.errors import InputFileError
from utils.image_io import read_image_rgb
from utils.metrics import (
    PooledIoU,
    silhouette_iou,
)

DETECTOR_CROP_SIZE = 512  # a labelled person's box is resampled to this size before a detector sees it


# ----------------------------------------------------------------------------------------------- inputs


# Ground-truth silhouettes of a batch by image size: {(H, W): [(batch row, (H, W) bool mask)]}.
SilhouettesBySize = dict[tuple[int, int], list[tuple[int, np.ndarray]]]


class SampleInputError(InputFileError):
    """No input could be made for one sample (e.g. nobody detected); the run goes on."""


class InputSource(Protocol):
    """Sample index -> the person's silhouette and joints; raises an `InputFileError` (costs that sample)."""

    description: str

    def __call__(self, index: int) -> ProxyInput: ...


class DatasetInputs:
    """The benchmark's own silhouettes and joints (precomputed files or label arrays)."""

    description = "dataset silhouettes and joints"

    def __init__(self, dataset: EvalDataset):
        self.dataset = dataset

    def __call__(self, index: int) -> ProxyInput:
        return self.dataset.proxy_input(index)


class DetectorInputs:
    """A detector backend run on each sample's image, the most prominent person taken (`predict.people`:
    size x centrality x completeness, as run_predict.py chooses).

    Where a frame can show several people (3DPW), the detector sees the square box of the labelled person,
    resampled to 512 x 512, so that the person choice lands on that person; the silhouette and joints are
    then in the pixels of that crop (3D metrics do not depend on the frame the inputs are measured in).
    """

    def __init__(self, dataset: EvalDataset, detector: DetectorBackend, description: str):
        self.dataset = dataset
        self.detector = detector
        self.description = description

    def __call__(self, index: int) -> ProxyInput:
        path = self.dataset.image_paths[index]
        loaded = read_image_rgb(path)
        image = loaded.rgb
        if self.dataset.person_boxes is not None:
            box = torch.as_tensor(self.dataset.person_boxes[index : index + 1] * loaded.scale)
            pixels = torch.from_numpy(image).permute(2, 0, 1)[None].float()
            crop = crop_bilinear(pixels, box, DETECTOR_CROP_SIZE)[0].permute(1, 2, 0)
            image = crop.round().clamp(0, 255).to(torch.uint8).numpy()
        found = find_people(self.detector, image, path)
        if found.failure is not None:
            raise SampleInputError(found.failure)
        return ProxyInput(found.people[0].mask, found.people[0].keypoints)


# ------------------------------------------------------------------------------------------ predictions


@dataclass
class EvalBatch:
    """The samples of one step: dataset rows, their inputs, and their ground truth (for oracle sources).

    Attributes:
        indices: (B,) dataset rows.
        inputs: (B,) proxy inputs.
        poses: (B, 72) ground-truth axis-angle poses; betas: (B, 10); genders: (B,) codes 'm'/'f'/'n'.
        cam_trans: (B, 3) ground-truth camera translations, or None.
    """

    indices: list[int]
    inputs: list[ProxyInput]
    poses: Tensor
    betas: Tensor
    genders: list[str]
    cam_trans: Tensor | None


@dataclass
class PlacedBodies:
    """Predicted bodies of a batch, placed in the cameras of their inputs' images.

    Attributes:
        vertices: (B, V, 3) posed, body-model frame.
        lsp14: (B, 14, 3) LSP-14 joints, body-model frame.
        betas: (B, 10) in the shape space of the source's body model.
        cam_t: (B, 3) body-model frame -> camera frame of the input's image.
        focal_length: (B,) pixels; principal_point: (B, 2) pixels.
    """

    vertices: Tensor
    lsp14: Tensor
    betas: Tensor
    cam_t: Tensor
    focal_length: Tensor
    principal_point: Tensor


@dataclass
class SourcePrediction:
    """A source's output for a batch: the final bodies and, when the source refines the regressor's
    result, the regressor's own (evaluated as a second row of the report)."""

    final: PlacedBodies
    regressor: PlacedBodies | None = None


class PredictionSource(Protocol):
    """What the evaluation loop predicts with.

    Attributes:
        body_model: kind of the predicted meshes and betas ("open" or "smpl").
        faces: (F, 3) int64 faces of the predicted meshes (silhouette rendering).
        description: one line for the report.
    """

    body_model: str
    faces: Tensor
    description: str

    def predict(self, batch: EvalBatch) -> PlacedBodies | SourcePrediction: ...


class PredictorSource:
    """The real predictions: `Predictor.predict_proxy` on each batch's silhouettes and joints."""

    def __init__(self, predictor: Predictor, description: str = "predictor"):
        self.predictor = predictor
        self.body_model = predictor.bundle.kind
        self.faces = predictor.bundle.faces
        self.description = description

    def predict(self, batch: EvalBatch) -> SourcePrediction:
        out = self.predictor.predict_proxy(
            [item.silhouette for item in batch.inputs], np.stack([item.keypoints for item in batch.inputs])
        )
        return placed_bodies(out)


def placed_bodies(out: PredictionBatch) -> SourcePrediction:
    """A predictor batch's final bodies and, when it refined them, the regressor's own."""
    final = PlacedBodies(
        vertices=out.body_vertices,
        lsp14=out.lsp14,
        betas=out.betas,
        cam_t=out.cam_t,
        focal_length=out.focal_length,
        principal_point=out.principal_point,
    )
    if out.regressor is None:
        return SourcePrediction(final)
    regressor = PlacedBodies(
        vertices=out.regressor.body_vertices,
        lsp14=out.regressor.lsp14,
        betas=out.regressor.betas,
        cam_t=out.regressor.cam_t,
        focal_length=out.focal_length,
        principal_point=out.principal_point,
    )
    return SourcePrediction(final, regressor)


# ----------------------------------------------------------------------------------------- ground truth


class GroundTruthBodies:
    """The ground truth's body model in each gender, loaded on first use.

    Args:
        kind: "smpl" or "open".
        additional_dir: body-model assets folder (models.bundle.load_bundle).
        device: where the bodies are computed.
    """

    def __init__(
        self, kind: str, additional_dir: str | Path = "additional", device: torch.device | str = "cpu"
    ):
        self.kind = kind
        self.additional_dir = additional_dir
        self.device = torch.device(device)
        self._bundles: dict[str, BodyModelBundle] = {}

    def bundle(self, gender: str) -> BodyModelBundle:
        """The bundle of a gender code 'm', 'f' or 'n'."""
        if gender not in self._bundles:
            self._bundles[gender] = load_bundle(
                self.kind, GENDER_NAMES[gender], self.additional_dir, self.device
            )
        return self._bundles[gender]

    def require(self, genders: Iterable[str]) -> None:
        """Load the bundles of these gender codes now, so that a missing gendered model file stops the run
        before any sample is evaluated."""
        for gender in sorted(set(genders)):
            self.bundle(gender)

    def posed(self, poses: Tensor, betas: Tensor, genders: list[str]) -> TargetBodies:
        """Ground-truth bodies for poses (B, 72) and betas (B, 10)."""
        vertices, lsp14 = self._per_gender(
            genders, lambda b, rows: _posed(b, poses[rows].to(self.device), betas[rows].to(self.device))
        )
        return TargetBodies(vertices, lsp14, self.tpose(betas, genders))

    def tpose(self, betas: Tensor, genders: list[str]) -> Tensor:
        """(B, V, 3) T-pose vertices of betas (B, 10) through each sample's gendered model."""
        (vertices,) = self._per_gender(
            genders, lambda b, rows: (b.tpose_vertices(betas[rows].to(self.device)),)
        )
        return vertices

    def _per_gender(
        self, genders: list[str], compute: Callable[[BodyModelBundle, Tensor], tuple[Tensor, ...]]
    ) -> tuple[Tensor, ...]:
        """Run `compute(bundle, rows)` once per gender present and scatter the results back in order."""
        codes = np.asarray(genders)
        outputs: list[Tensor] | None = None
        for gender in sorted(set(genders)):
            rows = torch.from_numpy(np.flatnonzero(codes == gender))
            results = compute(self.bundle(gender), rows)
            if outputs is None:
                outputs = [r.new_empty((len(genders), *r.shape[1:])) for r in results]
            for out, result in zip(outputs, results, strict=True):
                out[rows.to(out.device)] = result
        assert outputs is not None  # genders is never empty: a batch holds at least one sample
        return tuple(outputs)


def _posed(bundle: BodyModelBundle, poses: Tensor, betas: Tensor) -> tuple[Tensor, Tensor]:
    body = bundle.forward_axis_angle(poses, betas)
    return body.vertices, body.lsp14


def render_prediction_silhouettes(
    prediction: PlacedBodies, faces: Tensor, image_hw: tuple[int, int]
) -> Tensor:
    """(B, H, W) bool silhouettes of the predicted bodies in their images' cameras (one image size)."""
    return silhouette(
        prediction.vertices + prediction.cam_t[:, None],
        faces.to(prediction.vertices.device),
        prediction.focal_length,
        prediction.principal_point,
        image_hw,
    )


# ------------------------------------------------------------------------------------------------ loop


@torch.no_grad()
def evaluate(
    dataset: EvalDataset,
    source: PredictionSource,
    inputs: InputSource,
    ground_truth: GroundTruthBodies,
    batch_size: int = 16,
    limit: int | None = None,
    settings: dict[str, Any] | None = None,
    progress: bool = True,
) -> EvalReport:
    """Evaluate the first `limit` samples (all if None) of a dataset.

    Returns:
        EvalReport; a metric that applies to no evaluated sample is left out of the aggregates.
    """
    start_time = time.perf_counter()
    count = len(dataset) if limit is None else min(limit, len(dataset))
    ground_truth.require(dataset.genders[:count].tolist())
    same_kind = source.body_model == dataset.body_model
    with_silhouettes = dataset.gt_silhouettes is not None
    results: dict[int, SampleResult] = {}
    pooled, pooled_regressor = PooledIoU(), PooledIoU()
    steps = range(0, count, batch_size)
    for first in tqdm(steps, desc=f"evaluating {dataset.name}", unit="batch", disable=not progress):
        batch = _load_batch(dataset, inputs, range(first, min(first + batch_size, count)), results)
        if batch is None:
            continue
        predicted = source.predict(batch)
        if isinstance(predicted, PlacedBodies):
            predicted = SourcePrediction(predicted)
        target = ground_truth.posed(batch.poses, batch.betas, batch.genders)
        silhouettes = _gt_silhouettes(dataset, batch) if with_silhouettes else None  # read once per batch
        values = _prediction_metrics(
            dataset, batch, predicted.final, target, silhouettes, ground_truth, source, pooled
        )
        regressor_values = None
        if predicted.regressor is not None:
            regressor_values = _prediction_metrics(
                dataset,
                batch,
                predicted.regressor,
                target,
                silhouettes,
                ground_truth,
                source,
                pooled_regressor,
            )
        for row, index in enumerate(batch.indices):
            metrics = {key: float(per_sample[row]) for key, per_sample in values.items()}
            result = SampleResult(dataset.sample_ids[index], "ok", metrics)
            if regressor_values is not None:
                result.regressor_metrics = {key: float(v[row]) for key, v in regressor_values.items()}
            results[index] = result

    samples = [results[i] for i in range(count)]
    aggregates = aggregate_metrics(samples)
    if with_silhouettes and pooled.num_images:
        aggregates["iou_pooled"] = pooled.compute()
    regressor_aggregates = None
    if any(s.regressor_metrics is not None for s in samples):
        regressor_aggregates = aggregate_metrics(samples, regressor=True)
        if with_silhouettes and pooled_regressor.num_images:
            regressor_aggregates["iou_pooled"] = pooled_regressor.compute()
    return EvalReport(
        dataset=dataset.name,
        data_dir=str(dataset.root),
        samples=samples,
        aggregates=aggregates,
        notes=_notes(dataset, source, same_kind),
        settings=dict(settings or {}),
        elapsed_s=time.perf_counter() - start_time,
        regressor_aggregates=regressor_aggregates,
    )


def _prediction_metrics(
    dataset: EvalDataset,
    batch: EvalBatch,
    prediction: PlacedBodies,
    target: TargetBodies,
    silhouettes: SilhouettesBySize | None,
    ground_truth: GroundTruthBodies,
    source: PredictionSource,
    pooled: PooledIoU,
) -> dict[str, list[float]]:
    """Per-sample metric values (mm for 3D, IoU) of one set of predicted bodies of a batch; `silhouettes`
    from `_gt_silhouettes` (None: the dataset has none, no IoU)."""
    prediction = map_prediction(prediction, lambda t: t.to(ground_truth.device).float())
    same_kind = source.body_model == dataset.body_model
    errors = body_metrics(
        prediction.lsp14,
        target,
        pred_vertices=prediction.vertices if same_kind else None,
        pred_tpose_vertices=ground_truth.tpose(prediction.betas, batch.genders) if same_kind else None,
    )
    values = in_report_units(errors)
    if silhouettes is not None:
        values["miou"] = _silhouette_ious(silhouettes, len(batch.indices), prediction, source.faces, pooled)
    return values


def _load_batch(
    dataset: EvalDataset, inputs: InputSource, indices: range, results: dict[int, SampleResult]
) -> EvalBatch | None:
    """Inputs of the batch's samples; those that fail are recorded in `results` and left out."""
    rows, loaded = [], []
    for index in indices:
        try:
            sample = inputs(index)
            if not np.asarray(sample.silhouette).any():  # the predictor needs a person pixel to crop around
                raise SampleInputError(f"The silhouette of sample {dataset.sample_ids[index]} is empty.")
        except InputFileError as error:  # costs this sample, not the run
            results[index] = SampleResult(dataset.sample_ids[index], "failed", reason=str(error))
        else:
            loaded.append(sample)
            rows.append(index)
    if not rows:
        return None
    return EvalBatch(
        indices=rows,
        inputs=loaded,
        poses=torch.from_numpy(dataset.poses[rows]),
        betas=torch.from_numpy(dataset.betas[rows]),
        genders=[str(dataset.genders[i]) for i in rows],
        cam_trans=torch.from_numpy(dataset.cam_trans[rows]) if dataset.cam_trans is not None else None,
    )


def _gt_silhouettes(dataset: EvalDataset, batch: EvalBatch) -> SilhouettesBySize:
    """The batch's readable ground-truth silhouettes measured in the frame of their inputs, by image size:
    {(H, W): [(batch row, (H, W) bool mask)]}."""
    by_size: SilhouettesBySize = {}
    for row, index in enumerate(batch.indices):
        try:
            target = dataset.gt_silhouette(index)
        except InputFileError:
            continue
        if target.shape == batch.inputs[row].silhouette.shape:
            by_size.setdefault((target.shape[0], target.shape[1]), []).append((row, target))
    return by_size


def _silhouette_ious(
    by_size: SilhouettesBySize,
    num_rows: int,
    prediction: PlacedBodies,
    faces: Tensor,
    pooled: PooledIoU,
) -> list[float]:
    """Per-row IoU of the rendered prediction with the ground-truth silhouettes of `_gt_silhouettes` (NaN
    where the ground-truth silhouette is unreadable or the input was measured in a frame of another size)."""
    ious = [math.nan] * num_rows
    for size, items in by_size.items():
        rows = [row for row, _ in items]
        selected = map_prediction(prediction, itemgetter(rows))
        rendered = render_prediction_silhouettes(selected, faces, size)
        targets = torch.from_numpy(np.stack([t for _, t in items])).to(rendered.device)
        pooled.update(rendered, targets)
        for row, iou in zip(rows, silhouette_iou(rendered, targets).tolist(), strict=True):
            ious[row] = iou
    return ious


def _notes(dataset: EvalDataset, source: PredictionSource, same_kind: bool) -> list[str]:
    notes = []
    if not same_kind:
        notes.append(
            f"predictions use the {source.body_model} body model and the ground truth the "
            f"{dataset.body_model} one: vertex metrics and PVE-T-SC need the same model and are left "
            "out; LSP-14 joint errors include the difference between the two models' joint definitions"
        )
    if dataset.gt_silhouettes is None:
        notes.append(f"the {dataset.name} dataset has no ground-truth silhouettes: no IoU")
    return notes


def map_prediction(prediction: PlacedBodies, function: Callable[[Tensor], Tensor]) -> PlacedBodies:
    """Every tensor of the bodies through `function` (a row selection, a move to another device)."""
    return PlacedBodies(**{f.name: function(getattr(prediction, f.name)) for f in fields(prediction)})
