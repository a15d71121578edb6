"""Run-time helpers shared by every layer: device choice and synchronisation, repository-relative paths,
atomic file writes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import torch

from utils.errors import UsageError

REPO_ROOT = Path(__file__).resolve().parents[1]


class DeviceUnavailableError(UsageError):
    """The requested device (e.g. CUDA) does not exist on this machine."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """ "auto" -> CUDA when available, else the CPU; anything else as torch names it, checked to exist.

    Raises:
        DeviceUnavailableError: an unknown name, or a GPU this machine does not have.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise DeviceUnavailableError(f"Unknown device {device!r}; use auto, cpu, cuda or cuda:N.") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"Device {device} was asked for but this PyTorch sees no CUDA GPU; use --device cpu."
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"Device {device} does not exist: this machine has {torch.cuda.device_count()} CUDA GPU(s)."
            )
    elif device.type != "cpu":
        raise DeviceUnavailableError(f"Device {device} is not supported; use auto, cpu, cuda or cuda:N.")
    return device


def synchronise(device: torch.device | str) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously), so that timings are honest."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def here_or_in_repo(path: str | os.PathLike) -> Path:
    """Where relative asset paths are looked up: `path` itself when it is absolute or exists from the
    working folder; else the same relative path in the repository when that exists there; else `path`
    unchanged (so error messages name what was given). Shipped assets and the user's downloads in the
    repository's `additional/` and `checkpoints/` are so found whichever folder a script runs from."""
    path = Path(path)
    if path.is_absolute() or path.exists() or not (REPO_ROOT / path).exists():
        return path
    return REPO_ROOT / path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write to; it replaces `path` when the block succeeds and is
    removed when it fails, so readers see the old file or the whole new one, never a part."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def code_record() -> dict[str, str | bool | None]:
    """Which code is running, for a trained checkpoint's record: the repository's git commit (None outside a
    git checkout) and whether the non-commercially licensed smplx package has been imported by this process
    (only the SMPL path imports it)."""
    try:
        commit: str | None = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"git_commit": commit, "smplx_imported": "smplx" in sys.modules}
