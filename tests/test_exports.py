"""Exports: the rigged glb and the BVH, read back by the test's own small readers and replayed.

The glb is checked against what the glTF 2.0 spec requires of a skinned, animated binary file (the checks of
pygltflib plus the skin, attribute, buffer and animation rules below), then skinned here (node transforms,
inverse bind matrices, JOINTS_n / WEIGHTS_n) into the picture's camera frame and compared with the body
model's vertices; the BVH is parsed here and replayed by forward kinematics to the body model's joints. Both
for the shipped open body (no pose correctives: exact) and the SMPL-format fixture, whose pose correctives a
rig cannot carry: its glb matches the model with them switched off, and differs from the full model by no
more than their displacement.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from models.body_model import SMPLFormatBodyModel, read_smpl_format
from models.bundle import load_bundle
from predict.exports import (
    BodyMotion,
    ImageCamera,
    parse_export_formats,
    rig_from_body_model,
    write_bvh,
    write_glb,
)
from predict.exports.bvh import rotmats_to_euler_zyx
from predict.exports.gltf import rotmats_to_quaternions
from tests.gltf_readers import (
    CAMERA_TO_GLTF,
    MM,
    accessor_array,
    bvh_positions,
    check_gltf_rules,
    elementary_rotation,
    khronos_validation,
    needs_khronos_validator,
    parse_bvh,
    quaternion_matrix,
    read_glb,
    skin_glb,
)
from tests.smpl_fixture import write_smpl_format_assets
from utils.errors import UsageError
from utils.joint_names import SMPL_JOINT_NAMES
from utils.rotations import axis_angle_to_rotmat

CAMERA = ImageCamera(focal_length=1100.0, principal_point=(320.0, 240.0), image_hw=(480, 640))


# ------------------------------------------------------------------------------------------------ set-up


@pytest.fixture(scope="module")
def open_model() -> SMPLFormatBodyModel:
    return load_bundle("open").body_model


@pytest.fixture(scope="module")
def smpl_arrays(tmp_path_factory: pytest.TempPathFactory):
    root = write_smpl_format_assets(tmp_path_factory.mktemp("smpl"))
    return read_smpl_format(root / "smpl" / "SMPL_NEUTRAL.pkl")


def random_motion(num_frames: int, seed: int, fps: float = 25.0) -> BodyMotion:
    """Upright people in front of the camera: global orientation near a half turn about x, joints within
    about 35 degrees, a few metres away."""
    rng = np.random.default_rng(seed)
    pose = rng.normal(0.0, 0.35, (num_frames, 24, 3))
    pose[:, 0] = [np.pi, 0.0, 0.0] + rng.normal(0.0, 0.3, (num_frames, 3))
    rotations = axis_angle_to_rotmat(torch.from_numpy(pose)).numpy()
    translations = np.array([0.1, 0.3, 4.0]) + rng.normal(0.0, 0.2, (num_frames, 3))
    return BodyMotion(rotations=rotations, translations=translations, fps=fps)


def body_model_output(model: SMPLFormatBodyModel, motion: BodyMotion, betas: np.ndarray):
    """The body model's posed vertices (T, V, 3) and joints (T, 24, 3), moved into the camera frame."""
    frames = motion.num_frames
    with torch.no_grad():
        out = model(
            torch.from_numpy(motion.rotations).float(),
            torch.from_numpy(np.repeat(betas[None], frames, axis=0)).float(),
        )
    shift = motion.translations[:, None, :]
    return out.vertices.double().numpy() + shift, out.joints.double().numpy() + shift


# ------------------------------------------------------------------------------------------------- tests


def test_rotation_conversions_are_exact_at_half_turns_and_gimbal_lock() -> None:
    rng = np.random.default_rng(3)
    axes = rng.normal(size=(200, 3))
    angles = rng.uniform(-np.pi, np.pi, (200, 1))
    angles[:20] = np.pi  # half turns: trace -1, w = 0
    rotations = axis_angle_to_rotmat(
        torch.from_numpy(axes / np.linalg.norm(axes, axis=1, keepdims=True) * angles)
    )
    rotations = rotations.numpy()
    quaternions = rotmats_to_quaternions(rotations)
    np.testing.assert_allclose(np.stack([quaternion_matrix(q) for q in quaternions]), rotations, atol=1e-12)
    assert (quaternions[:, 3] >= 0).all()
    locked = np.stack([elementary_rotation("Z", 40) @ elementary_rotation("Y", s * 90) @ elementary_rotation(
        "X", 25) for s in (1, -1)])  # fmt: skip
    for rotation in np.concatenate([rotations, locked]):
        z, y, x = np.degrees(rotmats_to_euler_zyx(rotation))
        again = elementary_rotation("Z", z) @ elementary_rotation("Y", y) @ elementary_rotation("X", x)
        np.testing.assert_allclose(again, rotation, atol=1e-9)


