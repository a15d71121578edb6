"""A contact sheet of the scene benchmark's hardest people: picture, overlay, side view, truth's side view.

    python run_evaluate.py --dataset scenes --out eval_scenes.json
    python -m tools.scene_sheet eval_scenes.json --out docs/scene_hardest.jpg [--count 8] [--per_case 1]

Takes the people found with the largest MPJPE in the evaluation's report (at most `--per_case` per case, so
the sheet shows different failures), runs the default pipeline on their pictures again, and draws one row
per person: the picture cropped around them, the fitted body over it, the fitted body turned 90 degrees, and
the true body turned alike, with the case and the errors written on the first cell.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from evaluation.scene_benchmark import DEFAULT_DIR, ensure_scene_benchmark
from evaluation.scene_cases import SceneBenchmarkConfig
from evaluation.scene_eval import match_people
from models.bundle import load_bundle
from predict.detectors import make_image_detector
from predict.people import find_people
from predict.predictor import Predictor
from predict.refine import RefineConfig
from predict.views import render_overlays, render_side_views
from utils.image_io import read_image_rgb
from utils.rotations import axis_angle_to_rotmat

CELL = 240  # side of every cell, pixels


@dataclass
class _Meshes:
    vertices: torch.Tensor  # (B, V, 3) camera frame
    faces: torch.Tensor  # (F, 3)


def hardest(report: dict, count: int, per_case: int, cases: list[str]) -> list[tuple[int, int, dict]]:
    """(picture index, person k, metrics) of the `count` found people with the largest MPJPE, at most
    `per_case` from one case; `cases[i]` is picture i's case."""
    found = [s for s in report["samples"] if s["status"] == "ok" and "mpjpe_pelvis" in s["metrics"]]
    found.sort(key=lambda s: -s["metrics"]["mpjpe_pelvis"])
    chosen: list[tuple[int, int, dict]] = []
    taken: dict[str, int] = {}
    for sample in found:
        picture, person = sample["id"].split("/")
        index = int(picture.rsplit("_", 1)[1])
        case = cases[index]
        if taken.get(case, 0) >= per_case:
            continue
        taken[case] = taken.get(case, 0) + 1
        chosen.append((index, int(person[1:]), sample["metrics"]))
        if len(chosen) == count:
            break
    return chosen


def _square(picture: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The picture (H, W, 3) cropped to a square around box [x0, y0, x1, y1] (1.2 times its long side,
    padded with grey beyond the picture) and scaled to CELL."""
    centre = (box[:2] + box[2:]) / 2
    half = 0.6 * max(box[2] - box[0], box[3] - box[1])
    x0, y0 = (centre - half).round().astype(int)
    side = max(1, int(round(2 * half)))
    canvas = np.full((side, side, 3), 128, np.uint8)
    height, width = picture.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, width), min(y0 + side, height)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = picture[sy0:sy1, sx0:sx1]
    return cv2.resize(canvas, (CELL, CELL), interpolation=cv2.INTER_AREA)


def main(argv: list[str] | None = None) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("report", type=Path, help="run_evaluate.py's JSON report of the scene benchmark")
    parser.add_argument("--data_dir", type=Path, default=None, help="the benchmark folder (the report's)")
    parser.add_argument("--out", type=Path, default=Path("docs/scene_hardest.jpg"))
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--per_case", type=int, default=1)
    args = parser.parse_args(argv)

    report = json.loads(args.report.read_text())
    benchmark = ensure_scene_benchmark(
        args.data_dir or Path(report.get("data_dir", DEFAULT_DIR)), SceneBenchmarkConfig()
    )
    cases = [str(case) for case in benchmark.cases]
    predictor = Predictor.from_checkpoint(device="cpu", refine=RefineConfig())
    bundle = load_bundle("open")
    rows = []
    with make_image_detector() as detector:
        for index, person, metrics in hardest(report, args.count, args.per_case, cases):
            rgb = read_image_rgb(benchmark.image_path(index)).rgb
            people = find_people(detector, rgb, tiles=True).people
            matched = match_people(
                [p.mask for p in people], benchmark.seen(index), len(benchmark.rows(index))
            )
            if person not in matched:
                continue
            detection = people[matched[person]]
            batch = predictor.predict_proxy(detection.mask[None], detection.keypoints[None])
            overlay, _ = render_overlays(batch, [rgb])[0]
            row = benchmark.rows(index)[person]
            pose = torch.from_numpy(benchmark.poses[row]).float().view(1, 24, 3)
            betas = torch.from_numpy(benchmark.betas[row]).float()[None]
            with torch.no_grad():
                truth = bundle(axis_angle_to_rotmat(pose), betas).vertices
            translation = torch.from_numpy(benchmark.cam_trans[row]).float()
            truth_view = render_side_views(_Meshes(truth + translation, bundle.faces), CELL)[0]
            fitted_view = render_side_views(batch, CELL)[0]
            scale = overlay.shape[1] / rgb.shape[1]
            cells = [
                _square(rgb, detection.box),
                _square(overlay, detection.box * scale),
                fitted_view,
                truth_view,
            ]
            label = f"{cases[index]}: {metrics['mpjpe_pelvis']:.0f} mm, {metrics['global_orient']:.0f} deg"
            first = np.ascontiguousarray(cells[0])
            cv2.putText(
                first, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 3, cv2.LINE_AA
            )
            cv2.putText(first, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
            cells[0] = first
            rows.append(np.concatenate(cells, axis=1))
    if not rows:
        raise SystemExit(f"{args.report} names no person that the pipeline finds again.")
    sheet = np.concatenate(rows, axis=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {args.out} ({len(rows)} people)")


if __name__ == "__main__":
    main()
