"""The demo renders: the open body model in varied poses, dressed and lit, over textured scenes.

    python -m tools.demo_scenes --out demo [--check] [--sheet docs/demo_inputs.png]

Writes, for every scene of `SCENES`, `<out>/<name>.jpg` (the picture) and its ground truth:
`<out>/ground_truth/<name>_gt.npz` (pose (72,) axis-angle, betas (10,), cam_t (3,), focal_length,
principal_point (2,), image_size (H, W), body_model "open", gender "neutral", archetype, yaw_deg),
`<out>/ground_truth/masks/<name>.png` (the exact silhouette, 0/255) and
`<out>/ground_truth/keypoints/<name>.npy` ((17, 3) projected COCO-17 [u, v, 1]), the layout that the
precomputed detector backend reads. Seeded: a re-run on the same machine writes the same bytes.

Scene model (camera frame: x right, y down, z forward, metres; the camera looks horizontally):
- pose: one draw from the procedural sampler restricted to one archetype (upright, small yaw), turned by
  the scene's yaw about the vertical axis; betas ~ N(0, 0.8^2) clipped to +-2; neutral open body.
- camera: focal length 2.4 x the image's long side (an 85 mm lens on a full-frame camera: little
  perspective distortion), principal point at the image centre; the translation puts the body's projected
  box at the scene's offset from the image centre, filling `fill` of the image height or width, whichever
  binds (the distance comes out at about 5 m for a standing body).
- person and background: `evaluation.photo_render` (dressed by the skinning weights, key and fill light,
  textured wall and floor with the body's shadow, depth of field), the look the scene benchmark shares.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from configs.experiment import ProceduralPoseConfig
from data.procedural_poses import ProceduralPoseSource, euler_to_rotmat
from evaluation.photo_render import (
    FOCAL_PER_LONG_SIDE,
    JPEG_QUALITY,
    ROOMS,
    TEXTURE_NAMES,
    Textures,
    compose_picture,
    frame_translation,
    load_texture,
    vertex_colours,
)
from models.bundle import load_bundle
from renderers import silhouette
from utils.cameras import perspective_project
from utils.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle

BETA_STD, BETA_CLIP = 0.8, 2.0


@dataclass(frozen=True)
class Scene:
    """One demo render. Colours are sRGB albedos in [0, 1]; angles in degrees.

    archetype: the procedural sampler's archetype; seed: the pose/shape draw; yaw_deg: the body's turn
    about the vertical axis (0 faces the camera, 90 shows its left side); image_hw: (H, W);
    fill: the body box's share of the binding image side; offset: the box centre's shift from the image
    centre as a share of (W, H); room: "street" (brick wall, gravel floor), "garden" (hedge, grass),
    "yard" (concrete wall, brick paving); light_deg: azimuth of the key light (0 = from the camera's
    side, positive = from the left of the picture).
    """

    name: str
    archetype: str
    seed: int
    yaw_deg: float
    image_hw: tuple[int, int]
    skin: str
    hair: str
    shirt: tuple[float, float, float]
    trousers: tuple[float, float, float]
    shoes: tuple[float, float, float]
    long_sleeves: bool
    shorts: bool
    room: str
    fill: float = 0.8
    offset: tuple[float, float] = (0.0, 0.0)
    light_deg: float = 35.0


SCENES: tuple[Scene, ...] = (
    Scene(
        "render_01_standing", "standing", 11, 8.0, (512, 512), "light", "brown",
        shirt=(0.16, 0.32, 0.62), trousers=(0.13, 0.16, 0.28), shoes=(0.08, 0.07, 0.07),
        long_sleeves=False, shorts=False, room="street",
    ),
    Scene(
        "render_02_walking", "walking", 21, 28.0, (512, 512), "medium", "black",
        shirt=(0.72, 0.14, 0.13), trousers=(0.58, 0.5, 0.36), shoes=(0.9, 0.9, 0.88),
        long_sleeves=False, shorts=False, room="garden", light_deg=-40.0,
    ),
    Scene(
        "render_03_arms_raised", "arms_raised", 31, -6.0, (640, 480), "dark", "black",
        shirt=(0.95, 0.76, 0.2), trousers=(0.1, 0.1, 0.11), shoes=(0.75, 0.1, 0.1),
        long_sleeves=False, shorts=False, room="yard", fill=0.82,
    ),
    Scene(
        "render_04_crouching", "crouching", 41, -25.0, (512, 512), "tan", "brown",
        shirt=(0.2, 0.46, 0.27), trousers=(0.3, 0.3, 0.33), shoes=(0.1, 0.08, 0.06),
        long_sleeves=True, shorts=False, room="street", fill=0.72,
    ),
    Scene(
        "render_05_side_on", "walking", 51, 88.0, (480, 640), "light", "blond",
        shirt=(0.9, 0.9, 0.87), trousers=(0.14, 0.2, 0.42), shoes=(0.08, 0.07, 0.07),
        long_sleeves=True, shorts=False, room="garden", offset=(-0.05, 0.0),
    ),
    Scene(
        "render_06_reaching", "reaching", 61, 18.0, (512, 512), "medium", "brown",
        shirt=(0.45, 0.2, 0.5), trousers=(0.12, 0.12, 0.14), shoes=(0.85, 0.85, 0.82),
        long_sleeves=False, shorts=True, room="yard", light_deg=-30.0,
    ),
    Scene(
        "render_07_hands_on_hips", "hands_on_hips", 71, -35.0, (640, 480), "dark", "black",
        shirt=(0.92, 0.45, 0.15), trousers=(0.2, 0.25, 0.4), shoes=(0.08, 0.08, 0.08),
        long_sleeves=False, shorts=False, room="street", light_deg=50.0,
    ),
    Scene(
        "render_08_ready_stance", "ready_stance", 81, 20.0, (512, 512), "tan", "black",
        shirt=(0.12, 0.5, 0.55), trousers=(0.15, 0.15, 0.16), shoes=(0.9, 0.88, 0.85),
        long_sleeves=True, shorts=True, room="garden", fill=0.78,
    ),
)  # fmt: skip


@dataclass
class SceneTruth:
    """The ground truth of one render."""

    pose: np.ndarray  # (72,) float32 axis-angle
    betas: np.ndarray  # (10,) float32
    cam_t: np.ndarray  # (3,) float32
    focal_length: float
    principal_point: np.ndarray  # (2,) float32
    image_hw: tuple[int, int]


def camera_vertices(bundle, pose: np.ndarray, betas: np.ndarray, cam_t: np.ndarray):
    """Posed body in the camera frame: vertices (1, V, 3) and COCO-17 joints (1, 17, 3), float32."""
    out = bundle.forward_axis_angle(torch.from_numpy(pose)[None], torch.from_numpy(betas)[None])
    t = torch.from_numpy(cam_t)[None, None]
    return out.vertices + t, out.coco17 + t


def truth_silhouette(bundle, truth: SceneTruth) -> np.ndarray:
    """The exact ground-truth silhouette (H, W) bool, rendered from the saved parameters."""
    vertices, _ = camera_vertices(bundle, truth.pose, truth.betas, truth.cam_t)
    mask = silhouette(
        vertices, bundle.faces, truth.focal_length, torch.from_numpy(truth.principal_point), truth.image_hw
    )
    return mask[0].numpy()


def truth_keypoints(bundle, truth: SceneTruth) -> np.ndarray:
    """Projected COCO-17 keypoints (17, 3) float32 [u, v, 1]."""
    _, joints = camera_vertices(bundle, truth.pose, truth.betas, truth.cam_t)
    uv = perspective_project(joints, truth.focal_length, torch.from_numpy(truth.principal_point))[0]
    return torch.cat((uv, torch.ones(17, 1)), dim=1).numpy().astype(np.float32)


def load_truth(path: Path) -> SceneTruth:
    """Read a `<name>_gt.npz` file."""
    with np.load(path, allow_pickle=False) as data:
        return SceneTruth(
            pose=data["pose"].astype(np.float32),
            betas=data["betas"].astype(np.float32),
            cam_t=data["cam_t"].astype(np.float32),
            focal_length=float(data["focal_length"]),
            principal_point=data["principal_point"].astype(np.float32),
            image_hw=tuple(int(v) for v in data["image_size"]),
        )


def sample_pose_and_shape(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """The scene's pose (72,) and betas (10,), float32."""
    config = ProceduralPoseConfig(
        archetype_weights={scene.archetype: 1.0}, yaw_range=8.0, tilt_std=2.0, lying_prob=0.0
    )
    generator = torch.Generator().manual_seed(scene.seed)
    pose = ProceduralPoseSource(config).sample(1, generator)[0]
    # Turn the body about the camera's vertical axis: the sampler's frame is R_x(180) @ R_y(yaw) @ tilt,
    # so a body yaw of a is R_x(180) R_y(a) R_x(180)^T on the left.
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
    yaw = euler_to_rotmat(torch.tensor([0.0, math.radians(scene.yaw_deg), 0.0]))
    root = flip @ yaw @ flip.T @ axis_angle_to_rotmat(pose[:3])
    pose = torch.cat((rotmat_to_axis_angle(root), pose[3:]))
    betas = (BETA_STD * torch.randn(10, generator=generator)).clamp(-BETA_CLIP, BETA_CLIP)
    return pose.numpy().astype(np.float32), betas.numpy().astype(np.float32)


