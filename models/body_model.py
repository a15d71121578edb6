"""SMPL-format body model layer (any batch size) and the original STRAPS's extra SMPL joints.

One file format serves every body model: the SMPL keys (`v_template`, `shapedirs`, `posedirs`,
`J_regressor`, `weights`, `kintree_table`, `f`), stored either in a chumpy-free SMPL `.pkl` or in an `.npz`
(our open body model). The layer owns the arrays as buffers and poses them with our own linear blend
skinning (`models.skinning`). Every call passes pose and shape explicitly, so one layer serves batch 1 at
inference and batch 140 in training (the original fixed the batch size at construction, ORIGINAL.md §3,
pitfall 14.3).

The smplx package (non-commercial licence) is imported only on the SMPL path, by `SmplxBodyModel` (the same
layer whose forward pass is smplx's own skinning, as in the original) and `SMPLJointSuperset` (smplx's SMPL
vertex-joint ids); the open body never imports it.

`SMPLJointSuperset` rebuilds the original's 90-joint superset (24 skeleton joints, smplx's 21 vertex
joints, 9 + 19 + 17 regressed joints) with the index maps to COCO-17 and LSP-14 (ORIGINAL.md §3).
"""

from __future__ import annotations

import importlib
import pickle
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from torch import nn

from models.skinning import kinematic_chain, pose_corrective_offsets, regress_joints, shape_blend, skin
from utils.errors import AssetError
from utils.joint_names import NUM_BETAS, NUM_SKELETON_JOINTS, SMPL_PARENTS
from utils.numpy_files import NUMPY_READ_ERRORS, read_npz

NUM_POSE_BASIS = 9 * (NUM_SKELETON_JOINTS - 1)  # 207 pose-corrective coefficients
# SMPL's kinematic tree (parent of each joint; the root's is -1). Every SMPL-format model must share it,
# because poses (axis-angle files, network predictions) are only meaningful on this tree.

SMPL_NUM_VERTICES = 6890
# The original's 90-joint superset, concatenated in this order (ORIGINAL.md §3): 0-23 the skeleton joints,
# 24-44 smplx's vertex joints (nose, eyes, ears, toes, heels, fingertips: single SMPL vertices), 45-53
# J_regressor_extra, 54-72 cocoplus, 73-89 J_regressor_h36m (the last three regress the posed vertices).
SUPERSET_H36M = slice(73, 90)
# COCO-17 (nose, L/R eye, L/R ear, L/R shoulder, elbow, wrist, hip, knee, ankle): face points are the
# vertex joints, body points the SMPL skeleton joints (not the cocoplus regressions).
SUPERSET_TO_COCO17 = (24, 26, 25, 28, 27, 16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8)
# LSP-14 (R ankle, knee, hip, L hip, knee, ankle, R wrist, elbow, shoulder, L shoulder, elbow, wrist,
# neck, head top) as rows of the H36M regression, as in SPIN.
H36M_TO_LSP14 = (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10)
# File name and row count of each extra SMPL regressor in `additional/`, in superset order.
SMPL_EXTRA_REGRESSORS = (
    ("J_regressor_extra.npy", 9),
    ("cocoplus_regressor.npy", 19),
    ("J_regressor_h36m.npy", 17),
)

_CHUMPY_ADVICE = (
    "convert it to a chumpy-free pickle (e.g. with the SMPL-X project's tools/clean_ch.py) or download the "
    "chumpy-free SMPL v1.1.0 files ('basicmodel_*_lbs_10_207_0_v1.1.0.pkl') from the SMPL website and "
    "rename them SMPL_NEUTRAL.pkl / SMPL_MALE.pkl / SMPL_FEMALE.pkl"
)


class BodyModelAssetError(AssetError, RuntimeError):
    """A body-model file is missing or unusable; the message says which file and what to do."""


