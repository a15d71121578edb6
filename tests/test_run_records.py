"""Prediction output folders across runs: records as images complete, a truthful summary, --skip_existing,
one writer at a time, stale temporary files, unwritable folders, non-finite predictions, full disks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import run_predict
from predict.detectors import make_detector
from predict.outputs import write_npz
from predict.pipeline import RunOptions, predict_files
from predict.predictor import Predictor
from predict.run_records import LOCK_NAME, RECORDS_NAME, OutputFolder
from tests.helpers import render_person, write_precomputed, write_rgb
from utils.stale_files import remove_stale_temp_files

FEW_OUTPUTS = ["--no-overlay", "--no-side", "--no-tpose", "--no-proxy", "--quiet", "--batch_size", "2"]


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory, bundle) -> tuple[Path, Path]:
    """Five small pictures of people (a, b, c, d, e) with their precomputed masks and keypoints."""
    root = tmp_path_factory.mktemp("people")
    images, masks = root / "images", root / "masks"
    images.mkdir()
    masks.mkdir()
    for seed, stem in enumerate("abcde"):
        rgb, mask, keypoints = render_person(bundle, 20 + seed, (120, 96))
        write_rgb(images / f"{stem}.png", rgb)
        write_precomputed(masks, stem, mask, keypoints)
    return images, masks


def predict(input_path: Path, output: Path, masks: Path, checkpoint: Path, *extra: str) -> int:
    argv = ["--input", str(input_path), "--output", str(output), "--checkpoint", str(checkpoint)]
    argv += ["--silh_from", "precomputed", "--mask_dir", str(masks), *FEW_OUTPUTS, *extra]
    return run_predict.main(argv)


def read_summary(output: Path) -> dict:
    return json.loads((output / "summary.json").read_text())


def test_two_runs_into_one_folder_are_both_described(tmp_path: Path, people, checkpoint: Path) -> None:
    images, masks = people
    output = tmp_path / "out"
    assert predict(images / "[ab]*.png", output, masks, checkpoint) == 0
    assert predict(images / "c.png", output, masks, checkpoint) == 0
    summary = read_summary(output)
    assert [Path(entry["path"]).name for entry in summary["images"]] == ["a.png", "b.png", "c.png"]
    assert (summary["run"]["n_images"], summary["run"]["n_ok"]) == (3, 3)
    assert (summary["this_run"]["n_images"], summary["this_run"]["n_ok"]) == (1, 1)
    records = [json.loads(line) for line in (output / RECORDS_NAME).read_text().splitlines()]
    assert [record["stem"] for record in records] == ["a", "b", "c"]
    assert all(record["status"] == "ok" and record["outputs"] == [f"{record['stem']}.npz",
               f"{record['stem']}.obj"] for record in records)  # fmt: skip


def test_skip_existing_redoes_only_what_is_missing(tmp_path: Path, people, checkpoint: Path, capsys) -> None:
    images, masks = people
    output = tmp_path / "out"
    assert predict(images / "[abc]*.png", output, masks, checkpoint) == 0
    (output / "b.obj").unlink()  # b is no longer complete
    before = {name: (output / name).stat().st_mtime_ns for name in ("a.npz", "c.npz")}
    capsys.readouterr()
    assert predict(images, output, masks, checkpoint, "--skip_existing") == 0
    assert "2 already done" in capsys.readouterr().out
    summary = read_summary(output)
    assert summary["this_run"]["n_skipped"] == 2 and summary["this_run"]["n_ok"] == 3  # b, d, e
    assert summary["run"]["n_ok"] == 5 and (output / "b.obj").is_file()
    assert {name: (output / name).stat().st_mtime_ns for name in before} == before


def test_a_second_writer_is_refused_in_one_sentence(tmp_path: Path, people, checkpoint: Path, capsys) -> None:
    images, masks = people
    with OutputFolder(tmp_path / "out"):
        code = predict(images, tmp_path / "out", masks, checkpoint)
    err = capsys.readouterr().err
    assert code == 2 and "Another run (process " in err and err.count("\n") == 1
    assert not (tmp_path / "out" / "summary.json").exists()
    with OutputFolder(tmp_path / "out"):  # the lock went with the first holder
        pass


def test_an_output_folder_that_cannot_be_created_fails_before_models_load(
    tmp_path: Path, people, capsys
) -> None:
    images, masks = people
    (tmp_path / "file").write_text("x")
    missing_checkpoint = tmp_path / "no_checkpoint.pt"  # never reached: the folder is checked first
    assert predict(images, tmp_path / "file" / "out", masks, missing_checkpoint) == 2
    err = capsys.readouterr().err
    assert "cannot be created" in err and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.reliability
def test_stale_temporary_files_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    dead_pid = int(dead.stdout)
    (tmp_path / "sub").mkdir()
    stale = [tmp_path / f".a.npz.tmp{dead_pid}", tmp_path / "sub" / f".b_overlay.png.tmp{dead_pid}"]
    live = tmp_path / f".c.obj.tmp{os.getpid()}"
    other = tmp_path / ".notes.tmpx"
    for path in (*stale, live, other):
        path.write_bytes(b"partial")
    with OutputFolder(tmp_path) as folder:
        assert sorted(folder.removed_temp_files) == sorted(stale)
    assert live.exists() and other.exists() and not any(path.exists() for path in stale)
    assert remove_stale_temp_files(tmp_path / "missing") == []


@pytest.mark.reliability
def test_a_non_finite_prediction_is_a_failure_with_a_reason(tmp_path: Path, people, checkpoint: Path) -> None:
    images, masks = people
    predictor = Predictor.from_checkpoint(checkpoint, device="cpu")
    with torch.no_grad():
        predictor.regressor.ief_module.fc3.bias[5] = float("nan")  # weights gone bad in memory
    with make_detector("precomputed", "precomputed", mask_dir=masks) as detector:
        summary = predict_files(
            [images / "a.png"], predictor, detector, tmp_path / "out", options=RunOptions(progress=False)
        )
    entry = summary["images"][0]
    assert entry["status"] == "failed" and "NaN or infinite" in entry["reason"]
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written == [LOCK_NAME, RECORDS_NAME, "report.html", "summary.json"]


@pytest.mark.reliability
def test_a_full_disk_gives_one_error_and_no_finaliser_noise(tmp_path: Path) -> None:
    script = f"""
import resource, signal
from pathlib import Path
import numpy as np
from predict.outputs import write_npz
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    write_npz(Path({str(tmp_path / "big.npz")!r}), {{"a": np.zeros(100_000, np.float32)}})
except OSError as error:
    print("OSError", error.errno)
"""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root)
    assert done.stdout.startswith("OSError") and done.stderr == ""
    assert not (tmp_path / "big.npz").exists() and list(tmp_path.iterdir()) == []
    write_npz(tmp_path / "ok.npz", {"a": np.arange(3)})
    with np.load(tmp_path / "ok.npz") as content:
        np.testing.assert_array_equal(content["a"], np.arange(3))
