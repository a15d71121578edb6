"""The scene benchmark's cases and the seeded layout of each of its pictures (who stands where, in what).

A picture is one case (`CASES`); picture i draws everything from generators seeded with `seed + i`, so a
benchmark of any size holds the same first pictures and one picture can be remade alone. Its case is
`case_schedule(config)[i % len]`: the cases in order, each repeated by its weight, so any prefix mixes
them evenly.

Frames (metres): the level camera's frame (x right, y down, z forward; the floor is horizontal) and the
camera's own, pitched `pitch_deg` down from it (`evaluation.photo_render.pitch_rotation`); the ground
truth is in the camera's frame, whose rotation is the identity in `cam_t`'s sense.

Placements: a `framed` person is put in the camera's frame so that the box of a part of the body (all of
it, down to the knees or down to the waist) fills a share of the picture's height at its centre; a
`standing` person stands on the floor `camera_height` below a level camera at (x, depth).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from configs.experiment import ProceduralPoseConfig
from data.procedural_poses import ProceduralPoseSource, euler_to_rotmat
from evaluation.photo_render import (
    HAIR_COLOURS,
    ROOMS,
    SKIN_TONES,
    frame_translation,
    pitch_rotation,
    stand_on_floor,
)
from utils.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle

# Upright archetypes of the procedural sampler (what people do in photographs of people standing).
UPRIGHT = ("standing", "walking", "arms_raised", "reaching", "arms_crossed", "hands_on_hips", "ready_stance")

CASES: dict[str, str] = {
    "front": "full body, facing the camera (yaw within 20 deg), camera pitch within +-20 deg",
    "three_quarter": "full body, turned 30-60 deg, camera pitch within +-20 deg",
    "side": "full body, side-on (75-105 deg), camera pitch within +-20 deg",
    "back": "full body, seen from behind (160-200 deg), camera pitch within +-20 deg",
    "knee_up": "standing, framed from the knees up (cut by the bottom border)",
    "waist_up": "standing, framed from the waist up (cut by the bottom border)",
    "loose_clothing": "full body in a coat or dress: an offset surface 3-8 cm over torso and legs",
    "occluded_by_object": "full body partly behind a crate or a pillar",
    "occluded_by_person": "two or three people, the back ones partly behind the front one",
    "group": "two to six people at 4-11 m, some cut by the side borders",
    "small": "one to three people 80-200 px tall at 1080 px picture height (scaled to the picture)",
    "build": "full body, yaw within 45 deg, betas 0 and 1 over +-2.5 (short to tall, slim to heavy)",
    "seated": "one person sitting at a table that hides the legs (not in the default cycle)",
}
# The default cycle: every case but "seated", which came later (adding it would change every picture).
DEFAULT_CASES = tuple(name for name in CASES if name != "seated")
# |yaw| ranges of the view cases in degrees (either sign); loose clothing and builds turn up to 45 deg.
VIEW_YAWS = {
    "front": (0.0, 20.0),
    "three_quarter": (30.0, 60.0),
    "side": (75.0, 105.0),
    "back": (160.0, 200.0),
}
# Posed vertices (V, 3) of a pose (72,) and betas (10,), no translation.
BodyFunction = Callable[[np.ndarray, np.ndarray], torch.Tensor]
CASE_WEIGHTS: dict[str, int] = {"group": 2}  # others 1: groups hold the most people and vary the most


@dataclass(frozen=True)
class SceneBenchmarkConfig:
    """Settings of the scene benchmark (its identity: a folder made with other settings is not reused).

    Attributes:
        num_pictures: benchmark size.
        seed: picture i draws from seed + i.
        image_hw: (H, W) pixels; people's sizes scale with H.
        cases: the case names used, in schedule order (`CASES` keys).
        focal_per_long_side: focal length per pixel of the long side for one-person cases (a short
            telephoto); `wide_focal_per_long_side` for groups and small people.
        betas_std, betas_clip: betas ~ N(0, std^2) clipped to +-clip (the open model's betas are N(0, I)).
        pitch_range_deg: camera pitch of the full-body view cases, uniform in +-range.
    """

    num_pictures: int = 338
    seed: int = 20_251_208
    image_hw: tuple[int, int] = (540, 960)
    cases: tuple[str, ...] = DEFAULT_CASES
    focal_per_long_side: float = 2.4
    wide_focal_per_long_side: float = 1.2
    betas_std: float = 1.0
    betas_clip: float = 2.5
    pitch_range_deg: float = 20.0
    body_model: str = "open"


@dataclass(frozen=True)
class Dress:
    """What a person wears (`evaluation.photo_render.Outfit`) and, for loose clothing, the coat over it:
    its albedo and its offset from the body in metres (0: none)."""

    skin: str
    hair: str
    shirt: tuple[float, float, float]
    trousers: tuple[float, float, float]
    shoes: tuple[float, float, float]
    long_sleeves: bool
    shorts: bool
    coat: tuple[float, float, float] = (0.0, 0.0, 0.0)
    coat_offset: float = 0.0
    coat_down_to_knees: bool = True  # a coat or dress over the thighs; False: a jacket


@dataclass
class PersonLayout:
    """One person: pose (72,) axis-angle and cam_t (3,) in the camera's frame, betas (10,), float32."""

    pose: np.ndarray
    betas: np.ndarray
    cam_t: np.ndarray
    dress: Dress


@dataclass
class Occluder:
    """A box standing on the floor, level camera's frame: centre x and z, width, depth and height (m)."""

    x: float
    z: float
    width: float
    depth: float
    height: float
    colour: tuple[float, float, float]


@dataclass
class PictureLayout:
    """Everything a picture shows, before rendering."""

    case: str
    image_hw: tuple[int, int]
    focal_length: float
    pitch_deg: float
    room: str
    light_deg: float
    people: list[PersonLayout] = field(default_factory=list)
    occluders: list[Occluder] = field(default_factory=list)


def case_schedule(config: SceneBenchmarkConfig) -> list[str]:
    """The cycle of cases that pictures 0, 1, 2, ... take in turn."""
    unknown = [name for name in config.cases if name not in CASES]
    if unknown or not config.cases:
        raise ValueError(f"Unknown scene cases {unknown}; known: {', '.join(CASES)}.")
    return [name for name in config.cases for _ in range(CASE_WEIGHTS.get(name, 1))]


class LayoutSampler:
    """Draws picture layouts. `body(pose, betas)` gives the posed vertices (V, 3) without translation and
    `parts` the vertex masks {"knee_up", "waist_up"} of the body's parts above the knees or the waist."""

    def __init__(self, config: SceneBenchmarkConfig, body: BodyFunction, parts: dict[str, np.ndarray]):
        self.config = config
        self.body = body
        self.parts = parts
        self.schedule = case_schedule(config)
        self.poses = _pose_source(UPRIGHT)
        self.seated_poses = _pose_source(("sitting",))

    def picture(self, index: int) -> PictureLayout:
        """The layout of picture `index` (the same for the same config and index)."""
        case = self.schedule[index % len(self.schedule)]
        draws = _Draws(self.config.seed + index)
        height, width = self.config.image_hw
        wide = case in ("group", "small", "occluded_by_person")  # room for people at several depths
        focal = (self.config.wide_focal_per_long_side if wide else self.config.focal_per_long_side) * max(
            height, width
        )
        layout = PictureLayout(
            case=case,
            image_hw=self.config.image_hw,
            focal_length=focal,
            pitch_deg=0.0,
            room=str(draws.rng.choice(sorted(ROOMS))),
            light_deg=float(draws.rng.uniform(-60.0, 60.0)),
        )
        if case in ("front", "three_quarter", "side", "back", "loose_clothing", "build"):
            self._framed_view(layout, draws)
        elif case in ("knee_up", "waist_up"):
            layout.pitch_deg = float(draws.rng.uniform(-10.0, 10.0))
            yaw = float(draws.rng.uniform(-30.0, 30.0))
            fill = float(draws.rng.uniform(0.8, 0.92))
            layout.people.append(self._framed(layout, draws, yaw, fill, case))
        elif case == "occluded_by_object":
            self._behind_object(layout, draws)
        elif case == "seated":
            self._at_table(layout, draws)
        else:
            self._standing_people(layout, draws)
        return layout

    def _framed_view(self, layout: PictureLayout, draws: _Draws) -> None:
        rng = draws.rng
        limit = self.config.pitch_range_deg
        layout.pitch_deg = float(rng.uniform(-limit, limit))
        low, high = VIEW_YAWS.get(layout.case, (0.0, 45.0))
        yaw = float(rng.uniform(low, high)) * float(rng.choice((-1.0, 1.0)))
        loose = layout.case == "loose_clothing"
        person = self._framed(layout, draws, yaw, float(rng.uniform(0.7, 0.88)), None, loose=loose)
        layout.people.append(person)

    def _framed(
        self,
        layout: PictureLayout,
        draws: _Draws,
        yaw: float,
        fill: float,
        part: str | None,
        loose: bool = False,
        pose: np.ndarray | None = None,
    ) -> PersonLayout:
        """A person framed in the camera's frame by the box of `part` (None: the whole body); the pose is
        drawn from the upright archetypes unless given."""
        if pose is None:
            pose = self.poses.sample(1, draws.torch)[0].numpy()
        pose = turn_root(pose, yaw, layout.pitch_deg)
        betas = self._betas(draws, layout.case == "build")
        vertices = self.body(pose, betas)
        framed = vertices if part is None else vertices[self.parts[part]]
        offset = (float(draws.rng.uniform(-0.12, 0.12)), float(draws.rng.uniform(-0.04, 0.04)))
        cam_t = frame_translation(framed, layout.image_hw, layout.focal_length, fill, offset)
        return PersonLayout(pose, betas, cam_t, self._dress(draws, loose))

    def _behind_object(self, layout: PictureLayout, draws: _Draws) -> None:
        rng = draws.rng
        yaw = float(rng.uniform(-45.0, 45.0))
        person = self._framed(layout, draws, yaw, float(rng.uniform(0.65, 0.8)), None)
        layout.people.append(person)
        vertices = self.body(person.pose, person.betas) + torch.from_numpy(
            person.cam_t
        )  # level = camera frame (no pitch)
        low, high = vertices.amin(0), vertices.amax(0)
        floor_y = float(high[1])
        pillar = bool(rng.random() < 0.5)
        height = floor_y + 1.0 if pillar else float(rng.uniform(0.7, 1.1))  # a pillar rises out of view
        width = float(rng.uniform(0.3, 0.5) if pillar else rng.uniform(0.5, 0.8))
        # Its near edge lands between the body's centre line and 0.2 m beyond it: one side is hidden.
        side = float(rng.choice((-1.0, 1.0)))
        x = float((low[0] + high[0]) / 2) + side * (width / 2 + float(rng.uniform(0.0, 0.2)))
        layout.occluders.append(
            Occluder(
                x=x,
                z=float(low[2]) - float(rng.uniform(0.4, 1.0)),
                width=width,
                depth=float(rng.uniform(0.3, 0.6)),
                height=height,
                colour=_colour(rng, 0.25, 0.75),
            )
        )

    def _at_table(self, layout: PictureLayout, draws: _Draws) -> None:
        """A seated person framed whole, level camera, behind a 65-75 cm table reaching to the knees."""
        rng = draws.rng
        pose = self.seated_poses.sample(1, draws.torch)[0].numpy()
        person = self._framed(
            layout, draws, float(rng.uniform(-30.0, 30.0)), float(rng.uniform(0.6, 0.75)), None, pose=pose
        )
        layout.people.append(person)
        vertices = self.body(person.pose, person.betas) + torch.from_numpy(person.cam_t)
        low, high = vertices.amin(0), vertices.amax(0)
        depth = float(rng.uniform(0.6, 0.9))
        layout.occluders.append(
            Occluder(
                x=float((low[0] + high[0]) / 2),
                z=float(low[2]) - depth / 2,  # its far side at the knees: nothing pokes through
                width=float(rng.uniform(1.0, 1.6)),
                depth=depth,
                height=float(rng.uniform(0.65, 0.75)),
                colour=_colour(rng, 0.3, 0.8),
            )
        )

    def _standing_people(self, layout: PictureLayout, draws: _Draws) -> None:
        """People on a common floor, level camera, nearest first."""
        rng = draws.rng
        height, width = layout.image_hw
        camera_height = float(rng.uniform(1.0, 1.6))
        half_view = width / 2 / layout.focal_length  # x / z at the side borders
        if layout.case == "occluded_by_person":
            depth = float(rng.uniform(4.0, 6.0))
            x0 = float(rng.uniform(-0.2, 0.2)) * depth * half_view
            places = [(x0, depth)]
            for _ in range(int(rng.integers(1, 3))):
                step = float(rng.uniform(0.25, 0.55)) * float(rng.choice((-1.0, 1.0)))
                places.append((x0 + step, places[-1][1] + float(rng.uniform(0.8, 2.0))))
        elif layout.case == "group":
            depths = np.sort(rng.uniform(4.0, 11.0, int(rng.integers(2, 7))))
            places = [(float(rng.uniform(-1.1, 1.1)) * d * half_view, float(d)) for d in depths]
        else:  # small: 80-200 px tall at 1080 px height, i.e. 7.4-18.5 % of the picture height
            tall = rng.uniform(80.0, 200.0, int(rng.integers(1, 4))) * height / 1080.0
            depths = np.sort(1.7 * layout.focal_length / tall)
            places = [(float(rng.uniform(-0.8, 0.8)) * d * half_view, float(d)) for d in depths]
        for x, depth in places:
            yaw = float(rng.uniform(-180.0, 180.0)) if layout.case == "group" else float(rng.uniform(-40, 40))
            pose = turn_root(self.poses.sample(1, draws.torch)[0].numpy(), yaw, 0.0)
            betas = self._betas(draws, False)
            cam_t = stand_on_floor(self.body(pose, betas), x, depth, camera_height)
            layout.people.append(PersonLayout(pose, betas, cam_t, self._dress(draws, False)))

    def _betas(self, draws: _Draws, build: bool) -> np.ndarray:
        config = self.config
        betas = np.clip(draws.rng.normal(0.0, config.betas_std, 10), -config.betas_clip, config.betas_clip)
        if build:  # the size and build components over their whole +-2.5 sigma range
            betas[:2] = draws.rng.uniform(-config.betas_clip, config.betas_clip, 2)
        return betas.astype(np.float32)

    def _dress(self, draws: _Draws, loose: bool) -> Dress:
        rng = draws.rng

        return Dress(
            skin=str(rng.choice(sorted(SKIN_TONES))),
            hair=str(rng.choice(sorted(HAIR_COLOURS))),
            shirt=_colour(rng, 0.1, 0.95),
            trousers=_colour(rng, 0.08, 0.6),
            shoes=_colour(rng, 0.05, 0.9),
            long_sleeves=bool(rng.random() < 0.5),
            shorts=bool(rng.random() < 0.2),
            coat=_colour(rng, 0.1, 0.8) if loose else (0.0, 0.0, 0.0),
            coat_offset=float(rng.uniform(0.03, 0.08)) if loose else 0.0,
            coat_down_to_knees=bool(rng.random() < 0.7),
        )


@dataclass
class _Draws:
    """A picture's random generators: numpy for layout and dress, torch for the pose sampler."""

    rng: np.random.Generator
    torch: torch.Generator

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.torch = torch.Generator().manual_seed(seed)


def _pose_source(archetypes: tuple[str, ...]) -> ProceduralPoseSource:
    """The procedural sampler over some archetypes, facing the camera (the cases turn the bodies)."""
    return ProceduralPoseSource(
        ProceduralPoseConfig(
            archetype_weights={name: 1.0 for name in archetypes}, yaw_range=5.0, tilt_std=2.0, lying_prob=0.0
        )
    )


def _colour(rng: np.random.Generator, low: float, high: float) -> tuple[float, float, float]:
    """An sRGB albedo with channels uniform in [low, high)."""
    r, g, b = (float(c) for c in rng.uniform(low, high, 3))
    return (r, g, b)


def turn_root(pose: np.ndarray, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """The pose (72,) with its body turned `yaw_deg` about the vertical axis (0 faces the camera, 90 shows
    its left side) and then seen by a camera pitched `pitch_deg` down. The sampler's root is
    R_x(180) @ R_y(yaw) @ tilt, so a body yaw of a is R_x(180) R_y(a) R_x(180)^T on the left."""
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
    yaw = euler_to_rotmat(torch.tensor([0.0, math.radians(yaw_deg), 0.0]))
    root = pitch_rotation(pitch_deg) @ flip @ yaw @ flip.T @ axis_angle_to_rotmat(torch.from_numpy(pose[:3]))
    return np.concatenate((rotmat_to_axis_angle(root).numpy(), pose[3:])).astype(np.float32)
