"""The training loop: overfitting, exact resumption, DDP, NaN stops, checkpoints and run_train.py."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

import run_train
from models.checkpoint import load_regressor_weights, read_checkpoint
from models.regressor import SingleInputRegressor
from tests.helpers import LOOP, TINY, tiny_config, training_weights
from train.checkpointing import STATE_FILE
from train.distributed import cleanup_distributed
from train.monitor import NonFiniteLossError
from train.trainer import Trainer


def _trainer(assets: Path, output_dir: Path, *overrides: str, resume=None) -> Trainer:
    config = tiny_config(assets, *LOOP, f"train.output_dir={output_dir}", *overrides)
    return Trainer(config, resume=resume, show_progress=False)


def test_loss_falls_when_overfitting_one_batch(assets, tmp_path):
    trainer = _trainer(assets, tmp_path, "train.lr=1e-3")
    generator = torch.Generator().manual_seed(0)
    poses, _ = trainer.poses.poses(0, generator)
    batch = trainer.batches.generate(poses, generator)
    trainer.model.train()
    terms = []
    for _ in range(30):
        losses = trainer.model(batch, trainer.bundle)
        trainer.optimizer.zero_grad()
        losses.total.backward()
        trainer.optimizer.step()
        terms.append(sum(value.item() for value in losses.weighted.values()))
    assert terms[-1] < 0.3 * terms[0]


def test_resume_continues_exactly(assets, tmp_path):
    # 2N = 6 steps (3 epochs of 2 steps) in one go, or N = 3 (stopping inside epoch 1), then resuming.
    straight = _trainer(assets, tmp_path / "a", "train.epochs=3", "train.deterministic=true")
    summary = straight.fit()
    assert summary.step == 6 and summary.epochs_completed == 3

    first = _trainer(
        assets, tmp_path / "b", "train.epochs=3", "train.max_steps=3", "train.deterministic=true"
    )
    assert first.fit().step == 3
    state = tmp_path / "b" / "checkpoints" / STATE_FILE
    resumed = _trainer(assets, tmp_path / "b", "train.epochs=3", "train.deterministic=true", resume=state)
    assert resumed.progress.step == 3
    assert resumed.fit() == summary

    a, b = training_weights(straight), training_weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
    lines_a = (tmp_path / "a" / "val_metrics.jsonl").read_text().splitlines()
    lines_b = (tmp_path / "b" / "val_metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["pves"] for line in lines_a] == pytest.approx(
        [json.loads(line)["pves"] for line in lines_b], abs=1e-9
    )


def test_checkpoints_and_tensorboard(assets, tmp_path):
    trainer = _trainer(
        assets,
        tmp_path,
        "train.epochs=2",
        "train.checkpoint_every_epochs=1",
        "train.image_every_steps=2",
        "train.log_every_steps=1",
    )
    trainer.fit()
    folder = tmp_path / "checkpoints"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["best.tar", "epoch_000.tar", "epoch_001.tar", "last.tar", STATE_FILE]
    # Every checkpoint loads into a fresh regressor, as run_predict loads it.
    for name in names:
        model = SingleInputRegressor(trainer.bundle.mean_params)
        info = load_regressor_weights(model, folder / name)
        assert info.origin == "straps-rebuilt" and info.body_model == {"kind": "open", "gender": "neutral"}
    current = trainer.regressor.state_dict()
    last, state = read_checkpoint(folder / "last.tar"), read_checkpoint(folder / STATE_FILE)
    for slot in ("model_state_dict", "best_model_state_dict"):
        assert all(torch.equal(last[slot][k], current[k]) for k in current)
    assert all(torch.equal(state["model_state_dict"][k], current[k]) for k in current)
    assert all(torch.equal(state["best_model_state_dict"][k], trainer.best_state[k]) for k in current)
    best = read_checkpoint(folder / "best.tar")
    assert best["epoch"] == trainer.progress.best_epoch
    assert set(best["val_metrics"]) >= set(trainer.config.train.metrics_to_track)
    assert {"optimiser_state_dict", "criterion_state_dict", "rng_states", "step", "epoch"} <= set(state)
    assert set(state["criterion_state_dict"]) == {
        "verts_log_var",
        "joints2D_log_var",
        "joints3D_log_var",
        "pose_params_log_var",
        "shape_params_log_var",
    }
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert {"train/loss", "train/samples_per_s", "val/pves_pa", "val/mpjpes_pa"} <= set(log.Tags()["scalars"])
    assert log.Tags()["images"] == ["train/inputs_and_predictions"]
    assert len(log.Scalars("train/loss")) == 4 and len(log.Scalars("val/pves_pa")) == 2


def test_non_finite_loss_stops_with_a_message(assets, tmp_path):
    # An absurd learning rate throws the weights to ~1e30 at step 0; the forward pass of step 1 overflows.
    trainer = _trainer(assets, tmp_path, "train.lr=1e30")
    with pytest.raises(NonFiniteLossError, match=r"not finite at step 1 \(loss=(nan|inf), loss_verts="):
        trainer.fit()
    assert not (tmp_path / "checkpoints" / STATE_FILE).exists()  # nothing non-finite was saved


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ddp_worker(rank: int, world_size: int, port: int, assets: str, output_dir: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world_size), RANK=str(rank)
    )
    torch.set_num_threads(1)
    try:
        # One epoch of 2 steps of 4 samples (2 per process), then a sharded validation.
        config = tiny_config(Path(assets), *LOOP, f"train.output_dir={output_dir}", "train.epochs=1")
        trainer = Trainer(config, show_progress=False)
        summary = trainer.fit()
        torch.save(
            {
                "regressor": trainer.regressor.state_dict(),
                "criterion": trainer.criterion.state_dict(),
                "best": summary.best_metrics,
            },
            Path(output_dir) / f"rank{rank}.pt",
        )
    finally:
        cleanup_distributed()


def test_two_process_ddp_replicas_agree(assets, tmp_path):
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(assets), str(tmp_path)), nprocs=2, join=True)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert rank0["best"] == rank1["best"]  # the all-reduced validation means
    torch.manual_seed(0)  # the initial weights of the trainers (train.seed = 0)
    fresh = SingleInputRegressor(torch.zeros(157)).state_dict()
    moved = 0
    for key, value in rank0["regressor"].items():
        if "running_" in key or "num_batches" in key:
            continue  # BatchNorm statistics are per process (broadcast from rank 0 before each step only)
        assert torch.equal(value, rank1["regressor"][key]), key
        moved += int(key.endswith("weight") and not torch.equal(value, fresh[key]))
    assert moved > 10  # training changed the weights (and both replicas identically)
    assert all(torch.equal(v, rank1["criterion"][k]) for k, v in rank0["criterion"].items())
    assert (tmp_path / "checkpoints" / STATE_FILE).is_file()


def test_run_train_options_yaml_and_overrides(tmp_path):
    yaml_path = tmp_path / "exp.yaml"
    yaml_path.write_text("train:\n  epochs: 7\n  lr: 1e-3\nloss:\n  init_loss_weights:\n    verts: 2\n")
    config = run_train.build_config(str(yaml_path), ["train.epochs=9"])
    assert config.train.epochs == 9 and config.train.lr == 1e-3  # override > YAML > options block
    assert config.train.batch_size == run_train.BATCH_SIZE and config.data.pose_source == "procedural"
    assert config.loss.init_loss_weights["verts"] == 2.0 and config.loss.init_loss_weights["joints2D"] == 0.1
    assert config.train.output_dir == f"runs/{run_train.EXPERIMENT_NAME}" and config.body_model.kind == "open"
    with pytest.raises(SystemExit) as exit_info:
        run_train.parse_args(["--help"])
    assert exit_info.value.code == 0


def test_run_train_end_to_end_and_resume_auto(assets, tmp_path, capsys):
    common = [
        f"body_model.additional_dir={assets}",
        *TINY,
        "data.samples_per_epoch=4",
        "train.image_every_steps=0",
        "--output_dir",
        str(tmp_path),
        "--device",
        "cpu",
    ]
    assert run_train.main([*common, "train.epochs=1"]) == 0
    assert run_train.main([*common, "train.epochs=2", "--resume", "auto"]) == 0
    out = capsys.readouterr().out
    assert "Resuming from" in out and "Done: 2 steps, 2 epochs" in out
    assert len((tmp_path / "val_metrics.jsonl").read_text().splitlines()) == 2
    assert (
        run_train.main(
            [
                *common,
                "train.batch_size=3",
                "--set",
                "data.pose_source=npz",
                "--set",
                f"data.train_poses={tmp_path / 'missing.npz'}",
            ]
        )
        == 1
    )
    assert "missing.npz not found" in capsys.readouterr().err