def test_glb_of_an_open_body_clip_replays_the_body_model(tmp_path: Path, open_model) -> None:
    """Four frames at 12.5 fps: a valid glb whose animation, skinned here, is the body model within 1 mm."""
    betas = np.random.default_rng(1).normal(0.0, 1.0, 10).astype(np.float32)
    motion = random_motion(4, seed=2, fps=12.5)
    rig = rig_from_body_model(open_model, betas)
    path = write_glb(tmp_path / "clip.glb", rig, motion, CAMERA, {"source": "test"})
    gltf, blob = read_glb(path)
    check_gltf_rules(gltf, blob)
    attributes = vars(gltf.meshes[0].primitives[0].attributes)
    assert gltf.accessors[attributes["POSITION"]].count == open_model.num_vertices
    assert [gltf.nodes[node].name for node in gltf.skins[0].joints] == list(SMPL_JOINT_NAMES)
    assert attributes.get("JOINTS_1") is not None  # the open body has vertices with more than 4 influences
    extras = gltf.asset.extras
    assert extras["units"] == "metres" and extras["frames"] == 4 and extras["source"] == "test"
    # The camera: vertical field of view and aspect of the 640 x 480 picture at f = 1100 px.
    perspective = gltf.cameras[0].perspective
    assert perspective.aspectRatio == pytest.approx(640 / 480)
    assert np.tan(perspective.yfov / 2) * 1100.0 == pytest.approx(240.0)
    times = accessor_array(gltf, blob, gltf.animations[0].samplers[0].input)[:, 0]
    np.testing.assert_allclose(times, np.arange(4) / 12.5, atol=1e-7)

    expected, _ = body_model_output(open_model, motion, betas)
    for frame in range(4):
        error = np.linalg.norm(skin_glb(gltf, blob, frame) - expected[frame], axis=1).max()
        assert error < 1 * MM, f"frame {frame}: {error * 1000:.3f} mm"
    # The nodes stand in frame 0 (what a viewer without animation shows).
    assert np.linalg.norm(skin_glb(gltf, blob) - expected[0], axis=1).max() < 1 * MM
    # and the frames differ, so the comparison above could fail.
    assert np.linalg.norm(expected[1] - expected[0], axis=1).max() > 0.05


def test_glb_of_the_smpl_fixture_differs_only_by_the_pose_correctives(tmp_path: Path, smpl_arrays) -> None:
    """SMPL-format models with pose correctives: the glb is exact for the same model without them (within
    1 mm) and each vertex is off the full model by at most its corrective displacement."""
    full = SMPLFormatBodyModel(smpl_arrays)
    without = SMPLFormatBodyModel(
        dataclasses.replace(smpl_arrays, posedirs=np.zeros_like(smpl_arrays.posedirs))
    )
    betas = np.random.default_rng(4).normal(0.0, 1.0, 10).astype(np.float32)
    motion = random_motion(2, seed=5)
    gltf, blob = read_glb(write_glb(tmp_path / "smpl.glb", rig_from_body_model(full, betas), motion, CAMERA))
    check_gltf_rules(gltf, blob)
    assert gltf.accessors[vars(gltf.meshes[0].primitives[0].attributes)["POSITION"]].count == 6890
    exact, _ = body_model_output(without, motion, betas)
    with_correctives, _ = body_model_output(full, motion, betas)
    # Corrective displacement per vertex: posedirs times the pose feature (R - I of the 23 joints).
    features = (motion.rotations[:, 1:] - np.eye(3)).reshape(motion.num_frames, -1)
    displacement = np.linalg.norm(np.einsum("vcp,tp->tvc", smpl_arrays.posedirs, features), axis=2)
    assert displacement.max() > 1 * MM  # the fixture's correctives matter at this tolerance
    for frame in range(motion.num_frames):
        skinned = skin_glb(gltf, blob, frame)
        assert np.linalg.norm(skinned - exact[frame], axis=1).max() < 1 * MM
        off = np.linalg.norm(skinned - with_correctives[frame], axis=1)
        assert (off <= displacement[frame] + 1e-5).all()


@pytest.mark.parametrize("model_name", ["open", "smpl"])
def test_bvh_replays_the_joints(tmp_path: Path, model_name: str, open_model, smpl_arrays) -> None:
    """Three frames: the parsed BVH replays to the body model's 24 joints within 1 mm (pose correctives
    do not move joints, so SMPL is exact too)."""
    model = open_model if model_name == "open" else SMPLFormatBodyModel(smpl_arrays)
    betas = np.random.default_rng(6).normal(0.0, 1.0, 10).astype(np.float32)
    motion = random_motion(3, seed=7, fps=30.0)
    path = write_bvh(tmp_path / "motion.bvh", rig_from_body_model(model, betas), motion)
    joints, frames, frame_time = parse_bvh(path.read_text())
    assert sorted(joint["name"] for joint in joints) == sorted(SMPL_JOINT_NAMES)
    assert len(frames) == 3 and frame_time == pytest.approx(1 / 30)
    _, expected = body_model_output(model, motion, betas)
    for frame in range(3):
        positions = bvh_positions(joints, frames[frame])
        replayed = np.stack([positions[name] for name in SMPL_JOINT_NAMES]) @ CAMERA_TO_GLTF.T
        assert np.linalg.norm(replayed - expected[frame], axis=1).max() < 1 * MM


def test_export_format_lists() -> None:
    assert parse_export_formats("bvh, GLB") == ("glb", "bvh") and parse_export_formats("") == ()
    with pytest.raises(UsageError, match="fbx.*choose from glb, bvh"):
        parse_export_formats("glb,fbx")


@needs_khronos_validator
def test_glbs_pass_the_khronos_validator(tmp_path: Path, open_model, smpl_arrays) -> None:
    """The reference validator of the glTF 2.0 spec finds nothing to say: no error, warning, info or hint."""
    betas = np.zeros(10, dtype=np.float32)
    open_rig = rig_from_body_model(open_model, betas)
    smpl_rig = rig_from_body_model(SMPLFormatBodyModel(smpl_arrays), betas)
    paths = [
        write_glb(tmp_path / "clip.glb", open_rig, random_motion(3, 8), CAMERA),
        write_glb(tmp_path / "one.glb", open_rig, random_motion(1, 9), CAMERA),
        write_glb(tmp_path / "smpl.glb", smpl_rig, random_motion(2, 1), CAMERA),
    ]
    for report in khronos_validation(*paths):
        counts = [report[kind] for kind in ("errors", "warnings", "infos", "hints")]
        assert counts == [0, 0, 0, 0], report["messages"]
