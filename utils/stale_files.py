"""Temporary files of dead processes: atomic writers (`utils.runtime.atomic_path`) write `.<name>.tmp<pid>`
beside the target and rename it; a process killed in between leaves the temporary file.
Those whose pid no longer runs are removed when the next run starts."""

from __future__ import annotations

import os
import re
from pathlib import Path

_TEMP_NAME = re.compile(r"^\..+\.tmp(\d+)$")


def process_is_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (signal 0 checks without signalling)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, under another user
        return True
    return True


def remove_stale_temp_files(folder: Path, recursive: bool = True) -> list[Path]:
    """Remove `.<name>.tmp<pid>` files under `folder` whose process is dead; returns the removed paths.
    Files of running processes (another run writing right now) are left alone."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in folder.rglob(".*.tmp*") if recursive else folder.glob(".*.tmp*"):
        match = _TEMP_NAME.match(path.name)
        if match is None or not path.is_file() or process_is_alive(int(match.group(1))):
            continue
        try:
            path.unlink()
        except OSError:
            continue  # not ours to remove (permissions): it stays, harmless
        removed.append(path)
    return removed
