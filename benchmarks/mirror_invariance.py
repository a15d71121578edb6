"""Mirror invariance of the default pipeline on the scene benchmark's pictures:
`python -m benchmarks.mirror_invariance [--data_dir DIR] [--limit N] [--json FILE]`.

A picture and its mirror image show the same people, mirrored, so the pipeline should choose the same main
person (mirrored) and give mirrored bodies. Per picture: the main person (p0) of each is found and fitted
as `run_predict.py --people main` does; the mirror's choice counts as the same when its silhouette, flipped
back, overlaps the original's with IoU >= 0.5; for the same person, the bodies are compared as LSP-14
joints, the mirror's flipped back (x negated, left and right swapped), pelvis-aligned (mm). Prints the
share of pictures with the same choice, the mean and worst joint difference, and the share within 20 mm.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import machine, write_report
from evaluation.scene_benchmark import DEFAULT_DIR, ensure_scene_benchmark
from evaluation.scene_cases import SceneBenchmarkConfig
from predict.detectors import make_image_detector
from predict.people import find_people
from predict.predictor import Predictor
from predict.refine import RefineConfig
from utils.image_io import read_image_rgb

# LSP-14 rows of each joint's mirror partner: right and left ankle, knee, hip, wrist, elbow, shoulder swap.
LSP14_MIRROR = (5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13)
SAME_PERSON_IOU = 0.5
AGREEMENT_MM = 20.0


def mirrored_lsp14(joints: np.ndarray) -> np.ndarray:
    """LSP-14 camera-frame joints (14, 3) of a body seen in the mirrored picture, as the body in the
    original picture: x negated (the principal point is the picture's centre) and left and right swapped."""
    flipped = joints * np.array([-1.0, 1.0, 1.0])
    return flipped[list(LSP14_MIRROR)]


def _pelvis_aligned(joints: np.ndarray) -> np.ndarray:
    return joints - 0.5 * (joints[2] + joints[3])


def _main_person(detector, predictor: Predictor, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The main person's mask (H, W) and refined LSP-14 joints (14, 3) in the camera frame, or None."""
    people = find_people(detector, rgb).people
    if not people:
        return None
    out = predictor.predict_proxy(people[0].mask[None], people[0].keypoints[None])
    with torch.no_grad():
        joints = (out.lsp14 + out.cam_t[:, None]).float().cpu().numpy()[0]
    return people[0].mask, joints


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data_dir", type=Path, default=DEFAULT_DIR, help="the scene benchmark's folder")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pictures")
    parser.add_argument("--json", type=Path, default=Path("outputs/mirror_invariance.json"))
    args = parser.parse_args(argv)

    benchmark = ensure_scene_benchmark(args.data_dir, SceneBenchmarkConfig())
    predictor = Predictor.from_checkpoint(device="cpu", refine=RefineConfig())
    count = len(benchmark) if args.limit is None else min(args.limit, len(benchmark))
    same, differences, per_picture = 0, [], []
    with make_image_detector() as detector:
        for index in range(count):
            rgb = read_image_rgb(benchmark.image_path(index)).rgb
            original = _main_person(detector, predictor, rgb)
            mirror = _main_person(detector, predictor, np.ascontiguousarray(rgb[:, ::-1]))
            record: dict = {"picture": benchmark.fnames[index], "case": str(benchmark.cases[index])}
            if original is not None and mirror is not None:
                back = mirror[0][:, ::-1]
                iou = float((back & original[0]).sum() / max(1, (back | original[0]).sum()))
                record["same_person"] = iou >= SAME_PERSON_IOU
                if record["same_person"]:
                    same += 1
                    a, b = _pelvis_aligned(original[1]), _pelvis_aligned(mirrored_lsp14(mirror[1]))
                    record["joint_difference_mm"] = float(1000 * np.linalg.norm(a - b, axis=1).mean())
                    differences.append(record["joint_difference_mm"])
            per_picture.append(record)
    within = sum(d <= AGREEMENT_MM for d in differences)
    summary = {
        "pictures": count,
        "same_main_person": same / max(1, count),
        "joint_difference_mm_mean": float(np.mean(differences)) if differences else None,
        "joint_difference_mm_max": float(np.max(differences)) if differences else None,
        "within_20mm": within / max(1, len(differences)),
    }
    print(
        f"{count} pictures: same main person in {summary['same_main_person']:.1%}; of those, bodies within "
        f"{AGREEMENT_MM:.0f} mm in {summary['within_20mm']:.1%} (mean {summary['joint_difference_mm_mean']}"
        f" mm, worst {summary['joint_difference_mm_max']} mm)"
    )
    report = {"machine": machine(), "summary": summary, "pictures": per_picture}
    write_report(report, args.json)
    return report


if __name__ == "__main__":
    main()
