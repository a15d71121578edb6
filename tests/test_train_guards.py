"""Training guards: config ranges, a metrics log that agrees with the state after a kill, stale temporary
checkpoint files, a damaged training state."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import run_train
from configs import ConfigError, ExperimentConfig, load_config
from configs.ranges import RANGES, numeric_settings
from models.checkpoint import CheckpointError, read_checkpoint
from tests.helpers import TINY
from train.checkpointing import CHECKPOINT_DIR, METRICS_LOG, STATE_FILE, load_training_state, trim_metrics_log


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.batch_size=0", "'train.batch_size' must be at least 1, got 0"),
        ("train.batch_size=-8", "'train.batch_size' must be at least 1, got -8"),
        ("data.val_samples=0", "'data.val_samples' must be at least 1, got 0"),
        ("train.epochs=-1", "'train.epochs' must be at least 1, got -1"),
        ("train.lr=0", "'train.lr' must be greater than 0, got 0"),
        ("train.lr=.inf", "'train.lr' must be greater than 0, got inf"),
        ("proxy_augment.occlusion_prob=1.5", "'proxy_augment.occlusion_prob' must be in [0, 1], got 1.5"),
        ("proxy_augment.part_removal_probs=[0, 0, 2, 0, 0, 0]", "'proxy_augment.part_removal_probs.2' must"),
        ("loss.init_loss_weights.verts=-1", "'loss.init_loss_weights.verts' must be at least 0, got -1"),
        ("data.procedural.yaw_range=270", "'data.procedural.yaw_range' must be in [0, 180], got 270"),
        ("camera.mean_translation=[0, .nan, 40]", "'camera.mean_translation.1' must be a finite number"),
    ],
)
def test_numeric_settings_out_of_range_are_one_sentence(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(ExperimentConfig, overrides=[override])
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_every_numeric_setting_has_a_range() -> None:
    keys = {range_key for _, range_key, _ in numeric_settings(ExperimentConfig())}
    assert keys <= set(RANGES), sorted(keys - set(RANGES))
    optional = {"train.max_steps", "train.max_minutes", "train.val_batches"}  # None by default
    assert set(RANGES) - keys == optional
    for key in optional:
        section, name = key.split(".")
        assert getattr(getattr(ExperimentConfig(), section), name) is None
        assert dataclasses.is_dataclass(getattr(ExperimentConfig(), section))


def test_run_train_refuses_a_zero_batch_before_writing_anything(tmp_path: Path, capsys) -> None:
    code = run_train.main(["train.batch_size=0", "--output_dir", str(tmp_path / "run"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code != 0 and "'train.batch_size' must be at least 1" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_trim_metrics_log_keeps_what_the_state_has_seen(tmp_path: Path) -> None:
    log = tmp_path / METRICS_LOG
    lines = [json.dumps({"epoch": e, "step": 2 * (e + 1)}) for e in range(3)]
    log.write_text("\n".join(lines) + '\n{"epoch": 3, "st')  # the last line cut short by a kill
    assert trim_metrics_log(log, 4) == 2
    assert log.read_text().splitlines() == lines[:2]
    assert trim_metrics_log(log, 4) == 0 and trim_metrics_log(tmp_path / "missing.jsonl", 4) == 0


@pytest.mark.reliability
def test_a_kill_between_metrics_and_state_leaves_no_duplicate(assets: Path, tmp_path: Path, capsys) -> None:
    """The state of epoch 0 with the metrics line of epoch 1 (as a kill right after writing that line leaves
    them), plus a stale temporary checkpoint: resuming gives one line per epoch and no temporary file; a
    damaged state is refused in one sentence."""
    common = [f"body_model.additional_dir={assets}", *TINY, "data.samples_per_epoch=4"]
    common += ["train.image_every_steps=0", "train.checkpoint_every_epochs=0", "--device", "cpu"]
    run = tmp_path / "run"
    assert run_train.main([*common, "train.epochs=1", "--output_dir", str(run)]) == 0
    line = json.loads((run / METRICS_LOG).read_text())
    with (run / METRICS_LOG).open("a") as log:  # epoch 1 validated, then killed before its state save
        log.write(json.dumps({**line, "epoch": 1, "step": 2 * line["step"]}) + "\n")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    stale = run / CHECKPOINT_DIR / f".best.tar.tmp{int(dead.stdout)}"
    stale.write_bytes(b"partial")
    assert run_train.main([*common, "train.epochs=2", "--output_dir", str(run), "--resume", "auto"]) == 0
    epochs = [json.loads(line)["epoch"] for line in (run / METRICS_LOG).read_text().splitlines()]
    assert epochs == [0, 1] and not stale.exists()

    state = run / CHECKPOINT_DIR / STATE_FILE
    content = read_checkpoint(state)
    content["model_state_dict"]["image_encoder.conv1.weight"][0, 0, 0, 0] += 1.0  # stale checksum kept
    torch.save(content, state)
    capsys.readouterr()
    assert run_train.main([*common, "train.epochs=3", "--output_dir", str(run), "--resume", "auto"]) == 1
    err = capsys.readouterr().err
    assert "is damaged" in err and "Traceback" not in err and err.count("\n") == 1
    with pytest.raises(CheckpointError, match="is damaged"):
        load_training_state(state)
