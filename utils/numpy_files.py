"""Reading `.npy` / `.npz` files without unpickling, and what numpy raises for a damaged or unsafe one.

With `allow_pickle=False`, truncated data gives ValueError ("cannot reshape") or EOFError, a damaged `.npz`
zipfile.BadZipFile, an object array (which would need unpickling) ValueError, an unreadable file OSError.
Readers catch all of them and say which file to replace.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

NUMPY_READ_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError, EOFError, zipfile.BadZipFile)
# np.load of a `.npy` gives an array, which is no context manager: TypeError at `with`.
_NPZ_READ_ERRORS: tuple[type[Exception], ...] = (*NUMPY_READ_ERRORS, TypeError)


def read_npz(
    path: str | Path,
    error: Callable[[str], Exception],
    advice: str,
    keys: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """The arrays of an `.npz` of plain arrays (every one, or `keys`), read without unpickling.

    Args:
        error: the exception class of the caller's domain, raised with one sentence ending in `advice`.
    Raises:
        error: the file cannot be read as an `.npz` of plain arrays (damaged, not an npz, object arrays),
            or lacks some of `keys`.
    """
    try:
        with np.load(path, allow_pickle=False) as content:
            missing = [key for key in keys or () if key not in content.files]
            arrays = {} if missing else {key: content[key] for key in keys or content.files}
    except _NPZ_READ_ERRORS as exc:
        raise error(
            f"{path} could not be read as an .npz of plain arrays ({type(exc).__name__}: {exc}); {advice}."
        ) from None
    if missing:
        raise error(f"{path} lacks {missing}; {advice}.")
    return arrays
