"""Pose sources: the original's npz format and the procedural sampler (issue 7, first half)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from configs.experiment import DEFAULT_ARCHETYPE_WEIGHTS, ProceduralPoseConfig
from configs.loader import ConfigError
from data.pose_sources import NpzPoseSource, PoseFileError
from data.procedural_poses import (
    ARCHETYPES,
    ProceduralPoseSource,
    euler_to_rotmat,
    mirror_joint_angles,
)
from data.skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS, forward_kinematics, rest_joints
from utils.rotations import axis_angle_to_rotmat

J = JOINT_INDEX


def _pose_joints(angles_deg: dict[str, tuple[float, float, float]]) -> torch.Tensor:
    """Stick-skeleton joints (24, 3) in the body frame for local Euler angles of a few joints."""
    angles = torch.zeros(1, NUM_JOINTS, 3)
    for name, value in angles_deg.items():
        angles[0, J[name]] = torch.tensor(value)
    return forward_kinematics(euler_to_rotmat(torch.deg2rad(angles)))[0]


def _fixed_source(archetype: str, **overrides) -> ProceduralPoseSource:
    """A sampler for one archetype with the body facing the camera upright, not mirrored."""
    options = dict(yaw_range=0.0, tilt_std=0.0, lying_prob=0.0, mirror_prob=0.0)
    options.update(overrides)
    return ProceduralPoseSource(ProceduralPoseConfig(archetype_weights={archetype: 1.0}, **options))


def _body_frame_joints(batch) -> torch.Tensor:
    """FK joints (B, 24, 3) of a batch, re-expressed in the body axes x = left, y = up, z = forward."""
    joints = forward_kinematics(axis_angle_to_rotmat(batch.poses.view(-1, NUM_JOINTS, 3)))
    return joints @ batch.frame  # row vectors: p_body = frame^T p_camera


# ----------------------------------------------------------------------------------------------------------
# Conventions: signs of the Euler angles on the SMPL kinematic tree.


def test_stick_skeleton_is_smpl_like():
    rest = rest_joints()
    assert rest.shape == (24, 3)
    assert PARENTS[:4] == (-1, 0, 0, 0) and PARENTS[-1] == 21
    assert rest[J["head"], 1] > rest[J["neck"], 1] > rest[J["pelvis"], 1] > rest[J["L_knee"], 1]
    assert rest[J["L_wrist"], 0] > rest[J["L_elbow"], 0] > rest[J["L_shoulder"], 0] > 0  # left is +x
    torch.testing.assert_close(forward_kinematics(torch.eye(3).expand(1, 24, 3, 3))[0], rest)


def test_forward_kinematics_rotates_whole_body_about_root():
    rot = euler_to_rotmat(torch.tensor([0.3, -1.1, 0.7]))
    rotmats = torch.eye(3).repeat(1, 24, 1, 1)
    rotmats[0, 0] = rot
    rest = rest_joints()
    expected = (rest - rest[0]) @ rot.T + rest[0]
    torch.testing.assert_close(forward_kinematics(rotmats)[0], expected)


@pytest.mark.parametrize(
    ("angles", "child", "parent", "axis", "sign"),
    [
        ({"L_hip": (-45, 0, 0)}, "L_knee", "L_hip", 2, +1),  # hip flexion: thigh forward
        ({"R_hip": (-45, 0, 0)}, "R_knee", "R_hip", 2, +1),
        ({"L_knee": (60, 0, 0)}, "L_ankle", "L_knee", 2, -1),  # knee flexion: shin backwards
        ({"L_shoulder": (0, 0, 45)}, "L_elbow", "L_shoulder", 1, +1),  # +z raises the left arm
        ({"R_shoulder": (0, 0, -45)}, "R_elbow", "R_shoulder", 1, +1),  # mirrored on the right
        ({"L_elbow": (0, -90, 0)}, "L_wrist", "L_elbow", 2, +1),  # left elbow flexion: forearm forward
        ({"R_elbow": (0, 90, 0)}, "R_wrist", "R_elbow", 2, +1),
        ({"spine1": (30, 0, 0)}, "neck", "spine1", 2, +1),  # spine flexion: upper body forward
        ({"L_ankle": (-20, 0, 0)}, "L_foot", "L_ankle", 1, +1),  # dorsiflexion lifts the toes
    ],
)
def test_euler_sign_conventions(angles, child, parent, axis, sign):
    rest = rest_joints()
    posed = _pose_joints(angles)
    moved = (posed[J[child]] - posed[J[parent]])[axis] - (rest[J[child]] - rest[J[parent]])[axis]
    assert sign * moved > 0.02


def test_shoulder_minus_90_lowers_the_arm_along_the_body():
    posed = _pose_joints({"L_shoulder": (0, 0, -90), "R_shoulder": (0, 0, 90)})
    for side in "LR":
        arm = posed[J[f"{side}_wrist"]] - posed[J[f"{side}_shoulder"]]
        assert arm[1] < -0.5 and arm[0].abs() < 0.05 and arm[2].abs() < 0.05


def test_mirroring_the_angles_mirrors_the_body():
    angles = torch.deg2rad(torch.randn(3, NUM_JOINTS, 3, generator=torch.Generator().manual_seed(1)) * 30)
    joints = forward_kinematics(euler_to_rotmat(angles))
    mirrored = forward_kinematics(euler_to_rotmat(mirror_joint_angles(angles)))
    swap = [J["R_" + n[2:]] if n[:2] == "L_" else J["L_" + n[2:]] if n[:2] == "R_" else J[n] for n in J]
    reflect = torch.tensor([-1.0, 1.0, 1.0])
    # The stick skeleton's pelvis is on the mid-plane, so reflecting through x = 0 is exact.
    torch.testing.assert_close(mirrored, (joints * reflect)[:, swap], atol=1e-5, rtol=0)
    torch.testing.assert_close(mirror_joint_angles(mirror_joint_angles(angles)), angles)


# ----------------------------------------------------------------------------------------------------------
# Procedural sampler.


def test_procedural_batch_shapes_ranges_and_seeding():
    source = ProceduralPoseSource()
    poses = source.sample(64, torch.Generator().manual_seed(3))
    assert poses.shape == (64, 72) and poses.dtype == torch.float32
    assert torch.isfinite(poses).all()
    assert (poses.view(64, 24, 3).norm(dim=-1) <= math.pi + 1e-4).all()
    torch.testing.assert_close(poses, source.sample(64, torch.Generator().manual_seed(3)), rtol=0, atol=0)
    assert not torch.allclose(poses, source.sample(64, torch.Generator().manual_seed(4)))


def test_procedural_axis_angle_encodes_the_sampled_angles():
    batch = ProceduralPoseSource().sample_detailed(256, torch.Generator().manual_seed(5))
    rotmats = euler_to_rotmat(torch.deg2rad(batch.joint_angles))
    rotmats[:, 0] = batch.frame @ rotmats[:, 0]
    torch.testing.assert_close(axis_angle_to_rotmat(batch.poses.view(-1, 24, 3)), rotmats, atol=2e-5, rtol=0)


def test_procedural_angles_respect_joint_limits():
    source = ProceduralPoseSource(ProceduralPoseConfig(noise_std=30.0))  # large noise: the clamp must act
    batch = source.sample_detailed(4000, torch.Generator().manual_seed(6))
    lower, upper = source._tables.lower, source._tables.upper
    assert ((batch.joint_angles >= lower) & (batch.joint_angles <= upper)).all()
    assert (batch.joint_angles == upper).any() and (batch.joint_angles == lower).any()
    # Knees never hyperextend; elbows flex the anatomical way on both sides.
    assert (batch.joint_angles[:, [J["L_knee"], J["R_knee"]], 0] >= 0).all()
    assert (batch.joint_angles[:, J["L_elbow"], 1] <= 5).all() and (
        batch.joint_angles[:, J["R_elbow"], 1] >= -5
    ).all()


def test_procedural_mixture_mirroring_and_lying_frequencies():
    n = 20000
    source = ProceduralPoseSource()
    batch = source.sample_detailed(n, torch.Generator().manual_seed(7))
    counts = torch.bincount(batch.archetype, minlength=len(ARCHETYPES)).double()
    total = sum(DEFAULT_ARCHETYPE_WEIGHTS.values())
    for i, name in enumerate(source.archetype_names):
        p = DEFAULT_ARCHETYPE_WEIGHTS[name] / total
        assert abs(counts[i] / n - p) < 4.5 * math.sqrt(p * (1 - p) / n), name
    for flags, p in ((batch.mirrored, 0.5), (batch.lying, source.config.lying_prob)):
        assert abs(flags.double().mean() - p) < 4.5 * math.sqrt(p * (1 - p) / n)


def test_procedural_orientation_upright_full_yaw_and_lying_share():
    cfg = ProceduralPoseConfig()
    batch = ProceduralPoseSource(cfg).sample_detailed(8000, torch.Generator().manual_seed(8))
    up = batch.frame[:, :, 1]  # the body's up axis in the camera frame
    upright = ~batch.lying
    # Upright frames: pitch and roll are clipped at 2.5 std each.
    max_tilt = math.radians(2.5 * cfg.tilt_std) * math.sqrt(2)
    assert (up[upright, 1] <= -math.cos(max_tilt) + 1e-6).all()  # camera y points down
    # Lying frames: the long axis is within 2.5 std of the horizontal.
    assert (up[batch.lying, 1].abs() <= math.sin(math.radians(2.5 * cfg.lying_tilt_std)) + 1e-6).all()
    # Standing and walking bodies (small pelvis adjustments) are upright as a whole.
    global_up = axis_angle_to_rotmat(batch.poses[:, :3])[:, :, 1]
    names = ProceduralPoseSource().archetype_names
    calm = upright & torch.isin(
        batch.archetype, torch.tensor([names.index("standing"), names.index("walking")])
    )
    assert (torch.rad2deg(torch.arccos(-global_up[calm, 1])) < 25).all()
    # Yaw covers the full circle: the facing direction's azimuth is uniform over four quadrants.
    forward = batch.frame[upright, :, 2]
    quadrant = ((torch.atan2(forward[:, 0], -forward[:, 2]) + math.pi) // (math.pi / 2)).long().clamp(0, 3)
    share = torch.bincount(quadrant, minlength=4).double() / len(quadrant)
    assert (share - 0.25).abs().max() < 4.5 * math.sqrt(0.25 * 0.75 / len(quadrant))


def test_archetypes_look_like_their_names():
    g = torch.Generator().manual_seed(9)
    sit = _body_frame_joints(_fixed_source("sitting", noise_std=0.0).sample_detailed(200, g))
    thigh = sit[:, J["L_knee"]] - sit[:, J["L_hip"]]
    assert (thigh[:, 2] > 0.15).all()  # knees in front of the hips
    raised = _body_frame_joints(_fixed_source("arms_raised").sample_detailed(200, g))
    assert (raised[:, [J["L_wrist"], J["R_wrist"]], 1] > raised[:, J["head"], 1:2]).all()
    stand = _body_frame_joints(_fixed_source("standing").sample_detailed(200, g))
    arms_down = (
        stand[:, [J["L_wrist"], J["R_wrist"]], 1] < stand[:, [J["L_shoulder"], J["R_shoulder"]], 1] - 0.15
    )
    assert arms_down.all()
    crouch = _body_frame_joints(_fixed_source("crouching").sample_detailed(200, g))
    leg_height = (crouch[:, J["pelvis"], 1] - crouch[:, J["L_ankle"], 1]).mean()
    assert leg_height < 0.6 * (stand[:, J["pelvis"], 1] - stand[:, J["L_ankle"], 1]).mean()
    # Walking: the legs are in anti-phase and each arm swings against the leg on its side.
    walk = _body_frame_joints(_fixed_source("walking", noise_std=0.0).sample_detailed(500, g))
    left_leg = walk[:, J["L_ankle"], 2] - walk[:, J["pelvis"], 2]
    right_leg = walk[:, J["R_ankle"], 2] - walk[:, J["pelvis"], 2]
    left_arm = walk[:, J["L_wrist"], 2] - walk[:, J["L_shoulder"], 2]
    assert torch.corrcoef(torch.stack((left_leg, right_leg)))[0, 1] < -0.8
    assert torch.corrcoef(torch.stack((left_leg, left_arm)))[0, 1] < -0.8


def test_procedural_config_errors():
    with pytest.raises(ConfigError, match="Unknown pose archetypes"):
        ProceduralPoseSource(ProceduralPoseConfig(archetype_weights={"moonwalk": 1.0}))
    with pytest.raises(ConfigError, match="positive sum"):
        ProceduralPoseSource(ProceduralPoseConfig(archetype_weights={"standing": 0.0}))


# ----------------------------------------------------------------------------------------------------------
# The original's npz format.

_FNAMES = ["h36m_S1_0001", "up3d_00042", "3dpw_courtyard_7", "CMU/01_01_poses_12", "h36m_S5_0100", "ACCAD/x"]


def _write_npz(path, fnames=_FNAMES, **overrides):
    n = len(fnames)
    rng = np.random.default_rng(0)
    arrays = {
        "fnames": np.array(fnames),
        "poses": rng.normal(size=(n, 72)),
        "shapes": rng.normal(size=(n, 10)),
    }
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return arrays


@pytest.mark.parametrize(
    ("params_from", "expected"),
    [
        ("all", _FNAMES),
        ("h36m", ["h36m_S1_0001", "h36m_S5_0100"]),
        ("up3d", ["up3d_00042"]),
        ("3dpw", ["3dpw_courtyard_7"]),
        ("not_amass", ["h36m_S1_0001", "up3d_00042", "3dpw_courtyard_7", "h36m_S5_0100"]),
    ],
)
def test_npz_prefix_filter(tmp_path, params_from, expected):
    arrays = _write_npz(tmp_path / "poses.npz")
    source = NpzPoseSource(tmp_path / "poses.npz", params_from=params_from)
    assert source.fnames == expected and len(source) == len(expected)
    rows = [_FNAMES.index(f) for f in expected]
    indices = torch.arange(len(source))
    torch.testing.assert_close(source.get(indices), torch.from_numpy(arrays["poses"][rows]).float())
    torch.testing.assert_close(source.get_shapes(indices), torch.from_numpy(arrays["shapes"][rows]).float())
    assert source.get(indices).dtype == torch.float32


def test_npz_epochs_and_sampling(tmp_path):
    fnames = [f"up3d_{i:03d}" for i in range(23)]
    _write_npz(tmp_path / "poses.npz", fnames=fnames)
    source = NpzPoseSource(tmp_path / "poses.npz")
    ordered = list(source.index_batches(5))
    assert [b.tolist() for b in ordered] == [list(range(i, i + 5)) for i in range(0, 20, 5)]  # drop_last
    assert sum(len(b) for b in source.index_batches(5, drop_last=False)) == 23
    shuffled = torch.cat(list(source.index_batches(5, torch.Generator().manual_seed(0), drop_last=False)))
    assert sorted(shuffled.tolist()) == list(range(23)) and shuffled.tolist() != list(range(23))
    again = torch.cat(list(source.index_batches(5, torch.Generator().manual_seed(0), drop_last=False)))
    assert torch.equal(shuffled, again)
    batch = source.sample(7, torch.Generator().manual_seed(1))
    assert batch.shape == (7, 72) and batch.dtype == torch.float32
    assert all(any(torch.equal(row, p) for p in source.poses) for row in batch)


def test_npz_and_procedural_batches_share_the_documented_format(tmp_path):
    _write_npz(tmp_path / "poses.npz")
    g = torch.Generator().manual_seed(2)
    for source in (NpzPoseSource(tmp_path / "poses.npz"), ProceduralPoseSource()):
        poses = source.sample(16, g)
        assert poses.shape == (16, 72) and poses.dtype == torch.float32 and torch.isfinite(poses).all()
        assert axis_angle_to_rotmat(poses.view(16, 24, 3)).shape == (16, 24, 3, 3)


@pytest.mark.reliability
def test_npz_errors_are_one_clear_sentence(tmp_path):
    with pytest.raises(PoseFileError, match=r"not found: put .*amass_up3d_3dpw_train\.npz.* in data/"):
        NpzPoseSource(tmp_path / "amass_up3d_3dpw_train.npz")
    _write_npz(tmp_path / "no_shapes.npz", shapes=None)
    with pytest.raises(PoseFileError, match=r"lacks \['shapes'\]"):
        NpzPoseSource(tmp_path / "no_shapes.npz")
    _write_npz(tmp_path / "bad_pose.npz", poses=np.zeros((len(_FNAMES), 69)))
    with pytest.raises(PoseFileError, match=r"expected \(N,\), \(N, 72\) and \(N, 10\)"):
        NpzPoseSource(tmp_path / "bad_pose.npz")
    np.savez(
        tmp_path / "pickled.npz",
        fnames=np.array(_FNAMES, dtype=object),
        poses=np.zeros((6, 72)),
        shapes=np.zeros((6, 10)),
    )
    with pytest.raises(PoseFileError, match="pickled objects"):
        NpzPoseSource(tmp_path / "pickled.npz")
    np.save(tmp_path / "array.npy", np.zeros((6, 72)))  # an .npy under an .npz name: no archive
    (tmp_path / "array.npy").rename(tmp_path / "array.npz")
    with pytest.raises(PoseFileError, match=r"array\.npz could not be read as an \.npz of plain arrays"):
        NpzPoseSource(tmp_path / "array.npz")
    _write_npz(tmp_path / "amass_only.npz", fnames=["CMU/a", "KIT/b"])
    with pytest.raises(PoseFileError, match="no rows for params_from='not_amass'"):
        NpzPoseSource(tmp_path / "amass_only.npz", params_from="not_amass")
    with pytest.raises(ConfigError, match="params_from must be one of"):
        NpzPoseSource(tmp_path / "amass_only.npz", params_from="amass")
