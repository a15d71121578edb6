"""Reliability: hostile inputs built at run time, killed runs resumed, damaged files refused, no code run.

Marked `reliability` (run with the default `pytest -q`; alone with `pytest -m reliability`). Small images,
few entries and tiny training runs keep it to seconds of CPU.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import run_evaluate
import run_predict
import run_train
from benchmarks.hostile_folder import BAD_KINDS, make_bad_entries
from models.checkpoint import read_checkpoint
from predict.outputs import OUTPUT_KINDS
from predict.run_records import RECORDS_NAME
from tests.helpers import TINY, render_person, training_weights, write_precomputed, write_rgb
from tests.smpl_fixture import write_open_format_assets
from train.checkpointing import CHECKPOINT_DIR, METRICS_LOG, STATE_FILE
from train.trainer import Trainer

pytestmark = pytest.mark.reliability

REPO = Path(__file__).resolve().parents[1]
SMALL_OUTPUTS = ["--overlay_max_side", "200", "--view_size", "64", "--quiet"]


def people_folder(root: Path, bundle, count: int) -> tuple[Path, Path]:
    images, masks = root / "images", root / "masks"
    images.mkdir(parents=True)
    masks.mkdir()
    for index in range(count):
        rgb, mask, keypoints = render_person(bundle, 40 + index % 3, (96, 80))
        write_rgb(images / f"person_{index:02d}.png", rgb)
        write_precomputed(masks, f"person_{index:02d}", mask, keypoints)
    return images, masks


def predict_argv(images: Path, output: Path, masks: Path, checkpoint: Path) -> list[str]:
    return ["--input", str(images), "--output", str(output), "--checkpoint", str(checkpoint)]


def check_complete_outputs(output: Path, stems: list[str]) -> dict:
    """Every stem's files present and valid, summary and records complete; returns the summary."""
    summary = json.loads((output / "summary.json").read_text())
    entries = {Path(entry["path"]).stem: entry for entry in summary["images"]}
    assert sorted(entries) == sorted(stems)
    for stem in stems:
        assert entries[stem]["status"] == "ok", entries[stem]
        assert len(entries[stem]["outputs"]) == len(OUTPUT_KINDS)
        with np.load(output / f"{stem}.npz") as content:
            assert all(np.isfinite(content[key]).all() for key in ("pose", "betas", "vertices", "cam_t"))
        obj = (output / f"{stem}.obj").read_text().splitlines()
        assert obj[-1].startswith("f ")
        assert sum(line.startswith("v ") for line in obj) == len(vertices(output, stem))
    assert not list(output.rglob(".*.tmp*"))
    recorded = {json.loads(line)["stem"] for line in (output / RECORDS_NAME).read_text().splitlines()}
    assert recorded == set(stems)
    return summary


def vertices(output: Path, stem: str) -> np.ndarray:
    with np.load(output / f"{stem}.npz") as content:
        return content["vertices"]


def test_every_bad_kind_costs_its_line_only(tmp_path: Path, bundle, checkpoint: Path, capfd) -> None:
    images, masks = people_folder(tmp_path, bundle, 2)
    made = make_bad_entries(images)
    code = run_predict.main(
        [*predict_argv(images, tmp_path / "out", masks, checkpoint), "--silh_from", "precomputed",
         "--mask_dir", str(masks), *SMALL_OUTPUTS]
    )  # fmt: skip
    captured = capfd.readouterr()
    assert code == 0 and "Traceback" not in captured.err and "libpng" not in captured.err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    entries = {entry["path"]: entry for entry in summary["images"]}
    assert len(made) == len(BAD_KINDS) == 17
    for kind, path in made.items():
        entry = entries[str(path)]
        assert entry["status"] == "failed" and entry["reason"].endswith("."), (kind, entry)
    assert "30000 x 30000 pixels" in entries[str(made["png_bomb"])]["reason"]
    assert summary["run"]["n_ok"] == 2 and summary["run"]["n_images"] == 2 + len(BAD_KINDS)


