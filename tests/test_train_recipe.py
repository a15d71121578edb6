"""Training-recipe options: learning-rate schedule, --init_from, the wall-clock budget, and the regressor's
precision inside the training model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import run_train
from models.checkpoint import load_regressor_weights
from models.regressor import SingleInputRegressor
from tests.helpers import LOOP, tiny_config
from train.checkpointing import BEST_FILE, CHECKPOINT_DIR, STATE_FILE
from train.trainer import Trainer
from utils.precision import RegressorPrecision


def _trainer(assets: Path, output_dir: Path, *overrides: str) -> Trainer:  # noqa: F811
    config = tiny_config(assets, *LOOP, f"train.output_dir={output_dir}", *overrides)
    return Trainer(config, show_progress=False)


def test_constant_schedule_warms_up_linearly(assets, tmp_path):  # noqa: F811
    trainer = _trainer(assets, tmp_path, "train.lr=1e-3", "train.warmup_steps=4")
    rates = [trainer.learning_rate(step) for step in range(8)]
    assert rates[:4] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3])
    assert rates[4:] == pytest.approx([1e-3] * 4)


def test_cosine_schedule_decays_to_its_floor_at_the_last_step(assets, tmp_path):  # noqa: F811
    trainer = _trainer(
        assets, tmp_path, "train.lr=1e-3", "train.lr_schedule=cosine", "train.warmup_steps=2",
        "train.epochs=5", "train.final_lr_fraction=0.1",
    )  # fmt: skip
    total = trainer.total_steps  # 5 epochs of 2 steps
    assert total == 10
    assert trainer.learning_rate(1) == pytest.approx(1e-3)
    assert trainer.learning_rate(2) == pytest.approx(1e-3)  # decay starts after the warm-up
    middle = 2 + (total - 2) // 2
    assert trainer.learning_rate(middle) == pytest.approx(1e-4 + 0.9e-3 * 0.5 * (1 + math.cos(math.pi / 2)))
    assert trainer.learning_rate(total) == pytest.approx(1e-4)
    rates = [trainer.learning_rate(step) for step in range(2, total + 1)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_the_optimiser_steps_with_the_scheduled_rate(assets, tmp_path):  # noqa: F811
    trainer = _trainer(assets, tmp_path, "train.lr=1e-3", "train.warmup_steps=10")
    trainer.train_step(2)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(3e-4)


def test_init_from_loads_weights_with_a_fresh_optimiser(assets, tmp_path):  # noqa: F811
    first = _trainer(assets, tmp_path / "first", "train.epochs=1")
    first.fit()
    best = tmp_path / "first" / CHECKPOINT_DIR / BEST_FILE
    second = _trainer(assets, tmp_path / "second", f"train.init_from={best}")
    reference = SingleInputRegressor(second.bundle.mean_params, 18, 18, 3)
    load_regressor_weights(reference, best)
    for key, value in reference.state_dict().items():
        assert torch.equal(second.regressor.state_dict()[key], value), key
    assert second.optimizer.state_dict()["state"] == {}
    assert second.progress.step == 0
    # A fresh run's weights differ from trained ones, so the comparison above could fail.
    fresh = _trainer(assets, tmp_path / "fresh")
    key = "ief_module.fc1.weight"
    assert not torch.equal(fresh.regressor.state_dict()[key], reference.state_dict()[key])


def test_run_train_init_from_option(tmp_path):
    config = run_train.build_config(overrides=["train.init_from=some/weights.pt"])
    assert config.train.init_from == "some/weights.pt"
    args = run_train.parse_args(["--init_from", "w.pt"])
    assert args.init_from == "w.pt"


def test_max_minutes_stops_early_and_saves_the_state(assets, tmp_path):  # noqa: F811
    trainer = _trainer(assets, tmp_path, "train.epochs=3", "train.max_minutes=0.0")
    summary = trainer.fit()
    assert summary.step == 1  # one step, then the (already passed) deadline stops the run
    assert (tmp_path / CHECKPOINT_DIR / STATE_FILE).is_file()


def test_training_model_returns_float32_under_bf16_autocast(assets, tmp_path):  # noqa: F811
    trainer = _trainer(assets, tmp_path)
    trainer.model.precision = RegressorPrecision("cpu", bf16=True, channels_last=True, reason="test")
    trainer.precision.prepare_model(trainer.regressor)
    generator = torch.Generator().manual_seed(0)
    poses, _ = trainer.poses.poses(0, generator)
    batch = trainer.batches.generate(poses, generator)
    losses = trainer.model(batch, trainer.bundle)
    assert losses.prediction.vertices.dtype == torch.float32
    assert losses.total.dtype == torch.float32 and torch.isfinite(losses.total)
    losses.total.backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in trainer.regressor.parameters())
