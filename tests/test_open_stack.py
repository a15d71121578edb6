"""The default (open body) path runs with smplx unavailable: prediction with exports, a training run and an
evaluation, each a real script in a subprocess in which importing smplx fails and is reported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.checkpoint import read_checkpoint
from train.export import export_run

REPO = Path(__file__).resolve().parents[1]
ATTEMPT_MARK = "SMPLX IMPORT ATTEMPTED"

# Runs a script as __main__ with smplx hidden: any import of it prints the mark and fails; at the end,
# smplx must not be in sys.modules either.
_RUN_WITHOUT_SMPLX = f"""
import importlib.abc, runpy, sys, traceback

class HideSmplx(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "smplx" or name.startswith("smplx."):
            print({ATTEMPT_MARK!r}, "".join(traceback.format_stack(limit=6)), file=sys.stderr)
            raise ModuleNotFoundError("No module named 'smplx' (hidden by the test)")
        return None

for name in [n for n in sys.modules if n == "smplx" or n.startswith("smplx.")]:
    del sys.modules[name]
sys.meta_path.insert(0, HideSmplx())
script, *sys.argv[1:] = sys.argv[1:]
sys.argv[0] = script
try:
    runpy.run_path(script, run_name="__main__")
finally:
    assert "smplx" not in sys.modules
"""


def _run_without_smplx(script: str, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-c", _RUN_WITHOUT_SMPLX, script, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ATTEMPT_MARK not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_prediction_with_exports_runs_without_smplx(tmp_path):
    out = tmp_path / "predict"
    _run_without_smplx(
        "run_predict.py",
        "--input",
        "demo/render_01_standing.jpg",
        "--output",
        str(out),
        "--export",
        "glb,bvh",
    )
    with np.load(out / "render_01_standing.npz") as outputs:
        assert np.isfinite(outputs["vertices"]).all()
    assert (out / "render_01_standing.glb").stat().st_size > 0
    assert (out / "render_01_standing.bvh").stat().st_size > 0


@pytest.mark.slow
def test_training_runs_without_smplx(tmp_path):
    _run_without_smplx(
        "run_train.py",
        "--config",
        "configs/train_example.yaml",
        "--output_dir",
        str(tmp_path / "train"),
        "train.epochs=1",
        "train.batch_size=4",
        "data.samples_per_epoch=8",
        "data.val_samples=4",
    )
    (checkpoint,) = (tmp_path / "train" / "checkpoints").glob("epoch_*.tar")
    record = export_run(tmp_path / "train", tmp_path / "shipped.pt", epoch=0)
    assert record["training_code"]["smplx_imported"] is False
    assert record["training_code"] == read_checkpoint(checkpoint)["training_code"]


@pytest.mark.slow
def test_evaluation_runs_without_smplx(tmp_path):
    report = tmp_path / "eval.json"
    _run_without_smplx(
        "run_evaluate.py",
        "--dataset",
        "synthetic",
        "--num_samples",
        "4",
        "--data_dir",
        str(tmp_path / "synthetic"),
        "--refine_steps",
        "2",
        "--out",
        str(report),
    )
    assert report.stat().st_size > 0