def test_a_killed_prediction_run_resumes_with_skip_existing(tmp_path: Path, bundle, checkpoint: Path) -> None:
    images, masks = people_folder(tmp_path, bundle, 10)
    output = tmp_path / "out"
    argv = predict_argv(images, output, masks, checkpoint)
    argv += ["--silh_from", "precomputed", "--mask_dir", str(masks), "--batch_size", "1", *SMALL_OUTPUTS]
    child = subprocess.Popen([sys.executable, "run_predict.py", *argv], cwd=REPO, stderr=subprocess.PIPE)
    records = output / RECORDS_NAME
    deadline = time.monotonic() + 600  # generous: a loaded machine starts the child slowly
    while child.poll() is None and time.monotonic() < deadline:
        if records.is_file() and records.read_text().count("\n") >= 2:
            break
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, child.stderr.read().decode()
    done_before = records.read_text().count("\n")
    assert 2 <= done_before < 10

    assert run_predict.main([*argv, "--skip_existing"]) == 0
    summary = check_complete_outputs(output, [f"person_{i:02d}" for i in range(10)])
    assert summary["this_run"]["n_skipped"] >= done_before - 1  # the last record may have lost its files
    assert summary["run"]["n_ok"] == 10


def test_a_killed_training_run_resumes_bitwise(tmp_path: Path) -> None:
    assets = write_open_format_assets(tmp_path / "assets")
    common = [f"body_model.additional_dir={assets}", *TINY, "data.samples_per_epoch=8", "train.epochs=2"]
    common += ["train.image_every_steps=0", "train.state_every_steps=1", "train.deterministic=true"]
    common += ["train.checkpoint_every_epochs=0", "--device", "cpu"]
    run = tmp_path / "killed"
    child = subprocess.Popen(
        [sys.executable, "run_train.py", *common, "--output_dir", str(run)], cwd=REPO, stderr=subprocess.PIPE
    )
    state = run / CHECKPOINT_DIR / STATE_FILE
    deadline = time.monotonic() + 600  # generous: a loaded machine starts the child slowly
    while child.poll() is None and time.monotonic() < deadline and not state.is_file():
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, child.stderr.read().decode()
    assert 1 <= int(read_checkpoint(state)["step"]) < 4

    assert run_train.main([*common, "--output_dir", str(run), "--resume", "auto"]) == 0
    straight_dir = tmp_path / "straight"
    assert run_train.main([*common, "--output_dir", str(straight_dir)]) == 0
    resumed = Trainer(run_train.build_config(None, common[:-2]), run, resume=state, show_progress=False)
    straight = Trainer(
        run_train.build_config(None, common[:-2]),
        straight_dir,
        resume=straight_dir / CHECKPOINT_DIR / STATE_FILE,
        show_progress=False,
    )
    a, b = training_weights(resumed), training_weights(straight)
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    epochs = [json.loads(line)["epoch"] for line in (run / METRICS_LOG).read_text().splitlines()]
    assert epochs == [0, 1]
    assert not list((run / CHECKPOINT_DIR).glob(".*.tmp*"))


def test_a_damaged_checkpoint_is_refused_before_any_image(
    tmp_path: Path, bundle, checkpoint: Path, capsys
) -> None:
    images, masks = people_folder(tmp_path, bundle, 1)
    content = dict(read_checkpoint(checkpoint))
    content["best_model_state_dict"] = dict(content["best_model_state_dict"])
    weight = content["best_model_state_dict"]["image_encoder.conv1.weight"].clone()
    weight.view(-1)[:100] = float("nan")  # as random bytes over a float tensor often give
    content["best_model_state_dict"]["image_encoder.conv1.weight"] = weight
    for name, keep_checksum in (("stale_checksum.pt", True), ("no_checksum.pt", False)):
        saved = content if keep_checksum else {k: v for k, v in content.items() if k != "tensor_sha256"}
        torch.save(saved, tmp_path / name)
        argv = predict_argv(images, tmp_path / f"out_{name}", masks, tmp_path / name)
        code = run_predict.main([*argv, "--silh_from", "precomputed", "--mask_dir", str(masks), "--quiet"])
        err = capsys.readouterr().err
        reason = "is damaged" if keep_checksum else "holds NaN or infinite weights"
        assert code == 1 and name in err and reason in err and err.count("\n") == 1
        assert not (tmp_path / f"out_{name}").exists()


def test_a_pickle_bearing_dataset_file_executes_nothing(tmp_path: Path, capsys) -> None:
    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'executed'}",))

    for folder in ("images", "silhouettes"):
        (tmp_path / folder).mkdir()
    np.savez(tmp_path / "labels.npz", fnames=np.array([Payload()], dtype=object), poses=np.zeros((1, 72)))
    assert run_evaluate.main(["--dataset", "ssp3d", "--data_dir", str(tmp_path)]) == 1
    assert "never loaded" in capsys.readouterr().err
    assert not (tmp_path / "executed").exists()
