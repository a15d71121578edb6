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
- person: per-vertex colours from the skinning weights (head, neck, forearms, hands and, with shorts,
  shins: skin; upper arms, torso and, with long sleeves, forearms: shirt; pelvis and thighs: trousers;
  ankles and feet: shoes) with hair, eyes, eyebrows and lips placed around the model's COCO face
  keypoints; Lambert-lit by `renderers.shade` with a key and a fill light.
- background: a textured floor plane under the lowest vertex and a textured wall behind the person
  (scikit-image's CC0 brick, grass and gravel textures in `<out>/textures/`, tinted), with the key light's
  shadow of the body cast on the floor (the body's silhouette projected along the light onto the floor
  plane, blurred) and a slight depth-of-field blur.
The picture is rendered at 2x and area-averaged (anti-aliased edges, consistent with the 1x mask).
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
from models.bundle import load_bundle
from renderers import Lighting, shade, silhouette
from utils.cameras import perspective_project
from utils.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle

FOCAL_PER_LONG_SIDE = 2.4
SUPERSAMPLING = 2
JPEG_QUALITY = 92
TEXTURE_NAMES = ("grass", "gravel")
BETA_STD, BETA_CLIP = 0.8, 2.0

# SMPL joint indices used to dress the body (dominant skinning weight of a vertex).
_PELVIS, _HIPS, _KNEES, _ANKLES, _FEET = (0,), (1, 2), (4, 5), (7, 8), (10, 11)
_SPINE, _NECK, _COLLARS, _HEAD = (3, 6, 9), (12,), (13, 14), (15,)
_SHOULDERS, _ELBOWS, _WRISTS_HANDS = (16, 17), (18, 19), (20, 21, 22, 23)
# COCO-17 indices.
_NOSE, _EYES, _EARS = 0, (1, 2), (3, 4)

SKIN_TONES = {
    "light": (0.94, 0.76, 0.64),
    "medium": (0.80, 0.58, 0.43),
    "tan": (0.66, 0.45, 0.31),
    "dark": (0.42, 0.27, 0.19),
}
HAIR_COLOURS = {"black": (0.06, 0.05, 0.05), "brown": (0.25, 0.15, 0.08), "blond": (0.75, 0.6, 0.35)}


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


@dataclass(frozen=True)
class Surface:
    """A wall or floor material: a tinted grayscale grain texture (`texels_per_m` texels per metre,
    `contrast` around its mean), optionally laid out as bricks in running bond: `bricks` = (course height,
    brick length, mortar width) in metres, each brick's tint varied by +-`variation`."""

    texture: str
    tint: tuple[float, float, float]
    texels_per_m: float
    contrast: float = 1.0
    bricks: tuple[float, float, float] | None = None
    mortar: tuple[float, float, float] = (0.72, 0.7, 0.66)
    variation: float = 0.0


@dataclass(frozen=True)
class Room:
    """A backdrop: a wall `wall_behind` metres behind the person and the floor it stands on."""

    wall: Surface
    floor: Surface
    wall_behind: float


ROOMS = {
    "street": Room(
        wall=Surface("gravel", (0.62, 0.3, 0.22), 600.0, 0.5, (0.075, 0.225, 0.011), variation=0.25),
        floor=Surface("gravel", (0.7, 0.67, 0.62), 320.0),
        wall_behind=2.5,
    ),
    "garden": Room(
        wall=Surface("grass", (0.3, 0.47, 0.22), 140.0),
        floor=Surface("grass", (0.55, 0.76, 0.36), 260.0),
        wall_behind=3.5,
    ),
    "yard": Room(
        wall=Surface("gravel", (0.86, 0.8, 0.66), 60.0, 0.35),
        floor=Surface(
            "gravel", (0.6, 0.5, 0.45), 500.0, 0.6, (0.1, 0.2, 0.008), (0.45, 0.43, 0.4), variation=0.15
        ),
        wall_behind=3.0,
    ),
}


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
    height, width = scene.image_hw
    centre = torch.tensor([width * (0.5 + scene.offset[0]), height * (0.5 + scene.offset[1])])
    extent = vertices.amax(0) - vertices.amin(0)
    depth = max(float(extent[0]) / width, float(extent[1]) / height) * focal / scene.fill
    t = torch.tensor([0.0, 0.0, depth]) - vertices.mean(0)
    for _ in range(8):  # fixed-point refinement: perspective makes size and centre depend on t
        uv = perspective_project(vertices[None], focal, torch.tensor([width / 2, height / 2]), t[None])[0]
        size = uv.amax(0) - uv.amin(0)
        scale = max(float(size[0]) / width, float(size[1]) / height) / scene.fill
        z = float(t[2] + vertices[:, 2].mean())
        box_centre = (uv.amax(0) + uv.amin(0)) / 2
        shift = (centre - box_centre) * z / focal
        t = t + torch.tensor([float(shift[0]), float(shift[1]), z * (scale - 1.0)])
    return t.numpy().astype(np.float32)


def vertex_colours(bundle, scene: Scene, weights: np.ndarray, generator: np.random.Generator) -> torch.Tensor:
    """Per-vertex albedo (V, 3) float32: skin, clothes, shoes, hair and face details."""
    dominant = weights.argmax(1)
    template = bundle.tpose_vertices(torch.zeros(1, 10))[0]
    rest = template.numpy()
    coco = torch.einsum("jv,vc->jc", bundle.joint_head.coco17_regressor, template).numpy()

    def part(*groups: tuple[int, ...]) -> np.ndarray:
        return np.isin(dominant, [j for g in groups for j in g])

    skin = np.asarray(SKIN_TONES[scene.skin])
    colours = np.tile(skin, (len(rest), 1))
    colours[part(_SPINE, _COLLARS, _SHOULDERS)] = scene.shirt
    if scene.long_sleeves:
        colours[part(_ELBOWS)] = scene.shirt
    colours[part(_PELVIS, _HIPS)] = scene.trousers
    if not scene.shorts:
        colours[part(_KNEES)] = scene.trousers
    colours[part(_ANKLES, _FEET)] = scene.shoes
    # Fabric and skin are not flat: a little per-vertex variation.
    colours *= 1.0 + 0.04 * generator.standard_normal((len(rest), 1))

    head = part(_HEAD, _NECK)
    x, y, z = rest[:, 0], rest[:, 1], rest[:, 2]
    eye_y = coco[list(_EYES), 1].mean()
    ear_y, ear_z = coco[list(_EARS), 1].mean(), coco[list(_EARS), 2].mean()
    hair_colour = np.asarray(HAIR_COLOURS[scene.hair])
    hair = head & ((y > eye_y + 0.045) | ((z < ear_z - 0.005) & (y > ear_y - 0.045)))
    colours[hair] = hair_colour * (1.0 + 0.15 * generator.standard_normal((int(hair.sum()), 1)))

    front = z > coco[_NOSE, 2] - 0.06
    for eye in _EYES:
        ex, ey, ez = coco[eye]
        r2 = ((x - ex) / 0.014) ** 2 + ((y - ey) / 0.0075) ** 2
        near = head & front & (np.abs(z - ez) < 0.02)
        colours[near & (r2 < 1.0)] = (0.93, 0.92, 0.9)  # sclera
        colours[near & (((x - ex) ** 2 + (y - ey) ** 2) < 0.0055**2)] = (0.12, 0.08, 0.06)  # iris
        brow = ((x - ex) / 0.022) ** 2 + ((y - ey - 0.02) / 0.005) ** 2 < 1.0
        colours[head & front & brow & (z > ez - 0.03)] = hair_colour
    mouth_y = coco[_NOSE, 1] - 0.036
    lips = ((x - coco[_NOSE, 0]) / 0.024) ** 2 + ((y - mouth_y) / 0.007) ** 2 < 1.0
    colours[head & front & lips & (z > coco[_NOSE, 2] - 0.04)] = skin * (0.85, 0.55, 0.55)
    return torch.from_numpy(np.clip(colours, 0.0, 1.0).astype(np.float32))


def load_texture(folder: Path, name: str) -> np.ndarray:
    """A grayscale texture made tileable, (h, w) float32 in [0, 1]."""
    image = cv2.imread(str(folder / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FileNotFoundError(f"Texture {folder / name}.png is missing; it ships in demo/textures/.")
    return make_tileable(image.astype(np.float32) / 255.0)


def make_tileable(texture: np.ndarray, band: float = 0.15) -> np.ndarray:
    """Blend each axis with its half-period roll near the borders (within `band` of the size), so the
    texture wraps without seams; the blend's loss of contrast is restored. (h, w) -> (h, w) float32."""
    mean = float(texture.mean())
    out = texture - mean
    for axis in (0, 1):
        n = out.shape[axis]
        edge = np.minimum(np.arange(n) + 0.5, n - np.arange(n) - 0.5) / (band * n)
        w = np.clip(edge, 0.0, 1.0).astype(np.float32)
        w = w[:, None] if axis == 0 else w[None, :]
        rolled = np.roll(out, n // 2, axis=axis)
        out = (w * out + (1 - w) * rolled) / np.sqrt(w**2 + (1 - w) ** 2)
    return np.clip(out + mean, 0.0, 1.0).astype(np.float32)


def sample_texture(texture: np.ndarray, s: np.ndarray, t: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Tiled texture lookup at texel coordinates (s, t) with a mip level from the footprint (texels per
    pixel), trilinear. All arrays (H, W); returns (H, W) float32."""
    levels = [texture]
    while min(levels[-1].shape) > 8:
        levels.append(cv2.resize(levels[-1], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    level = np.clip(np.log2(np.maximum(footprint, 1.0)), 0, len(levels) - 1.001)
    lo = np.floor(level).astype(np.int64)
    out = np.zeros(s.shape, np.float32)
    for k in range(len(levels)):
        weight = np.where(lo == k, 1.0 - (level - lo), 0.0) + np.where(lo + 1 == k, level - lo, 0.0)
        if not weight.any():
            continue
        h, w = levels[k].shape
        x = np.mod(s / 2**k, w).astype(np.float32)
        y = np.mod(t / 2**k, h).astype(np.float32)
        sampled = cv2.remap(levels[k], x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
        out += weight.astype(np.float32) * sampled
    return out


def _pulse_coverage(x: np.ndarray, width: np.ndarray, period: float, duty: float) -> np.ndarray:
    """Box-filtered share of [x - width/2, x + width/2] covered by [k period, k period + duty)."""

    def integral(y: np.ndarray) -> np.ndarray:
        k = np.floor(y / period)
        return k * duty + np.clip(y - k * period, 0.0, duty)

    width = np.maximum(width, 1e-6)
    return (integral(x + width / 2) - integral(x - width / 2)) / width


def _hash01(a: np.ndarray, b: np.ndarray, seed: int) -> np.ndarray:
    """A fixed pseudo-random value in [0, 1) per integer pair."""
    h = (a.astype(np.int64) * 73856093) ^ (b.astype(np.int64) * 19349663) ^ (seed * 83492791)
    h = (h ^ (h >> 13)) * 1274126177
    return ((h ^ (h >> 16)) & 0xFFFF).astype(np.float32) / 65536.0


def surface_colour(
    surface: Surface, textures: dict, a: np.ndarray, b: np.ndarray, wa: np.ndarray, wb: np.ndarray
) -> np.ndarray:
    """Albedo (H, W, 3) of a surface at metric coordinates (a, b) with pixel footprints (wa, wb) metres."""
    texture = textures[surface.texture]
    grain = sample_texture(
        texture, a * surface.texels_per_m, b * surface.texels_per_m, np.maximum(wa, wb) * surface.texels_per_m
    )
    mean = float(texture.mean())
    grain = (mean + surface.contrast * (grain - mean)) / mean
    colour = grain[..., None] * np.asarray(surface.tint, np.float32)
    if surface.bricks is None:
        return colour
    course, length, mortar_width = surface.bricks
    row = np.floor(b / course)
    shifted = a + 0.5 * length * np.mod(row, 2)
    col = np.floor(shifted / length)
    tone = 1.0 + surface.variation * (2.0 * _hash01(row, col, 1) - 1.0)
    hue = 1.0 + 0.3 * surface.variation * (2.0 * _hash01(row, col, 2) - 1.0)
    colour = colour * np.stack((tone * hue, tone, tone / hue), axis=-1)
    mortar = 1.0 - (1.0 - _pulse_coverage(b, wb, course, mortar_width)) * (
        1.0 - _pulse_coverage(shifted, wa, length, mortar_width)
    )
    mortar_colour = np.asarray(surface.mortar, np.float32) * np.clip(grain, 0.7, 1.3)[..., None]
    return (1.0 - mortar[..., None]) * colour + mortar[..., None] * mortar_colour


def render_background(
    room: Room, textures: dict, focal: float, hw: tuple[int, int], floor_y: float, wall_z: float
) -> tuple[np.ndarray, np.ndarray]:
    """Wall and floor as the camera sees them: rgb (H, W, 3) float32 and the floor mask (H, W) bool."""
    height, width = hw
    u = (np.arange(width, dtype=np.float32) + 0.5 - width / 2) / focal
    v = (np.arange(height, dtype=np.float32) + 0.5 - height / 2) / focal
    uu, vv = np.meshgrid(u, v)
    floor_z = np.where(vv > 1e-6, floor_y / np.maximum(vv, 1e-6), np.inf)
    on_floor = floor_z < wall_z

    wall_pixel = np.full(uu.shape, wall_z / focal, np.float32)
    # The wall's b axis runs up from the floor, so brick courses sit on the ground.
    wall = surface_colour(room.wall, textures, uu * wall_z, floor_y - vv * wall_z, wall_pixel, wall_pixel)
    wall *= (0.75 + 0.25 * np.clip(vv * focal / height + 0.5, 0, 1))[..., None]  # darker up high
    z = np.where(on_floor, floor_z, wall_z).astype(np.float32)
    # Footprint along the floor's depth grows with z^2 / (f * camera height).
    floor = surface_colour(room.floor, textures, uu * z, z, z / focal, z * z / (focal * floor_y))
    haze = np.clip((z - 3.0) / 20.0, 0.0, 0.3)[..., None]  # aerial perspective on distant floor
    floor = floor * (1 - haze) + haze * 0.6
    rgb = np.where(on_floor[..., None], floor, 0.85 * wall)
    return rgb.astype(np.float32), on_floor


def light_direction(azimuth_deg: float) -> tuple[float, float, float]:
    """Travel direction of the key light (camera frame): 50 deg down from the horizontal, coming from
    `azimuth_deg` (0 = from behind the camera, positive = from the picture's left)."""
    a, elevation = math.radians(azimuth_deg), math.radians(50.0)
    return (math.sin(a) * math.cos(elevation), math.sin(elevation), math.cos(a) * math.cos(elevation))


def render_scene(bundle, scene: Scene, textures: dict, weights: np.ndarray) -> tuple[np.ndarray, SceneTruth]:
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


def compose_picture(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    colours: torch.Tensor,
    focal: float,
    image_hw: tuple[int, int],
    room: Room,
    light_deg: float,
    textures: dict,
    rng: np.random.Generator,
) -> np.ndarray:
    """Shade a camera-frame mesh (1, V, 3) with per-vertex albedo (V, 3) in front of the room's wall and
    floor (the floor under the lowest vertex), with its shadow, and finish the picture (anti-aliasing,
    depth of field, vignette, noise, display curve) -> (H, W, 3) uint8 RGB. Several people are one mesh."""
    height, width = image_hw
    ss = SUPERSAMPLING
    hw_ss = (height * ss, width * ss)
    centre_ss = torch.tensor([width * ss / 2, height * ss / 2])
    key_dir = light_direction(light_deg)
    key = Lighting(ambient=0.3, diffuse=0.75, direction=key_dir)
    fill = Lighting(ambient=0.0, diffuse=0.22, direction=light_direction(light_deg - 180.0 * 0.6))
    key_rgb, mask = shade(vertices, faces, focal * ss, centre_ss, hw_ss, colours, key)
    fill_rgb, _ = shade(vertices, faces, focal * ss, centre_ss, hw_ss, colours, fill)
    person = (key_rgb + fill_rgb).clamp(0, 1)[0].numpy()
    mask = mask[0].numpy()

    # Backdrop, then the body's shadow on the floor: vertices slid along the light onto the floor plane.
    floor_y = float(vertices[0, :, 1].max())
    wall_z = float(vertices[0, :, 2].mean()) + room.wall_behind
    background, on_floor = render_background(room, textures, focal * ss, hw_ss, floor_y, wall_z)
    d = torch.tensor(key_dir)
    slide = (floor_y - vertices[..., 1:2]) / d[1]
    shadow_vertices = vertices + slide * d
    shadow = silhouette(shadow_vertices, faces, focal * ss, centre_ss, hw_ss)[0].numpy().astype(np.float32)
    shadow = cv2.GaussianBlur(shadow, (0, 0), 3.0 * ss) * on_floor
    contact = cv2.GaussianBlur(shadow, (0, 0), 10.0 * ss) * on_floor  # soft ambient occlusion
    background *= (1.0 - 0.5 * shadow - 0.15 * contact)[..., None]
    background = cv2.GaussianBlur(background, (0, 0), 1.2 * ss)  # depth of field

    picture = np.where(mask[..., None], person, background)
    picture = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
    # Vignette and sensor noise.
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r2 = ((xx + 0.5 - width / 2) ** 2 + (yy + 0.5 - height / 2) ** 2) / (0.5 * max(height, width)) ** 2
    picture = picture * (1.0 - 0.18 * r2)[..., None]
    picture = picture + rng.normal(0.0, 0.008, picture.shape).astype(np.float32)
    # sRGB-ish display curve: albedo-times-light is linear-ish, lift the mid-tones a little.
    picture = np.clip(picture, 0.0, 1.0) ** (1 / 1.15)
    return (picture * 255.0 + 0.5).astype(np.uint8)


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
