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
import json
import shutil
import struct
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pygltflib
import pytest
import torch
from pygltflib import validator

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
from tests.smpl_fixture import write_smpl_format_assets
from utils.errors import UsageError
from utils.joint_names import SMPL_JOINT_NAMES
from utils.rotations import axis_angle_to_rotmat

MM = 1e-3
CAMERA_TO_GLTF = np.diag([1.0, -1.0, -1.0])  # image camera frame <-> a camera looking down -z, y up
COMPONENTS = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
CAMERA = ImageCamera(focal_length=1100.0, principal_point=(320.0, 240.0), image_hw=(480, 640))
WEB_TOOLS = Path(__file__).resolve().parent / "web"
NODE = shutil.which("node")
needs_khronos_validator = pytest.mark.skipif(
    NODE is None or not (WEB_TOOLS / "node_modules" / "gltf-validator").is_dir(),
    reason="the Khronos glTF Validator is not installed (npm ci --prefix tests/web, with Node.js)",
)


# ------------------------------------------------------------------------------------------- glb reading


def read_glb(path: Path) -> tuple[pygltflib.GLTF2, bytes]:
    """Load a .glb and check its container: header, JSON and BIN chunks, 4-byte alignment."""
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    json_length, json_type = struct.unpack_from("<II", data, 12)
    assert json_type == 0x4E4F534A and json_length % 4 == 0
    bin_start = 20 + json_length
    bin_length, bin_type = struct.unpack_from("<II", data, bin_start)
    assert bin_type == 0x004E4942 and bin_length % 4 == 0 and bin_start + 8 + bin_length == len(data)
    gltf = pygltflib.GLTF2.load_from_bytes(data)
    blob = gltf.binary_blob()
    assert len(gltf.buffers) == 1 and 0 <= bin_length - gltf.buffers[0].byteLength < 4
    return gltf, blob


def accessor_array(gltf: pygltflib.GLTF2, blob: bytes, index: int) -> np.ndarray:
    """(count, width) values of an accessor, checking that it lies inside its view and is aligned."""
    accessor = gltf.accessors[index]
    view = gltf.bufferViews[accessor.bufferView]
    dtype, width = np.dtype(COMPONENTS[accessor.componentType]), WIDTHS[accessor.type]
    start = (view.byteOffset or 0) + (accessor.byteOffset or 0)
    assert view.byteStride in (None, 0, dtype.itemsize * width)  # tightly packed
    assert start % dtype.itemsize == 0 and (view.byteOffset or 0) % 4 == 0
    end = start + accessor.count * width * dtype.itemsize
    assert end <= (view.byteOffset or 0) + view.byteLength <= len(blob)
    return np.frombuffer(blob, dtype, accessor.count * width, start).reshape(accessor.count, width)


