"""3D body shape and pose for the main person of every image: `python run_predict.py --input PATH`.

Writes per image `<stem>.npz` (SMPL-format parameters, camera, mesh), `<stem>.obj`, overlay / side / T-pose
pictures and the proxy representation the network saw, its line in `records.jsonl` as soon as it is done, and
one `summary.json` describing the output folder (predict/outputs.py and predict/run_records.py list the
contents); `--skip_existing` resumes a killed run. Exit status: 0 when the run completed (even if some
images had no person or could not be read: the summary says which and why), 2 for usage errors (an output
folder that cannot be written, or that another run is writing into, among them), 1 for missing or unusable
assets (checkpoint, body model, detector); errors are one sentence on stderr.

The original's command line keeps working where detectron2 and the SMPL files are installed:
    python run_predict.py --input ./demo --checkpoint checkpoints/straps_model_checkpoint.tar \
        --silh_from pointrend
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from models.bundle import GENDERS, KINDS
from models.checkpoint import CheckpointError
from predict.detectors import (
    DEFAULT_JOINT_CONFIDENCE_THRESHOLD,
    JOINT_SOURCES,
    KEYPOINT_RCNN_JOINT_THRESHOLD,
    SILHOUETTE_SOURCES,
    joint_source,
    joint_threshold,
    make_detector,
    make_image_detector,
)
from predict.exports import EXPORT_FORMATS, parse_export_formats
from predict.outputs import OUTPUT_KINDS, OutputOptions
from predict.people import DEFAULT_MAX_PEOPLE, PEOPLE_MODES
from predict.pipeline import (
    RunOptions,
    check_output_dir,
    default_output_dir,
    input_root,
    predict_files,
)
from predict.predictor import DEFAULT_CHECKPOINT, Predictor
from predict.refine import RefineConfig
from predict.run_records import OutputFolder
from predict.video import DEFAULT_FOLDER_FPS, VideoOptions, is_video_file
from utils.errors import StrapsError, UsageError, exit_code
from utils.image_io import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, InputPathError, list_images
from utils.runtime import here_or_in_repo, resolve_device

_OUTPUT_HELP = {
    "npz": "<stem>.npz: pose, betas, camera, crop box, posed and T-pose vertices, faces, 2D joints",
    "obj": "<stem>.obj: the posed mesh in the image's camera frame",
    "overlay": "<stem>_overlay.png: the mesh over the whole image",
    "side": "<stem>_side.png: the mesh turned 90 degrees, on a plain background",
    "tpose": "<stem>_tpose.png: the body shape in the zero pose",
    "proxy": "<stem>_proxy.png: silhouette and joint heatmaps as the network saw them",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Predict 3D body shape and pose (SMPL-format) for the main person of each image.",
    )
    parser.add_argument(
        "--input", required=True, help="an image, a folder of images, or a glob such as 'a/*.jpg'"
    )
    parser.add_argument(
        "--recursive", action="store_true", help="also take images in sub-folders of a folder"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="output folder (default: <input name>_straps_output beside the input; never inside the input)",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=DEFAULT_CHECKPOINT,
        help="regressor checkpoint, ours or the original .tar (default: %(default)s)",
    )
    parser.add_argument(
        "--allow_unsafe_checkpoint",
        action="store_true",
        help="load a checkpoint that holds Python objects besides tensors (only for files you trust)",
    )
    parser.add_argument(
        "--body_model",
        choices=KINDS,
        default=None,
        help="body model (default: the checkpoint's; smpl for the original .tar)",
    )
    parser.add_argument(
        "--gender",
        choices=GENDERS,
        default=None,
        help="body model gender (default: the checkpoint's, else neutral)",
    )
    parser.add_argument(
        "--additional_dir", default="additional", help="folder of the body model files (default: %(default)s)"
    )
    parser.add_argument(
        "--silh_from",
        choices=SILHOUETTE_SOURCES,
        default="mediapipe",
        help="silhouette source (default: %(default)s)",
    )
    parser.add_argument(
        "--joints_from",
        choices=JOINT_SOURCES,
        default=None,
        help="2D joint source (default: the one that pairs with --silh_from)",
    )
    parser.add_argument(
        "--mask_dir", type=Path, default=None, help="precomputed: folder of <stem>.png silhouette masks"
    )
    parser.add_argument(
        "--keypoints_dir",
        type=Path,
        default=None,
        help="precomputed: folder of <stem>.npy/.json keypoints (default: --mask_dir)",
    )
    parser.add_argument(
        "--joint_threshold",
        type=float,
        default=None,
        help="joints below this confidence get no heatmap; 0 keeps all (original) (default: "
        f"{KEYPOINT_RCNN_JOINT_THRESHOLD} for keypointrcnn joints, whose scores are spatial-softmax "
        f"probabilities, else {DEFAULT_JOINT_CONFIDENCE_THRESHOLD})",
    )
    parser.add_argument(
        "--detector_weights_dir",
        type=Path,
        default=Path("checkpoints"),
        help="keypointrcnn: folder of the detectron2 weights, looked for here, then in the repository "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--silhouette_weights",
        type=Path,
        default=None,
        help="pointrend/densepose weights file (default: the original's file name in --detector_weights_dir)",
    )
    parser.add_argument(
        "--keypoint_weights",
        type=Path,
        default=None,
        help="Keypoint R-CNN weights file (default: keypoint_rcnn_R_50_FPN_3x.pkl in --detector_weights_dir, "
        "else detectron2's download cache, else downloaded)",
    )
    parser.add_argument(
        "--refine_steps",
        type=int,
        default=RefineConfig.steps,
        help="steps of the fit that pulls each body onto its silhouette and joints after the regressor; "
        "0 gives the regressor's result as it is, the original's behaviour (default: %(default)s)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="auto (CUDA when available), cpu, cuda or cuda:N (default: %(default)s)",
    )
    parser.add_argument(
        "--gpu", default=None, help="the original's option: CUDA device index, same as --device cuda:N"
    )
    parser.add_argument(
        "--batch_size",
        type=int,
        default=8,
        help="images per regressor and rendering batch (default: %(default)s)",
    )
    parser.add_argument(
        "--max_side",
        type=int,
        default=DEFAULT_MAX_SIDE,
        help="images are downscaled to this long side on reading (default: %(default)s)",
    )
    parser.add_argument(
        "--max_pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help="images of more pixels are refused before decoding (JPEGs decoded at 1/2 to 1/8 size where that "
        "fits) (default: %(default)s)",
    )
    parser.add_argument(
        "--skip_existing",
        action="store_true",
        help="do not redo images recorded as done in the output folder with all their files present",
    )
    parser.add_argument(
        "--overlay_max_side",
        type=int,
        default=1600,
        help="long side of the overlay pictures at most (default: %(default)s)",
    )
    parser.add_argument(
        "--view_size",
        type=int,
        default=OutputOptions.view_size,
        help="side of the side and T-pose pictures (default: %(default)s)",
    )
    for kind in OUTPUT_KINDS:
        parser.add_argument(
            f"--{kind}",
            action=argparse.BooleanOptionalAction,
            default=True,
            help=f"{_OUTPUT_HELP[kind]} (default: on)",
        )
    parser.add_argument(
        "--export",
        default="",
        help=f"extra formats, a comma list of {', '.join(EXPORT_FORMATS)}: <stem>.glb rigged glTF 2.0 (mesh, "
        "skeleton, skinning, pose, camera) for Blender, game engines and the web; <stem>.bvh skeleton and "
        "joint rotations for animation tools (default: none)",
    )
    parser.add_argument(
        "--people",
        choices=PEOPLE_MODES,
        default="main",
        help="main: the most prominent person (large, central, complete); all: everybody, with per-person "
        "outputs <stem>_p0.npz, ... and one overlay (default: %(default)s)",
    )
    parser.add_argument(
        "--max_people",
        type=int,
        default=DEFAULT_MAX_PEOPLE,
        help="at most this many people per picture or frame (default: %(default)s)",
    )
    parser.add_argument(
        "--retry",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="when the detector finds nobody, retry on the picture padded to a square, at a lower threshold "
        "and on crops (default: on)",
    )
    parser.add_argument(
        "--video",
        action="store_true",
        help="--input is a folder of frames of one video (a video file such as clip.mp4 needs no flag)",
    )
    parser.add_argument(
        "--fps",
        type=float,
        default=DEFAULT_FOLDER_FPS,
        help="frame rate of a folder of frames (default: %(default)s)",
    )
    parser.add_argument(
        "--smooth", action="store_true", help="videos: One-Euro smoothing of pose and camera over time"
    )
    parser.add_argument(
        "--per_frame_shape",
        action="store_true",
        help="videos: a body shape per frame instead of one per person per clip",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="let the detector's native libraries (mediapipe, TensorFlow Lite) log their INFO and WARNING "
        "lines to stderr (default: hidden)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except StrapsError as error:  # usage errors exit 2, missing or damaged assets 1 (utils/errors.py)
        print(f"error: {error}", file=sys.stderr)
        return exit_code(error)


def run(args: argparse.Namespace) -> int:
    """Check the command line, build the predictor and detector, predict every image."""
    if args.batch_size < 1:
        raise UsageError(f"--batch_size must be at least 1, got {args.batch_size}.")
    if args.refine_steps < 0:
        raise UsageError(f"--refine_steps must be 0 or more, got {args.refine_steps}.")
    if min(args.overlay_max_side, args.max_side, args.view_size) < 16:
        raise UsageError("--max_side, --overlay_max_side and --view_size must be at least 16 pixels.")
    if args.joint_threshold is not None and not 0.0 <= args.joint_threshold <= 1.0:
        raise UsageError(f"--joint_threshold must lie in [0, 1], got {args.joint_threshold}.")
    if args.max_pixels < 256:
        raise UsageError(f"--max_pixels must be at least 256, got {args.max_pixels}.")
    if args.max_people < 1 or args.fps <= 0:
        raise UsageError("--max_people must be at least 1 and --fps positive.")
    if args.video or is_video_file(args.input):
        return run_video(args)
    paths = list_images(args.input, recursive=args.recursive)
    output_dir = args.output if args.output is not None else default_output_dir(args.input)
    check_output_dir(output_dir, args.input)
    resolved_output = output_dir.resolve()
    # Earlier outputs are no inputs (realpath, unlike resolve, takes symbolic link loops without raising).
    paths = [path for path in paths if not Path(os.path.realpath(path)).is_relative_to(resolved_output)]
    if not paths:
        raise UsageError(
            f"No image files found at {args.input} (looked for .jpg, .jpeg, .png, .bmp, .tif, .tiff, .webp"
            f"{'' if args.recursive else '; add --recursive for sub-folders'})."
        )
    exports = parse_export_formats(args.export)
    device = resolve_device(f"cuda:{args.gpu}" if args.gpu is not None else args.device)
    joints_from = joint_source(args.silh_from, args.joints_from)
    detector_options = _detector_options(args, joints_from, device)
    args.joint_threshold = joint_threshold(args.joint_threshold, joints_from)
    # The output folder is created, checked writable and locked before any model loads.
    with (
        OutputFolder(output_dir) as folder,
        _build_detector(args, joints_from, detector_options) as detector,
    ):
        predictor = _build_predictor(args, device)
        outputs = OutputOptions(
            **{kind: getattr(args, kind) for kind in OUTPUT_KINDS},
            overlay_max_side=args.overlay_max_side,
            view_size=args.view_size,
            exports=exports,
        )
        run_info = {
            "input": str(args.input),
            "checkpoint": str(args.checkpoint),
            "body_model": predictor.bundle.kind,
            "gender": predictor.bundle.gender,
            "device": str(device),
            "detector": f"{args.silh_from}+{joints_from}",
            "joint_confidence_threshold": args.joint_threshold,
            "refine_steps": args.refine_steps,
            "precision": predictor.precision.label,
            "batch_size": args.batch_size,
            "outputs": list(outputs.kinds),
            "exports": list(exports),
        }
        run_info.update(people=args.people, retry=args.retry)
        options = RunOptions(
            outputs=outputs,
            batch_size=args.batch_size,
            max_side=args.max_side,
            max_pixels=args.max_pixels,
            skip_existing=args.skip_existing,
            progress=not args.quiet,
            people=args.people,
            max_people=args.max_people,
        )
        input_folder = input_root(args.input) if not Path(args.input).is_file() else None
        summary = predict_files(paths, predictor, detector, folder, input_folder, options, run_info)
    counts = summary["this_run"]
    skipped = f", {counts['n_skipped']} already done" if counts["n_skipped"] else ""
    print(
        f"{counts['n_ok']} of {counts['n_images']} images done ({counts['n_failed']} failed{skipped}, see "
        f"summary.json) in {counts['total_time_s']:.1f} s; outputs in {output_dir}"
    )
    for error in counts["write_errors"]:
        print(f"warning: {error}", file=sys.stderr)
    return 0


def run_video(args: argparse.Namespace) -> int:
    """One video (a file, or a folder of frames with --video): track, regress, smooth, write."""
    from predict.video import FrameSource, VideoReadError, predict_video, write_video_summary

    source_path = Path(args.input)
    if not source_path.exists():
        raise InputPathError(f"Input {source_path} does not exist.")
    if args.video and not source_path.is_dir():
        raise UsageError(f"--video expects a folder of frames; {source_path} is not a folder.")
    output_dir = args.output if args.output is not None else default_output_dir(source_path)
    check_output_dir(output_dir, source_path)
    device = resolve_device(f"cuda:{args.gpu}" if args.gpu is not None else args.device)
    joints_from = joint_source(args.silh_from, args.joints_from)
    detector_options = _detector_options(args, joints_from, device)
    args.joint_threshold = joint_threshold(args.joint_threshold, joints_from)
    if args.silh_from == "mediapipe" and args.people == "main":
        detector_options["tracking"] = True  # follow the person from frame to frame
    options = VideoOptions(
        people=args.people,
        smooth=args.smooth,
        per_frame_shape=args.per_frame_shape,
        batch_size=args.batch_size,
        max_people=args.max_people,
        fps=args.fps,
        npz=args.npz,
        overlay=args.overlay,
        side=args.side,
        overlay_max_side=args.overlay_max_side,
        view_size=args.view_size,
        progress=not args.quiet,
    )
    run_info = {
        "input": str(args.input),
        "checkpoint": str(args.checkpoint),
        "device": str(device),
        "detector": f"{args.silh_from}+{joints_from}",
        "people": args.people,
        "smooth": args.smooth,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    with make_detector(args.silh_from, joints_from, **detector_options) as detector:
        predictor = _build_predictor(args, device)
        run_info.update(body_model=predictor.bundle.kind, gender=predictor.bundle.gender)
        try:
            source = FrameSource.open(source_path, args.fps)
            entry = predict_video(source, predictor, detector, output_dir, source_path.stem, options)
        except VideoReadError as error:
            entry = {"path": str(source_path), "status": "failed", "reason": str(error)}
    write_video_summary(output_dir, run_info, [entry])
    if entry["status"] != "ok":
        print(f"{source_path}: {entry['reason']} (see summary.json in {output_dir})")
        return 0
    print(
        f"{entry['frames']} frames, {len(entry['frames_without_person'])} without a person, "
        f"{len(entry['people'])} person(s) tracked, {entry['frames_per_second']:.1f} frames/s; "
        f"outputs in {output_dir}"
    )
    return 0


def _build_detector(args: argparse.Namespace, joints_from: str, options: dict):
    """The detector of an image run: the chosen backend; mediapipe wrapped in retries unless --no-retry."""
    return make_image_detector(args.silh_from, joints_from, args.retry, **options)


def _build_predictor(args: argparse.Namespace, device) -> Predictor:
    if args.checkpoint == DEFAULT_CHECKPOINT and not here_or_in_repo(DEFAULT_CHECKPOINT).exists():
        raise CheckpointError(
            f"The default checkpoint {DEFAULT_CHECKPOINT} does not exist yet; pass --checkpoint PATH to a "
            "trained regressor (e.g. checkpoints/straps_model_checkpoint.tar) or train one with run_train.py."
        )
    return Predictor.from_checkpoint(
        args.checkpoint,
        body_model=args.body_model,
        gender=args.gender,
        additional_dir=args.additional_dir,
        device=device,
        joint_confidence_threshold=args.joint_threshold,
        allow_unsafe=args.allow_unsafe_checkpoint,
        refine=RefineConfig(steps=args.refine_steps),
    )


def _detector_options(args: argparse.Namespace, joints_from: str, device) -> dict:
    if args.silh_from == "precomputed":
        if args.mask_dir is None:
            raise UsageError(
                "--silh_from precomputed needs --mask_dir (and --keypoints_dir when keypoints are elsewhere)."
            )
        return {"mask_dir": args.mask_dir, "keypoints_dir": args.keypoints_dir}
    if args.mask_dir is not None or args.keypoints_dir is not None:
        raise UsageError(
            "--mask_dir and --keypoints_dir are for --silh_from precomputed --joints_from precomputed."
        )
    if joints_from == "keypointrcnn":
        return {
            "device": str(device),
            "checkpoints_dir": args.detector_weights_dir,
            "silhouette_weights": args.silhouette_weights,
            "keypoint_weights": args.keypoint_weights,
        }
    if args.silhouette_weights is not None or args.keypoint_weights is not None:
        raise UsageError("--silhouette_weights and --keypoint_weights are for --joints_from keypointrcnn.")
    return {"native_logs": args.verbose}


if __name__ == "__main__":
    sys.exit(main())
