"""Weight files of the detectron2 detectors: read without running code, recognised, matched strictly.

Formats read:
- `.pkl`, detectron2's model-zoo format: a pickle of {"model": {name: numpy array}, "__author__": ...} (a
  bare {name: array} dict works too). It is read by an unpickler that rebuilds only numpy arrays and plain
  containers, so a weights file cannot execute code.
- `.pth` / `.pt`, written by detectron2's trainer or `torch.save`: {"model": state dict, ...} or a bare
  state dict, read with `torch.load(weights_only=True)`.

Layouts recognised (`prepare_weights`):
- PointRend before detectron2's 2020-11 rewrite (the original STRAPS's pointrend_rcnn_R_50_fpn.pkl): heads
  under `roi_heads.mask_coarse_head.` (its layers `coarse_mask_fc1`, `coarse_mask_fc2`) and
  `roi_heads.mask_point_head.`, renamed to today's `roi_heads.mask_head.coarse_head.` (`fc1`, `fc2`) and
  `roi_heads.mask_head.point_head.`.
- DensePose with the legacy heads (the original's densepose_rcnn_R_101_fpn_s1x.pkl): 15 coarse
  segmentation channels and no decoder, which selects `DENSEPOSE_LEGACY`.
Then every weight must fit the model exactly (`match_weights`): a missing, surplus or wrong-shaped weight
stops the run with one sentence naming them, instead of leaving part of a network at random values.

The Keypoint R-CNN weights are detectron2's model-zoo file: looked for in the weights folder, then in
detectron2's download cache, then downloaded into that cache (`keypoint_rcnn_weights`).
"""

from __future__ import annotations

import os
import pickle
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from predict.detectors.base import DetectorUnavailableError
from predict.detectors.detectron2_configs import (
    DENSEPOSE,
    DENSEPOSE_LEGACY,
    KEYPOINT_RCNN,
    KEYPOINT_RCNN_WEIGHTS_URL,
    POINTREND,
)
from utils.state_dicts import compare_shapes

# The original's file names in checkpoints/ (its README) and the zoo file's name there.
SILHOUETTE_WEIGHTS = {
    "pointrend": "pointrend_rcnn_R_50_fpn.pkl",
    "densepose": "densepose_rcnn_R_101_fpn_s1x.pkl",
}
KEYPOINT_RCNN_WEIGHTS = "keypoint_rcnn_R_50_FPN_3x.pkl"
_POINTREND_RENAMES = {
    "roi_heads.mask_coarse_head.coarse_mask_fc": "roi_heads.mask_head.coarse_head.fc",
    "roi_heads.mask_coarse_head.": "roi_heads.mask_head.coarse_head.",
    "roi_heads.mask_point_head.": "roi_heads.mask_head.point_head.",
}
_DENSEPOSE_COARSE_SEGM = "roi_heads.densepose_predictor.ann_index_lowres.weight"
# Weights that older detectron2 versions saved and today's models rebuild from the config (the anchors,
# the pixel normalisation); detectron2's own loader ignores them as well.
_REBUILT_FROM_CONFIG = ("anchor_generator.cell_anchors.", "pixel_mean", "pixel_std")
# What the unpickler may rebuild: numpy arrays, dtypes and scalars, and the containers around them.
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # how Python 3 writes bytes in protocol-2 pickles
}


class WeightsFileError(DetectorUnavailableError):
    """A detector weights file is missing, unreadable or does not fit its model."""


class _WeightsUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it holds a {module}.{name} object, not only arrays")


