"""What numpy raises for a damaged or unsafe `.npy` / `.npz` read with `allow_pickle=False`.

Truncated data gives ValueError ("cannot reshape") or EOFError, a damaged `.npz` zipfile.BadZipFile, an
object array (which would need unpickling) ValueError, an unreadable file OSError. Readers catch all of them
and say which file to replace.
"""

from __future__ import annotations

import zipfile

NUMPY_READ_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError, EOFError, zipfile.BadZipFile)
