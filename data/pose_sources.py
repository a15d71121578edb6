"""Pose sources: where training and validation poses come from.

Every source answers `sample(batch_size, generator) -> (B, 72)` float32 SMPL axis-angle poses, global
orientation first, in the camera frame (an upright body has a global orientation of ~180 deg about x; see
docs/ARCHITECTURE.md). Two sources exist:

- `NpzPoseSource` (here): the original's npz files (AMASS, UP-3D, 3DPW, H36M poses) for users who have
  them. It also offers epoch-style access (`len`, `index_batches`, `get`, `get_shapes`) so that training
  can shuffle without replacement and validation can walk the file in order.
- `data.procedural_poses.ProceduralPoseSource`: a sampler that needs no file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from configs.loader import ConfigError
from utils.errors import AssetError
from utils.numpy_files import read_npz

# Values of the original's `params_from` option; the three non-AMASS datasets are recognised by the
# prefix of their file names, everything else in an npz counts as AMASS.
PARAMS_FROM = ("all", "h36m", "up3d", "3dpw", "not_amass")
_NON_AMASS_PREFIXES = ("h36m", "up3d", "3dpw")
_REQUIRED_KEYS = ("fnames", "poses", "shapes")


class PoseFileError(AssetError, RuntimeError):
    """A pose npz file is missing or does not have the original's layout."""


class PoseSource(Protocol):
    """What the batch generator needs from a pose source."""

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """Draw `batch_size` poses (B, 72) float32 axis-angle on the generator's device."""
        ...


class NpzPoseSource:
    """SMPL poses (and shapes) from an npz file in the original's format.

    The file holds `fnames` (N,) strings, `poses` (N, 72) axis-angle with the camera-frame global
    orientation first, and `shapes` (N, 10). The whole (filtered) file is kept as tensors on `device`:
    348k poses take about 100 MB.

    Args:
        path: the npz file, e.g. data/amass_up3d_3dpw_train.npz or data/up3d_3dpw_val.npz.
        params_from: keep every row ("all"), the rows of one dataset ("h36m", "up3d", "3dpw", by file-name
            prefix) or all non-AMASS rows ("not_amass"), as the original's option of the same name.
        device: where the tensors live.
    """

    def __init__(self, path: str | Path, params_from: str = "all", device: torch.device | str = "cpu"):
        path = Path(path)
        if params_from not in PARAMS_FROM:
            raise ConfigError(f"params_from must be one of {PARAMS_FROM}, got {params_from!r}.")
        fnames, poses, shapes = _read_pose_file(path)
        keep = _filter_rows(fnames, params_from)
        if not keep.any():
            raise PoseFileError(f"{path} has no rows for params_from={params_from!r}: choose another filter.")
        self.path = path
        self.params_from = params_from
        self.fnames: list[str] = [str(f) for f in fnames[keep]]
        self.poses = torch.from_numpy(poses[keep].astype(np.float32)).to(device)  # (N, 72)
        self.shapes = torch.from_numpy(shapes[keep].astype(np.float32)).to(device)  # (N, 10)

    @property
    def device(self) -> torch.device:
        return self.poses.device

    def __len__(self) -> int:
        return self.poses.shape[0]

    def get(self, indices: torch.Tensor) -> torch.Tensor:
        """Poses (B, 72) at the given row indices (B,)."""
        return self.poses[indices.to(self.device)]

    def get_shapes(self, indices: torch.Tensor) -> torch.Tensor:
        """Shapes (B, 10) at the given row indices (B,); validation uses them, training resamples shapes."""
        return self.shapes[indices.to(self.device)]

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """Poses (B, 72) drawn uniformly with replacement, on the generator's device."""
        indices = torch.randint(len(self), (batch_size,), generator=generator, device=generator.device)
        return self.get(indices).to(generator.device)

    def index_batches(
        self, batch_size: int, generator: torch.Generator | None = None, drop_last: bool = True
    ) -> Iterator[torch.Tensor]:
        """One epoch of row-index batches (B,) int64.

        With a generator the rows are shuffled (each row at most once per epoch, as the original's
        DataLoader with shuffle=True); without one they come in file order, for deterministic validation.
        `drop_last` drops a final short batch (the original always did).
        """
        if generator is None:
            order = torch.arange(len(self), device=self.device)
        else:
            order = torch.randperm(len(self), generator=generator, device=generator.device).to(self.device)
        stop = len(self) - len(self) % batch_size if drop_last else len(self)
        for start in range(0, stop, batch_size):
            yield order[start : start + batch_size]


def _read_pose_file(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read and check `fnames`, `poses`, `shapes` from an original-format npz file."""
    if not path.is_file():
        raise PoseFileError(
            f"Pose file {path} not found: put the original's npz files (amass_up3d_3dpw_train.npz, "
            "up3d_3dpw_val.npz) in data/ as its README says, or train with the procedural pose source."
        )
    advice = (
        "a pose file holds 'fnames' (N,), 'poses' (N, 72) and 'shapes' (N, 10) as plain arrays, as the "
        "original's training npz files do; download it again if it is damaged, or save 'fnames' as a string "
        "array if it stores pickled objects"
    )
    data = read_npz(path, PoseFileError, advice, _REQUIRED_KEYS)
    fnames, poses, shapes = (data[key] for key in _REQUIRED_KEYS)
    n = poses.shape[0] if poses.ndim == 2 else -1
    if poses.shape != (n, 72) or shapes.shape != (n, 10) or fnames.shape != (n,):
        raise PoseFileError(
            f"{path} has fnames {fnames.shape}, poses {poses.shape}, shapes {shapes.shape}; expected (N,), "
            "(N, 72) and (N, 10) with the same N."
        )
    return fnames.astype(str), poses, shapes


def _filter_rows(fnames: np.ndarray, params_from: str) -> np.ndarray:
    """(N,) bool mask of the rows that `params_from` keeps."""
    if params_from == "all":
        return np.ones(fnames.shape, dtype=bool)
    prefixes = _NON_AMASS_PREFIXES if params_from == "not_amass" else (params_from,)
    return np.logical_or.reduce([np.char.startswith(fnames, prefix) for prefix in prefixes])
