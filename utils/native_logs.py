"""Log lines that native libraries write straight to file descriptor 2, kept off the terminal.

mediapipe's C++ graph and the TensorFlow Lite runtime inside it log through absl to fd 2, beneath Python:
`INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`, absl's `WARNING: All log messages before
absl::InitializeLog() ...` and `W0000 00:00:... file.cc:123] ...` warnings, on every run. absl offers no
environment variable to silence them (GLOG_minloglevel and TF_CPP_MIN_LOG_LEVEL do not reach it), so
`hide_native_logs` points fd 2 at a temporary file while native code runs and, afterwards, writes back every
captured line that is not an absl INFO or WARNING line: native errors still reach the terminal.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

# absl's prefixes of informational lines: "I0000 00:00:..." / "W0000 ..." (severity letter, MMDD), TFLite's
# "INFO: " and absl's one-time note about logging before InitializeLog. "E..." and "F..." lines are kept.
NATIVE_NOISE = re.compile(rb"^(?:[IW]\d{4} |INFO: |WARNING: All log messages before absl::InitializeLog)")


def drop_native_noise(captured: bytes) -> bytes:
    """The lines of `captured` stderr output that are not absl / TFLite INFO or WARNING lines."""
    return b"".join(line for line in captured.splitlines(keepends=True) if not NATIVE_NOISE.match(line))


@contextmanager
def hide_native_logs(enabled: bool = True) -> Iterator[None]:
    """Within the block, native INFO and WARNING lines written to fd 2 are dropped (see the module
    docstring); `enabled=False` leaves stderr alone. Python's own stderr output in the block is captured and
    written back too, after the block."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = drop_native_noise(capture.read())
            if kept:
                os.write(2, kept)
