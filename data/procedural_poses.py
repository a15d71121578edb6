"""A procedural SMPL pose sampler, for training without the licensed AMASS pose files.

A pose is drawn from a mixture of archetypes (standing, walking, running, sitting, crouching, ...). Each
archetype is a small table of per-joint Euler angles: a centre, a uniform spread around it, and for gaits a
swing driven by a random phase in which the left and right limbs move in anti-phase. Gaussian noise is
added, left/right variations are partly shared (people are roughly symmetric), a coin flip mirrors the
pose, and every angle is clamped to per-joint anatomical limits. The global orientation puts the body
upright in the camera frame with any yaw and a few degrees of pitch and roll; a small share of bodies
lies on the ground instead.

Angle conventions (degrees in the tables, SMPL's world-aligned rest frames: x = body's left, y = up,
z = forward). A joint's local rotation is R = R_x(a) @ R_y(b) @ R_z(c) for angles (a, b, c):
- hips: a < 0 flexes the thigh forward; c > 0 abducts the left leg. Knees: a > 0 flexes.
- ankles: a < 0 lifts the toes (dorsiflexion). Spine joints and neck: a > 0 bends forward.
- left shoulder: c > 0 raises the arm, c = -90 lowers it along the body; with the arm lowered, a < 0
  swings it forward and b < 0 turns it inwards. Left elbow: b < 0 flexes (forearm forward).
- the right side mirrors the left: the same a, negated b and c. Tables are written in the left side's
  terms and name a joint without its side ("hip") for both sides, or with it ("R_hip") for one side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from configs.experiment import ProceduralPoseConfig
from configs.loader import ConfigError
from data.skeleton import JOINT_INDEX, JOINT_NAMES, LEFT_RIGHT_PAIRS, NUM_JOINTS
from utils.random_draws import bernoulli, normal, uniform
from utils.rotations import rotmat_to_axis_angle

Angles = tuple[float, float, float]
Range = tuple[float, float]


@dataclass(frozen=True)
class Archetype:
    """One family of poses (all values in degrees, see the module docstring for the conventions).

    Euler angles = centre + spread * u + swing * sin(phase) + swing_cos * cos(phase), u ~ U(-1, 1) per
    angle. Joint 0 ("pelvis") is the pelvis relative to the upright body frame, e.g. the forward tilt of a
    bending body. Swing tables are given for the left side; the right side gets the anti-phase.
    """

    centre: Mapping[str, Angles]
    spread: Mapping[str, Angles]
    swing: Mapping[str, Angles] = field(default_factory=dict)
    swing_cos: Mapping[str, Angles] = field(default_factory=dict)


# Variation shared by most archetypes: torso, head and wrists move a little, hands and feet barely.
_BASE_SPREAD: dict[str, Angles] = {
    "spine1": (6, 8, 5),
    "spine2": (5, 8, 4),
    "spine3": (5, 8, 4),
    "neck": (10, 20, 8),
    "head": (8, 15, 6),
    "collar": (4, 5, 6),
    "wrist": (15, 10, 25),
    "ankle": (8, 5, 5),
    "foot": (5, 0, 0),
}


def _archetype(
    centre: Mapping[str, Angles],
    spread: Mapping[str, Angles],
    swing: Mapping[str, Angles] | None = None,
    swing_cos: Mapping[str, Angles] | None = None,
) -> Archetype:
    return Archetype(dict(centre), {**_BASE_SPREAD, **spread}, dict(swing or {}), dict(swing_cos or {}))


ARCHETYPES: dict[str, Archetype] = {
    "standing": _archetype(
        centre={"shoulder": (0, 0, -72), "elbow": (0, -15, 0), "knee": (5, 0, 0)},
        spread={
            "pelvis": (5, 10, 5),
            "hip": (8, 10, 6),
            "knee": (5, 0, 0),
            "shoulder": (15, 20, 15),
            "elbow": (10, 15, 0),
        },
    ),
    "walking": _archetype(
        centre={"hip": (-8, 0, 0), "knee": (18, 0, 0), "shoulder": (0, 0, -78), "elbow": (0, -25, 0)},
        spread={"hip": (5, 5, 3), "knee": (5, 0, 0), "shoulder": (5, 10, 5), "elbow": (0, 10, 0)},
        swing={
            "pelvis": (0, 6, 0),
            "spine3": (0, -6, 0),
            "hip": (-24, 0, 0),
            "ankle": (8, 0, 0),
            "shoulder": (22, 0, 0),
            "elbow": (0, 12, 0),
        },
        swing_cos={"knee": (18, 0, 0)},
    ),
    "running": _archetype(
        centre={
            "pelvis": (8, 0, 0),
            "spine1": (6, 0, 0),
            "hip": (-30, 0, 0),
            "knee": (60, 0, 0),
            "shoulder": (0, 0, -72),
            "elbow": (0, -85, 0),
        },
        spread={"hip": (6, 5, 3), "knee": (10, 0, 0), "shoulder": (5, 10, 8), "elbow": (0, 15, 0)},
        swing={
            "pelvis": (0, 8, 0),
            "spine3": (0, -10, 0),
            "hip": (-42, 0, 0),
            "ankle": (15, 0, 0),
            "shoulder": (40, 0, 0),
            "elbow": (0, 15, 0),
        },
        swing_cos={"knee": (45, 0, 0)},
    ),
    "sitting": _archetype(
        centre={
            "pelvis": (-8, 0, 0),
            "hip": (-88, 0, 8),
            "knee": (88, 0, 0),
            "shoulder": (-30, 0, -72),
            "elbow": (0, -55, 0),
        },
        spread={
            "pelvis": (8, 10, 3),
            "hip": (15, 12, 10),
            "knee": (25, 5, 0),
            "shoulder": (20, 20, 10),
            "elbow": (0, 35, 0),
        },
    ),
    "crouching": _archetype(
        centre={
            "pelvis": (25, 0, 0),
            "hip": (-112, 0, 18),
            "knee": (130, 0, 0),
            "ankle": (-25, 0, 0),
            "shoulder": (-45, 0, -65),
            "elbow": (0, -60, 0),
        },
        spread={
            "pelvis": (10, 8, 3),
            "hip": (10, 10, 10),
            "knee": (10, 0, 0),
            "shoulder": (20, 20, 15),
            "elbow": (0, 30, 0),
        },
    ),
    "kneeling": _archetype(
        centre={
            "L_hip": (-85, 0, 5),
            "L_knee": (90, 0, 0),
            "R_hip": (5, 0, 0),
            "R_knee": (95, 0, 0),
            "R_ankle": (30, 0, 0),
            "shoulder": (-20, 0, -72),
            "elbow": (0, -40, 0),
        },
        spread={"pelvis": (8, 8, 3), "hip": (10, 8, 6), "knee": (10, 0, 0), "shoulder": (20, 20, 15)},
    ),
    "bending": _archetype(
        centre={
            "pelvis": (55, 0, 0),
            "hip": (-50, 0, 4),
            "knee": (8, 0, 0),
            "spine1": (15, 0, 0),
            "spine2": (10, 0, 0),
            "spine3": (10, 0, 0),
            "neck": (-15, 0, 0),
            "shoulder": (-60, 0, -80),
            "elbow": (0, -20, 0),
        },
        spread={
            "pelvis": (15, 8, 4),
            "hip": (10, 6, 4),
            "knee": (8, 0, 0),
            "shoulder": (25, 15, 10),
            "elbow": (0, 20, 0),
        },
    ),
    "arms_raised": _archetype(
        centre={"collar": (0, 0, 10), "shoulder": (0, 0, 70), "elbow": (0, -20, 0)},
        spread={"pelvis": (4, 10, 4), "hip": (6, 8, 5), "shoulder": (20, 20, 22), "elbow": (0, 20, 0)},
    ),
    "reaching": _archetype(
        centre={
            "spine3": (0, -10, 0),
            "L_shoulder": (0, -65, 15),
            "L_elbow": (0, -15, 0),
            "R_shoulder": (0, 0, -72),
            "R_elbow": (0, -20, 0),
        },
        spread={
            "pelvis": (5, 10, 4),
            "hip": (6, 8, 5),
            "L_shoulder": (20, 25, 35),
            "L_elbow": (0, 15, 0),
            "R_shoulder": (15, 15, 10),
            "R_elbow": (0, 15, 0),
        },
    ),
    "arms_crossed": _archetype(
        centre={"shoulder": (0, -45, -75), "elbow": (0, -95, 0)},
        spread={"pelvis": (4, 8, 3), "hip": (6, 8, 5), "shoulder": (8, 10, 8), "elbow": (0, 10, 0)},
    ),
    "hands_on_hips": _archetype(
        centre={"shoulder": (60, -60, -50), "elbow": (0, -100, 0)},
        spread={"pelvis": (4, 8, 3), "hip": (6, 8, 5), "shoulder": (8, 10, 8), "elbow": (0, 15, 0)},
    ),
    "ready_stance": _archetype(
        centre={
            "pelvis": (25, 0, 0),
            "hip": (-40, 0, 15),
            "knee": (50, 0, 0),
            "ankle": (-10, 0, 0),
            "shoulder": (-40, 0, -60),
            "elbow": (0, -70, 0),
        },
        spread={
            "pelvis": (8, 10, 4),
            "hip": (10, 8, 6),
            "knee": (12, 0, 0),
            "shoulder": (15, 20, 15),
            "elbow": (0, 20, 0),
        },
    ),
    "lunge": _archetype(
        centre={
            "L_hip": (-80, 0, 5),
            "L_knee": (85, 0, 0),
            "R_hip": (20, 0, 5),
            "R_knee": (15, 0, 0),
            "shoulder": (0, 0, -60),
            "elbow": (0, -20, 0),
        },
        spread={"pelvis": (8, 10, 4), "hip": (10, 8, 5), "knee": (12, 0, 0), "shoulder": (25, 25, 20)},
    ),
    "kicking": _archetype(
        centre={
            "pelvis": (-10, 0, 0),
            "L_hip": (-65, 0, 5),
            "L_knee": (35, 0, 0),
            "R_knee": (15, 0, 0),
            "shoulder": (0, 0, -40),
            "elbow": (0, -20, 0),
        },
        spread={
            "pelvis": (8, 10, 5),
            "L_hip": (25, 10, 8),
            "L_knee": (30, 0, 0),
            "R_hip": (6, 8, 4),
            "shoulder": (20, 20, 20),
        },
    ),
    "throwing": _archetype(
        centre={
            "spine3": (0, 15, 0),
            "L_shoulder": (-90, 0, 45),
            "L_elbow": (0, -90, 0),
            "R_shoulder": (-10, -30, -50),
            "R_hip": (5, 0, 10),
            "L_hip": (-15, 0, 8),
        },
        spread={
            "pelvis": (5, 15, 5),
            "hip": (6, 8, 5),
            "L_shoulder": (15, 15, 15),
            "L_elbow": (0, 25, 0),
            "R_shoulder": (15, 15, 15),
        },
    ),
}


# Anatomical limits (degrees) per angle (a, b, c), for the left side and the mid-line; the right side is
# mirrored. The pelvis row bounds the archetype's pelvis adjustment, not the global orientation.
JOINT_LIMITS: dict[str, tuple[Range, Range, Range]] = {
    "pelvis": ((-30, 90), (-30, 30), (-20, 20)),
    "hip": ((-125, 30), (-40, 40), (-30, 60)),
    "knee": ((0, 150), (-10, 10), (-5, 5)),
    "ankle": ((-30, 50), (-20, 20), (-20, 20)),
    "foot": ((-30, 30), (-5, 5), (-5, 5)),
    "spine1": ((-25, 50), (-30, 30), (-25, 25)),
    "spine2": ((-20, 30), (-30, 30), (-20, 20)),
    "spine3": ((-20, 30), (-30, 30), (-20, 20)),
    "neck": ((-40, 50), (-60, 60), (-30, 30)),
    "head": ((-30, 30), (-30, 30), (-20, 20)),
    "collar": ((-15, 15), (-20, 20), (-15, 30)),
    "shoulder": ((-120, 90), (-90, 90), (-95, 100)),
    "elbow": ((-60, 60), (-150, 5), (-10, 10)),
    "wrist": ((-40, 40), (-30, 30), (-70, 70)),
    "hand": ((-20, 20), (-10, 10), (-20, 20)),
}

# Relative size of the Gaussian noise per joint: the archetypes' spreads carry the large variations.
_NOISE_SCALE: dict[str, float] = {"pelvis": 0.0, "foot": 0.3, "hand": 0.3}


@dataclass
class ProceduralPoses:
    """A batch from the sampler, with the draws that produced it.

    Attributes:
        poses: (B, 72) float32 axis-angle, global orientation first, camera frame.
        joint_angles: (B, 24, 3) clamped Euler angles in degrees; row 0 is the pelvis relative to `frame`.
        frame: (B, 3, 3) the body frame before the pelvis adjustment (upright or lying) in the camera frame.
        archetype: (B,) int64 index into `ProceduralPoseSource.archetype_names`.
        mirrored: (B,) bool.
        lying: (B,) bool.
    """

    poses: torch.Tensor
    joint_angles: torch.Tensor
    frame: torch.Tensor
    archetype: torch.Tensor
    mirrored: torch.Tensor
    lying: torch.Tensor


class ProceduralPoseSource:
    """Samples SMPL poses from the archetype mixture; see the module docstring.

    Sampling is vectorised over the batch and runs on the generator's device, so the same seed gives the
    same poses on the same device type.
    """

    def __init__(self, config: ProceduralPoseConfig | None = None):
        self.config = config or ProceduralPoseConfig()
        unknown = sorted(set(self.config.archetype_weights) - set(ARCHETYPES))
        if unknown:
            raise ConfigError(f"Unknown pose archetypes {unknown}; the known ones are {sorted(ARCHETYPES)}.")
        self.archetype_names = tuple(ARCHETYPES)
        weights = torch.tensor(
            [float(self.config.archetype_weights.get(n, 0.0)) for n in self.archetype_names]
        )
        if (weights < 0).any() or weights.sum() <= 0:
            raise ConfigError("Archetype weights must be non-negative with a positive sum.")
        self.weights = weights / weights.sum()
        self._tables = _ArchetypeTables.build(self.archetype_names)
        # The tables and weights per device, copied once: sampling runs every training step.
        self._on_device: dict[torch.device, tuple[_ArchetypeTables, torch.Tensor]] = {}

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """Poses (B, 72) float32 axis-angle on the generator's device."""
        return self.sample_detailed(batch_size, generator).poses

    def sample_detailed(self, batch_size: int, generator: torch.Generator) -> ProceduralPoses:
        """Poses with the archetype, mirroring and orientation draws behind them."""
        cfg, device = self.config, generator.device
        if device not in self._on_device:
            self._on_device[device] = (self._tables.to(device), self.weights.to(device))
        t, weights = self._on_device[device]
        archetype = torch.multinomial(weights, batch_size, replacement=True, generator=generator)

        # Random variation inside the archetype, partly shared between the two sides.
        c = cfg.lr_correlation
        u_shared, u_own = (uniform((batch_size, NUM_JOINTS, 3), -1.0, 1.0, generator) for _ in range(2))
        u = c * u_shared[:, t.left_twin] + (1.0 - c) * u_own
        n_shared, n_own = (normal((batch_size, NUM_JOINTS, 3), generator) for _ in range(2))
        noise = math.sqrt(c) * n_shared[:, t.left_twin] + math.sqrt(1.0 - c) * n_own
        phase = uniform((batch_size, 1, 1), 0.0, 2.0 * math.pi, generator)

        angles = (
            t.centre[archetype]
            + t.spread[archetype] * u
            + t.swing[archetype] * torch.sin(phase)
            + t.swing_cos[archetype] * torch.cos(phase)
            + cfg.noise_std * t.noise_scale * noise
        )
        mirrored = bernoulli((batch_size,), cfg.mirror_prob, generator)
        angles = torch.where(mirrored[:, None, None], mirror_joint_angles(angles), angles)
        angles = torch.minimum(torch.maximum(angles, t.lower), t.upper)

        frame, lying = self._sample_frames(batch_size, generator)
        rotmats = euler_to_rotmat(torch.deg2rad(angles))  # (B, 24, 3, 3)
        rotmats = torch.cat((frame[:, None] @ rotmats[:, :1], rotmats[:, 1:]), dim=1)
        poses = rotmat_to_axis_angle(rotmats).reshape(batch_size, NUM_JOINTS * 3)
        return ProceduralPoses(poses, angles, frame, archetype, mirrored, lying)

    def cycle(self, archetype: str, phases: torch.Tensor) -> torch.Tensor:
        """An archetype's centre pose with its swing at the given phases (radians): a noise-free motion
        cycle such as a gait, upright and facing the camera. phases: (T,) -> poses (T, 72) axis-angle."""
        t = self._tables
        index = self.archetype_names.index(archetype)
        phase = phases.reshape(-1, 1, 1).float()
        angles = t.centre[index] + t.swing[index] * torch.sin(phase) + t.swing_cos[index] * torch.cos(phase)
        angles = torch.minimum(torch.maximum(angles, t.lower), t.upper)
        rotmats = euler_to_rotmat(torch.deg2rad(angles))
        flip = torch.diag(torch.tensor([1.0, -1.0, -1.0]))  # R_x(180 deg): upright in the camera frame
        rotmats = torch.cat((flip @ rotmats[:, :1], rotmats[:, 1:]), dim=1)
        return rotmat_to_axis_angle(rotmats).reshape(len(phases), NUM_JOINTS * 3)

    def _sample_frames(
        self, batch_size: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Body frames in the camera frame (B, 3, 3) and the lying flags (B,).

        frame = R_x(180) @ R_y(yaw) @ tilt: R_x(180) turns SMPL's y-up body upright in the y-down camera
        frame, the yaw turns it about its own vertical axis, and the tilt is either a small pitch/roll or,
        for lying bodies, a spin about the long axis followed by a ~90 deg tip over onto the ground.
        """
        cfg = self.config
        yaw = torch.deg2rad(uniform((batch_size,), -cfg.yaw_range, cfg.yaw_range, generator))
        pitch, roll = (
            torch.deg2rad(cfg.tilt_std * normal((batch_size,), generator).clamp(-2.5, 2.5)) for _ in range(2)
        )
        tip = torch.deg2rad(90.0 + cfg.lying_tilt_std * normal((batch_size,), generator).clamp(-2.5, 2.5))
        spin = torch.deg2rad(uniform((batch_size,), -180.0, 180.0, generator))
        lying = bernoulli((batch_size,), cfg.lying_prob, generator)

        zero = torch.zeros_like(yaw)
        upright_tilt = euler_to_rotmat(torch.stack((pitch, zero, roll), dim=-1))
        lying_tilt = euler_to_rotmat(torch.stack((tip, spin, zero), dim=-1))
        tilt = torch.where(lying[:, None, None], lying_tilt, upright_tilt)
        flip = torch.diag(torch.tensor([1.0, -1.0, -1.0], device=yaw.device))  # R_x(180 deg)
        heading = euler_to_rotmat(torch.stack((zero, yaw, zero), dim=-1))
        return flip @ heading @ tilt, lying


def euler_to_rotmat(angles: torch.Tensor) -> torch.Tensor:
    """Euler angles (..., 3) in radians (a, b, c) -> R_x(a) @ R_y(b) @ R_z(c), shape (..., 3, 3)."""
    a, b, c = angles.unbind(dim=-1)
    one, zero = torch.ones_like(a), torch.zeros_like(a)

    def mat(*rows: torch.Tensor) -> torch.Tensor:
        return torch.stack(rows, dim=-1).reshape(*a.shape, 3, 3)

    rx = mat(one, zero, zero, zero, a.cos(), -a.sin(), zero, a.sin(), a.cos())
    ry = mat(b.cos(), zero, b.sin(), zero, one, zero, -b.sin(), zero, b.cos())
    rz = mat(c.cos(), -c.sin(), zero, c.sin(), c.cos(), zero, zero, zero, one)
    return rx @ ry @ rz


def _mirror_permutation() -> list[int]:
    perm = list(range(NUM_JOINTS))
    for left, right in LEFT_RIGHT_PAIRS:
        perm[left], perm[right] = right, left
    return perm


_MIRROR_PERM = _mirror_permutation()
_MIRROR_SIGN = (1.0, -1.0, -1.0)


def mirror_joint_angles(angles: torch.Tensor) -> torch.Tensor:
    """Left/right mirror image of per-joint Euler angles (..., 24, 3): swap the sides, negate b and c.

    Reflecting through the body's mid-plane (x -> -x) maps R_x(a) R_y(b) R_z(c) to R_x(a) R_y(-b) R_z(-c).
    """
    return angles[..., _MIRROR_PERM, :] * angles.new_tensor(_MIRROR_SIGN)


@dataclass
class _ArchetypeTables:
    """The archetype tables as tensors (degrees): centre, spread, swing, swing_cos (A, 24, 3); limits and
    noise scales (24, 3); left_twin (24,) maps each joint to its left twin (itself on the mid-line)."""

    centre: torch.Tensor
    spread: torch.Tensor
    swing: torch.Tensor
    swing_cos: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor
    noise_scale: torch.Tensor
    left_twin: torch.Tensor

    @classmethod
    def build(cls, names: tuple[str, ...]) -> _ArchetypeTables:
        archetypes = [ARCHETYPES[n] for n in names]
        low_ends = {k: (x[0], y[0], z[0]) for k, (x, y, z) in JOINT_LIMITS.items()}
        high_ends = {k: (x[1], y[1], z[1]) for k, (x, y, z) in JOINT_LIMITS.items()}
        limits, limits_hi = _side_table(low_ends, antiphase=False), _side_table(high_ends, antiphase=False)
        # Mirroring negates b and c on the right side, which swaps which bound is the lower one.
        lower, upper = torch.minimum(limits, limits_hi), torch.maximum(limits, limits_hi)
        left_twin = torch.arange(NUM_JOINTS)
        for left, right in LEFT_RIGHT_PAIRS:
            left_twin[right] = left
        noise_scale = torch.tensor([_NOISE_SCALE.get(_side_free(n), 1.0) for n in JOINT_NAMES])
        return cls(
            centre=torch.stack([_side_table(a.centre, antiphase=False) for a in archetypes]),
            # Spreads multiply symmetric noise, so only their magnitude matters.
            spread=torch.stack([_side_table(a.spread, antiphase=False).abs() for a in archetypes]),
            swing=torch.stack([_side_table(a.swing, antiphase=True) for a in archetypes]),
            swing_cos=torch.stack([_side_table(a.swing_cos, antiphase=True) for a in archetypes]),
            lower=lower,
            upper=upper,
            noise_scale=noise_scale[:, None].expand(NUM_JOINTS, 3).clone(),
            left_twin=left_twin,
        )

    def to(self, device: torch.device) -> _ArchetypeTables:
        return _ArchetypeTables(**{k: v.to(device) for k, v in vars(self).items()})


def joint_angle_limits() -> tuple[torch.Tensor, torch.Tensor]:
    """Anatomical limits of every joint's Euler angles (a, b, c) of R_x(a) @ R_y(b) @ R_z(c): lower and
    upper bounds (24, 3) in degrees, right side mirrored (the sampler's clamp; row 0 bounds the pelvis
    adjustment, not the global orientation)."""
    tables = _ArchetypeTables.build(tuple(ARCHETYPES))
    return tables.lower.clone(), tables.upper.clone()


def _side_free(name: str) -> str:
    return name[2:] if name[:2] in ("L_", "R_") else name


def _side_table(entries: Mapping[str, Angles], antiphase: bool) -> torch.Tensor:
    """Expand a {joint: (a, b, c)} table to (24, 3).

    Values are written for the left side (or the mid-line). A name without its side ("hip") fills both
    sides: the right side gets the mirror image, negated as well when `antiphase` (gait swings). A name
    with its side ("L_hip", "R_hip") fills that side only, mirrored for the right side, so that e.g.
    "R_shoulder": (0, 0, -72) lowers the right arm as (0, 0, -72) lowers the left one.
    """
    table = torch.zeros(NUM_JOINTS, 3)
    for name, values in entries.items():
        value = torch.tensor(values, dtype=torch.float32)
        if name.startswith("R_") and name in JOINT_INDEX:
            table[JOINT_INDEX[name]] = value * torch.tensor(_MIRROR_SIGN)
        elif name in JOINT_INDEX:
            table[JOINT_INDEX[name]] = value
        elif "L_" + name in JOINT_INDEX:
            table[JOINT_INDEX["L_" + name]] = value
            mirrored = value * torch.tensor(_MIRROR_SIGN)
            table[JOINT_INDEX["R_" + name]] = -mirrored if antiphase else mirrored
        else:
            raise KeyError(f"Unknown joint name {name!r} in a pose table.")
    return table
