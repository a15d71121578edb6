"""Typed configuration: dataclasses with the original STRAPS defaults, YAML files and overrides."""

from configs.experiment import (
    BodyModelConfig,
    CameraConfig,
    DataConfig,
    ExperimentConfig,
    LossConfig,
    ProxyAugmentConfig,
    ProxyRepConfig,
    RegressorConfig,
    ShapeAugmentConfig,
    TrainConfig,
)
from configs.loader import ConfigError, config_to_dict, load_config, save_config

__all__ = [
    "BodyModelConfig",
    "CameraConfig",
    "ConfigError",
    "DataConfig",
    "ExperimentConfig",
    "LossConfig",
    "ProxyAugmentConfig",
    "ProxyRepConfig",
    "RegressorConfig",
    "ShapeAugmentConfig",
    "TrainConfig",
    "config_to_dict",
    "load_config",
    "save_config",
]
