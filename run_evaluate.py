"""Evaluate a checkpoint on SSP-3D, 3DPW or our synthetic benchmark: a metrics table and a JSON report.

    python run_evaluate.py --dataset ssp3d --data_dir DIR [--checkpoint PATH] [--body_model open|smpl]
        [--silh_from ... --joints_from ...] [--device auto|cpu|cuda] [--limit N] [--out results.json]
    python run_evaluate.py --dataset scenes [--num_samples N] [--scene_cases front,group,...]

The scene benchmark runs the whole pipeline of `run_predict.py --people all` (detector, people search,
predictor) on rendered photographs and reports per case (evaluation/scene_eval.py).

Exit codes: 0 after a completed run (samples that could not be evaluated are listed in the report),
2 for usage errors, 1 for missing or unusable files (dataset, checkpoint, body model, detector).
See evaluation/loop.py for the metrics and evaluation/datasets.py for the dataset layouts.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from evaluation.datasets import EvalDataset, read_dataset, require_precomputed_inputs
from evaluation.loop import (
    DatasetInputs,
    DetectorInputs,
    GroundTruthBodies,
    InputSource,
    PredictorSource,
    evaluate,
)
from evaluation.report import EvalReport, format_table, write_report_json
from evaluation.scene_benchmark import DEFAULT_DIR as SCENES_DIR
from evaluation.scene_benchmark import ensure_scene_benchmark
from evaluation.scene_cases import CASES, DEFAULT_CASES, SceneBenchmarkConfig
from evaluation.scene_eval import evaluate_scenes
from evaluation.synthetic import (
    DEFAULT_DIR,
    SyntheticBenchmarkConfig,
    ensure_synthetic_benchmark,
)
from models.bundle import GENDERS, KINDS
from predict.detectors import (
    DEFAULT_JOINT_CONFIDENCE_THRESHOLD,
    JOINT_SOURCES,
    KEYPOINT_RCNN_JOINT_THRESHOLD,
    SILHOUETTE_SOURCES,
    joint_threshold,
    make_detector,
    make_image_detector,
)
from predict.detectors.factory import JOINTS_FOR_SILHOUETTES
from predict.people import DEFAULT_MAX_PEOPLE
from predict.predictor import DEFAULT_CHECKPOINT, Predictor
from predict.refine import RefineConfig
from utils.errors import StrapsError, UsageError, exit_code
from utils.runtime import resolve_device

DATASETS = ("ssp3d", "3dpw", "synthetic", "scenes")
GENERATED = ("synthetic", "scenes")  # made on first use, no --data_dir needed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="benchmark to evaluate on")
    parser.add_argument(
        "--data_dir",
        type=Path,
        help="dataset folder (required for ssp3d and 3dpw); synthetic and scenes: generated here on first "
        f"use, default {DEFAULT_DIR.relative_to(DEFAULT_DIR.parents[2])} and "
        f"{SCENES_DIR.relative_to(SCENES_DIR.parents[2])}",
    )
    parser.add_argument(
        "--checkpoint", type=Path, help=f"regressor checkpoint (default: {DEFAULT_CHECKPOINT})"
    )
    parser.add_argument(
        "--body_model", choices=KINDS, help="predictions' body model (default: the checkpoint's)"
    )
    parser.add_argument("--gender", choices=GENDERS, help="predictions' model gender (default: neutral)")
    parser.add_argument("--additional_dir", default="additional", help="body-model assets folder")
    parser.add_argument(
        "--silh_from",
        choices=SILHOUETTE_SOURCES,
        help="silhouette source: precomputed = the dataset's own (default) or a detector (scenes: a "
        "detector, default mediapipe)",
    )
    parser.add_argument(
        "--joints_from",
        choices=JOINT_SOURCES,
        help="joint source: precomputed = the dataset's own (default) or a detector (scenes: a detector, "
        "default mediapipe)",
    )
    parser.add_argument(
        "--joint_threshold",
        type=float,
        default=None,
        help="joints below this confidence get no heatmap; 0 draws all, as the original (default: "
        f"{KEYPOINT_RCNN_JOINT_THRESHOLD} for keypointrcnn joints, "
        f"else {DEFAULT_JOINT_CONFIDENCE_THRESHOLD})",
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    parser.add_argument("--batch_size", type=int, default=16, help="samples per step")
    parser.add_argument(
        "--refine_steps",
        type=int,
        default=RefineConfig.steps,
        help="steps of the fit after the regressor; the report then shows the regressor alone (the paper's "
        "protocol) and the refined result side by side; 0: the regressor alone (default: %(default)s)",
    )
    parser.add_argument("--limit", type=int, help="evaluate only the first N samples")
    parser.add_argument(
        "--num_samples",
        type=int,
        help="benchmark size when it is generated (default: synthetic "
        f"{SyntheticBenchmarkConfig.num_samples} samples, scenes {SceneBenchmarkConfig.num_pictures} "
        "pictures)",
    )
    parser.add_argument(
        "--scene_cases",
        default=",".join(DEFAULT_CASES),
        help="scenes: the comma-separated cases the pictures take in turn, of: "
        + ", ".join(CASES)
        + " (default: %(default)s)",
    )
    parser.add_argument(
        "--max_people",
        type=int,
        default=DEFAULT_MAX_PEOPLE,
        help="scenes: at most this many people found per picture, as run_predict (default: %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, help="JSON report (default: <checkpoint dir, or cwd>/eval_<dataset>.json)"
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="with --silh_from mediapipe: let mediapipe's and TensorFlow Lite's INFO and WARNING lines "
        "through to stderr (default: hidden)",
    )
    args = parser.parse_args(argv)
    if args.dataset not in GENERATED and args.data_dir is None:
        parser.error(f"--data_dir is required for --dataset {args.dataset}")
    source = "mediapipe" if args.dataset == "scenes" else "precomputed"
    args.silh_from = args.silh_from or source
    args.joints_from = args.joints_from or JOINTS_FOR_SILHOUETTES[args.silh_from]
    if args.dataset == "scenes" and "precomputed" in (args.silh_from, args.joints_from):
        parser.error(
            "--dataset scenes scores the pipeline with its detector: choose a detector, not precomputed"
        )
    unknown = [name for name in args.scene_cases.split(",") if name not in CASES]
    if unknown:
        parser.error(f"unknown --scene_cases {', '.join(unknown)}; known: {', '.join(CASES)}")
    if args.refine_steps < 0:
        parser.error("--refine_steps must be 0 or more")
    for name in ("batch_size", "limit", "num_samples", "max_people"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive integer")
    return args


def run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    args.joint_threshold = joint_threshold(args.joint_threshold, args.joints_from)
    # A benchmark on disk is checked before the model loads; generated ones are made for the model's kind.
    dataset = read_dataset(args.dataset, args.data_dir) if args.dataset not in GENERATED else None
    checkpoint = args.checkpoint or DEFAULT_CHECKPOINT
    predictor = Predictor.from_checkpoint(
        checkpoint,
        body_model=args.body_model,
        gender=args.gender,
        additional_dir=args.additional_dir,
        device=device,
        joint_confidence_threshold=args.joint_threshold,
        fit_scores=False,
        refine=RefineConfig(steps=args.refine_steps),
    )
    kind = predictor.bundle.kind
    settings = {
        "checkpoint": str(checkpoint),
        "body_model": kind,
        "gender": predictor.bundle.gender,
        "joint_threshold": args.joint_threshold,
        "refine_steps": args.refine_steps,
        "device": str(device),
        "limit": args.limit,
    }
    if args.dataset == "scenes":
        report = _evaluate_scenes(args, predictor, settings)
    else:
        report = _evaluate_dataset(args, predictor, dataset, settings)
    print(format_table(report))
    out = (
        args.out or (args.checkpoint.parent if args.checkpoint else Path.cwd()) / f"eval_{args.dataset}.json"
    )
    print(f"report: {write_report_json(report, out)}")
    return 0


def _evaluate_scenes(args: argparse.Namespace, predictor: Predictor, settings: dict) -> EvalReport:
    """The scene benchmark (generated on first use) through the detector and the predictor."""
    if predictor.bundle.kind != "open":
        raise UsageError(
            "The scene benchmark's ground truth uses the open body model; evaluate an open-body checkpoint."
        )
    config = SceneBenchmarkConfig(
        num_pictures=args.num_samples or SceneBenchmarkConfig.num_pictures,
        cases=tuple(args.scene_cases.split(",")),
    )
    benchmark = ensure_scene_benchmark(args.data_dir or SCENES_DIR, config, args.additional_dir)
    settings.update(
        inputs=f"{args.silh_from} silhouettes, {args.joints_from} joints, with retries, every person",
        max_people=args.max_people,
        num_pictures=config.num_pictures,
        cases=list(config.cases),
    )
    with make_image_detector(args.silh_from, args.joints_from) as detector:
        return evaluate_scenes(
            benchmark,
            predictor,
            detector,
            GroundTruthBodies("open", args.additional_dir, predictor.device),
            max_people=args.max_people,
            limit=args.limit,
            settings=settings,
        )


def _evaluate_dataset(
    args: argparse.Namespace, predictor: Predictor, dataset: EvalDataset | None, settings: dict
) -> EvalReport:
    """SSP-3D, 3DPW or the synthetic benchmark (generated on first use) through the evaluation loop."""
    device = predictor.device
    kind = predictor.bundle.kind
    if dataset is None:
        config = SyntheticBenchmarkConfig(
            num_samples=args.num_samples or SyntheticBenchmarkConfig.num_samples, body_model=kind
        )
        default_dir = DEFAULT_DIR if kind == "open" else DEFAULT_DIR.with_name(f"{DEFAULT_DIR.name}_{kind}")
        data_dir = ensure_synthetic_benchmark(
            args.data_dir or default_dir, config, args.additional_dir, device
        )
        dataset = read_dataset(args.dataset, data_dir)

    inputs: InputSource
    with contextlib.ExitStack() as stack:
        if args.silh_from == args.joints_from == "precomputed":
            require_precomputed_inputs(dataset, args.limit or len(dataset))
            inputs = DatasetInputs(dataset)
        else:
            options = {"native_logs": args.verbose} if args.silh_from == "mediapipe" else {}
            detector = stack.enter_context(make_detector(args.silh_from, args.joints_from, **options))
            sources = f"{args.silh_from} silhouettes, {args.joints_from} joints"
            inputs = DetectorInputs(dataset, detector, sources)
        settings.update(
            ground_truth_body_model=dataset.body_model,
            inputs=inputs.description,
            batch_size=args.batch_size,
        )
        report = evaluate(
            dataset,
            PredictorSource(predictor),
            inputs,
            GroundTruthBodies(dataset.body_model, args.additional_dir, device),
            batch_size=args.batch_size,
            limit=args.limit,
            settings=settings,
        )
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except StrapsError as error:  # usage errors exit 2, missing or damaged assets 1 (utils/errors.py)
        print(f"error: {error}", file=sys.stderr)
        return exit_code(error)


if __name__ == "__main__":
    sys.exit(main())
