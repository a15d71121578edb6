"""Checkpoint integrity: the tensor checksum, finite weights, numpy values in the original's files, and
errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoint import (
    CHECKSUM_KEY,
    CheckpointError,
    load_regressor_weights,
    read_checkpoint,
    save_regressor_checkpoint,
)
from models.regressor import SingleInputRegressor
from tests.helpers import fabricated_original_state_dict, stand_in_mean_params

pytestmark = pytest.mark.reliability  # damaged and hostile files, every test

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints/open_body/straps_open_body.pt"


@pytest.fixture(scope="module")
def regressor() -> SingleInputRegressor:
    return SingleInputRegressor(stand_in_mean_params())


def overwrite_middle(path: Path, n_bytes: int, seed: int = 0) -> None:
    """Random bytes written in place into the middle of a file (a damaged disk or transfer)."""
    data = bytearray(path.read_bytes())
    start = len(data) // 2
    data[start : start + n_bytes] = np.random.default_rng(seed).bytes(n_bytes)
    path.write_bytes(bytes(data))


def test_saved_checkpoints_carry_a_checksum_that_catches_damage(tmp_path: Path, regressor) -> None:
    path = save_regressor_checkpoint(tmp_path / "ours.pt", regressor, extra={"epoch": 3})
    content = read_checkpoint(path)
    assert len(content[CHECKSUM_KEY]) == 64
    load_regressor_weights(regressor, path)
    content["model_state_dict"]["ief_module.fc3.bias"][0] += 0.5  # one weight changed, the checksum kept
    torch.save(dict(content), path)
    with pytest.raises(CheckpointError, match=r"ours\.pt' is damaged"):
        read_checkpoint(path)
    save_regressor_checkpoint(path, regressor)
    overwrite_middle(path, 2**16)  # torch's own zip checks or the checksum: refused either way
    with pytest.raises(CheckpointError, match=r"ours\.pt' is (damaged|not a readable PyTorch checkpoint)"):
        read_checkpoint(path)


def test_non_finite_weights_are_refused_naming_the_file(tmp_path: Path, regressor) -> None:
    state = fabricated_original_state_dict()
    state["image_encoder.conv1.weight"][0, 0, 0, 0] = float("nan")
    torch.save({"best_model_state_dict": state}, tmp_path / "nan.tar")  # no checksum: the original's layout
    with pytest.raises(CheckpointError, match=r"nan\.tar' holds NaN or infinite weights .*conv1\.weight"):
        load_regressor_weights(regressor, tmp_path / "nan.tar")


def test_the_shipped_checkpoint_carries_a_checksum_and_loads() -> None:
    content = read_checkpoint(SHIPPED)
    assert isinstance(content.get("tensor_sha256"), str)
    regressor = SingleInputRegressor(stand_in_mean_params())
    assert load_regressor_weights(regressor, content, name=SHIPPED).origin == "straps-rebuilt"


def test_numpy_metrics_of_the_original_trainer_load_safely(tmp_path: Path, regressor) -> None:
    torch.save(
        {
            "best_model_state_dict": fabricated_original_state_dict(),
            "best_epoch_val_metrics": {"pves_pa": np.float64(0.061), "mpjpes_pa": np.float64(0.058)},
            "per_joint": np.arange(4, dtype=np.float32),
        },
        tmp_path / "original.tar",
    )
    content = read_checkpoint(tmp_path / "original.tar")
    assert content["best_epoch_val_metrics"]["pves_pa"] == pytest.approx(0.061)
    assert load_regressor_weights(regressor, content).origin == "straps-original"


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch executed",))


def test_arbitrary_objects_stay_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    torch.save({"best_model_state_dict": {}, "x": _Payload()}, "evil.tar")
    torch.save({"best_model_state_dict": {}, "x": np.array([_Payload()], dtype=object)}, "evil_array.tar")
    with pytest.raises(CheckpointError, match="--allow_unsafe_checkpoint") as caught:
        read_checkpoint("evil.tar")
    assert "allow_unsafe=True" not in str(caught.value)
    with pytest.raises(CheckpointError, match="evil_array.tar"):
        read_checkpoint("evil_array.tar")
    assert not (tmp_path / "executed").exists()


def test_strict_loading_errors_name_the_file(tmp_path: Path, regressor) -> None:
    state = fabricated_original_state_dict()
    state["ief_module.fc1.weight"] = torch.zeros(512, 600)  # its alias ief_layers.0.weight keeps (512, 669)
    torch.save({"best_model_state_dict": state}, tmp_path / "shapes.tar")
    content = read_checkpoint(tmp_path / "shapes.tar")
    with pytest.raises(CheckpointError) as caught:
        load_regressor_weights(regressor, content, name=tmp_path / "shapes.tar")
    message = str(caught.value)
    assert "shapes.tar" in message and "given as a dict" not in message
    assert "(512, 600)" in message and "(512, 669)" in message


def test_random_bytes_say_what_the_file_is_without_torch_advice(tmp_path: Path, regressor) -> None:
    path = tmp_path / "noise.tar"
    path.write_bytes(b"\x80" + np.random.default_rng(1).bytes(4096))
    with pytest.raises(CheckpointError, match=r"noise\.tar' is not a readable PyTorch checkpoint") as caught:
        load_regressor_weights(regressor, path)
    assert "weights_only" not in str(caught.value) and "\n" not in str(caught.value)


def test_a_checkpoint_of_another_network_is_said_to_be_one(tmp_path: Path) -> None:
    """Recognised by its weights before any body model is looked for (the SMPL files are absent here)."""
    from predict.predictor import Predictor

    other = {"backbone.conv.weight": torch.zeros(8, 3, 3, 3), "head.fc.weight": torch.zeros(10, 8)}
    torch.save({"best_model_state_dict": other}, tmp_path / "other_net.tar")
    torch.save(other, tmp_path / "bare.pt")
    for name in ("other_net.tar", "bare.pt"):
        with pytest.raises(CheckpointError, match=rf"{name}' does not fit the model: .* missing keys"):
            Predictor.from_checkpoint(tmp_path / name, additional_dir=tmp_path / "no_assets", device="cpu")


def test_exports_carry_the_checksum(tmp_path: Path, regressor) -> None:
    from train.export import export_run

    save_regressor_checkpoint(tmp_path / "run/checkpoints/best.tar", regressor, extra={"step": 4, "epoch": 0})
    export_run(tmp_path / "run", tmp_path / "shipped.pt")
    content = read_checkpoint(tmp_path / "shipped.pt")  # verified on reading
    assert (
        len(content[CHECKSUM_KEY]) == 64
        and content["model_state_dict"]["image_encoder.conv1.weight"].dtype == torch.float16
    )