def frame_camera(vertices: torch.Tensor, scene: Scene, focal: float) -> np.ndarray:
    """Translation (3,) that puts the body box at the scene's place and size. vertices: (V, 3)."""
    return frame_translation(vertices, scene.image_hw, focal, scene.fill, scene.offset)


def render_scene(
    bundle, scene: Scene, textures: Textures, weights: np.ndarray
) -> tuple[np.ndarray, SceneTruth]:
    """The picture (H, W, 3) uint8 RGB and its ground truth."""
    height, width = scene.image_hw
    focal = FOCAL_PER_LONG_SIDE * max(height, width)
    pose, betas = sample_pose_and_shape(scene)
    body, _ = camera_vertices(bundle, pose, betas, np.zeros(3, np.float32))
    cam_t = frame_camera(body[0], scene, focal)
    truth = SceneTruth(
        pose, betas, cam_t, focal, np.asarray([width / 2, height / 2], np.float32), (height, width)
    )
    vertices, _ = camera_vertices(bundle, pose, betas, cam_t)
    rng = np.random.default_rng(scene.seed)
    colours = vertex_colours(bundle, scene, weights, rng)
    picture = compose_picture(
        vertices,
        bundle.faces,
        colours,
        focal,
        scene.image_hw,
        ROOMS[scene.room],
        scene.light_deg,
        textures,
        rng,
    )
    return picture, truth


