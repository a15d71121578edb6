"""Figures for groups, videos and retries on the rendered demo data (`tools.demo_realinputs`).

    python -m benchmarks.real_inputs [--checkpoint PATH] [--json outputs/realinputs_benchmark.json]

- group: every person of `demo/multi/group_01_four_people.jpg` found? Per ground-truth person, the IoU of the
  predicted body's silhouette (rendered in the photo's camera) with the person's whole ground-truth
  silhouette, in the group (`--people all`) and when the same person stands alone in the same scene
  (`--people main` on a render of that person only);
- clip: `demo/multi/walk_01.mp4` through the video path: share of frames with the person, 2D joint jitter
  (mean absolute second difference over consecutive frames, pixels) and 2D joint error against the ground
  truth (pixels), without and with `smooth`; frames per second with npz output only, and with the overlay
  and side videos;
- cost: detection per picture (nobody, one person, the group) and regression per person.
Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks.common import best_seconds, machine, write_report
from evaluation.photo_render import load_texture
from predict.detectors import make_detector
from predict.detectors.retry import RETRY_THRESHOLD, RetryingDetector
from predict.people import find_people
from predict.predictor import DEFAULT_CHECKPOINT, Predictor
from predict.video import FrameSource, VideoOptions, predict_video
from renderers import silhouette
from tools.demo_realinputs import (
    CLIP_NAME,
    GROUP,
    GROUP_NAME,
    IMAGE_HW,
    TEXTURE_NAMES,
    TEXTURES_DIR,
    group_truths,
    render_people,
)
from tools.demo_scenes import truth_silhouette
from utils.metrics import silhouette_iou

DEMO = Path("demo/multi")


def retrying_mediapipe() -> RetryingDetector:
    return RetryingDetector(
        make_detector("mediapipe", "mediapipe"),
        make_detector("mediapipe", "mediapipe", min_detection_confidence=RETRY_THRESHOLD),
    )


def body_iou(batch, row: int, truth_mask: np.ndarray) -> float:
    """IoU of a predicted body (batch row), rendered in its image camera, with a (H, W) bool mask."""
    rendered = silhouette(
        batch.vertices[row : row + 1],
        batch.faces,
        batch.focal_length[row : row + 1],
        batch.principal_point[row : row + 1],
        truth_mask.shape,
    )
    return float(silhouette_iou(rendered, torch.from_numpy(truth_mask)[None])[0])


def group_figures(predictor: Predictor) -> dict:
    from models.bundle import load_bundle

    bundle = load_bundle("open", "neutral")
    people = group_truths(bundle)
    image = cv2.imread(str(DEMO / f"{GROUP_NAME}.jpg"))[:, :, ::-1].copy()
    labels = cv2.imread(
        str(DEMO / "ground_truth" / "masks" / f"{GROUP_NAME}_people.png"), cv2.IMREAD_GRAYSCALE
    )
    whole = [truth_silhouette(bundle, truth) for _, truth in people]
    weights = bundle.skinning_weights.numpy()
    textures = {name: load_texture(TEXTURES_DIR, name) for name in TEXTURE_NAMES}
    rows = []
    with retrying_mediapipe() as detector:
        found = find_people(detector, image)
        batch = predictor.predict_proxy(
            [p.mask for p in found.people], np.stack([p.keypoints for p in found.people])
        )
        # Each detection belongs to the ground-truth person whose visible pixels it overlaps most.
        owner = [
            int(np.bincount(labels[p.mask], minlength=len(people) + 1)[1:].argmax()) for p in found.people
        ]
        for k, (scene, truth) in enumerate(people):
            alone_picture, _ = render_people(bundle, [(scene, truth)], weights, textures, rng_seed=300 + k)
            alone = find_people(detector, alone_picture).people
            alone_iou = None
            if alone:
                alone_batch = predictor.predict_proxy([alone[0].mask], alone[0].keypoints[None])
                alone_iou = body_iou(alone_batch, 0, whole[k])
            group_iou = body_iou(batch, owner.index(k), whole[k]) if k in owner else None
            visible = float((labels == k + 1).sum() / max(whole[k].sum(), 1))
            rows.append(
                {
                    "person": scene.name,
                    "visible_share": round(visible, 3),
                    "group_iou": group_iou,
                    "alone_iou": alone_iou,
                }
            )
    return {"found": len(found.people), "in_scene": len(GROUP), "people": rows}


def clip_figures(predictor: Predictor, repeats: int = 2) -> dict:
    truth = np.load(DEMO / "ground_truth" / f"{CLIP_NAME}_gt.npz")
    source = FrameSource.open(DEMO / f"{CLIP_NAME}.mp4")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, options in (
            ("npz only", VideoOptions(overlay=False, side=False, progress=False)),
            ("npz, smooth", VideoOptions(smooth=True, overlay=False, side=False, progress=False)),
            ("npz, smooth, overlay + side videos", VideoOptions(smooth=True, progress=False)),
        ):
            best = None
            for _ in range(repeats):
                with make_detector("mediapipe", "mediapipe", tracking=True) as detector:
                    entry = predict_video(source, predictor, detector, Path(folder), "clip", options)
                if best is None or entry["frames_per_second"] > best["frames_per_second"]:
                    best = entry
            with np.load(Path(folder) / "clip_p0.npz") as data:
                frames, joints = data["frame_index"], data["joints2d"]
            consecutive = (frames[2:] - frames[:-2]) == 2
            jitter = np.abs(joints[2:] - 2 * joints[1:-1] + joints[:-2])[consecutive].mean()
            error = np.linalg.norm(joints - truth["keypoints"][frames][..., :2], axis=-1).mean()
            results[name] = {
                "frames": best["frames"],
                "found_share": round(len(frames) / best["frames"], 4),
                "jitter_px": round(float(jitter), 3),
                "joint_error_px": round(float(error), 3),
                "frames_per_second": best["frames_per_second"],
                "cpu_ms_per_frame": best["cpu_ms_per_frame"],
                "ms_per_frame": best["timings_ms_per_frame"],
            }
    return results


def cost_figures(predictor: Predictor, repeats: int = 3) -> dict:
    group = cv2.imread(str(DEMO / f"{GROUP_NAME}.jpg"))[:, :, ::-1].copy()
    nobody = np.full((*IMAGE_HW, 3), 128, np.uint8)
    nobody_wide = np.full((720, 1280, 3), 128, np.uint8)
    figures = {}
    with retrying_mediapipe() as detector:
        find_people(detector, group)  # warm-up
        for name, image in (
            ("nobody, 640 x 480", nobody),
            ("nobody, 1280 x 720", nobody_wide),
            ("group", group),
        ):
            found = find_people(detector, image)
            seconds = best_seconds(
                lambda image=image: find_people(detector, image), repeats=repeats, warmup=0
            )
            figures[f"detect ms ({name}: {len(found.people)} found, {found.detector_calls} calls)"] = round(
                1000 * seconds, 1
            )
        people = find_people(detector, group).people
    masks, keypoints = [p.mask for p in people], np.stack([p.keypoints for p in people])
    for count in (1, len(people)):
        seconds = best_seconds(
            lambda count=count: predictor.predict_proxy(masks[:count], keypoints[:count]), repeats=repeats
        )
        figures[f"regress ms per person (batch of {count})"] = round(1000 * seconds / count, 1)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--json", type=Path, default=Path("outputs/realinputs_benchmark.json"))
    parser.add_argument(
        "--parts", nargs="+", default=["group", "clip", "cost"], choices=["group", "clip", "cost"]
    )
    args = parser.parse_args(argv)
    predictor = Predictor.from_checkpoint(args.checkpoint, device="cpu")
    report = {
        "machine": machine(),
    }
    if "group" in args.parts:
        group = report["group"] = group_figures(predictor)
        print(f"group: {group['found']} of {group['in_scene']} people found")
        print("| person | visible share | IoU in the group | IoU alone |\n|---|---|---|---|")
        for row in group["people"]:
            cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()]
            print("| " + " | ".join(cells) + " |")
    if "clip" in args.parts:
        report["clip"] = clip_figures(predictor)
        print(
            "| clip run | found | jitter px | joint error px | frames/s | CPU ms/frame |\n" + "|---" * 6 + "|"
        )
        for name, row in report["clip"].items():
            print(
                f"| {name} | {row['found_share']:.1%} | {row['jitter_px']:.2f} | {row['joint_error_px']:.2f} "
                f"| {row['frames_per_second']:.1f} | {row['cpu_ms_per_frame']:.0f} |"
            )
    if "cost" in args.parts:
        report["cost"] = cost_figures(predictor)
        for name, value in report["cost"].items():
            print(f"{name}: {value}")
    report["load_average_after"] = list(os.getloadavg())
    write_report(report, args.json)


if __name__ == "__main__":
    main()
