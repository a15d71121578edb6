"""train.export: a run's best weights become a loadable fp16 checkpoint with a JSON record."""

import json
import sys

import torch

from models.checkpoint import load_regressor_weights, read_checkpoint, save_regressor_checkpoint
from models.regressor import SingleInputRegressor
from train.export import export_run, main
from utils.runtime import code_record


def _regressor(seed: int) -> SingleInputRegressor:
    torch.manual_seed(seed)
    return SingleInputRegressor(torch.zeros(157)).eval()


def test_export_ships_the_best_weights_without_aliases(tmp_path):
    best, current = _regressor(0), _regressor(1)
    run = tmp_path / "run"
    config = {"train": {"batch_size": 32}, "proxy_rep": {"img_wh": 128}}
    save_regressor_checkpoint(
        run / "checkpoints" / "best.tar",
        current,
        best_model_state_dict=best.state_dict(),
        config=config,
        body_model={"kind": "open", "gender": "neutral"},
        extra={"epoch": 3, "step": 50, "val_metrics": {"x": 1.0}, "training_code": code_record()},
    )
    out = tmp_path / "ship" / "model.pt"
    record = export_run(run, out)
    assert record["training_code"]["smplx_imported"] == ("smplx" in sys.modules)
    commit = record["training_code"]["git_commit"]
    assert commit is None or (len(commit) == 40 and int(commit, 16) >= 0)

    assert record["samples_seen"] == 50 * 32 and record["epoch"] == 3
    assert json.loads(out.with_suffix(".json").read_text())["val_metrics_mm"] == {"x": 1.0}
    stored = read_checkpoint(out)
    assert not any(".ief_layers." in key for key in stored["model_state_dict"])
    assert stored["model_state_dict"]["ief_module.fc1.weight"].dtype == torch.float16

    loaded = _regressor(2)
    load_regressor_weights(loaded, out)
    x = torch.rand(2, 18, 64, 64)
    with torch.no_grad():
        expected, got = best(x), loaded(x)
    for a, b in zip(expected, got, strict=True):
        torch.testing.assert_close(a, b, atol=5e-2, rtol=5e-2)  # fp16 storage


def test_export_of_a_run_without_best_checkpoint_fails_clearly(tmp_path, capsys):
    assert main([str(tmp_path), "--out", str(tmp_path / "m.pt")]) == 1
    assert "best.tar not found" in capsys.readouterr().err


def test_export_of_a_chosen_epoch(tmp_path):
    run = tmp_path / "run"
    for epoch, seed in ((0, 0), (4, 1)):
        save_regressor_checkpoint(
            run / "checkpoints" / f"epoch_{epoch:03d}.tar",
            _regressor(seed),
            extra={"epoch": epoch, "step": 9},
        )
    record = export_run(run, tmp_path / "m.pt", epoch=4)
    assert record["epoch"] == 4 and record["source"].endswith("epoch_004.tar")
    shipped, reference = _regressor(2), _regressor(1)
    load_regressor_weights(shipped, tmp_path / "m.pt")
    key = "ief_module.fc1.weight"
    torch.testing.assert_close(shipped.state_dict()[key], reference.state_dict()[key], atol=1e-3, rtol=1e-3)
    assert main([str(run), "--out", str(tmp_path / "x.pt"), "--epoch", "7"]) == 1  # no such epoch
