"""Time the exports for the open body: `python -m benchmarks.exports [--frames 1 300] [--repeats 5]`.

Per clip length T: building the rig from the body model, writing the glb and writing the BVH (the best of
the repeats, milliseconds), and the files' sizes. Poses are seeded random, upright, in front of
the camera.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import best_seconds
from models.bundle import load_bundle
from predict.exports import BodyMotion, ImageCamera, rig_from_body_model, write_bvh, write_glb
from utils.rotations import axis_angle_to_rotmat


def _timed(action: Callable[[], object], repeats: int) -> dict[str, float]:
    return {"best_ms": round(1000.0 * best_seconds(action, repeats=repeats), 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Time the glb and BVH exports of the open body.")
    parser.add_argument(
        "--frames", type=int, nargs="+", default=[1, 300], help="clip lengths (default: 1, 300)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per figure (default: 5)")
    args = parser.parse_args(argv)
    body_model = load_bundle("open").body_model
    betas = np.zeros(10, dtype=np.float32)
    camera = ImageCamera(focal_length=1000.0, principal_point=(320.0, 240.0), image_hw=(480, 640))
    rng = np.random.default_rng(0)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        glb, bvh = Path(folder) / "body.glb", Path(folder) / "body.bvh"
        for frames in args.frames:
            pose = rng.normal(0.0, 0.3, (frames, 24, 3))
            pose[:, 0] = (np.pi, 0.0, 0.0)
            motion = BodyMotion(
                rotations=axis_angle_to_rotmat(torch.from_numpy(pose)).numpy(),
                translations=np.tile((0.0, 0.2, 5.0), (frames, 1)),
            )
            rig = rig_from_body_model(body_model, betas)
            results[f"T={frames}"] = {
                "rig": _timed(lambda: rig_from_body_model(body_model, betas), args.repeats),
                "glb": _timed(lambda: write_glb(glb, rig, motion, camera), args.repeats),  # noqa: B023
                "bvh": _timed(lambda: write_bvh(bvh, rig, motion), args.repeats),  # noqa: B023
                "glb_MB": round(glb.stat().st_size / 1e6, 2),
                "bvh_MB": round(bvh.stat().st_size / 1e6, 3),
            }
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
