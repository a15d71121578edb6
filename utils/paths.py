"""Where relative asset paths are looked up: the working folder first, then the repository.

Shipped assets (the open body model, the trained regressor) and the user's downloads that the README puts
into the repository's `additional/` and `checkpoints/` are found the same way whichever folder a script is
run from.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def here_or_in_repo(path: str | Path) -> Path:
    """`path` itself when it is absolute or exists from the working folder; else the same relative path in
    the repository when that exists there; else `path` unchanged (so error messages name what was given)."""
    path = Path(path)
    if path.is_absolute() or path.exists() or not (REPO_ROOT / path).exists():
        return path
    return REPO_ROOT / path
