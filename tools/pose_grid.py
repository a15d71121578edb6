"""Draw a grid of procedurally sampled poses as stick figures (the README's pose picture).

    python -m tools.pose_grid --out docs/pose_grid.png [--rows 4 --cols 6 --seed 0]

Each cell shows one pose as the camera sees it (orthographic view of the stick skeleton after the
sampled global orientation: x right, y down), labelled with its archetype. The body's left side is blue,
its right side orange; nearer bones are drawn brighter and on top.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from configs.experiment import ProceduralPoseConfig
from data.procedural_poses import ProceduralPoseSource
from data.skeleton import JOINT_NAMES, PARENTS, forward_kinematics
from utils.rotations import axis_angle_to_rotmat

_LEFT_BGR = np.array([235, 140, 40])
_RIGHT_BGR = np.array([40, 140, 250])
_MID_BGR = np.array([200, 200, 200])


def draw_skeleton(joints: np.ndarray, cell: int) -> np.ndarray:
    """Render one posed skeleton (24, 3) in camera axes into a (cell, cell, 3) uint8 BGR image."""
    image = np.full((cell, cell, 3), 24, dtype=np.uint8)
    xy = joints[:, :2] - (joints[:, :2].max(0) + joints[:, :2].min(0)) / 2
    scale = 0.8 * cell / max(2.0, 2 * np.abs(xy).max() / 0.95)  # a 2 m body fills 80% of the cell
    pixels = xy * scale + cell / 2
    depth = joints[:, 2]
    span = max(float(depth.max() - depth.min()), 1e-6)
    bones = sorted(range(1, len(PARENTS)), key=lambda j: -(depth[j] + depth[PARENTS[j]]))  # far first
    for j in bones:
        side = JOINT_NAMES[j][:2]
        colour = _LEFT_BGR if side == "L_" else _RIGHT_BGR if side == "R_" else _MID_BGR
        nearness = 1.0 - (depth[j] - depth.min()) / span
        shade = tuple(int(v) for v in colour * (0.45 + 0.55 * nearness))
        a, b = (tuple(int(round(v)) for v in pixels[k]) for k in (j, PARENTS[j]))
        cv2.line(image, a, b, shade, thickness=max(2, cell // 60), lineType=cv2.LINE_AA)
    head = tuple(int(round(v)) for v in pixels[JOINT_NAMES.index("head")])
    cv2.circle(image, head, max(3, int(0.09 * scale)), tuple(int(v) for v in _MID_BGR), 2, cv2.LINE_AA)
    return image


def pose_grid(rows: int, cols: int, seed: int, cell: int = 160) -> np.ndarray:
    """Sample rows * cols poses and draw them into one (rows * cell, cols * cell, 3) BGR image."""
    source = ProceduralPoseSource(ProceduralPoseConfig())
    generator = torch.Generator().manual_seed(seed)
    batch = source.sample_detailed(rows * cols, generator)
    rotmats = axis_angle_to_rotmat(batch.poses.reshape(-1, 24, 3))
    joints = forward_kinematics(rotmats).numpy()
    grid = np.zeros((rows * cell, cols * cell, 3), dtype=np.uint8)
    for i in range(rows * cols):
        tile = draw_skeleton(joints[i], cell)
        label = source.archetype_names[int(batch.archetype[i])] + (" (lying)" if batch.lying[i] else "")
        cv2.putText(tile, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (230, 230, 230), 1, cv2.LINE_AA)
        r, c = divmod(i, cols)
        grid[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell] = tile
    grid[::cell, :] = 70
    grid[:, ::cell] = 70
    return grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/pose_grid.png"))
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--cols", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cell", type=int, default=160, help="cell size in pixels")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), pose_grid(args.rows, args.cols, args.seed, args.cell)):
        raise SystemExit(f"Could not write {args.out}: check that the folder is writable and ends in .png.")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
