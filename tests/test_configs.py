"""Configs: the original's defaults, YAML + override loading, type checks and clear errors."""

import dataclasses
from dataclasses import dataclass, field

import pytest

from configs import ConfigError, ExperimentConfig, config_to_dict, load_config, save_config


def test_defaults_are_the_originals_values():
    cfg = ExperimentConfig()
    assert (cfg.regressor.in_channels, cfg.regressor.resnet_layers, cfg.regressor.ief_iters) == (18, 18, 3)
    assert (cfg.proxy_rep.img_wh, cfg.proxy_rep.heatmap_std, cfg.proxy_rep.joint_confidence_threshold) == (
        256,
        4.0,
        0.0,
    )
    assert cfg.proxy_rep.crop_scale == 1.2
    assert cfg.camera.focal_length == 5000.0 and cfg.camera.mean_translation == (0.0, 0.2, 42.0)
    assert (cfg.camera.xy_std, cfg.camera.z_range) == (0.05, 5.0)
    assert (cfg.shape_augment.distribution, cfg.shape_augment.std, cfg.shape_augment.uniform_range) == (
        "normal",
        1.5,
        3.0,
    )
    aug = cfg.proxy_augment
    assert aug.part_removal_probs == (0.1, 0.1, 0.1, 0.1, 0.05, 0.05)
    assert (aug.vertex_noise, aug.bbox_scale_range, aug.bbox_centre_shift) == (0.01, 0.2, 5.0)
    assert (aug.occlusion_prob, aug.occlusion_size) == (0.5, 48)
    assert [c * 256 for c in aug.occlusion_centre_range] == pytest.approx([89.6, 166.4])
    assert (aug.joint_noise, aug.hip_noise) == (8.0, 8.0)
    assert set(cfg.loss.losses_on) == {"verts", "shape_params", "pose_params", "joints2D", "joints3D"}
    assert cfg.loss.init_loss_weights == {
        "verts": 1.0,
        "joints3D": 1.0,
        "joints2D": 0.1,
        "pose_params": 0.1,
        "shape_params": 0.1,
    }
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.lr) == (100, 140, 1e-4)
    assert cfg.train.save_val_metrics == ("pves_pa", "mpjpes_pa")
    assert len(cfg.train.metrics_to_track) == 11 and cfg.train.checkpoint_every_epochs == 10


def test_yaml_then_overrides_in_order(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(
        "train:\n  epochs: 5\n  lr: 1e-3\nloss:\n  init_loss_weights:\n    verts: 2\n"
        "camera:\n  mean_translation: [0, 0.1, 40]\n"
    )
    cfg = load_config(
        ExperimentConfig, path, ["train.epochs=7", "loss.losses_on=[verts, joints3D]", "body_model.kind=smpl"]
    )
    assert cfg.train.epochs == 7  # the override wins over the file
    assert cfg.train.lr == 1e-3 and isinstance(cfg.train.lr, float)  # YAML reads "1e-3" as a string
    assert cfg.train.batch_size == 140  # untouched fields keep their defaults
    assert cfg.loss.init_loss_weights["verts"] == 2.0 and cfg.loss.init_loss_weights["joints2D"] == 0.1
    assert cfg.loss.losses_on == ("verts", "joints3D")
    assert cfg.camera.mean_translation == (0.0, 0.1, 40.0)
    assert cfg.body_model.kind == "smpl"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.epochs = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "override,message",
    [
        ("train.lrr=1", "Unknown config key 'train.lrr'"),
        ("trian.lr=1", "Unknown config key 'trian'"),
        ("train.epochs=1.5", "'train.epochs' must be an integer"),
        ("train.epochs=true", "'train.epochs' must be an integer"),
        ("train.lr=fast", "'train.lr' must be a number"),
        ("regressor.resnet_layers=34", "'regressor.resnet_layers' must be one of 18, 50"),
        ("camera.mean_translation=[0, 1]", "'camera.mean_translation' must be a list of 3 values"),
        ("shape_augment.enabled=1", "'shape_augment.enabled' must be true or false"),
        ("train=3", "section 'train' must be given as a mapping"),
        ("train.lr", "must look like section.key=value"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_config(ExperimentConfig, overrides=[override])


def test_bad_yaml_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(ExperimentConfig, tmp_path / "missing.yaml")
    nested = tmp_path / "nested.yaml"
    nested.write_text("proxy_augment:\n  occlusion_probability: 0.2\n")
    with pytest.raises(ConfigError, match="'proxy_augment.occlusion_probability'"):
        load_config(ExperimentConfig, nested)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(ExperimentConfig, listing)


def test_save_and_load_round_trip(tmp_path):
    cfg = load_config(
        ExperimentConfig, overrides=["train.seed=3", "proxy_augment.part_removal_probs=[0, 0, 0.2]"]
    )
    path = save_config(cfg, tmp_path / "sub" / "saved.yaml")
    assert load_config(ExperimentConfig, path) == cfg
    plain = config_to_dict(cfg)
    assert plain["train"]["seed"] == 3 and isinstance(plain["camera"]["mean_translation"], list)


@dataclass(frozen=True)
class _Inner:
    size: int | None = None
    names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Outer:
    inner: _Inner = field(default_factory=_Inner)
    weights: dict[str, float] = field(default_factory=dict)
    pair: tuple[int, str] = (1, "a")


def test_generic_loader_on_other_dataclasses():
    cfg = load_config(
        _Outer, overrides=["inner.size=4", "inner.names=[x, y]", "weights={a: 1}", "pair=[2, b]"]
    )
    assert cfg == _Outer(_Inner(4, ["x", "y"]), {"a": 1.0}, (2, "b"))
    assert load_config(_Outer, overrides=["inner.size=null"]).inner.size is None
    with pytest.raises(ConfigError, match="'inner.size' must be an integer or null"):
        load_config(_Outer, overrides=["inner.size=big"])
    with pytest.raises(ConfigError, match=r"'pair\.1' must be a string"):
        load_config(_Outer, overrides=["pair=[2, 3]"])


def test_run_train_options_block_shows_the_config_defaults():
    """The editable block at the top of run_train.py repeats defaults of configs/experiment.py for users
    to edit; as shipped it must equal them, so a default changed in one place cannot silently differ."""
    import json

    import run_train
    from configs import ExperimentConfig, config_to_dict

    defaults = config_to_dict(ExperimentConfig())
    for key, value in run_train.OPTIONS.items():
        section, name = key.split(".")
        shipped = json.loads(json.dumps(defaults[section][name]))  # tuples -> lists, as the block writes them
        assert json.loads(json.dumps(value)) == shipped, f"run_train.py: {key}={value!r}, default {shipped!r}"


def test_heatmap_std_must_be_a_multiple_of_half_a_pixel():
    """The heatmap patch spans 2 * std pixels each side, so the config refuses other values up front."""
    with pytest.raises(ConfigError, match=r"proxy_rep.heatmap_std.*multiple of 0.5"):
        load_config(ExperimentConfig, overrides=["proxy_rep.heatmap_std=0.3"])
    assert load_config(ExperimentConfig, overrides=["proxy_rep.heatmap_std=2.5"]).proxy_rep.heatmap_std == 2.5
