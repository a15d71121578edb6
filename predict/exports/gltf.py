"""Binary glTF 2.0 (`.glb`) of a rigged body: mesh, skeleton, skinning, pose or animation, and camera.

The scene, in glTF's axes (metres, y up):
- `camera`: a perspective camera at the origin looking down -z, with the picture's vertical field of view and
  aspect ratio (glTF cameras have no principal point; ours is the image centre, and the camera's extras
  keep focal length, principal point and image size in pixels);
- `image_camera_frame`: a half turn about x that maps the image camera frame (x right, y down, z forward, the
  npz's frame) into glTF's axes; under it `body` (translation `cam_t`) and under that the 24 joints, named
  with SMPL's joint names, each translated from its parent by the rest bone and rotated by the predicted
  joint rotation;
- `body_mesh`: the predicted shape in its rest pose (the body-model frame), skinned to the joints with the
  body model's weights; inverse bind matrices undo the rest joint positions, so posing the joints reproduces
  the body model's linear blend skinning. Pose-corrective blend shapes are not carried (glTF has no such
  thing); the open body has none, SMPL's move vertices by millimetres.

Several frames become the animation `motion` (joint rotations and the body's translation, linear, at the
clip's frame rate); the nodes hold frame 0. Every vertex's weights are stored largest first, four per
JOINTS_n / WEIGHTS_n pair, as many pairs as the body model needs (the open body: 2), so viewers limited to
four influences get the four that matter most.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pygltflib as gl
import torch
from numpy.typing import ArrayLike

from predict.exports.rig import BodyMotion, ImageCamera, RiggedBody
from utils.rotations import rotmat_to_quaternion
from utils.runtime import atomic_path

INFLUENCES_PER_SET = 4
BODY_COLOUR = (0.80, 0.62, 0.52, 1.0)
CAMERA_ZNEAR = 0.01
_HALF_TURN_ABOUT_X = [1.0, 0.0, 0.0, 0.0]  # quaternion (x, y, z, w) of rig.CAMERA_TO_Y_UP
# Node indices: the camera, the image camera frame, the body (cam_t), then the joints, then the mesh.
_CAMERA_NODE, _FRAME_NODE, _BODY_NODE, _FIRST_JOINT_NODE = 0, 1, 2, 3
AXES_NOTE = (
    "glTF axes: y up, metres. The node 'image_camera_frame' maps the image camera frame (x right, y down, "
    "z forward; the frame of the npz's vertices) into them; the camera sits at the origin looking down -z. "
    "The mesh is the rest pose in the body-model frame (y up, facing +z, left at +x)."
)


def rotmats_to_quaternions(rotations: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (x, y, z, w) with w >= 0, glTF's order,
    in float64 (`utils.rotations.rotmat_to_quaternion`)."""
    quaternions = rotmat_to_quaternion(torch.as_tensor(np.asarray(rotations, dtype=np.float64)))
    return quaternions[..., [1, 2, 3, 0]].numpy()


def camera_yfov(camera: ImageCamera) -> float:
    """Vertical field of view (radians) of the picture's pinhole camera."""
    return 2.0 * math.atan(camera.image_hw[0] / (2.0 * camera.focal_length))