@dataclass(frozen=True)
class SMPLFormatArrays:
    """The arrays of an SMPL-format model file. Field names are the file's keys."""

    v_template: np.ndarray  # (V, 3) rest (T-pose) vertices
    shapedirs: np.ndarray  # (V, 3, >=10) shape blend shapes
    posedirs: np.ndarray  # (V, 3, 207) pose-corrective blend shapes
    J_regressor: np.ndarray  # (24, V) rest joints from rest vertices
    weights: np.ndarray  # (V, 24) skinning weights
    kintree_table: np.ndarray  # (2, 24) row 0: parents, row 1: joint ids
    f: np.ndarray  # (F, 3) triangle vertex indices


@dataclass
class SkeletonOutput:
    """Output of `SMPLFormatBodyModel`, in the body-model frame (no translation)."""

    vertices: torch.Tensor  # (B, V, 3)
    joints: torch.Tensor  # (B, 24, 3) posed skeleton joints


class _CompressedSparseStandIn:
    """Receives the pickled state of a scipy CSC/CSR matrix (SMPL pickles store `J_regressor` that way),
    so the files load without scipy; `to_dense` rebuilds the array from `data`, `indices`, `indptr`."""

    column_compressed: bool

    def to_dense(self) -> np.ndarray:
        state = self.__dict__
        shape = tuple(int(n) for n in state.get("_shape", state.get("shape", ())))
        counts = np.diff(np.asarray(state["indptr"]))
        major = np.repeat(np.arange(len(counts)), counts)
        minor = np.asarray(state["indices"])
        rows, cols = (minor, major) if self.column_compressed else (major, minor)
        dense = np.zeros(shape, dtype=np.float64)
        # add.at, not assignment: an uncanonical sparse matrix may hold one entry several times.
        np.add.at(dense, (rows, cols), np.asarray(state["data"], dtype=np.float64))
        return dense


class _CSCStandIn(_CompressedSparseStandIn):
    column_compressed = True


class _CSRStandIn(_CompressedSparseStandIn):
    column_compressed = False


_SPARSE_STAND_INS = {
    "csc_matrix": _CSCStandIn,
    "csc_array": _CSCStandIn,
    "csr_matrix": _CSRStandIn,
    "csr_array": _CSRStandIn,
}


