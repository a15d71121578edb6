"""Body-model bundles: one SMPL-format body model plus everything the rest of the code needs from it.

A bundle holds the body model layer, the definitions of the COCO-17 (2D input and loss) and LSP-14 (3D loss
and metrics) joints, the 6-part face labels (part-removal augmentation) and the IEF mean parameters. Two
kinds exist, with the same interface, so no other code asks which one it has:

- `smpl`: the user's SMPL files and the original's additional files, joints exactly as the original
  (ORIGINAL.md §3), so the released checkpoint behaves as it did;
- `open`: our open SMPL-format model (`additional/open_body/`), whose COCO-17 and LSP-14 joints are linear
  regressions of the posed vertices.

Body-model arrays are assets, not learned weights: every buffer of a bundle is non-persistent, so a
checkpoint of a module that holds a bundle never carries (licensed) model data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from configs.loader import ConfigError
from models.body_model import (
    SMPL_EXTRA_REGRESSORS,
    SMPL_NUM_VERTICES,
    BodyModelAssetError,
    SMPLFormatBodyModel,
    SMPLJointSuperset,
    SmplxBodyModel,
    load_npy_asset,
    superset_to_coco17,
    superset_to_lsp14,
)
from utils.joint_names import NUM_BETAS, NUM_SKELETON_JOINTS
from utils.numpy_files import read_npz
from utils.rotations import axis_angle_to_rotmat
from utils.runtime import here_or_in_repo

KINDS = ("open", "smpl")
GENDERS = ("neutral", "male", "female")
NUM_FACE_PARTS = 6  # 1 L arm, 2 R arm, 3 head, 4 L leg, 5 R leg, 6 torso; 0 is background in label maps
# The original hard-sets the initial weak-perspective camera (ORIGINAL.md §2.2).
IEF_MEAN_CAM = (0.9, 0.0, 0.0)
NUM_MEAN_PARAMS = 3 + 6 * NUM_SKELETON_JOINTS + NUM_BETAS  # 157

_SMPL_ADVICE = (
    "download the SMPL model files from the SMPL website and the other files from the original STRAPS "
    "README's additional files, and put them at exactly these paths"
)
_OPEN_ADVICE = "these files ship with the repository; regenerate them with `python -m tools.open_body.build`"


@dataclass
class BodyOutput:
    """Posed body in the body-model frame (no translation)."""

    vertices: torch.Tensor  # (B, V, 3)
    coco17: torch.Tensor  # (B, 17, 3) COCO keypoint order
    lsp14: torch.Tensor  # (B, 14, 3) LSP order


class SMPLJointHead(nn.Module):
    """COCO-17 and LSP-14 as the original picks them from its 90-joint SMPL superset."""

    def __init__(self, superset: SMPLJointSuperset):
        super().__init__()
        self.superset = superset

    def forward(self, vertices: torch.Tensor, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """vertices (B, 6890, 3), skeleton joints (B, 24, 3) -> coco17 (B, 17, 3), lsp14 (B, 14, 3)."""
        superset = self.superset(vertices, joints)
        return superset_to_coco17(superset), superset_to_lsp14(superset)


class RegressedJointHead(nn.Module):
    """COCO-17 and LSP-14 as linear regressions of the posed vertices (the open model)."""

    coco17_regressor: torch.Tensor  # (17, V) buffer
    lsp14_regressor: torch.Tensor  # (14, V) buffer

    def __init__(self, coco17_regressor: np.ndarray, lsp14_regressor: np.ndarray):
        super().__init__()
        self.register_buffer("coco17_regressor", torch.as_tensor(coco17_regressor, dtype=torch.float32))
        self.register_buffer("lsp14_regressor", torch.as_tensor(lsp14_regressor, dtype=torch.float32))

    def forward(self, vertices: torch.Tensor, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """vertices (B, V, 3), skeleton joints (B, 24, 3, unused) -> coco17 (B, 17, 3), lsp14 (B, 14, 3)."""
        coco17 = torch.einsum("jv,bvc->bjc", self.coco17_regressor.to(vertices.dtype), vertices)
        lsp14 = torch.einsum("jv,bvc->bjc", self.lsp14_regressor.to(vertices.dtype), vertices)
        return coco17, lsp14


class BodyModelBundle(nn.Module):
    """A body model with its joint definitions, face parts and IEF mean parameters.

    Attributes:
        kind: "open" or "smpl".
        gender: "neutral", "male" or "female".
        face_parts: (F,) int64 buffer, part label 1..6 of each face.
        mean_params: (157,) float32 buffer, `[0.9, 0, 0 | mean pose 6D (144) | mean betas (10)]`.
    """

    face_parts: torch.Tensor
    mean_params: torch.Tensor

    def __init__(
        self,
        body_model: SMPLFormatBodyModel,
        joint_head: nn.Module,
        face_parts: np.ndarray,
        mean_pose_6d: np.ndarray,
        mean_betas: np.ndarray,
        kind: str,
        gender: str,
    ):
        super().__init__()
        if face_parts.shape != (body_model.num_faces,):
            raise BodyModelAssetError(
                f"The face part labels have shape {face_parts.shape} but the {kind} body model has "
                f"{body_model.num_faces} faces; its asset files do not belong together."
            )
        if face_parts.min() < 1 or face_parts.max() > NUM_FACE_PARTS:
            raise BodyModelAssetError(
                f"The {kind} body model's face part labels must lie in 1..{NUM_FACE_PARTS}, found "
                f"{face_parts.min()}..{face_parts.max()}; its part-label files are corrupt."
            )
        self.body_model = body_model
        self.joint_head = joint_head
        self.kind = kind
        self.gender = gender
        self.register_buffer("face_parts", torch.as_tensor(face_parts, dtype=torch.int64))
        self.register_buffer("mean_params", _mean_params(mean_pose_6d, mean_betas))
        for module in self.modules():
            for name, buffer in list(module.named_buffers(recurse=False)):
                module.register_buffer(name, buffer, persistent=False)

    @property
    def faces(self) -> torch.Tensor:
        """(F, 3) int64 triangle vertex indices."""
        return self.body_model.faces

    @property
    def skinning_weights(self) -> torch.Tensor:
        """(V, 24) linear-blend-skinning weight of each skeleton joint per vertex (rows sum to 1)."""
        return self.body_model.skinning_weights

    @property
    def num_vertices(self) -> int:
        return self.body_model.num_vertices

    @property
    def num_faces(self) -> int:
        return self.body_model.num_faces

    def forward(self, pose_rotmats: torch.Tensor, betas: torch.Tensor) -> BodyOutput:
        """Pose and shape the body.

        Args:
            pose_rotmats: (B, 24, 3, 3) rotations, global orientation first.
            betas: (B, 10).
        Returns:
            BodyOutput: vertices (B, V, 3), coco17 (B, 17, 3), lsp14 (B, 14, 3), body-model frame.
        """
        skeleton = self.body_model(pose_rotmats, betas)
        coco17, lsp14 = self.joint_head(skeleton.vertices, skeleton.joints)
        return BodyOutput(vertices=skeleton.vertices, coco17=coco17, lsp14=lsp14)

    def forward_axis_angle(self, pose: torch.Tensor, betas: torch.Tensor) -> BodyOutput:
        """Same as `forward` for an axis-angle pose (B, 72), as stored in pose files."""
        if pose.ndim != 2 or pose.shape[1] != 3 * NUM_SKELETON_JOINTS:
            raise ValueError(f"An axis-angle pose must have shape (B, 72), got {tuple(pose.shape)}.")
        return self(axis_angle_to_rotmat(pose.reshape(-1, NUM_SKELETON_JOINTS, 3)), betas)

    def tpose_vertices(self, betas: torch.Tensor) -> torch.Tensor:
        """Zero-pose vertices (B, V, 3) for betas (B, 10), as used by the PVE-T metrics."""
        return self.body_model.tpose_vertices(betas)

    def extra_repr(self) -> str:
        return f"kind={self.kind}, gender={self.gender}, vertices={self.num_vertices}, faces={self.num_faces}"


def _mean_params(mean_pose_6d: np.ndarray, mean_betas: np.ndarray) -> torch.Tensor:
    """(157,) float32: the hard-set mean camera, the mean pose in 6D (144,) and the mean betas (10,)."""
    pose = np.asarray(mean_pose_6d, dtype=np.float32).reshape(-1)
    betas = np.asarray(mean_betas, dtype=np.float32).reshape(-1)
    if pose.shape != (6 * NUM_SKELETON_JOINTS,) or betas.shape != (NUM_BETAS,):
        raise BodyModelAssetError(
            f"The mean parameters must be a (144,) 6D pose and (10,) betas, got {pose.shape} and "
            f"{betas.shape}."
        )
    return torch.from_numpy(np.concatenate([np.asarray(IEF_MEAN_CAM, dtype=np.float32), pose, betas]))


def face_parts_from_texture(vertex_texture: np.ndarray, cube_parts: np.ndarray) -> np.ndarray:
    """The original's 6-part face labels (ORIGINAL.md §5.2 step 6): one constant colour per face, looked up in
    the colour cube as `cube_parts[floor(100 * colour)]`.

    Args:
        vertex_texture: (1, F, 2, 2, 2, 3) float32 per-face texture (`vertex_texture.npy`).
        cube_parts: (100, 92, 17) labels 1..6 (`cube_parts.npy`).
    Returns:
        (F,) int64 labels.
    """
    if vertex_texture.ndim != 6 or vertex_texture.shape[0] != 1 or vertex_texture.shape[2:] != (2, 2, 2, 3):
        raise BodyModelAssetError(
            f"vertex_texture.npy has shape {vertex_texture.shape}, expected (1, F, 2, 2, 2, 3)."
        )
    # float32 like the original's texture tensors, so colours on a cell boundary land in the same cell.
    colours = vertex_texture[0, :, 0, 0, 0, :].astype(np.float32)
    cells = np.floor(colours * np.float32(100)).astype(np.int64)  # (F, 3)
    if cells.min() < 0 or np.any(cells >= np.asarray(cube_parts.shape)):
        raise BodyModelAssetError(
            "vertex_texture.npy has colours outside cube_parts.npy; the two files do not match."
        )
    return cube_parts[cells[:, 0], cells[:, 1], cells[:, 2]].astype(np.int64)


def _require(paths: list[Path], advice: str) -> None:
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise BodyModelAssetError(f"Body model files are missing: {', '.join(missing)}; {advice}.")


def _load_smpl_bundle(root: Path, gender: str) -> BodyModelBundle:
    model_path = root / "smpl" / f"SMPL_{gender.upper()}.pkl"
    mean_path = root / "neutral_smpl_mean_params_6dpose.npz"
    texture_path, cube_path = root / "vertex_texture.npy", root / "cube_parts.npy"
    regressor_paths = [root / name for name, _ in SMPL_EXTRA_REGRESSORS]
    _require([model_path, *regressor_paths, mean_path, texture_path, cube_path], _SMPL_ADVICE)

    # The faces come from the model's `f`; the original's smpl_faces.npy holds the same triangles.
    body_model = SmplxBodyModel.from_file(model_path)
    if body_model.num_vertices != SMPL_NUM_VERTICES:
        raise BodyModelAssetError(
            f"{model_path} has {body_model.num_vertices} vertices, not SMPL's {SMPL_NUM_VERTICES}; replace "
            "it with an SMPL model file."
        )
    face_parts = face_parts_from_texture(
        load_npy_asset(texture_path, _SMPL_ADVICE), load_npy_asset(cube_path, _SMPL_ADVICE)
    )
    # The file's `cam` is ignored: the original hard-sets the mean camera.
    mean = read_npz(mean_path, BodyModelAssetError, _SMPL_ADVICE, ("pose", "shape"))
    return BodyModelBundle(
        body_model,
        SMPLJointHead(SMPLJointSuperset.from_dir(root)),
        face_parts,
        mean["pose"],
        mean["shape"],
        "smpl",
        gender,
    )


# Keys of `open_body/open_body_extras.npz`: coco17_regressor (17, V) and lsp14_regressor (14, V), applied to
# the posed vertices; face_parts (F,) in 1..6; mean_pose_6d (144,); mean_betas (10,).
OPEN_EXTRAS_KEYS = ("coco17_regressor", "lsp14_regressor", "face_parts", "mean_pose_6d", "mean_betas")


def _load_open_bundle(root: Path, gender: str) -> BodyModelBundle:
    model_path = root / "open_body" / f"OPEN_BODY_{gender.upper()}.npz"
    extras_path = root / "open_body" / "open_body_extras.npz"
    _require([model_path, extras_path], _OPEN_ADVICE)

    body_model = SMPLFormatBodyModel.from_file(model_path)
    extras = read_npz(extras_path, BodyModelAssetError, _OPEN_ADVICE, OPEN_EXTRAS_KEYS)
    num_vertices = body_model.num_vertices
    for key, rows in (("coco17_regressor", 17), ("lsp14_regressor", 14)):
        if extras[key].shape != (rows, num_vertices):
            raise BodyModelAssetError(
                f"{extras_path}: {key} has shape {extras[key].shape}, expected {(rows, num_vertices)}; "
                f"{_OPEN_ADVICE}."
            )
    head = RegressedJointHead(extras["coco17_regressor"], extras["lsp14_regressor"])
    return BodyModelBundle(
        body_model, head, extras["face_parts"], extras["mean_pose_6d"], extras["mean_betas"], "open", gender
    )


def load_bundle(
    kind: str = "open",
    gender: str = "neutral",
    additional_dir: str | os.PathLike = "additional",
    device: torch.device | str | None = None,
) -> BodyModelBundle:
    """Load a body-model bundle.

    Args:
        kind: "open" (files in `<additional_dir>/open_body/`, shipped) or "smpl" (the original's files:
            `smpl/SMPL_{NEUTRAL,MALE,FEMALE}.pkl`, `J_regressor_extra.npy`, `cocoplus_regressor.npy`,
            `J_regressor_h36m.npy`, `neutral_smpl_mean_params_6dpose.npz`, `vertex_texture.npy`,
            `cube_parts.npy`).
        gender: "neutral", "male" or "female".
        additional_dir: the assets folder; a relative path is looked up in the working directory, then in the
            repository root.
        device: where to put the bundle (default: CPU).
    Raises:
        BodyModelAssetError: a file is missing or unusable (the message says which and what to do).
    """
    if kind not in KINDS:
        raise ConfigError(f"Unknown body model kind {kind!r}; use one of {KINDS}.")
    if gender not in GENDERS:
        raise ConfigError(f"Unknown gender {gender!r}; use one of {GENDERS}.")
    root = here_or_in_repo(additional_dir)
    bundle = _load_smpl_bundle(root, gender) if kind == "smpl" else _load_open_bundle(root, gender)
    return bundle.to(device) if device is not None else bundle