def build_gltf(
    rig: RiggedBody, motion: BodyMotion, camera: ImageCamera, extras: dict[str, Any] | None = None
) -> gl.GLTF2:
    """The glTF document (binary blob attached) of a rig, its motion and the camera; see the module docstring.

    Args:
        rig, motion, camera: see predict.exports.rig; motion.rotations is (T, J, 3, 3).
        extras: facts added to the asset's extras (body model, gender, betas, source image, ...).
    """
    num_joints = len(rig.parents)
    if motion.rotations.shape[1] != num_joints:
        raise ValueError(f"The motion has {motion.rotations.shape[1]} joints, the rig {num_joints}.")
    blob = _Blob()
    document = gl.GLTF2(
        asset=gl.Asset(
            generator="STRAPS-rebuilt",
            version="2.0",
            extras={
                "units": "metres",
                "axes": AXES_NOTE,
                "joint_names": list(rig.joint_names),
                "frames": motion.num_frames,
                "fps": motion.fps,
                "pose_correctives": "not included (glTF has no pose-dependent blend shapes)",
                **(extras or {}),
            },
        ),
        scene=0,
    )
    document.cameras = [_camera(camera)]
    quaternions = _continuous(rotmats_to_quaternions(motion.rotations))  # (T, J, 4)
    joint_nodes = list(range(_FIRST_JOINT_NODE, _FIRST_JOINT_NODE + num_joints))
    children: list[list[int]] = [[] for _ in range(num_joints)]
    for joint, parent in enumerate(rig.parents):
        if parent >= 0:
            children[parent].append(joint_nodes[joint])
    document.nodes = [
        gl.Node(name="camera", camera=0),
        gl.Node(name="image_camera_frame", rotation=_HALF_TURN_ABOUT_X, children=[_BODY_NODE]),
        gl.Node(name="body", translation=_floats(motion.translations[0]), children=[joint_nodes[0]]),
        *(
            gl.Node(
                name=rig.joint_names[joint],
                translation=_floats(rig.bone_offsets[joint]),
                rotation=_floats(quaternions[0, joint]),
                children=children[joint] or [],
            )
            for joint in range(num_joints)
        ),
        gl.Node(name="body_mesh", mesh=0, skin=0),
    ]
    mesh_node = len(document.nodes) - 1
    document.scenes = [gl.Scene(name="prediction", nodes=[_CAMERA_NODE, _FRAME_NODE, mesh_node])]
    document.meshes = [gl.Mesh(name="body", primitives=[_primitive(rig, blob)])]
    document.materials = [
        gl.Material(
            name="body",
            pbrMetallicRoughness=gl.PbrMetallicRoughness(
                baseColorFactor=list(BODY_COLOUR), metallicFactor=0.0, roughnessFactor=0.8
            ),
        )
    ]
    document.skins = [
        gl.Skin(
            name="smpl_skeleton",
            joints=joint_nodes,
            skeleton=joint_nodes[0],
            inverseBindMatrices=blob.accessor(_inverse_bind_matrices(rig), gl.MAT4),
        )
    ]
    if motion.num_frames > 1:
        document.animations = [_animation(motion, quaternions, joint_nodes, blob)]
    document.accessors, document.bufferViews = blob.accessors, blob.views
    document.buffers = [gl.Buffer(byteLength=len(blob.data))]
    document.set_binary_blob(bytes(blob.data))
    return document


def write_glb(
    path: Path,
    rig: RiggedBody,
    motion: BodyMotion,
    camera: ImageCamera,
    extras: dict[str, Any] | None = None,
) -> Path:
    """Write the binary glTF of `build_gltf` to `path` (whole or not at all)."""
    content = b"".join(build_gltf(rig, motion, camera, extras).save_to_bytes())
    with atomic_path(path) as tmp:
        tmp.write_bytes(content)
    return path


class _Blob:
    """The binary buffer, its buffer views and accessors, appended to as the document is built."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[gl.BufferView] = []
        self.accessors: list[gl.Accessor] = []

    def accessor(self, values: np.ndarray, kind: str, target: int | None = None, bounds: bool = False) -> int:
        """Append values (N, components) (float32, uint8, uint16 or uint32) as one buffer view and accessor;
        returns the accessor index. `bounds` records min and max (required for positions and times)."""
        component = {
            np.dtype(np.float32): gl.FLOAT,
            np.dtype(np.uint8): gl.UNSIGNED_BYTE,
            np.dtype(np.uint16): gl.UNSIGNED_SHORT,
            np.dtype(np.uint32): gl.UNSIGNED_INT,
        }[values.dtype]
        values = np.ascontiguousarray(values)
        self.views.append(
            gl.BufferView(buffer=0, byteOffset=len(self.data), byteLength=values.nbytes, target=target)
        )
        self.data += values.tobytes()
        self.data += b"\0" * (-len(self.data) % 4)  # every view starts 4-byte aligned
        flat = values.reshape(len(values), -1)
        self.accessors.append(
            gl.Accessor(
                bufferView=len(self.views) - 1,
                componentType=component,
                count=len(values),
                type=kind,
                min=_floats(flat.min(axis=0)) if bounds else None,
                max=_floats(flat.max(axis=0)) if bounds else None,
            )
        )
        return len(self.accessors) - 1


def _primitive(rig: RiggedBody, blob: _Blob) -> gl.Primitive:
    vertices = rig.rest_vertices.astype(np.float32)
    attributes = {
        "POSITION": blob.accessor(vertices, gl.VEC3, gl.ARRAY_BUFFER, bounds=True),
        "NORMAL": blob.accessor(_vertex_normals(rig.rest_vertices, rig.faces), gl.VEC3, gl.ARRAY_BUFFER),
    }
    joints, weights = _influence_sets(rig.skin_weights)
    for index, (joint_set, weight_set) in enumerate(zip(joints, weights, strict=True)):
        attributes[f"JOINTS_{index}"] = blob.accessor(joint_set, gl.VEC4, gl.ARRAY_BUFFER)
        attributes[f"WEIGHTS_{index}"] = blob.accessor(weight_set, gl.VEC4, gl.ARRAY_BUFFER)
    index_type = np.uint16 if len(vertices) <= np.iinfo(np.uint16).max else np.uint32
    indices = rig.faces.astype(index_type).reshape(-1, 1)
    return gl.Primitive(
        attributes=gl.Attributes(**attributes),
        indices=blob.accessor(indices, gl.SCALAR, gl.ELEMENT_ARRAY_BUFFER),
        material=0,
        mode=gl.TRIANGLES,
    )


def _influence_sets(skin_weights: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per vertex its non-zero weights, largest first, in sets of four: JOINTS (V, 4) uint8 and WEIGHTS
    (V, 4) float32 per set. Unused slots have joint 0 and weight 0, as the glTF spec asks; the weights are
    renormalised in float32 so that each vertex's sum is 1 to float precision."""
    order = np.argsort(-skin_weights, axis=1, kind="stable")
    sorted_weights = np.take_along_axis(skin_weights, order, axis=1)
    used = int((sorted_weights > 0).sum(axis=1).max())
    num_sets = max(1, -(-used // INFLUENCES_PER_SET))
    width = num_sets * INFLUENCES_PER_SET
    joints = np.zeros((len(skin_weights), width), dtype=np.uint8)
    weights = np.zeros((len(skin_weights), width), dtype=np.float64)
    take = min(width, skin_weights.shape[1])
    weights[:, :take] = sorted_weights[:, :take]
    joints[:, :take] = np.where(sorted_weights[:, :take] > 0, order[:, :take], 0)
    weights = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
    chunks = range(0, width, INFLUENCES_PER_SET)
    return (
        [joints[:, c : c + INFLUENCES_PER_SET] for c in chunks],
        [weights[:, c : c + INFLUENCES_PER_SET] for c in chunks],
    )


def _vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) float32 unit area-weighted vertex normals; +y for a vertex of no face (glTF wants unit ones).

    The same normals as renderers.vertex_normals, summed with numpy's bincount: on CPU it is over ten times
    faster than torch's index_add_ for a 13k-vertex body."""
    corners = vertices[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])  # (F, 3)
    normals = np.stack(
        [np.bincount(faces.ravel(), np.repeat(face_normals[:, axis], 3), len(vertices)) for axis in range(3)],
        axis=1,
    )
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.where(length > 0, normals / np.maximum(length, 1e-30), (0.0, 1.0, 0.0))
    return normals.astype(np.float32)


