"""Regressor (ResNet + IEF) and its checkpoints: the original's structure, key names and loading rules."""

import math
import os

import pytest
import torch
import torch.nn.functional as F

from configs import ExperimentConfig, config_to_dict
from configs.loader import ConfigError
from models.checkpoint import CheckpointError, load_regressor_weights, save_regressor_checkpoint
from models.regressor import SingleInputRegressor
from models.resnet import resnet50
from tests.helpers import fabricated_original_state_dict, spec_state_dict_shapes, stand_in_mean_params


@pytest.fixture(scope="module")
def model() -> SingleInputRegressor:
    torch.manual_seed(0)
    return SingleInputRegressor(stand_in_mean_params()).eval()


@pytest.fixture(scope="module")
def proxy_input() -> torch.Tensor:
    # Half the real 256 x 256 size keeps the tests fast; the encoder pools globally, so any size works.
    x = torch.zeros(2, 18, 128, 128)
    x[:, 0, 30:100, 50:80] = 1.0
    x[:, 1:, 50:55, 60:65] = 0.5
    return x


def test_parameter_count_and_state_dict_match_the_original(model):
    assert sum(p.numel() for p in model.parameters()) == 11_909_789
    state = model.state_dict()
    assert len(state) == 132
    assert {k: tuple(v.shape) for k, v in state.items()} == spec_state_dict_shapes()
    # The alias names are the same tensors, and the mean parameters are not part of the state dict.
    assert state["ief_module.fc1.weight"].data_ptr() == state["ief_module.ief_layers.0.weight"].data_ptr()
    assert not any("mean_params" in k for k in state)


def test_forward_shapes_and_zero_update_returns_the_mean(proxy_input):
    mean = stand_in_mean_params()
    regressor = SingleInputRegressor(mean).eval()
    with torch.no_grad():
        cam, pose6d, betas = regressor(proxy_input)
    assert cam.shape == (2, 3) and pose6d.shape == (2, 144) and betas.shape == (2, 10)
    torch.nn.init.zeros_(regressor.ief_module.fc3.weight)  # biases are zero from construction
    with torch.no_grad():
        cam, pose6d, betas = regressor(proxy_input)
    assert torch.equal(torch.cat([cam, pose6d, betas], dim=1), mean.expand(2, -1))


def test_ief_iterations_follow_the_original_update(model, proxy_input):
    """params_{k+1} = params_k + fc3(relu(fc2(relu(fc1([features, params_k]))))), from the mean, 3 times."""
    ief = model.ief_module
    with torch.no_grad():
        features = model.image_encoder(proxy_input)
        params = stand_in_mean_params().expand(2, -1)
        for _ in range(3):
            hidden = F.relu(F.linear(torch.cat([features, params], 1), ief.fc1.weight, ief.fc1.bias))
            hidden = F.relu(F.linear(hidden, ief.fc2.weight, ief.fc2.bias))
            params = params + F.linear(hidden, ief.fc3.weight, ief.fc3.bias)
        cam, pose6d, betas = model(proxy_input)
    assert torch.allclose(torch.cat([cam, pose6d, betas], 1), params, atol=1e-5)
    assert features.shape == (2, 512)


def test_mean_params_buffer_moves_with_the_model(model):
    doubled = SingleInputRegressor(stand_in_mean_params()).to(torch.float64)
    assert doubled.ief_module.mean_params.dtype == torch.float64
    out = doubled(torch.zeros(1, 18, 64, 64, dtype=torch.float64))
    assert out[0].dtype == torch.float64
    with pytest.raises(ValueError, match="mean_params must have shape"):
        SingleInputRegressor(torch.zeros(72))
    with pytest.raises(ConfigError, match="resnet_layers"):
        SingleInputRegressor(stand_in_mean_params(), resnet_layers=34)


