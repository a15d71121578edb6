"""Regressor checkpoints: strict loading of the original STRAPS `.tar` and of ours, atomic saving.

Accepted inputs (a path, or an already loaded dict):
- the original's training checkpoint: a dict with `best_model_state_dict` (and usually
  `model_state_dict`, `optimiser_state_dict`, ...; ORIGINAL.md §2.5);
- ours (`format_version` present), written by `save_regressor_checkpoint`:
  ``{"format_version": 1, "model_state_dict": ..., "best_model_state_dict": ..., "config": dict | None,
  "body_model": dict | None, **extra}``; its weights may be stored in float16;
- a bare state dict.
State dicts are matched strictly against the model. Names that alias one tensor in the model (the IEF
`fcK.*` / `ief_layers.{0,2,4}.*` pairs) may be given under either name: the missing one is filled from
the other. A `module.` (DistributedDataParallel) or `_orig_mod.` (torch.compile) prefix is removed.
Anything else that does not fit raises `CheckpointError` with one sentence saying what is wrong.
Files are read with `torch.load(weights_only=True)` (tensors, plain containers and numpy scalars and
arrays, which the original's trainer stores in `best_epoch_val_metrics`), which covers both formats;
arbitrary pickles are refused unless `allow_unsafe=True` (`--allow_unsafe_checkpoint` on the command line).

Integrity: our checkpoints carry `tensor_sha256`, a SHA-256 over every tensor in the file (its place in the
nesting, dtype, shape and bytes, in sorted key order), verified on reading, so a file damaged in place is
refused rather than loaded with garbage weights. Files without it (the original's `.tar`, older exports)
still load; for every file, each loaded weight must be finite.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from configs.loader import config_to_dict
from utils.errors import AssetError
from utils.runtime import atomic_path
from utils.state_dicts import compare_shapes, list_some

FORMAT_VERSION = 1
CHECKSUM_KEY = "tensor_sha256"
_EXPECTED = (
    "expected a STRAPS regressor checkpoint for this model (the original "
    "checkpoints/straps_model_checkpoint.tar with the SMPL body model, or one written by "
    "save_regressor_checkpoint)"
)


class CheckpointError(AssetError, RuntimeError):
    """A checkpoint is missing, unreadable or does not fit the model."""


@dataclasses.dataclass(frozen=True)
class CheckpointInfo:
    """What `load_regressor_weights` loaded.

    origin: "straps-rebuilt" (ours), "straps-original" (a training dict without format_version) or
        "state-dict" (bare weights).
    state_dict_key: the dict key the weights came from, None for a bare state dict.
    config, body_model: as stored in our checkpoints, else None.
    """

    origin: str
    state_dict_key: str | None
    config: dict | None = None
    body_model: dict | None = None


def read_checkpoint(
    source: str | os.PathLike | Mapping, map_location: Any = "cpu", allow_unsafe: bool = False
) -> Mapping:
    """Load a checkpoint file (or pass a loaded mapping through), with one-sentence errors."""
    if isinstance(source, Mapping):
        return source
    path = Path(source)
    if path.is_dir():
        raise CheckpointError(f"Checkpoint path '{path}' is a folder; pass the checkpoint file inside it.")
    if not path.is_file():
        raise CheckpointError(
            f"Checkpoint file '{path}' does not exist; put the checkpoint there or pass the right path "
            "(see checkpoints/README.md)."
        )
    if not _looks_like_torch_file(path):
        raise _unreadable(path, "neither a zip archive nor a pickle stream")
    try:
        # torch warns before raising on damaged files; the CheckpointError below says it once.
        with warnings.catch_warnings(), torch.serialization.safe_globals(_numpy_safe_globals()):
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        # The safe unpickler names the first class it refused; other unpickling errors mean damage.
        refused = re.search(
            r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) (\S+)|allowlisted via `add_safe_globals`, "
            r"but got <class '([^']+)'>",
            str(error),
        )
        if refused is None:
            raise _unreadable(path, error) from None
        if not allow_unsafe:
            raise CheckpointError(
                f"Checkpoint '{path}' holds Python objects other than tensors and plain containers "
                f"(such as {refused.group(1) or refused.group(2)}), so it was not loaded in safe mode; if "
                "you trust its source, pass --allow_unsafe_checkpoint."
            ) from None
        try:
            obj = torch.load(path, map_location=map_location, weights_only=False)
        except Exception as unsafe_error:
            raise _unreadable(path, unsafe_error) from None
    except Exception as error:  # torch.load raises many types for damaged files
        raise _unreadable(path, error) from None
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"Checkpoint '{path}' holds a {type(obj).__name__}, not a dict; {_EXPECTED}.")
    _verify_checksum(obj, path)
    return obj


def tensor_checksum(content: Mapping) -> str:
    """SHA-256 (hex) over every tensor of a checkpoint dict, `CHECKSUM_KEY` itself left out: for each tensor,
    in sorted key order at every level, its key path, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for where, tensor in _tensors(content, ()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{where}|{flat.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(flat.view(torch.uint8).numpy().data if flat.numel() else b"")
    return digest.hexdigest()


def _tensors(value: Any, where: tuple) -> list[tuple[str, torch.Tensor]]:
    """(key path, tensor) of every tensor nested in dicts, lists and tuples, in a stable order."""
    if isinstance(value, torch.Tensor):
        return [("/".join(map(str, where)), value)]
    if isinstance(value, Mapping):
        items = sorted(((str(k), v) for k, v in value.items() if where or k != CHECKSUM_KEY))
        return [found for key, item in items for found in _tensors(item, (*where, key))]
    if isinstance(value, (list, tuple)):
        return [found for i, item in enumerate(value) for found in _tensors(item, (*where, i))]
    return []


def _verify_checksum(content: Mapping, path: Path) -> None:
    stored = content.get(CHECKSUM_KEY)
    if stored is None:
        return  # the original's files and older exports carry none; the finiteness check still applies
    if stored != tensor_checksum(content):
        raise CheckpointError(
            f"Checkpoint '{path}' is damaged: its tensors do not match the checksum stored in it; restore "
            "the file from a good copy (or re-export it)."
        )


def _numpy_safe_globals() -> list:
    """What numpy scalars and arrays of plain dtypes unpickle through (the original trainer stores numpy
    float64 metrics): the reconstruct functions, ndarray and dtype classes; object arrays still need their
    items' classes allowed, so arbitrary objects stay refused."""
    try:
        multiarray = importlib.import_module("numpy._core.multiarray")  # numpy 2
    except ImportError:
        multiarray = importlib.import_module("numpy.core.multiarray")
    dtypes = [np.dtype(code) for code in "?bhilqBHILQefdgFDGUS"]
    return [multiarray.scalar, multiarray._reconstruct, np.ndarray, np.dtype, *{type(d) for d in dtypes}]


def _looks_like_torch_file(path: Path) -> bool:
    """torch.save writes a zip archive (torch >= 1.6) or a pickle stream (legacy, e.g. torch 1.4)."""
    if zipfile.is_zipfile(path):
        return True
    with path.open("rb") as file:
        return file.read(1) == b"\x80"  # PROTO opcode that starts every pickle of protocol >= 2


def _unreadable(path: Path, reason: Exception | str) -> CheckpointError:
    if isinstance(reason, Exception):
        text = str(reason)
        # torch's safe unpickler puts its advice (to load with weights_only=False) first and the actual
        # problem last; keep only the problem.
        unpickler = re.search(r"WeightsUnpickler error:\s*([^\n]*)", text)
        detail = unpickler.group(1) if unpickler else (text.splitlines()[0] if text else "")
        detail = detail.split("  (Could this error message be improved?")[0].strip()
        reason = f"{type(reason).__name__}: {detail}" if detail else type(reason).__name__
    return CheckpointError(
        f"'{path}' is not a readable PyTorch checkpoint ({reason}); check that the file is complete and is "
        "a regressor checkpoint."
    )


def load_regressor_weights(
    model: nn.Module,
    source: str | os.PathLike | Mapping,
    map_location: Any = "cpu",
    which: Literal["best", "current"] = "best",
    allow_unsafe: bool = False,
    name: str | os.PathLike | None = None,
) -> CheckpointInfo:
    """Load regressor weights strictly into `model` (in place).

    Args:
        model: the regressor (e.g. SingleInputRegressor) to fill.
        source: path to a checkpoint, or a loaded checkpoint dict / state dict.
        map_location: as for torch.load.
        which: "best" reads `best_model_state_dict` (falling back to `model_state_dict`), "current"
            reads `model_state_dict` (resuming training).
        allow_unsafe: allow a full (arbitrary code) unpickle if the safe loader refuses the file.
        name: the file a loaded dict came from, for the error messages (default: the path given).
    Returns:
        CheckpointInfo describing what was loaded.
    """
    if which not in ("best", "current"):
        raise ValueError(f"which must be 'best' or 'current', got {which!r}.")
    checkpoint = read_checkpoint(source, map_location, allow_unsafe)
    if name is None and not isinstance(source, Mapping):
        name = source
    name = f"'{name}'" if name is not None else "(given as a dict)"
    info = _describe(checkpoint, which, name)
    state_dict = checkpoint if info.state_dict_key is None else checkpoint[info.state_dict_key]
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(f"Checkpoint {name}: '{info.state_dict_key}' is not a state dict; {_EXPECTED}.")
    model.load_state_dict(_fit_state_dict(model, state_dict, name), strict=True)
    return info


def save_regressor_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | Mapping[str, torch.Tensor],
    *,
    best_model_state_dict: Mapping[str, torch.Tensor] | None = None,
    config: Any = None,
    body_model: Mapping | None = None,
    half_precision: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write our checkpoint format atomically (`utils.runtime.atomic_path`).

    Args:
        path: destination file; parent folders are created.
        model: the regressor or its state dict (`model_state_dict`).
        best_model_state_dict: best-validation weights; defaults to the current ones.
        config: a config dataclass (stored as a plain dict) or a dict.
        body_model: e.g. {"kind": "open", "gender": "neutral"}, for the predictor to check.
        half_precision: store floating tensors in float16 (loading casts back to the model's dtype).
        extra: further entries (epoch, optimiser state, ...); plain containers and tensors only.
    Returns:
        The written path.
    """
    current = model.state_dict() if isinstance(model, nn.Module) else model
    best = current if best_model_state_dict is None else best_model_state_dict
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = config_to_dict(config)
    reserved = {"format_version", "model_state_dict", "best_model_state_dict", "config", "body_model"}
    reserved.add(CHECKSUM_KEY)
    clashes = reserved & set(extra or {})
    if clashes:
        raise ValueError(f"extra must not contain the reserved checkpoint keys {sorted(clashes)}.")
    memo: dict[tuple[int, int], torch.Tensor] = {}  # one stored copy per model tensor across both dicts
    checkpoint = {
        "format_version": FORMAT_VERSION,
        "model_state_dict": _to_storage(current, half_precision, memo),
        "best_model_state_dict": _to_storage(best, half_precision, memo),
        "config": config,
        "body_model": dict(body_model) if body_model is not None else None,
        **(extra or {}),
    }
    checkpoint[CHECKSUM_KEY] = tensor_checksum(checkpoint)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
    return path


def _describe(checkpoint: Mapping, which: str, name: str) -> CheckpointInfo:
    """Recognise the checkpoint format and pick the state dict to load."""
    if "format_version" in checkpoint:
        version = checkpoint["format_version"]
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise CheckpointError(
                f"Checkpoint {name} has format_version {version!r}, newer than this code reads "
                f"({FORMAT_VERSION}); update the code or re-export the checkpoint."
            )
        origin = "straps-rebuilt"
    elif "best_model_state_dict" in checkpoint or "model_state_dict" in checkpoint:
        origin = "straps-original"
    elif checkpoint and all(isinstance(value, torch.Tensor) for value in checkpoint.values()):
        return CheckpointInfo(origin="state-dict", state_dict_key=None)
    else:
        keys = ", ".join(map(str, list(checkpoint)[:5]))
        raise CheckpointError(
            f"Checkpoint {name} has neither 'best_model_state_dict' nor 'model_state_dict' and is not a "
            f"state dict (top-level keys: {keys}); {_EXPECTED}."
        )

    order = ("best_model_state_dict", "model_state_dict") if which == "best" else ("model_state_dict",)
    key = next((k for k in order if k in checkpoint), None)
    if key is None:
        raise CheckpointError(f"Checkpoint {name} has no {' or '.join(map(repr, order))}; {_EXPECTED}.")
    return CheckpointInfo(
        origin=origin,
        state_dict_key=key,
        config=checkpoint.get("config") if origin == "straps-rebuilt" else None,
        body_model=checkpoint.get("body_model") if origin == "straps-rebuilt" else None,
    )


def _fit_state_dict(model: nn.Module, state_dict: Mapping, name: str) -> dict[str, torch.Tensor]:
    """Strip a DDP prefix, fill aliased names, check keys and shapes, cast to the model's dtypes."""
    state = dict(state_dict)
    not_tensors = [str(key) for key, value in state.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(
            f"Checkpoint {name} has non-tensor entries in its state dict ({', '.join(not_tensors[:4])}); "
            f"{_EXPECTED}."
        )
    # Wrappers prefix every name: DistributedDataParallel ("module.") and torch.compile ("_orig_mod.").
    for prefix in ("module.", "_orig_mod."):
        if state and all(key.startswith(prefix) for key in state):
            state = {key[len(prefix) :]: value for key, value in state.items()}
    target = model.state_dict()

    for group in _alias_groups(target):
        present = [key for key in group if key in state]
        if not present:
            continue
        first = state[present[0]]
        shapes = {key: tuple(state[key].shape) for key in present}
        if len(set(shapes.values())) > 1:
            given = ", ".join(f"{key} {shape}" for key, shape in shapes.items())
            raise CheckpointError(
                f"Checkpoint {name} stores tensors of different shapes under names of one model tensor "
                f"({given}; the model's is {tuple(target[group[0]].shape)}); {_EXPECTED}."
            )
        if any(not torch.equal(state[key].to(first.dtype), first) for key in present[1:]):
            raise CheckpointError(
                f"Checkpoint {name} stores different values under {present}, which must be one tensor; "
                f"{_EXPECTED}."
            )
        for key in group:
            state.setdefault(key, first)

    mismatch = compare_shapes(
        {key: value.shape for key, value in target.items()},
        {key: value.shape for key, value in state.items()},
    )
    if mismatch:
        raise CheckpointError(
            f"Checkpoint {name} does not fit the model: {mismatch.describe()}; {_EXPECTED}."
        )

    not_finite = [
        key for key, value in state.items() if value.is_floating_point() and not value.isfinite().all()
    ]
    if not_finite:
        raise CheckpointError(
            f"Checkpoint {name} holds NaN or infinite weights ({list_some(not_finite, 'tensor key')}), so "
            "it is damaged or from a diverged run; use another checkpoint (e.g. the run's best.tar)."
        )
    return {
        key: value.to(target[key].dtype) if value.is_floating_point() else value
        for key, value in state.items()
    }


def _alias_groups(state_dict: Mapping[str, torch.Tensor]) -> list[list[str]]:
    """Groups (2 or more) of state-dict names that refer to one tensor of the model."""
    by_storage: dict[tuple[int, int], list[str]] = {}
    for key, tensor in state_dict.items():
        if tensor.numel() == 0:  # empty tensors may share a null data pointer without being aliases
            continue
        by_storage.setdefault((tensor.data_ptr(), tensor.numel()), []).append(key)
    return [keys for keys in by_storage.values() if len(keys) > 1]


def _to_storage(
    state_dict: Mapping[str, torch.Tensor], half_precision: bool, memo: dict[tuple[int, int], torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Detached CPU tensors for saving, optionally float16. Names aliasing one tensor (also across the
    current and best dicts, through `memo`) keep sharing one tensor, which torch.save stores once."""
    out = {}
    for key, tensor in state_dict.items():
        ident = (tensor.data_ptr(), tensor.numel())
        if ident not in memo:
            value = tensor.detach().cpu()
            memo[ident] = value.half() if half_precision and value.is_floating_point() else value
        out[key] = memo[ident]
    return out