def _inverse_bind_matrices(rig: RiggedBody) -> np.ndarray:
    """(J, 16) float32 column-major: the inverse of each joint's rest transform, a translation by -joint
    (the rest joints carry no rotation). Their frame is the mesh's: the skinned vertices are rest vertices."""
    matrices = np.repeat(np.eye(4)[None], len(rig.parents), axis=0)
    matrices[:, :3, 3] = -rig.rest_joints
    return matrices.transpose(0, 2, 1).reshape(-1, 16).astype(np.float32)


def _camera(camera: ImageCamera) -> gl.Camera:
    height, width = camera.image_hw
    return gl.Camera(
        name="image_camera",
        type=gl.PERSPECTIVE,
        perspective=gl.Perspective(aspectRatio=width / height, yfov=camera_yfov(camera), znear=CAMERA_ZNEAR),
        extras={
            "focal_length_px": float(camera.focal_length),
            "principal_point_px": _floats(camera.principal_point),
            "image_size_wh": [int(width), int(height)],
        },
    )


def _animation(
    motion: BodyMotion, quaternions: np.ndarray, joint_nodes: list[int], blob: _Blob
) -> gl.Animation:
    times = (np.arange(motion.num_frames) / motion.fps).astype(np.float32).reshape(-1, 1)
    time_accessor = blob.accessor(times, gl.SCALAR, bounds=True)
    translations = blob.accessor(motion.translations.astype(np.float32), gl.VEC3)
    samplers = [gl.AnimationSampler(input=time_accessor, output=translations, interpolation=gl.ANIM_LINEAR)]
    channels = [
        gl.AnimationChannel(sampler=0, target=gl.AnimationChannelTarget(node=_BODY_NODE, path="translation"))
    ]
    for joint, node in enumerate(joint_nodes):
        output = blob.accessor(quaternions[:, joint].astype(np.float32), gl.VEC4)
        samplers.append(gl.AnimationSampler(input=time_accessor, output=output, interpolation=gl.ANIM_LINEAR))
        target = gl.AnimationChannelTarget(node=node, path="rotation")
        channels.append(gl.AnimationChannel(sampler=len(samplers) - 1, target=target))
    return gl.Animation(name="motion", samplers=samplers, channels=channels)


def _continuous(quaternions: np.ndarray) -> np.ndarray:
    """(T, J, 4) with each frame's sign chosen to agree with the previous frame's (q and -q are the same
    rotation), so that linear interpolation between frames takes the short way."""
    result = quaternions.copy()
    for frame in range(1, len(result)):
        flip = (result[frame] * result[frame - 1]).sum(axis=-1) < 0
        result[frame, flip] *= -1
    return result


def _floats(values: ArrayLike) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]