def test_resnet_init_and_resnet50_variant(model):
    conv = model.image_encoder.conv1.weight
    expected_std = math.sqrt(2.0 / (64 * 7 * 7))  # Kaiming normal, fan_out, ReLU gain
    assert conv.std().item() == pytest.approx(expected_std, rel=0.05)
    bn = model.image_encoder.layer2[0].downsample[1]
    assert torch.equal(bn.weight, torch.ones(128)) and torch.equal(bn.bias, torch.zeros(128))
    encoder = resnet50(in_channels=5).eval()
    assert encoder(torch.zeros(1, 5, 64, 64)).shape == (1, 2048)
    assert "layer1.0.downsample.0.weight" in encoder.state_dict()  # 64 -> 256 projection in stage 1


def write_original_tar(path, state):
    """Mimic the original's training checkpoint (torch 1.4 wrote the legacy, non-zip format)."""
    checkpoint = {
        "epoch": 90,
        "best_epoch": 87,
        "best_epoch_val_metrics": {"pves_pa": 0.061, "mpjpes_pa": 0.055},
        "model_state_dict": state,
        "best_model_state_dict": state,
        "optimiser_state_dict": {
            "state": {},
            "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "params": [0]}],
        },
        "criterion_state_dict": {"verts_log_var": torch.tensor(-1e-6)},
    }
    torch.save(checkpoint, path, _use_new_zipfile_serialization=False)


def test_original_tar_loads_strictly_and_changes_the_output(tmp_path, proxy_input):
    regressor = SingleInputRegressor(stand_in_mean_params()).eval()
    with torch.no_grad():
        before = torch.cat(regressor(proxy_input), 1)
    state = fabricated_original_state_dict()
    write_original_tar(tmp_path / "straps_model_checkpoint.tar", state)

    info = load_regressor_weights(regressor, tmp_path / "straps_model_checkpoint.tar")
    assert info.origin == "straps-original" and info.state_dict_key == "best_model_state_dict"
    loaded = regressor.state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    with torch.no_grad():
        after = torch.cat(regressor(proxy_input), 1)
    assert not torch.allclose(before, after)


def test_missing_key_fails_with_one_clear_sentence(tmp_path):
    state = fabricated_original_state_dict()
    del state["image_encoder.layer3.1.bn2.running_mean"]
    state["image_encoder.fc.weight"] = torch.zeros(3)
    write_original_tar(tmp_path / "broken.tar", state)
    with pytest.raises(CheckpointError) as error:
        load_regressor_weights(SingleInputRegressor(stand_in_mean_params()), tmp_path / "broken.tar")
    message = str(error.value)
    assert "1 missing key (image_encoder.layer3.1.bn2.running_mean)" in message
    assert "1 unexpected key (image_encoder.fc.weight)" in message
    assert "straps_model_checkpoint.tar" in message and "\n" not in message


def test_wrong_shapes_and_inconsistent_aliases_fail():
    state = fabricated_original_state_dict()
    state["image_encoder.conv1.weight"] = torch.zeros(64, 3, 7, 7)  # an RGB ResNet, not the proxy input
    with pytest.raises(
        CheckpointError, match=r"1 wrong-shape key \(image_encoder.conv1.weight \(64, 3, 7, 7\)"
    ):
        load_regressor_weights(SingleInputRegressor(stand_in_mean_params()), state)
    state = fabricated_original_state_dict()
    state["ief_module.ief_layers.2.bias"] = state["ief_module.fc2.bias"] + 1.0
    with pytest.raises(CheckpointError, match="different values"):
        load_regressor_weights(SingleInputRegressor(stand_in_mean_params()), state)


@pytest.mark.parametrize("drop", ["ief_module.ief_layers.", "ief_module.fc"])
def test_either_alias_name_set_alone_loads(drop):
    state = fabricated_original_state_dict()
    partial = {k: v for k, v in state.items() if not k.startswith(drop)}
    assert len(partial) == 126
    regressor = SingleInputRegressor(stand_in_mean_params())
    info = load_regressor_weights(regressor, {"best_model_state_dict": partial})
    assert info.origin == "straps-original"
    assert torch.equal(regressor.ief_module.fc3.weight, state["ief_module.fc3.weight"])