def read_weights(path: str | Path, what: str) -> dict[str, np.ndarray]:
    """A detectron2 weights file -> {parameter name: numpy array}.

    Args:
        path: `.pkl` (model zoo) or `.pth` / `.pt` (torch.save) file.
        what: the model's name for messages, e.g. "PointRend".
    Raises:
        WeightsFileError: the file is missing or holds anything but named arrays.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"The {what} weights file {path} does not exist.")
    try:
        content = _load(path)
    except Exception as exc:  # pickle, zip and torch raise many types for damaged files
        raise WeightsFileError(
            f"The {what} weights file {path} could not be read ({type(exc).__name__}: {exc}); download it "
            "again."
        ) from None
    weights = content.get("model", content) if isinstance(content, Mapping) else None
    if not isinstance(weights, Mapping) or not weights:
        raise WeightsFileError(f"The {what} weights file {path} holds no named weights.")
    arrays = {}
    for name, value in weights.items():
        array = value.detach().cpu().numpy() if hasattr(value, "detach") else value
        if not isinstance(name, str) or not isinstance(array, np.ndarray):
            raise WeightsFileError(
                f"The {what} weights file {path} holds {type(value).__name__} under {name!r}, not an array."
            )
        arrays[name.removeprefix("module.")] = array
    return arrays


def _load(path: Path) -> Any:
    if path.suffix == ".pkl":
        with open(path, "rb") as file:
            return _WeightsUnpickler(file, encoding="latin1").load()
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def prepare_weights(weights: dict[str, np.ndarray], model: str) -> tuple[dict[str, np.ndarray], dict, str]:
    """Recognise the layout of a model's weights.

    Args:
        weights: as `read_weights` returns them.
        model: "keypointrcnn", "pointrend" or "densepose".
    Returns:
        (weights in today's names, the config values to build the model with, a short layout description).
    """
    if model == "keypointrcnn":
        return weights, KEYPOINT_RCNN, "model zoo"
    if model == "pointrend":
        renamed = {_pointrend_name(name): array for name, array in weights.items()}
        old = any(new != old for new, old in zip(renamed, weights, strict=True))
        return renamed, POINTREND, "before detectron2's 2020-11 PointRend rewrite" if old else "current"
    if model == "densepose":
        coarse = weights.get(_DENSEPOSE_COARSE_SEGM)
        legacy = coarse is not None and coarse.ndim == 4 and coarse.shape[1] == 15
        return weights, DENSEPOSE_LEGACY if legacy else DENSEPOSE, "legacy heads" if legacy else "current"
    raise ValueError(f"Unknown detectron2 model {model!r}.")


def _pointrend_name(name: str) -> str:
    for old, new in _POINTREND_RENAMES.items():
        if name.startswith(old):
            return new + name[len(old) :]
    return name


def match_weights(
    model_shapes: Mapping[str, tuple[int, ...]], weights: Mapping[str, np.ndarray], what: str, path: Path
) -> dict[str, np.ndarray]:
    """Check that the weights fit the model exactly.

    Args:
        model_shapes: the model's state-dict names and shapes.
        weights: prepared weights (`prepare_weights`).
        what, path: for the message.
    Returns:
        The weights the model takes (leftovers that the model rebuilds from its config are dropped).
    Raises:
        WeightsFileError: one sentence naming the missing, surplus and wrong-shaped weights.
    """
    kept = {name: array for name, array in weights.items() if not _rebuilt_from_config(name)}
    mismatch = compare_shapes(model_shapes, {name: array.shape for name, array in kept.items()})
    if mismatch:
        raise WeightsFileError(
            f"The {what} weights file {path} does not fit the {what} model: {mismatch.describe('weight')}; "
            f"{_expected_file(what)}."
        )
    return kept


def _rebuilt_from_config(name: str) -> bool:
    return any(part in name for part in _REBUILT_FROM_CONFIG)


def _expected_file(what: str) -> str:
    return {
        "PointRend": "expected PointRend R50-FPN COCO instance-segmentation weights (the original STRAPS "
        "README's pointrend_rcnn_R_50_fpn.pkl, or detectron2's pointrend_rcnn_R_50_FPN_3x_coco model)",
        "DensePose": "expected DensePose R101-FPN s1x weights (the original STRAPS README's "
        "densepose_rcnn_R_101_fpn_s1x.pkl, or DensePose's densepose_rcnn_R_101_FPN_s1x or _s1x_legacy "
        "model)",
    }.get(what, f"expected detectron2's model-zoo file {KEYPOINT_RCNN_WEIGHTS_URL}")


def detectron2_cache_dir() -> Path:
    """detectron2's download cache (iopath's: $FVCORE_CACHE, default ~/.torch/iopath_cache)."""
    return Path(os.path.expanduser(os.environ.get("FVCORE_CACHE", "~/.torch/iopath_cache")))


def keypoint_rcnn_weights(
    explicit: str | Path | None,
    weights_dir: Path,
    url: str = KEYPOINT_RCNN_WEIGHTS_URL,
    cache_dir: Path | None = None,
) -> Path:
    """The Keypoint R-CNN weights file: `explicit` if given, else
    `<weights_dir>/keypoint_rcnn_R_50_FPN_3x.pkl`, else detectron2's cached download, else downloaded now
    into that cache.

    Raises:
        WeightsFileError: `explicit` does not exist, or the download failed (nothing is left behind).
    """
    if explicit is not None:
        if not Path(explicit).is_file():
            raise WeightsFileError(f"The Keypoint R-CNN weights file {explicit} does not exist.")
        return Path(explicit)
    local = weights_dir / KEYPOINT_RCNN_WEIGHTS
    if local.is_file():
        return local
    cached = (cache_dir or detectron2_cache_dir()) / urllib.parse.urlparse(url).path.lstrip("/")
    if cached.is_file():
        return cached
    return _download(url, cached, local)


def _download(url: str, target: Path, local: Path) -> Path:
    """Download `url` to `target` via a temporary file, so an interrupted download leaves nothing behind."""
    partial = target.with_name(f"{target.name}.part{os.getpid()}")
    created = [folder for folder in [target.parent, *target.parent.parents] if not folder.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
            size = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=size, unit="B", unit_scale=True, desc="Keypoint R-CNN weights") as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
        os.replace(partial, target)
    except (OSError, ValueError) as exc:  # URLError and timeouts are OSErrors
        partial.unlink(missing_ok=True)
        for folder in created:  # deepest first; only the ones made here, and only while empty
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise WeightsFileError(
            f"The Keypoint R-CNN weights are not on this machine and could not be downloaded from {url} "
            f"({type(exc).__name__}: {exc}); download that file and put it at {local} (or pass its path with "
            "--keypoint_weights)."
        ) from None
    return target
