"""Training checkpoints: regressor checkpoints for prediction, and the full state for exact resumption.

Files under `<output_dir>/checkpoints/`, all written atomically by `save_regressor_checkpoint` (so every one
of them also loads with `models.checkpoint.load_regressor_weights`, i.e. in run_predict):
- `best.tar`: the best weights so far, written when validation improves;
- `last.tar`: the latest weights (at every epoch end and state save);
- `epoch_NNN.tar`: the weights after epoch NNN (0-based), every train.checkpoint_every_epochs epochs;
  these three hold their weights in both state-dict slots (`model_state_dict`, `best_model_state_dict`),
  with `epoch`, `step` and, after validation, `val_metrics` (mm for 3D errors);
- `training_state.tar`: current (`model_state_dict`) and best (`best_model_state_dict`) weights, like the
  original's checkpoints, plus what resuming needs, under the original's key names where it had them:
  `optimiser_state_dict`, `criterion_state_dict`, `epoch`, `best_epoch`, `best_epoch_val_metrics`, and ours:
  `step` (optimiser steps done), `rng_states`.
`val_metrics.jsonl` (in the output folder) gets one line per validation, written before the state; a run
killed in between resumes from the older state and validates that epoch again, so on resuming the lines past
the state's step are dropped (`trim_metrics_log`): the log and the state always agree.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.checkpoint import read_checkpoint
from utils.errors import AssetError
from utils.runtime import atomic_path

CHECKPOINT_DIR = "checkpoints"
BEST_FILE = "best.tar"
LAST_FILE = "last.tar"
STATE_FILE = "training_state.tar"
METRICS_LOG = "val_metrics.jsonl"
_STATE_KEYS = (
    "model_state_dict",
    "best_model_state_dict",
    "optimiser_state_dict",
    "criterion_state_dict",
    "step",
)


class TrainingStateError(AssetError, RuntimeError):
    """A training-state file cannot be resumed from."""


def epoch_file(epoch: int) -> str:
    return f"epoch_{epoch:03d}.tar"


@dataclass
class Progress:
    """Where training stands: optimiser steps done and the best validation so far (metres)."""

    step: int = 0
    best_epoch: int = -1
    best_metrics: dict[str, float] = field(default_factory=dict)

    def is_improvement(self, metrics: Mapping[str, float], save_metrics: Sequence[str]) -> bool:
        """The original's rule: every save metric is <= its best so far (ties count; the first epoch wins)."""
        return all(metrics[name] <= self.best_metrics.get(name, math.inf) for name in save_metrics)


def rng_states() -> dict[str, Any]:
    """The global RNG states (torch CPU, every CUDA device, numpy, python), as tensors and plain containers.

    Training draws come from keyed generators (train/poses.py) and do not depend on these; they are saved
    so that anything else random (e.g. user additions) resumes alike.
    """
    state = np.random.get_state(legacy=True)  # noqa: NPY002 (the global state)
    assert isinstance(state, tuple)  # the global MT19937 state is the legacy tuple
    kind, keys, pos, has_gauss, cached = state
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": random.getstate(),
    }


def restore_rng_states(states: Mapping[str, Any]) -> None:
    """Inverse of `rng_states` (CUDA states only when the device count matches). States loaded onto a GPU
    (map_location) are brought back to the CPU, where the RNG setters want them."""
    torch.set_rng_state(states["torch"].cpu())
    if torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([state.cpu() for state in states["cuda"]])
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, keys.cpu().numpy().astype(np.uint32), pos, has_gauss, cached))  # noqa: NPY002
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


def load_training_state(path: str | Path, map_location: Any = "cpu") -> Mapping[str, Any]:
    """Read a `training_state.tar` and check that it holds what resuming needs."""
    state = read_checkpoint(path, map_location)
    missing = [key for key in _STATE_KEYS if key not in state]
    if missing:
        raise TrainingStateError(
            f"'{path}' lacks {missing} and cannot be resumed from; pass the {STATE_FILE} of a run (in its "
            f"{CHECKPOINT_DIR}/ folder), not a weights-only checkpoint."
        )
    return state


def trim_metrics_log(path: Path, step: int) -> int:
    """Keep the lines of a val_metrics.jsonl whose `step` is at most `step` (those the resumed state has
    seen); a line cut short by a kill goes too. Rewritten atomically; returns the number of lines dropped."""
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            keep = int(record["step"]) <= step
        except (ValueError, KeyError, TypeError):
            keep = False
        if keep:
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        with atomic_path(path) as tmp:
            tmp.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
    return dropped