def check_gltf_rules(gltf: pygltflib.GLTF2, blob: bytes) -> None:
    """pygltflib's checks, then the spec's rules for scenes, skins, skinned primitives and animations."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pygltflib calls its validator provisional
        assert validator.validate(gltf) == []
    assert gltf.asset.version == "2.0"
    parents: dict[int, int] = {}
    for index, node in enumerate(gltf.nodes):
        for child in node.children or []:
            assert 0 <= child < len(gltf.nodes) and child not in parents, "a node has one parent at most"
            parents[child] = index
    roots = gltf.scenes[gltf.scene].nodes
    assert not set(roots) & set(parents)

    def ancestors(node: int) -> list[int]:
        chain = [node]
        while chain[-1] in parents:
            chain.append(parents[chain[-1]])
        return chain

    assert len(gltf.skins) == 1
    skin = gltf.skins[0]
    ibm = gltf.accessors[skin.inverseBindMatrices]
    assert (ibm.type, ibm.componentType, ibm.count) == ("MAT4", 5126, len(skin.joints))
    assert len(set(skin.joints)) == len(skin.joints) and all(0 <= j < len(gltf.nodes) for j in skin.joints)
    assert all(skin.skeleton in ancestors(joint) for joint in skin.joints)
    skinned = [i for i, node in enumerate(gltf.nodes) if node.skin is not None]
    for index in skinned:  # the skinned mesh node: a scene root without a transform of its own
        node = gltf.nodes[index]
        assert index in roots and node.mesh is not None
        assert (
            node.matrix is None and node.translation is None and node.rotation is None and node.scale is None
        )

    primitive = gltf.meshes[0].primitives[0]
    attributes = {k: v for k, v in vars(primitive.attributes).items() if v is not None}
    counts = {gltf.accessors[index].count for index in attributes.values()}
    assert len(counts) == 1
    position = gltf.accessors[attributes["POSITION"]]
    assert (position.type, position.componentType) == ("VEC3", 5126)
    values = accessor_array(gltf, blob, attributes["POSITION"])
    np.testing.assert_array_equal(position.min, values.min(axis=0))
    np.testing.assert_array_equal(position.max, values.max(axis=0))
    normals = accessor_array(gltf, blob, attributes["NORMAL"])
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
    for index in attributes.values():
        assert gltf.bufferViews[gltf.accessors[index].bufferView].target == ARRAY_BUFFER
    sets = sorted(int(name.split("_")[1]) for name in attributes if name.startswith("JOINTS_"))
    assert sets == list(range(len(sets))) and all(f"WEIGHTS_{n}" in attributes for n in sets) and sets
    joints = np.concatenate([accessor_array(gltf, blob, attributes[f"JOINTS_{n}"]) for n in sets], axis=1)
    weights = np.concatenate([accessor_array(gltf, blob, attributes[f"WEIGHTS_{n}"]) for n in sets], axis=1)
    for n in sets:
        joint_accessor, weight_accessor = (
            gltf.accessors[attributes[f"{k}_{n}"]] for k in ("JOINTS", "WEIGHTS")
        )
        assert joint_accessor.type == "VEC4" and joint_accessor.componentType in (5121, 5123)
        assert (weight_accessor.type, weight_accessor.componentType) == ("VEC4", 5126)
    assert joints.max() < len(skin.joints) and weights.min() >= 0.0
    np.testing.assert_allclose(weights.astype(np.float64).sum(axis=1), 1.0, atol=2e-6)
    assert (joints[weights == 0] == 0).all(), "unused joint slots hold joint 0"
    for row_joints, row_weights in zip(joints, weights, strict=True):
        used = row_joints[row_weights > 0]
        assert len(set(used.tolist())) == len(used), "a joint appears once per vertex"

    indices = gltf.accessors[primitive.indices]
    assert indices.type == "SCALAR" and indices.componentType in (5121, 5123, 5125) and indices.count % 3 == 0
    assert gltf.bufferViews[indices.bufferView].target == ELEMENT_ARRAY_BUFFER
    assert accessor_array(gltf, blob, primitive.indices).max() < position.count

    for camera in gltf.cameras:
        perspective = camera.perspective
        assert camera.type == "perspective" and perspective.yfov > 0 and perspective.znear > 0
    targets = set()
    for animation in gltf.animations:
        for channel in animation.channels:
            key = (channel.target.node, channel.target.path)
            assert key not in targets
            targets.add(key)
            sampler = animation.samplers[channel.sampler]
            assert sampler.interpolation in ("LINEAR", "STEP", "CUBICSPLINE")  # strings, not GL enums
            times = gltf.accessors[sampler.input]
            assert (times.type, times.componentType) == ("SCALAR", 5126)
            assert times.min is not None and times.max is not None
            assert (np.diff(accessor_array(gltf, blob, sampler.input)[:, 0]) > 0).all()
            output = accessor_array(gltf, blob, sampler.output)
            assert len(output) == times.count
            if channel.target.path == "rotation":
                np.testing.assert_allclose(np.linalg.norm(output, axis=1), 1.0, atol=1e-6)


def khronos_validation(*paths: Path) -> list[dict]:
    """The Khronos glTF Validator's report per file: counts of errors, warnings, infos, hints and messages."""
    command = [NODE, str(WEB_TOOLS / "validate.js"), *map(str, paths)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return [json.loads(line) for line in result.stdout.splitlines()]


def quaternion_matrix(q) -> np.ndarray:
    x, y, z, w = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def world_matrices(gltf: pygltflib.GLTF2, overrides: dict[tuple[int, str], np.ndarray]) -> list[np.ndarray]:
    """Each node's 4x4 world transform, with (node, path) -> value overriding the node's TRS."""
    local = []
    for index, node in enumerate(gltf.nodes):
        if node.matrix is not None:
            local.append(np.array(node.matrix, dtype=np.float64).reshape(4, 4).T)
            continue
        trs = {
            path: overrides.get((index, path), getattr(node, path))
            for path in ("translation", "rotation", "scale")
        }
        matrix = np.eye(4)
        if trs["rotation"] is not None:
            matrix[:3, :3] = quaternion_matrix(trs["rotation"])
        if trs["scale"] is not None:
            matrix[:3, :3] = matrix[:3, :3] * np.asarray(trs["scale"])
        if trs["translation"] is not None:
            matrix[:3, 3] = trs["translation"]
        local.append(matrix)
    world: list[np.ndarray | None] = [None] * len(gltf.nodes)

    def visit(node: int, parent: np.ndarray) -> None:
        world[node] = parent @ local[node]
        for child in gltf.nodes[node].children or []:
            visit(child, world[node])

    for root in gltf.scenes[gltf.scene].nodes:
        visit(root, np.eye(4))
    return world  # type: ignore[return-value]


def skin_glb(gltf: pygltflib.GLTF2, blob: bytes, frame: int | None = None) -> np.ndarray:
    """(V, 3) skinned vertices in the image camera frame (x right, y down, z forward), at an animation
    keyframe or, for None, as the nodes stand."""
    overrides = {}
    if frame is not None:
        for channel in gltf.animations[0].channels:
            output = accessor_array(gltf, blob, gltf.animations[0].samplers[channel.sampler].output)
            overrides[(channel.target.node, channel.target.path)] = output[frame].astype(np.float64)
    world = world_matrices(gltf, overrides)
    skin = gltf.skins[0]
    inverse_bind = accessor_array(gltf, blob, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    joint_matrices = np.stack([world[node] for node in skin.joints]) @ inverse_bind  # (J, 4, 4)
    attributes = vars(gltf.meshes[0].primitives[0].attributes)
    rest = accessor_array(gltf, blob, attributes["POSITION"]).astype(np.float64)
    homogeneous = np.concatenate([rest, np.ones((len(rest), 1))], axis=1)
    posed = np.zeros_like(homogeneous)
    n = 0
    while attributes.get(f"JOINTS_{n}") is not None:
        joints = accessor_array(gltf, blob, attributes[f"JOINTS_{n}"]).astype(np.int64)
        weights = accessor_array(gltf, blob, attributes[f"WEIGHTS_{n}"]).astype(np.float64)
        for slot in range(4):
            moved = np.einsum("vij,vj->vi", joint_matrices[joints[:, slot]], homogeneous)
            posed += weights[:, slot, None] * moved
        n += 1
    camera_node = next(i for i, node in enumerate(gltf.nodes) if node.camera is not None)
    in_camera = (np.linalg.inv(world[camera_node]) @ posed.T).T[:, :3]
    return in_camera @ CAMERA_TO_GLTF.T


# ------------------------------------------------------------------------------------------- bvh reading


def parse_bvh(text: str) -> tuple[list[dict], np.ndarray, float]:
    """(joints in file order: name, parent index, offset, channels; frames (T, C); frame time)."""
    lines = iter(text.splitlines())
    assert next(lines).strip() == "HIERARCHY"
    joints: list[dict] = []
    stack: list[int | None] = []  # open blocks: joint index, or None for an End Site
    pending: int | None = None
    for line in lines:
        words = line.split()
        if words[0] in ("ROOT", "JOINT"):
            open_joints = [entry for entry in stack if entry is not None]
            assert (words[0] == "ROOT") == (not open_joints)
            joints.append(
                {"name": words[1], "parent": open_joints[-1] if open_joints else -1, "channels": []}
            )
            pending = len(joints) - 1
        elif words[0] == "End":
            pending = None
        elif words[0] == "{":
            stack.append(pending)
        elif words[0] == "}":
            stack.pop()
        elif words[0] == "OFFSET":
            if stack[-1] is not None:
                joints[stack[-1]]["offset"] = np.array(words[1:4], dtype=np.float64)
        elif words[0] == "CHANNELS":
            assert int(words[1]) == len(words) - 2
            joints[stack[-1]]["channels"] = words[2:]
        elif words[0] == "MOTION":
            break
    assert not stack
    num_frames = int(next(lines).split(":")[1])
    frame_time = float(next(lines).split(":")[1])
    frames = np.array([line.split() for line in lines if line.strip()], dtype=np.float64)
    assert frames.shape == (num_frames, sum(len(joint["channels"]) for joint in joints))
    return joints, frames, frame_time


def elementary_rotation(axis: str, degrees: float) -> np.ndarray:
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    i, j = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}[axis]
    matrix = np.eye(3)
    matrix[i, i], matrix[i, j], matrix[j, i], matrix[j, j] = c, -s, s, c
    return matrix


def bvh_positions(joints: list[dict], frame: np.ndarray) -> dict[str, np.ndarray]:
    """World positions of the joints in one frame, by forward kinematics."""
    rotations, positions, cursor = [], [], 0
    for joint in joints:
        rotation, translation = np.eye(3), joint["offset"].copy()
        for channel in joint["channels"]:
            value = frame[cursor]
            cursor += 1
            if channel.endswith("position"):
                translation["XYZ".index(channel[0])] += value
            else:
                rotation = rotation @ elementary_rotation(channel[0], value)
        parent = joint["parent"]
        if parent < 0:
            rotations.append(rotation)
            positions.append(translation)
        else:
            rotations.append(rotations[parent] @ rotation)
            positions.append(positions[parent] + rotations[parent] @ translation)
    return {joint["name"]: position for joint, position in zip(joints, positions, strict=True)}


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
