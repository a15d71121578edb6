"""Small independent readers of our glb and BVH files, with the glTF spec's rules, for the export tests."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pygltflib
import pytest
from pygltflib import validator

MM = 1e-3
CAMERA_TO_GLTF = np.diag([1.0, -1.0, -1.0])  # image camera frame <-> a camera looking down -z, y up
COMPONENTS = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
WEB_TOOLS = Path(__file__).resolve().parent / "web"
NODE = shutil.which("node")
needs_khronos_validator = pytest.mark.skipif(
    NODE is None or not (WEB_TOOLS / "node_modules" / "gltf-validator").is_dir(),
    reason="the Khronos glTF Validator is not installed (npm ci --prefix tests/web, with Node.js)",
)


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