def test_bare_and_ddp_prefixed_state_dicts_load():
    state = fabricated_original_state_dict(seed=3)
    regressor = SingleInputRegressor(stand_in_mean_params())
    assert load_regressor_weights(regressor, state).origin == "state-dict"
    prefixed = {f"module.{k}": v for k, v in fabricated_original_state_dict(seed=4).items()}
    load_regressor_weights(regressor, prefixed)
    assert torch.equal(regressor.image_encoder.conv1.weight, prefixed["module.image_encoder.conv1.weight"])


def test_our_format_fp16_round_trip(tmp_path, model, proxy_input):
    config = ExperimentConfig()
    path32 = save_regressor_checkpoint(
        tmp_path / "run" / "fp32.pt", model, config=config, body_model={"kind": "open"}, extra={"epoch": 3}
    )
    path16 = save_regressor_checkpoint(tmp_path / "fp16.pt", model, half_precision=True)
    assert sorted(os.listdir(tmp_path)) == ["fp16.pt", "run"]  # no temporary file left behind
    # Aliased tensors are stored once, and float16 halves the file.
    assert path32.stat().st_size < 11_909_789 * 4 * 1.02
    assert path16.stat().st_size < 0.55 * path32.stat().st_size

    restored = SingleInputRegressor(stand_in_mean_params()).eval()
    info = load_regressor_weights(restored, path32)
    assert info.origin == "straps-rebuilt" and info.config == config_to_dict(config)
    assert info.body_model == {"kind": "open"}
    reference = model.state_dict()
    assert all(torch.equal(value, reference[key]) for key, value in restored.state_dict().items())

    load_regressor_weights(restored, path16)
    assert restored.image_encoder.conv1.weight.dtype == torch.float32
    expected = model.image_encoder.conv1.weight.half().float()
    assert torch.equal(restored.image_encoder.conv1.weight, expected)
    with torch.no_grad():
        assert torch.allclose(
            torch.cat(restored(proxy_input), 1), torch.cat(model(proxy_input), 1), atol=1e-2
        )


def test_current_versus_best_weights(tmp_path):
    best, current = fabricated_original_state_dict(seed=5), fabricated_original_state_dict(seed=6)
    path = save_regressor_checkpoint(tmp_path / "c.pt", current, best_model_state_dict=best)
    regressor = SingleInputRegressor(stand_in_mean_params())
    load_regressor_weights(regressor, path)
    assert torch.equal(regressor.ief_module.fc1.bias, best["ief_module.fc1.bias"])
    load_regressor_weights(regressor, path, which="current")
    assert torch.equal(regressor.ief_module.fc1.bias, current["ief_module.fc1.bias"])


class _NotATensor:
    pass


@pytest.mark.reliability
def test_unreadable_files_fail_with_one_sentence(tmp_path):
    regressor = SingleInputRegressor(stand_in_mean_params())
    with pytest.raises(CheckpointError, match="does not exist"):
        load_regressor_weights(regressor, tmp_path / "nope.tar")
    (tmp_path / "text.tar").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="is not a readable PyTorch checkpoint"):
        load_regressor_weights(regressor, tmp_path / "text.tar")
    torch.save(
        {"best_model_state_dict": fabricated_original_state_dict(), "junk": _NotATensor()},
        tmp_path / "obj.tar",
    )
    with pytest.raises(CheckpointError, match="--allow_unsafe_checkpoint"):
        load_regressor_weights(regressor, tmp_path / "obj.tar")
    assert (
        load_regressor_weights(regressor, tmp_path / "obj.tar", allow_unsafe=True).origin == "straps-original"
    )
    with pytest.raises(CheckpointError, match="neither 'best_model_state_dict' nor 'model_state_dict'"):
        load_regressor_weights(regressor, {"weights": {}, "epoch": 1})
