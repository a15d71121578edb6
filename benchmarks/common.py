"""What every benchmark shares: timing that discounts a busy machine, a record of the machine, JSON output.

Figures are the fastest of several repeats: on a shared machine the fastest window is the one least
disturbed by other work, so it is the best estimate of the code's own cost.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from utils.precision import cpu_name
from utils.runtime import synchronise


def best_seconds(
    run: Callable[[], object],
    device: torch.device | str = "cpu",
    repeats: int = 3,
    min_seconds: float = 0.0,
    warmup: int = 1,
) -> float:
    """Seconds of the fastest call of `run` after `warmup` calls: at least `repeats` timed calls, more until
    `min_seconds` have been spent timing. The device is synchronised around each call."""
    for _ in range(warmup):
        run()
    synchronise(device)
    times: list[float] = []
    while len(times) < repeats or sum(times) < min_seconds:
        start = time.perf_counter()
        run()
        synchronise(device)
        times.append(time.perf_counter() - start)
    return min(times)


def machine(devices: Sequence[str | torch.device] = ("cpu",)) -> dict:
    """The machine a benchmark ran on: CPU model and threads, platform, torch, the GPU when one is used."""
    gpus = [torch.device(d) for d in devices if torch.device(d).type == "cuda"]
    return {
        "cpu": cpu_name(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda_device": torch.cuda.get_device_name(gpus[0]) if gpus else None,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def write_report(report: dict, path: str | os.PathLike) -> Path:
    """Write a benchmark's report as indented JSON (folders created) and say where."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")
    return path
