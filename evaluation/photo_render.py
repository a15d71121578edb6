"""Dressed, lit and shadowed pictures of body meshes over textured rooms (the demo renders' look).

Used by the demo renders (tools/demo_scenes.py, tools/demo_realinputs.py) and by the scene benchmark
(evaluation/scene_benchmark.py). Camera frame: x right, y down, z forward, metres.
- person: per-vertex colours from the skinning weights (head, neck, forearms, hands and, with shorts,
  shins: skin; upper arms, torso and, with long sleeves, forearms: shirt; pelvis and thighs: trousers;
  ankles and feet: shoes) with hair, eyes, eyebrows and lips placed around the model's COCO face
  keypoints; Lambert-lit by `renderers.shade` with a key and a fill light.
- background: a textured floor plane under the lowest vertex and a textured wall behind the people
  (scikit-image's CC0 brick, grass and gravel textures in demo/textures/, tinted), with the key light's
  shadow of the meshes cast on the floor (their silhouette projected along the light onto the floor
  plane, blurred) and a slight depth-of-field blur. The camera may be pitched (`pitch_deg`): the room and
  the meshes are then given in the level camera's frame and turned with it.
The picture is rendered at 2x and area-averaged (anti-aliased edges, consistent with a 1x mask).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch

from models.bundle import BodyModelBundle
from renderers import Lighting, shade, silhouette
from utils.cameras import perspective_project

TEXTURES_DIR = Path(__file__).resolve().parents[1] / "demo" / "textures"
Textures = dict[str, np.ndarray]  # name -> (h, w) float32 tileable grayscale texture

FOCAL_PER_LONG_SIDE = 2.4
SUPERSAMPLING = 2
JPEG_QUALITY = 92
TEXTURE_NAMES = ("grass", "gravel")

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


class Outfit(Protocol):
    """What `vertex_colours` dresses a body with: skin tone and hair colour names (`SKIN_TONES`,
    `HAIR_COLOURS`), sRGB albedos in [0, 1] of shirt, trousers and shoes, and the cut."""

    @property
    def skin(self) -> str: ...
    @property
    def hair(self) -> str: ...
    @property
    def shirt(self) -> tuple[float, float, float]: ...
    @property
    def trousers(self) -> tuple[float, float, float]: ...
    @property
    def shoes(self) -> tuple[float, float, float]: ...
    @property
    def long_sleeves(self) -> bool: ...
    @property
    def shorts(self) -> bool: ...


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


def vertex_colours(
    bundle: BodyModelBundle, scene: Outfit, weights: np.ndarray, generator: np.random.Generator
) -> torch.Tensor:
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
    surface: Surface, textures: Textures, a: np.ndarray, b: np.ndarray, wa: np.ndarray, wb: np.ndarray
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
    room: Room,
    textures: Textures,
    focal: float,
    hw: tuple[int, int],
    floor_y: float,
    wall_z: float,
    pitch_deg: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Wall and floor as the camera sees them: rgb (H, W, 3) float32 and the floor mask (H, W) bool.
    floor_y and wall_z are in the level camera's frame; the camera is pitched by `pitch_deg`."""
    height, width = hw
    u = (np.arange(width, dtype=np.float32) + 0.5 - width / 2) / focal
    v = (np.arange(height, dtype=np.float32) + 0.5 - height / 2) / focal
    uu, vv = np.meshgrid(u, v)
    if pitch_deg:
        # Each pixel's ray in the level frame, as (x / z, y / z): pitches up to ~30 deg keep z > 0.
        rays = np.stack((uu, vv, np.ones_like(uu)), axis=-1) @ pitch_rotation(pitch_deg).numpy()
        uu, vv = rays[..., 0] / rays[..., 2], rays[..., 1] / rays[..., 2]
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


def pitch_rotation(pitch_deg: float) -> torch.Tensor:
    """(3, 3) float32 R with x_camera = R x_level for a camera pitched `pitch_deg` down (negative: up)."""
    a = math.radians(pitch_deg)
    return torch.tensor([[1.0, 0.0, 0.0], [0.0, math.cos(a), -math.sin(a)], [0.0, math.sin(a), math.cos(a)]])