def write_scene(out: Path, name: str, picture: np.ndarray, truth: SceneTruth, bundle) -> None:
    """Write the picture and its ground-truth files."""
    gt_dir = out / "ground_truth"
    (gt_dir / "masks").mkdir(parents=True, exist_ok=True)
    (gt_dir / "keypoints").mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out / f"{name}.jpg"), picture[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    mask = truth_silhouette(bundle, truth)
    cv2.imwrite(str(gt_dir / "masks" / f"{name}.png"), mask.astype(np.uint8) * 255)
    np.save(gt_dir / "keypoints" / f"{name}.npy", truth_keypoints(bundle, truth))
    np.savez_compressed(
        gt_dir / f"{name}_gt.npz",
        pose=truth.pose,
        betas=truth.betas,
        cam_t=truth.cam_t,
        focal_length=np.float32(truth.focal_length),
        principal_point=truth.principal_point,
        image_size=np.asarray(truth.image_hw, np.int64),
        body_model=np.str_("open"),
        gender=np.str_("neutral"),
    )


def generate(out: Path, scenes: tuple[Scene, ...] = SCENES) -> list[Path]:
    """Render every scene into `out`; returns the picture paths."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one summation order: the same bytes on every run
    try:
        bundle = load_bundle("open", "neutral")
        weights = bundle.skinning_weights.numpy()
        textures = {name: load_texture(out / "textures", name) for name in TEXTURE_NAMES}
        paths = []
        with torch.no_grad():
            for scene in scenes:
                picture, truth = render_scene(bundle, scene, textures, weights)
                write_scene(out, scene.name, picture, truth, bundle)
                paths.append(out / f"{scene.name}.jpg")
        return paths
    finally:
        torch.set_num_threads(threads)


def check_with_detector(folder: Path) -> list[dict]:
    """Run the mediapipe backend on every top-level image of `folder` and take the person run_predict.py
    would (the most prominent, `predict.people.choose_main`); per image: found, mean keypoint confidence and,
    where the ground truth exists, the IoU of the detected silhouette with its mask and the median keypoint
    distance in pixels."""
    from predict.detectors import make_detector
    from predict.people import choose_main
    from utils.image_io import list_images, read_image_rgb

    rows = []
    with make_detector("mediapipe", "mediapipe") as detector:
        for path in list_images(folder):
            image = read_image_rgb(path).rgb
            person = choose_main(detector.detect(image, path), image.shape[:2])
            row = {
                "image": path.name,
                "found": person is not None,
                "mean_conf": None,
                "iou": None,
                "kp_px": None,
            }
            if person is not None:
                row["mean_conf"] = float(person.keypoints[:, 2].mean())
                mask_path = folder / "ground_truth" / "masks" / f"{path.stem}.png"
                if mask_path.is_file():
                    truth = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE) > 0
                    union = np.logical_or(truth, person.mask).sum()
                    row["iou"] = float(np.logical_and(truth, person.mask).sum() / max(union, 1))
                keypoints_path = folder / "ground_truth" / "keypoints" / f"{path.stem}.npy"
                if keypoints_path.is_file():
                    error = np.linalg.norm(person.keypoints[:, :2] - np.load(keypoints_path)[:, :2], axis=1)
                    row["kp_px"] = float(np.median(error))
            rows.append(row)
    return rows


def contact_sheet(folder: Path, out: Path, tile_height: int = 240, per_row: int = 5) -> Path:
    """All top-level pictures of `folder` side by side with their names, as a palette PNG (small)."""
    from PIL import Image

    from utils.image_io import list_images, read_image_rgb

    tiles = []
    for path in list_images(folder):
        rgb = read_image_rgb(path).rgb
        width = round(rgb.shape[1] * tile_height / rgb.shape[0])
        tile = np.full((tile_height + 22, width, 3), 32, np.uint8)
        tile[:tile_height] = cv2.resize(rgb, (width, tile_height), interpolation=cv2.INTER_AREA)
        label = path.stem.removeprefix("render_")
        cv2.putText(
            tile, label, (4, tile_height + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (235,) * 3, 1, cv2.LINE_AA
        )
        tiles.append(tile)
    gap = 6
    rows = []
    for start in range(0, len(tiles), per_row):
        row = tiles[start : start + per_row]
        parts = [np.concatenate((t, np.full((t.shape[0], gap, 3), 32, np.uint8)), 1) for t in row]
        rows.append(np.concatenate(parts, 1)[:, :-gap])
    width = max(row.shape[1] for row in rows)
    sheet = np.concatenate(
        [np.pad(row, ((0, gap), (0, width - row.shape[1]), (0, 0)), constant_values=32) for row in rows]
    )[:-gap]
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).quantize(
        256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.FLOYDSTEINBERG
    ).save(out, optimize=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("demo"), help="demo folder (holds textures/)")
    parser.add_argument("--check", action="store_true", help="then run mediapipe on the folder's images")
    parser.add_argument("--sheet", type=Path, default=None, help="also draw a contact sheet PNG here")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(f"wrote {path}")
    if args.sheet is not None:
        print(f"wrote {contact_sheet(args.out, args.sheet)}")
    if args.check:
        rows = check_with_detector(args.out)
        print("| image | person found | mean keypoint confidence | mask IoU | median keypoint error (px) |")
        print("|---|---|---|---|---|")
        for row in rows:
            conf = "-" if row["mean_conf"] is None else f"{row['mean_conf']:.2f}"
            iou = "-" if row["iou"] is None else f"{row['iou']:.3f}"
            kp = "-" if row["kp_px"] is None else f"{row['kp_px']:.1f}"
            print(f"| {row['image']} | {'yes' if row['found'] else 'no'} | {conf} | {iou} | {kp} |")
        ious = [row["iou"] for row in rows if row["iou"] is not None]
        if ious:
            print(f"mean IoU over {len(ious)} renders with a detection: {np.mean(ious):.3f}")


if __name__ == "__main__":
    main()
