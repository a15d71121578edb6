"""Native libraries' log lines on fd 2: hidden by default, shown with --verbose; our messages always shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils.native_logs import hide_native_logs
from utils.runtime import REPO_ROOT

DEMO_IMAGE = REPO_ROOT / "demo" / "render_01_standing.jpg"
# Lines mediapipe 0.10.21 and its TFLite runtime write on every run.
MEDIAPIPE_NOISE = (
    "Created TensorFlow Lite XNNPACK delegate",
    "absl::InitializeLog",
    "inference_feedback_manager",
    "landmark_projection_calculator",
)
NATIVE_LINES = (
    b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    b"W0000 00:00:1796688703.274451   11164 inference_feedback_manager.cc:114] Feedback manager ...\n"
    b"I0000 00:00:1796688703.274451   11164 gl_context.cc:357] GL version: 3.2\n"
)
NATIVE_ERROR = b"E0000 00:00:1796688703.274451   11164 calculator_graph.cc:887] INTERNAL: failed\n"


def test_native_info_and_warnings_are_dropped_and_errors_kept(capfd: pytest.CaptureFixture) -> None:
    with hide_native_logs():
        os.write(2, NATIVE_LINES + NATIVE_ERROR + b"a message of ours\n")
    assert capfd.readouterr().err == NATIVE_ERROR.decode() + "a message of ours\n"


def test_disabled_filter_lets_everything_through(capfd: pytest.CaptureFixture) -> None:
    with hide_native_logs(enabled=False):
        os.write(2, NATIVE_LINES)
    assert capfd.readouterr().err == NATIVE_LINES.decode()


def test_stderr_is_restored_when_the_block_raises(capfd: pytest.CaptureFixture) -> None:
    with pytest.raises(RuntimeError), hide_native_logs():
        raise RuntimeError("inside")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def _run_predict(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "run_predict.py",
        "--input",
        str(DEMO_IMAGE),
        "--output",
        str(tmp_path / "out"),
    ]
    return subprocess.run(
        [*command, "--quiet", "--no-overlay", "--no-side", "--no-tpose", "--no-proxy", "--no-obj", *extra],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_default_run_shows_no_mediapipe_lines(tmp_path: Path) -> None:
    result = _run_predict(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 of 1 images done" in result.stdout
    assert not [noise for noise in MEDIAPIPE_NOISE if noise in result.stderr], result.stderr


def test_verbose_lets_mediapipe_lines_through(tmp_path: Path) -> None:
    result = _run_predict(tmp_path, "--verbose")
    assert result.returncode == 0, result.stderr
    assert "inference_feedback_manager" in result.stderr


def test_our_errors_still_reach_stderr(tmp_path: Path) -> None:
    # The detector is built (and its logs hidden) before the checkpoint is read and refused.
    result = _run_predict(tmp_path, "--checkpoint", str(tmp_path / "missing.pt"))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "missing.pt" in result.stderr, result.stderr
    assert not [noise for noise in MEDIAPIPE_NOISE if noise in result.stderr], result.stderr
