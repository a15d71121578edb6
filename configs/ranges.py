"""Valid ranges of the numeric config settings, checked when a config is built (`load_config`), so that a
bad value is one sentence naming its key and range instead of a crash (or a silent no-op) later.

`RANGES` maps a dotted key to its `Range`; `key.*` applies to every item of a list or value of a mapping.
Every number in the config must be finite. Every numeric field of ExperimentConfig has an entry (a test
checks that new fields get one).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Range:
    """low <= value <= high (or < where open), and a whole multiple of `step` when one is given."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    step: float | None = None

    def contains(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        on_step = self.step is None or float(value / self.step).is_integer()
        return math.isfinite(value) and above and value <= self.high and on_step

    def describe(self) -> str:
        if self.high == math.inf:
            if self.low == -math.inf:
                text = "a finite number"
            else:
                text = f"greater than {self.low:g}" if self.low_open else f"at least {self.low:g}"
        else:
            text = f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"
        return text if self.step is None else f"{text} and a multiple of {self.step:g}"


AT_LEAST_0 = Range(0)
AT_LEAST_1 = Range(1)
POSITIVE = Range(0, low_open=True)
PROBABILITY = Range(0, 1)
FINITE = Range()

RANGES: dict[str, Range] = {
    "regressor.in_channels": AT_LEAST_1,
    "regressor.resnet_layers": Range(18, 50),  # a Literal: 18 or 50
    "regressor.ief_iters": AT_LEAST_1,
    "proxy_rep.img_wh": Range(16),
    # The heatmap patch is 2 * std pixels on each side of the joint (proxy/heatmaps.py).
    "proxy_rep.heatmap_std": Range(0, low_open=True, step=0.5),
    "proxy_rep.joint_confidence_threshold": PROBABILITY,
    "proxy_rep.crop_scale": POSITIVE,
    "camera.render_wh": Range(16),
    "camera.focal_length": POSITIVE,
    "camera.mean_translation.*": FINITE,
    "camera.xy_std": AT_LEAST_0,
    "camera.z_range": AT_LEAST_0,
    "shape_augment.std": AT_LEAST_0,
    "shape_augment.uniform_range": AT_LEAST_0,
    "proxy_augment.vertex_noise": AT_LEAST_0,
    "proxy_augment.bbox_scale_range": AT_LEAST_0,
    "proxy_augment.bbox_centre_shift": AT_LEAST_0,
    "proxy_augment.part_removal_probs.*": PROBABILITY,
    "proxy_augment.occlusion_prob": PROBABILITY,
    "proxy_augment.occlusion_size": AT_LEAST_0,
    "proxy_augment.occlusion_centre_range.*": PROBABILITY,
    "proxy_augment.joint_noise": AT_LEAST_0,
    "proxy_augment.hip_noise": AT_LEAST_0,
    "proxy_augment.joint_dropout_prob": PROBABILITY,
    "proxy_augment.partial_crop_prob": PROBABILITY,
    "proxy_augment.partial_crop_scale.*": POSITIVE,
    "proxy_augment.partial_crop_shift": AT_LEAST_0,
    "proxy_augment.edge_noise_prob": PROBABILITY,
    "proxy_augment.edge_noise_radius": AT_LEAST_0,
    "proxy_augment.border_cut_prob": PROBABILITY,
    "proxy_augment.ellipse_occlusion_prob": PROBABILITY,
    "proxy_augment.dress_prob": PROBABILITY,
    "proxy_augment.dress_radius": AT_LEAST_0,
    "loss.init_loss_weights.*": AT_LEAST_0,
    "loss.silhouette_wh": Range(8),
    "loss.silhouette_sigma": POSITIVE,
    "data.procedural.archetype_weights.*": AT_LEAST_0,
    "data.procedural.noise_std": AT_LEAST_0,
    "data.procedural.lr_correlation": PROBABILITY,
    "data.procedural.mirror_prob": PROBABILITY,
    "data.procedural.yaw_range": Range(0, 180),
    "data.procedural.tilt_std": AT_LEAST_0,
    "data.procedural.lying_prob": PROBABILITY,
    "data.procedural.lying_tilt_std": AT_LEAST_0,
    "data.samples_per_epoch": AT_LEAST_1,
    "data.val_samples": AT_LEAST_1,
    "data.val_seed": AT_LEAST_0,
    "train.epochs": AT_LEAST_1,
    "train.batch_size": AT_LEAST_1,
    "train.lr": POSITIVE,
    "train.warmup_steps": AT_LEAST_0,
    "train.final_lr_fraction": PROBABILITY,
    "train.max_steps": AT_LEAST_1,
    "train.max_minutes": AT_LEAST_0,
    "train.seed": AT_LEAST_0,
    "train.checkpoint_every_epochs": AT_LEAST_0,
    "train.state_every_steps": AT_LEAST_0,
    "train.log_every_steps": AT_LEAST_1,
    "train.image_every_steps": AT_LEAST_0,
    "train.val_batches": AT_LEAST_1,
}


def numeric_settings(config: Any, prefix: str = "") -> list[tuple[str, str, float]]:
    """(key, range key, value) of every number in a config dataclass (bools and None left out)."""
    found: list[tuple[str, str, float]] = []
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        for field in dataclasses.fields(config):
            found += numeric_settings(getattr(config, field.name), f"{prefix}{field.name}.")
        return found
    key = prefix.rstrip(".")
    if isinstance(config, Mapping):
        items = [(f"{key}.{name}", value) for name, value in config.items()]
    elif isinstance(config, (list, tuple)):
        items = [(f"{key}.{index}", value) for index, value in enumerate(config)]
    elif isinstance(config, (int, float)) and not isinstance(config, bool):
        return [(key, key, float(config))]
    else:
        return []
    for item_key, value in items:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            found.append((item_key, f"{key}.*", float(value)))
    return found


def range_problem(config: Any) -> str | None:
    """The sentence for the first number outside its range (numbers without a range: finite only), or None."""
    for key, range_key, value in numeric_settings(config):
        valid = RANGES.get(range_key, FINITE)
        if not valid.contains(value):
            shown = int(value) if math.isfinite(value) and value.is_integer() else value
            return f"Config value for '{key}' must be {valid.describe()}, got {shown}."
    return None