class _SMPLUnpickler(pickle.Unpickler):
    """Unpickler for SMPL `.pkl` files: refuses chumpy objects with advice, maps scipy sparse matrices to
    stand-ins (scipy is not a dependency)."""

    def __init__(self, file: BinaryIO, path: Path):
        # latin1: the official SMPL pickles were written by Python 2 and hold numpy arrays.
        super().__init__(file, encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "chumpy":
            raise BodyModelAssetError(f"{self.path} holds chumpy objects: {_CHUMPY_ADVICE}.")
        if module.startswith("scipy.sparse") and name in _SPARSE_STAND_INS:
            return _SPARSE_STAND_INS[name]
        return super().find_class(module, name)


def _read_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as file:
            content = _SMPLUnpickler(file, path).load()
    except (pickle.UnpicklingError, EOFError, ImportError, AttributeError, ValueError, TypeError) as exc:
        raise BodyModelAssetError(
            f"{path} could not be read as an SMPL model pickle ({exc}); replace it with a valid "
            "chumpy-free SMPL .pkl."
        ) from exc
    if not isinstance(content, dict):
        raise BodyModelAssetError(f"{path} does not hold a dict of arrays; it is not an SMPL model pickle.")
    return {k: v.to_dense() if isinstance(v, _CompressedSparseStandIn) else v for k, v in content.items()}


def read_smpl_format(path: str | Path) -> SMPLFormatArrays:
    """Read and validate an SMPL-format model from a chumpy-free `.pkl` or an `.npz`.

    Raises:
        BodyModelAssetError: the file is missing, holds chumpy objects, cannot be read, or its arrays do not
            have SMPL-format shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise BodyModelAssetError(
            f"Body model file {path} does not exist; put an SMPL-format .pkl or .npz there."
        )
    if path.suffix == ".pkl":
        content = _read_pickle(path)
    elif path.suffix == ".npz":
        content = read_npz(path, BodyModelAssetError, "regenerate or replace it")
    else:
        raise BodyModelAssetError(f"Body model file {path} must be a .pkl or an .npz in SMPL format.")

    names = [field.name for field in fields(SMPLFormatArrays)]
    missing = [name for name in names if name not in content]
    if missing:
        raise BodyModelAssetError(f"{path} is not an SMPL-format model: it lacks the keys {missing}.")
    arrays = SMPLFormatArrays(**{name: np.asarray(content[name]) for name in names})
    problem = _shape_problem(arrays)
    if problem:
        raise BodyModelAssetError(f"{path} is not a valid SMPL-format model: {problem}.")
    return arrays


def _shape_problem(a: SMPLFormatArrays) -> str | None:
    """Returns what is wrong with the arrays' shapes, or None."""
    if a.v_template.ndim != 2 or a.v_template.shape[1] != 3:
        return f"v_template has shape {a.v_template.shape}, expected (V, 3)"
    num_vertices = a.v_template.shape[0]
    if (
        a.shapedirs.ndim != 3
        or a.shapedirs.shape[:2] != (num_vertices, 3)
        or a.shapedirs.shape[2] < NUM_BETAS
    ):
        return f"shapedirs has shape {a.shapedirs.shape}, expected ({num_vertices}, 3, >={NUM_BETAS})"
    expected = {
        "posedirs": (num_vertices, 3, NUM_POSE_BASIS),
        "J_regressor": (NUM_SKELETON_JOINTS, num_vertices),
        "weights": (num_vertices, NUM_SKELETON_JOINTS),
        "kintree_table": (2, NUM_SKELETON_JOINTS),
    }
    for name, shape in expected.items():
        if getattr(a, name).shape != shape:
            return f"{name} has shape {getattr(a, name).shape}, expected {shape}"
    if tuple(int(p) for p in a.kintree_table[0, 1:]) != SMPL_PARENTS[1:]:
        return "kintree_table is not SMPL's 24-joint kinematic tree"
    if a.f.ndim != 2 or a.f.shape[1] != 3 or a.f.min() < 0 or a.f.max() >= num_vertices:
        return f"f must be (F, 3) triangles indexing the {num_vertices} vertices"
    return None


class SMPLFormatBodyModel(nn.Module):
    """SMPL-format linear blend skinning for any batch size, by our own skinning (`models.skinning`).

    Buffers (float32, in the layouts the skinning functions take):
        v_template (V, 3), shapedirs (V, 3, 10), posedirs (207, 3V), J_regressor (24, V),
        lbs_weights (V, 24), parents (24,) int64 (root: -1), faces_tensor (F, 3) int64.
    """

    v_template: torch.Tensor
    shapedirs: torch.Tensor
    posedirs: torch.Tensor
    J_regressor: torch.Tensor
    lbs_weights: torch.Tensor
    parents: torch.Tensor
    faces_tensor: torch.Tensor

    def __init__(self, arrays: SMPLFormatArrays):
        super().__init__()
        num_vertices = arrays.v_template.shape[0]

        def as_float(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(array, dtype=np.float32))

        self.register_buffer("v_template", as_float(arrays.v_template))
        self.register_buffer("shapedirs", as_float(arrays.shapedirs[:, :, :NUM_BETAS]))
        # (V, 3, 207) -> (207, 3V): one row per pose feature, so the correctives are one matrix product.
        self.register_buffer("posedirs", as_float(arrays.posedirs.reshape(3 * num_vertices, -1).T))
        self.register_buffer("J_regressor", as_float(arrays.J_regressor))
        self.register_buffer("lbs_weights", as_float(arrays.weights))
        parents = np.asarray(arrays.kintree_table[0], dtype=np.int64).copy()
        parents[0] = -1  # SMPL files store the root's parent as an unsigned -1 (4294967295)
        self.register_buffer("parents", torch.as_tensor(parents))
        self.register_buffer("faces_tensor", torch.as_tensor(np.asarray(arrays.f, dtype=np.int64)))
        self.has_pose_correctives = bool(np.any(arrays.posedirs))

    @classmethod
    def from_file(cls, path: str | Path) -> SMPLFormatBodyModel:
        """Load from a chumpy-free SMPL `.pkl` or an SMPL-format `.npz` (see `read_smpl_format`)."""
        return cls(read_smpl_format(path))

    @property
    def faces(self) -> torch.Tensor:
        """(F, 3) int64 triangle vertex indices."""
        return self.faces_tensor

    @property
    def skinning_weights(self) -> torch.Tensor:
        """(V, 24) linear-blend-skinning weight of each skeleton joint per vertex (rows sum to 1)."""
        return self.lbs_weights

    @property
    def num_vertices(self) -> int:
        return self.v_template.shape[0]

    @property
    def num_faces(self) -> int:
        return self.faces_tensor.shape[0]

    def forward(self, pose_rotmats: torch.Tensor, betas: torch.Tensor) -> SkeletonOutput:
        """Posed vertices and skeleton joints.

        Args:
            pose_rotmats: (B, 24, 3, 3) joint rotations relative to the parent, global orientation first.
            betas: (B, 10) shape coefficients.
        Returns:
            SkeletonOutput with vertices (B, V, 3) and joints (B, 24, 3), in the model's dtype.
        """
        _check_pose_and_betas(pose_rotmats, betas)
        dtype = self.v_template.dtype
        rotations = pose_rotmats.to(dtype)
        shaped = self.tpose_vertices(betas)  # (B, V, 3)
        rest_joints = regress_joints(self.J_regressor, shaped)  # (B, 24, 3)
        if self.has_pose_correctives:  # skipped for models whose posedirs are all zero (the open body)
            shaped = shaped + pose_corrective_offsets(rotations, self.posedirs)
        world_rotations, joints = kinematic_chain(rotations, rest_joints, self.parents.tolist())
        vertices = skin(shaped, self.lbs_weights, world_rotations, rest_joints, joints)
        return SkeletonOutput(vertices=vertices, joints=joints)

    def tpose_vertices(self, betas: torch.Tensor) -> torch.Tensor:
        """Zero-pose vertices (B, V, 3) for betas (B, 10): the rest template plus the shape blend shapes,
        which is what `forward` gives for identity rotations (zero pose correctives, identity skinning)."""
        if betas.ndim != 2 or betas.shape[1] != NUM_BETAS:
            raise ValueError(f"betas must have shape (B, {NUM_BETAS}), got {tuple(betas.shape)}.")
        return shape_blend(self.v_template, self.shapedirs, betas.to(self.v_template.dtype))


def import_smplx(module: str) -> Any:
    """Import a module of smplx for the SMPL path, or say in one sentence how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BodyModelAssetError(
            f"The SMPL body model needs the smplx package ({exc}): pip install smplx==0.1.28 (licensed for "
            "non-commercial research only; the default open body model does not need it)."
        ) from None


class SmplxBodyModel(SMPLFormatBodyModel):
    """The SMPL path's layer: the same buffers, posed by smplx's own `lbs` as the original is (smplx is
    imported here, never on the open body's path)."""

    def __init__(self, arrays: SMPLFormatArrays):
        super().__init__(arrays)
        self._smplx_lbs = import_smplx("smplx.lbs").lbs

    def forward(self, pose_rotmats: torch.Tensor, betas: torch.Tensor) -> SkeletonOutput:
        """Same contract as `SMPLFormatBodyModel.forward`."""
        _check_pose_and_betas(pose_rotmats, betas)
        dtype = self.v_template.dtype
        vertices, joints = self._smplx_lbs(
            betas.to(dtype),
            pose_rotmats.to(dtype),  # (B, 24, 3, 3): lbs drops the root's matrix for the correctives
            self.v_template,
            self.shapedirs,
            self.posedirs,
            self.J_regressor,
            self.parents,
            self.lbs_weights,
            pose2rot=False,
        )
        return SkeletonOutput(vertices=vertices, joints=joints)


def _check_pose_and_betas(pose_rotmats: torch.Tensor, betas: torch.Tensor) -> None:
    if pose_rotmats.ndim != 4 or tuple(pose_rotmats.shape[1:]) != (NUM_SKELETON_JOINTS, 3, 3):
        raise ValueError(f"pose_rotmats must have shape (B, 24, 3, 3), got {tuple(pose_rotmats.shape)}.")
    if betas.ndim != 2 or betas.shape[1] != NUM_BETAS:
        raise ValueError(f"betas must have shape (B, {NUM_BETAS}), got {tuple(betas.shape)}.")
    if betas.shape[0] != pose_rotmats.shape[0]:
        raise ValueError(
            f"pose_rotmats and betas must share the batch size, got {pose_rotmats.shape[0]} and "
            f"{betas.shape[0]}."
        )


def load_npy_asset(path: str | Path, advice: str) -> np.ndarray:
    """Read a plain-array `.npy` asset; a damaged file or an object array is a BodyModelAssetError."""
    try:
        return np.load(path, allow_pickle=False)
    except NUMPY_READ_ERRORS as exc:
        raise BodyModelAssetError(
            f"{path} could not be read as a .npy array of numbers ({type(exc).__name__}: {exc}); {advice}."
        ) from None


def load_regressor(path: str | Path, num_rows: int, num_vertices: int) -> np.ndarray:
    """Read a (num_rows, num_vertices) joint regressor `.npy`, with a clear error if missing or wrong."""
    path = Path(path)
    if not path.is_file():
        raise BodyModelAssetError(f"Joint regressor {path} does not exist; put the file there.")
    regressor = load_npy_asset(path, "replace it with the original STRAPS additional file")
    if regressor.shape != (num_rows, num_vertices):
        raise BodyModelAssetError(
            f"Joint regressor {path} has shape {regressor.shape}, expected {(num_rows, num_vertices)}."
        )
    return regressor


class SMPLJointSuperset(nn.Module):
    """The original's 90-joint superset from SMPL vertices and skeleton joints (ORIGINAL.md §3).

    Order: 24 skeleton joints, smplx's 21 vertex joints (SMPL/SMPL-H vertex ids, with feet and
    fingertips), then the `J_regressor_extra` (9), `cocoplus` (19) and `J_regressor_h36m` (17) regressions
    of the posed vertices.
    """

    regressors: torch.Tensor  # (45, 6890) buffer

    def __init__(self, extra: np.ndarray, cocoplus: np.ndarray, h36m: np.ndarray):
        super().__init__()
        # smplx's SMPL vertex ids and selector: the SMPL path only (non-commercial licence).
        vertex_ids = import_smplx("smplx.vertex_ids").vertex_ids["smplh"]
        selector = import_smplx("smplx.vertex_joint_selector").VertexJointSelector
        self.vertex_joints = selector(vertex_ids=vertex_ids, use_hands=True, use_feet_keypoints=True)
        regressors = np.concatenate([extra, cocoplus, h36m], axis=0)
        self.register_buffer("regressors", torch.as_tensor(regressors, dtype=torch.float32))  # (45, 6890)

    @classmethod
    def from_dir(cls, additional_dir: str | Path) -> SMPLJointSuperset:
        """Load the three regressors from the original's `additional/` folder."""
        return cls(
            *(
                load_regressor(Path(additional_dir) / name, rows, SMPL_NUM_VERTICES)
                for name, rows in SMPL_EXTRA_REGRESSORS
            )
        )

    def forward(self, vertices: torch.Tensor, joints: torch.Tensor) -> torch.Tensor:
        """vertices (B, 6890, 3) and skeleton joints (B, 24, 3) -> superset (B, 90, 3)."""
        with_vertex_joints = self.vertex_joints(vertices, joints)
        regressed = regress_joints(self.regressors.to(vertices.dtype), vertices)
        return torch.cat([with_vertex_joints, regressed], dim=1)


def superset_to_coco17(superset: torch.Tensor) -> torch.Tensor:
    """(B, 90, 3) -> (B, 17, 3) COCO-17 joints."""
    return superset[:, list(SUPERSET_TO_COCO17)]


def superset_to_lsp14(superset: torch.Tensor) -> torch.Tensor:
    """(B, 90, 3) -> (B, 14, 3) LSP-14 joints (H36M regression rows)."""
    return superset[:, SUPERSET_H36M][:, list(H36M_TO_LSP14)]
