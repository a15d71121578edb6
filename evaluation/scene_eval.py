"""The scene benchmark's evaluation: the whole default pipeline, detector included, scored in 3D per case.

Per picture, as `run_predict.py --people all` runs it (predict/pipeline.py): the picture is read
(`read_image_rgb`), everybody is found (`predict.people.find_people` with the run's detector, retries
included) and ordered by prominence, and all of them are reconstructed in one `Predictor.predict_proxy`
call (refinement as configured).

Matching: a found person is matched to the true person whose seen pixels (coat included; the picture's
label map) overlap its detected silhouette most, by IoU, greedily from the best pair down, pairs below
`MATCH_IOU` left unmatched. Scored people ("samples"): everyone at least `MIN_VISIBLE` visible (visible
fraction, evaluation/scene_render.py) and every picture's main person. Per scored person:
- recall: 1 if matched, else 0 (the person is then "missed" and has no other metric);
- main person (the picture's main person only): 1 if the pipeline's first person is matched to it;
- for a matched person, its predicted body against the truth (`evaluation.report.body_metrics`): MPJPE
  (pelvis-aligned), MPJPE-SC, PA-MPJPE, PVE (-SC, -PA), PVE-T-SC, global orientation error, build error,
  and the IoU ("mIOU") of the predicted body rendered with the predicted camera against the true body's
  whole silhouette in the picture;
for the refined bodies and, when refinement ran, the regressor's own (recall and main person are the
pipeline's and the same in both). Aggregates are means over the scored people that have a value, overall
and per case (`Subset`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from evaluation.loop import (
    GroundTruthBodies,
    PlacedBodies,
    map_prediction,
    placed_bodies,
    render_prediction_silhouettes,
)
from evaluation.report import (
    EvalReport,
    SampleResult,
    Subset,
    aggregate_metrics,
    body_metrics,
    in_report_units,
)
from evaluation.scene_benchmark import SceneBenchmark
from evaluation.scene_cases import CASES
from predict.detectors.base import DetectorBackend, ImageDetectionError, PersonDetection
from predict.people import DEFAULT_MAX_PEOPLE, find_people
from predict.predictor import Predictor
from utils.image_io import read_image_rgb
from utils.metrics import silhouette_iou
from utils.rotations import axis_angle_to_rotmat

MATCH_IOU = 0.5  # a detection and a true person overlapping less are no match (COCO's usual threshold)
MIN_VISIBLE = 0.5  # people less visible than this are not counted as missed when not found


def match_people(detected: list[np.ndarray], seen: np.ndarray, count: int) -> dict[int, int]:
    """{true person k: detection index} from detected masks (H, W) bool and the label map (H, W) uint8
    (k + 1 where person k is seen) of `count` people; greedy by IoU, at least MATCH_IOU."""
    pairs = []
    for j, mask in enumerate(detected):
        for k in range(count):
            truth = seen == k + 1
            union = int((mask | truth).sum())
            iou = int((mask & truth).sum()) / union if union else 0.0
            if iou >= MATCH_IOU:
                pairs.append((iou, k, j))
    matched: dict[int, int] = {}
    for _, k, j in sorted(pairs, reverse=True):
        if k not in matched and j not in matched.values():
            matched[k] = j
    return matched


@torch.no_grad()
def evaluate_scenes(
    benchmark: SceneBenchmark,
    predictor: Predictor,
    detector: DetectorBackend,
    ground_truth: GroundTruthBodies,
    max_people: int = DEFAULT_MAX_PEOPLE,
    limit: int | None = None,
    settings: dict[str, Any] | None = None,
    progress: bool = True,
) -> EvalReport:
    """Run the pipeline on the first `limit` pictures (all if None) and score it (module docstring)."""
    start_time = time.perf_counter()
    count = len(benchmark) if limit is None else min(limit, len(benchmark))
    samples: list[SampleResult] = []
    cases: list[str] = []
    for index in tqdm(range(count), desc="evaluating scenes", unit="picture", disable=not progress):
        picture = _evaluate_picture(benchmark, index, predictor, detector, ground_truth, max_people)
        samples.extend(picture)
        cases.extend([str(benchmark.cases[index])] * len(picture))
    aggregates = aggregate_metrics(samples)
    regressor = any(s.regressor_metrics is not None for s in samples)
    subsets = [
        Subset.of(case, CASES[case], [s for s, c in zip(samples, cases, strict=True) if c == case])
        for case in dict.fromkeys(cases)
    ]
    return EvalReport(
        dataset="scenes",
        data_dir=str(benchmark.root),
        samples=samples,
        aggregates=aggregates,
        notes=[
            f"samples are people at least {MIN_VISIBLE:.0%} visible and every picture's main person, "
            f"found when a detection overlaps their seen pixels with IoU >= {MATCH_IOU}; 3D metrics, "
            "orientation, build and IoU over the people found"
        ],
        settings=dict(settings or {}),
        elapsed_s=time.perf_counter() - start_time,
        regressor_aggregates=aggregate_metrics(samples, regressor=True) if regressor else None,
        subsets=subsets,
    )


def _evaluate_picture(
    benchmark: SceneBenchmark,
    index: int,
    predictor: Predictor,
    detector: DetectorBackend,
    ground_truth: GroundTruthBodies,
    max_people: int,
) -> list[SampleResult]:
    """The scored people of one picture, person order."""
    path = benchmark.image_path(index)
    loaded = read_image_rgb(path)
    try:
        people = find_people(detector, loaded.rgb, path, max_people, tiles=True).people
    except ImageDetectionError:  # the pipeline reports no person for this picture: everybody is missed
        people = []
    rows = benchmark.rows(index)
    main = int(benchmark.main[index])
    scored = [k for k in range(len(rows)) if benchmark.visible_fraction[rows[k]] >= MIN_VISIBLE or k == main]
    matched = match_people([p.mask for p in people], benchmark.seen(index), len(rows))
    found = [k for k in scored if k in matched]
    by_person: dict[int, tuple[dict[str, float], dict[str, float] | None]] = {}
    if found:
        values, regressor_values = _body_values(
            benchmark, index, found, matched, people, loaded.original_hw, predictor, ground_truth
        )
        for n, k in enumerate(found):
            by_person[k] = (values[n], regressor_values[n] if regressor_values is not None else None)

    stem = path.stem
    results = []
    for k in scored:
        pipeline = {"recall": float(k in matched)}
        if k == main:
            pipeline["main_person"] = float(bool(people) and matched.get(k) == 0)
        if k not in by_person:
            result = SampleResult(f"{stem}/p{k}", "missed", dict(pipeline), reason="not found")
            result.regressor_metrics = dict(pipeline) if predictor.refiner is not None else None
            results.append(result)
            continue
        final, regressor = by_person[k]
        result = SampleResult(f"{stem}/p{k}", "ok", {**pipeline, **final})
        if regressor is not None:
            result.regressor_metrics = {**pipeline, **regressor}
        results.append(result)
    return results


def _body_values(
    benchmark: SceneBenchmark,
    index: int,
    found: list[int],
    matched: dict[int, int],
    people: list[PersonDetection],
    image_hw: tuple[int, int],
    predictor: Predictor,
    ground_truth: GroundTruthBodies,
) -> tuple[list[dict[str, float]], list[dict[str, float]] | None]:
    """Per found person (true index in `found`), the metric values of its matched prediction in the
    picture of `image_hw` (H, W): refined, and the regressor's own when refinement ran."""
    out = predictor.predict_proxy(
        [p.mask for p in people], np.stack([p.keypoints for p in people]), [image_hw] * len(people)
    )
    chosen = torch.tensor([matched[k] for k in found], device=out.cam_t.device)
    rows = [benchmark.rows(index)[k] for k in found]
    poses, betas = torch.from_numpy(benchmark.poses[rows]), torch.from_numpy(benchmark.betas[rows])
    genders = ["n"] * len(found)
    target = ground_truth.posed(poses, betas, genders)
    target.root_rotmat = axis_angle_to_rotmat(poses[:, :3]).to(ground_truth.device)
    silhouettes = torch.from_numpy(np.stack([benchmark.silhouette(index, k) for k in found]))
    faces = ground_truth.bundle("n").faces
    prediction = placed_bodies(out)
    roots = out.pose_rotmats[:, 0]

    def values(bodies: PlacedBodies, root: Tensor) -> list[dict[str, float]]:
        picked = map_prediction(bodies, lambda t: t[chosen].float())
        errors = body_metrics(
            picked.lsp14,
            target,
            pred_vertices=picked.vertices,
            pred_tpose_vertices=ground_truth.tpose(picked.betas, genders),
            pred_root_rotmat=root[chosen].float(),
            faces=faces,
        )
        table = in_report_units(errors)
        rendered = render_prediction_silhouettes(picked, predictor.bundle.faces, image_hw)
        table["miou"] = silhouette_iou(rendered, silhouettes.to(rendered.device)).tolist()
        return [{key: float(v[row]) for key, v in table.items()} for row in range(len(found))]

    final = values(prediction.final, roots)
    if prediction.regressor is None or out.regressor is None:
        return final, None
    return final, values(prediction.regressor, out.regressor.pose_rotmats[:, 0])
