"""Demo data for groups and videos: a rendered group of people and a rendered clip of a person walking past.

    python -m tools.demo_realinputs --out demo/multi

Writes, with the renderer, clothing and backdrops of `tools.demo_scenes` (textures from `demo/textures`):
- `<out>/group_01_four_people.jpg` (640 x 480): four people standing on one floor at 5.8 to 8 m, partly
  hiding each other; ground truth `<out>/ground_truth/group_01_four_people_gt.npz`: per person (P = 4,
  nearest first) pose (P, 72), betas (P, 10), cam_t (P, 3), focal_length, principal_point (2,),
  image_size (H, W), keypoints (P, 17, 3) projected COCO-17 [u, v, 1], and `<out>/ground_truth/masks/
  group_01_four_people_people.png`, the visible pixels of person k as the value k + 1 (0 = background).
- `<out>/walk_01.mp4` (640 x 480, 12 frames/s, 3 s, OpenCV's mp4v codec): one person walking from left to
  right across the picture with a gait cycle of 1.1 s; ground truth `<out>/ground_truth/walk_01_gt.npz`:
  pose (T, 72), betas (10,), cam_t (T, 3), focal_length, principal_point, image_size, fps,
  keypoints (T, 17, 3).
Seeded: a re-run on the same machine writes the same pictures.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from data.procedural_poses import ProceduralPoseSource, euler_to_rotmat
from evaluation.photo_render import (
    FOCAL_PER_LONG_SIDE,
    JPEG_QUALITY,
    ROOMS,
    TEXTURE_NAMES,
    compose_picture,
    load_texture,
    stand_on_floor,
    vertex_colours,
)
from models.bundle import load_bundle
from renderers import rasterize
from tools.demo_scenes import (
    Scene,
    SceneTruth,
    camera_vertices,
    sample_pose_and_shape,
    truth_keypoints,
)
from utils.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle

GROUP_NAME = "group_01_four_people"
CLIP_NAME = "walk_01"
IMAGE_HW = (480, 640)
CAMERA_HEIGHT = 0.85  # metres above the floor; the camera looks horizontally
CLIP_FPS = 12.0
CLIP_SECONDS = 3.0
GAIT_PERIOD_S = 1.1
CLIP_DEPTH = 6.5
CLIP_X_RANGE = (-0.85, 0.85)  # metres, left to right, at CLIP_DEPTH
CLIP_YAW_DEG = -70.0  # turned towards the picture's right, where it walks
VIDEO_CODEC = "mp4v"
DEFAULT_OUT = Path("demo/multi")
TEXTURES_DIR = Path("demo/textures")


@dataclass(frozen=True)
class Placement:
    """Where a person of a group stands: `x` metres right of the optical axis, `depth` metres away."""

    x: float
    depth: float


# Nearest first; each a dressed Scene (its name, image size, room and framing are not used here).
GROUP: tuple[tuple[Scene, Placement], ...] = (
    (
        Scene(
            "p_centre", "standing", 101, 12.0, IMAGE_HW, "medium", "black",
            shirt=(0.75, 0.2, 0.15), trousers=(0.15, 0.17, 0.3), shoes=(0.08, 0.07, 0.07),
            long_sleeves=False, shorts=False, room="street",
        ),
        Placement(0.05, 5.8),
    ),
    (
        Scene(
            "p_left", "hands_on_hips", 102, 25.0, IMAGE_HW, "light", "blond",
            shirt=(0.2, 0.45, 0.7), trousers=(0.55, 0.48, 0.35), shoes=(0.85, 0.85, 0.82),
            long_sleeves=True, shorts=False, room="street",
        ),
        Placement(-0.72, 6.6),
    ),
    (
        Scene(
            "p_right", "walking", 103, -30.0, IMAGE_HW, "dark", "black",
            shirt=(0.95, 0.78, 0.25), trousers=(0.1, 0.1, 0.12), shoes=(0.7, 0.12, 0.1),
            long_sleeves=False, shorts=True, room="street",
        ),
        Placement(0.78, 7.0),
    ),
    (
        Scene(
            "p_back", "arms_raised", 104, -5.0, IMAGE_HW, "tan", "brown",
            shirt=(0.25, 0.55, 0.3), trousers=(0.3, 0.3, 0.34), shoes=(0.1, 0.08, 0.06),
            long_sleeves=True, shorts=False, room="street",
        ),
        Placement(-0.15, 8.0),
    ),
)  # fmt: skip

CLIP_PERSON = Scene(
    "walker", "walking", 201, CLIP_YAW_DEG, IMAGE_HW, "light", "brown",
    shirt=(0.16, 0.36, 0.62), trousers=(0.13, 0.16, 0.28), shoes=(0.08, 0.07, 0.07),
    long_sleeves=False, shorts=False, room="garden",
)  # fmt: skip


def standing_translation(body: torch.Tensor, x: float, depth: float) -> np.ndarray:
    """cam_t (3,) that stands a body (V, 3, body frame) on the floor CAMERA_HEIGHT below the camera."""
    return stand_on_floor(body, x, depth, CAMERA_HEIGHT)


def camera_intrinsics() -> tuple[float, np.ndarray]:
    height, width = IMAGE_HW
    return FOCAL_PER_LONG_SIDE * max(height, width), np.array([width / 2, height / 2], np.float32)


def render_people(
    bundle, people: list[tuple[Scene, SceneTruth]], weights, textures, rng_seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Picture (H, W, 3) uint8 of several posed people as one mesh, and the label map (H, W) uint8 of their
    visible pixels (person k = k + 1, 0 = background)."""
    focal, principal_point = camera_intrinsics()
    rng = np.random.default_rng(rng_seed)
    meshes, colours, face_sets = [], [], []
    for index, (scene, truth) in enumerate(people):
        vertices, _ = camera_vertices(bundle, truth.pose, truth.betas, truth.cam_t)
        meshes.append(vertices[0])
        colours.append(vertex_colours(bundle, scene, weights, np.random.default_rng(scene.seed)))
        face_sets.append(bundle.faces + index * bundle.num_vertices)
    vertices = torch.cat(meshes)[None]
    faces = torch.cat(face_sets)
    room = ROOMS[people[0][0].room]
    picture = compose_picture(
        vertices, faces, torch.cat(colours), focal, IMAGE_HW, room, people[0][0].light_deg, textures, rng
    )
    fragments = rasterize(
        vertices, faces, torch.tensor([focal]), torch.from_numpy(principal_point)[None], IMAGE_HW
    )
    face_index = fragments.face_index[0]
    labels = torch.where(face_index >= 0, face_index // bundle.num_faces + 1, 0)
    return picture, labels.to(torch.uint8).numpy()


def group_truths(bundle) -> list[tuple[Scene, SceneTruth]]:
    """The group's people with their ground truth, nearest first."""
    focal, principal_point = camera_intrinsics()
    people = []
    for scene, place in GROUP:
        pose, betas = sample_pose_and_shape(scene)
        body, _ = camera_vertices(bundle, pose, betas, np.zeros(3, np.float32))
        cam_t = standing_translation(body[0], place.x, place.depth)
        people.append((scene, SceneTruth(pose, betas, cam_t, focal, principal_point, IMAGE_HW)))
    return people


def clip_truths(bundle) -> list[SceneTruth]:
    """The walker's ground truth per frame: a noise-free gait cycle, turned by the scene's yaw, moving right
    at a constant depth, standing on the floor."""
    focal, principal_point = camera_intrinsics()
    count = round(CLIP_FPS * CLIP_SECONDS)
    times = torch.arange(count) / CLIP_FPS
    poses = ProceduralPoseSource().cycle("walking", 2 * math.pi * times / GAIT_PERIOD_S)
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
    yaw = euler_to_rotmat(torch.tensor([0.0, math.radians(CLIP_PERSON.yaw_deg), 0.0]))
    root = flip @ yaw @ flip.T @ axis_angle_to_rotmat(poses[:, :3])
    poses = torch.cat((rotmat_to_axis_angle(root), poses[:, 3:]), dim=1).numpy().astype(np.float32)
    _, betas = sample_pose_and_shape(CLIP_PERSON)
    start, end = CLIP_X_RANGE
    # One standing height for the whole clip (the first frame's), so the walker does not bob with the feet.
    first, _ = camera_vertices(bundle, poses[0], betas, np.zeros(3, np.float32))
    base = standing_translation(first[0], 0.0, CLIP_DEPTH)
    truths = []
    for frame, pose in enumerate(poses):
        x = start + (end - start) * frame / max(count - 1, 1)
        cam_t = base + np.array([x, 0.0, 0.0], np.float32)
        truths.append(SceneTruth(pose, betas, cam_t, focal, principal_point, IMAGE_HW))
    return truths


def write_group(out: Path, bundle, weights, textures) -> Path:
    """Render the group scene and write its picture and ground truth; returns the picture's path."""
    people = group_truths(bundle)
    picture, labels = render_people(bundle, people, weights, textures, rng_seed=100)
    gt_dir = out / "ground_truth"
    (gt_dir / "masks").mkdir(parents=True, exist_ok=True)
    path = out / f"{GROUP_NAME}.jpg"
    cv2.imwrite(str(path), picture[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    cv2.imwrite(str(gt_dir / "masks" / f"{GROUP_NAME}_people.png"), labels)
    truths = [truth for _, truth in people]
    np.savez_compressed(
        gt_dir / f"{GROUP_NAME}_gt.npz", **_stacked(truths, bundle), keypoints=_keypoints(truths, bundle)
    )
    return path


def write_clip(out: Path, bundle, weights, textures, progress: bool = True) -> Path:
    """Render the walking clip frame by frame into an mp4 and write its ground truth; returns its path."""
    from tqdm import tqdm

    truths = clip_truths(bundle)
    path = out / f"{CLIP_NAME}.mp4"
    height, width = IMAGE_HW
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*VIDEO_CODEC), CLIP_FPS, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {VIDEO_CODEC} videos here; {path} was not written.")
    try:
        for frame, truth in enumerate(tqdm(truths, unit="frame", disable=not progress)):
            picture, _ = render_people(
                bundle, [(CLIP_PERSON, truth)], weights, textures, rng_seed=200 + frame
            )
            writer.write(np.ascontiguousarray(picture[..., ::-1]))
    finally:
        writer.release()
    arrays = _stacked(truths, bundle)
    arrays["betas"] = arrays["betas"][0]
    np.savez_compressed(
        out / "ground_truth" / f"{CLIP_NAME}_gt.npz",
        **arrays,
        fps=np.float32(CLIP_FPS),
        keypoints=_keypoints(truths, bundle),
    )
    return path


def _stacked(truths: list[SceneTruth], bundle) -> dict[str, np.ndarray]:
    return {
        "pose": np.stack([t.pose for t in truths]),
        "betas": np.stack([t.betas for t in truths]),
        "cam_t": np.stack([t.cam_t for t in truths]),
        "focal_length": np.float32(truths[0].focal_length),
        "principal_point": truths[0].principal_point,
        "image_size": np.asarray(truths[0].image_hw, np.int64),
        "body_model": np.str_(bundle.kind),
        "gender": np.str_(bundle.gender),
    }


def _keypoints(truths: list[SceneTruth], bundle) -> np.ndarray:
    return np.stack([truth_keypoints(bundle, t) for t in truths])


def generate(out: Path, textures_dir: Path = TEXTURES_DIR, progress: bool = True) -> list[Path]:
    """Render the group scene and the clip into `out`; returns their paths."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one summation order: the same bytes on every run
    try:
        bundle = load_bundle("open", "neutral")
        weights = bundle.skinning_weights.numpy()
        textures = {name: load_texture(textures_dir, name) for name in TEXTURE_NAMES}
        (out / "ground_truth").mkdir(parents=True, exist_ok=True)
        with torch.no_grad():
            return [
                write_group(out, bundle, weights, textures),
                write_clip(out, bundle, weights, textures, progress),
            ]
    finally:
        torch.set_num_threads(threads)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument(
        "--textures", type=Path, default=TEXTURES_DIR, help="texture folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    for path in generate(args.out, args.textures):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