def frame_translation(
    vertices: torch.Tensor,
    image_hw: tuple[int, int],
    focal: float,
    fill: float,
    offset: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Translation (3,) that puts the box of the points `vertices` (V, 3) `offset` (a share of (W, H)) from
    the image centre and makes it fill `fill` of the image height or width, whichever binds (camera with
    the principal point at the image centre)."""
    height, width = image_hw
    centre = torch.tensor([width * (0.5 + offset[0]), height * (0.5 + offset[1])])
    extent = vertices.amax(0) - vertices.amin(0)
    depth = max(float(extent[0]) / width, float(extent[1]) / height) * focal / fill
    t = torch.tensor([0.0, 0.0, depth]) - vertices.mean(0)
    for _ in range(8):  # fixed-point refinement: perspective makes size and centre depend on t
        uv = perspective_project(vertices[None], focal, torch.tensor([width / 2, height / 2]), t[None])[0]
        size = uv.amax(0) - uv.amin(0)
        scale = max(float(size[0]) / width, float(size[1]) / height) / fill
        z = float(t[2] + vertices[:, 2].mean())
        box_centre = (uv.amax(0) + uv.amin(0)) / 2
        shift = (centre - box_centre) * z / focal
        t = t + torch.tensor([float(shift[0]), float(shift[1]), z * (scale - 1.0)])
    return t.numpy().astype(np.float32)


def stand_on_floor(body: torch.Tensor, x: float, depth: float, camera_height: float) -> np.ndarray:
    """cam_t (3,) that stands a body (V, 3, body frame, no translation) on the floor `camera_height` below a
    level camera, its centre `x` metres to the right and `depth` metres away."""
    low, high = body.amin(0), body.amax(0)
    centre_x, centre_z = float(low[0] + high[0]) / 2, float(low[2] + high[2]) / 2
    return np.array([x - centre_x, camera_height - float(high[1]), depth - centre_z], np.float32)


def light_direction(azimuth_deg: float) -> tuple[float, float, float]:
    """Travel direction of the key light (camera frame): 50 deg down from the horizontal, coming from
    `azimuth_deg` (0 = from behind the camera, positive = from the picture's left)."""
    a, elevation = math.radians(azimuth_deg), math.radians(50.0)
    return (math.sin(a) * math.cos(elevation), math.sin(elevation), math.cos(a) * math.cos(elevation))


def compose_picture(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    colours: torch.Tensor,
    focal: float,
    image_hw: tuple[int, int],
    room: Room,
    light_deg: float,
    textures: Textures,
    rng: np.random.Generator,
    pitch_deg: float = 0.0,
) -> np.ndarray:
    """Shade a mesh (1, V, 3) with per-vertex albedo (V, 3) in front of the room's wall and floor (the floor
    under the lowest vertex), with its shadow, and finish the picture (anti-aliasing, depth of field,
    vignette, noise, display curve) -> (H, W, 3) uint8 RGB. Several people are one mesh. The mesh is in
    the level camera's frame; the picture is taken by that camera pitched `pitch_deg` down."""
    height, width = image_hw
    ss = SUPERSAMPLING
    hw_ss = (height * ss, width * ss)
    centre_ss = torch.tensor([width * ss / 2, height * ss / 2])
    key_dir = light_direction(light_deg)
    fill_dir = light_direction(light_deg - 180.0 * 0.6)
    key = Lighting(ambient=0.3, diffuse=0.75, direction=_turn_direction(key_dir, pitch_deg))
    fill = Lighting(ambient=0.0, diffuse=0.22, direction=_turn_direction(fill_dir, pitch_deg))
    seen = turn_level_to_camera(vertices, pitch_deg)
    key_rgb, covered = shade(seen, faces, focal * ss, centre_ss, hw_ss, colours, key)
    fill_rgb, _ = shade(seen, faces, focal * ss, centre_ss, hw_ss, colours, fill)
    person = (key_rgb + fill_rgb).clamp(0, 1)[0].numpy()
    mask = covered[0].numpy()

    # Backdrop, then the body's shadow on the floor: vertices slid along the light onto the floor plane.
    floor_y = float(vertices[0, :, 1].max())
    wall_z = float(vertices[0, :, 2].mean()) + room.wall_behind
    background, on_floor = render_background(room, textures, focal * ss, hw_ss, floor_y, wall_z, pitch_deg)
    d = torch.tensor(key_dir)
    slide = (floor_y - vertices[..., 1:2]) / d[1]
    shadow_vertices = turn_level_to_camera(vertices + slide * d, pitch_deg)
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


def turn_level_to_camera(points: torch.Tensor, pitch_deg: float) -> torch.Tensor:
    """Points (..., 3) of the level camera's frame in the frame of the camera pitched `pitch_deg` down
    (unchanged, not even rounded, at 0)."""
    return points @ pitch_rotation(pitch_deg).T if pitch_deg else points


def _turn_direction(direction: tuple[float, float, float], pitch_deg: float) -> tuple[float, float, float]:
    if not pitch_deg:
        return direction
    x, y, z = turn_level_to_camera(torch.tensor(direction), pitch_deg).tolist()
    return (x, y, z)
