"""Train the STRAPS regressor on synthetic data generated on the fly (see README, "Training").

    python run_train.py                                      # the options below: open body, procedural poses
    python run_train.py --config configs/train_example.yaml  # a short CPU run
    python run_train.py train.epochs=10 --set train.lr=3e-4  # key=value overrides of any config key
    python run_train.py --resume auto                        # continue runs/<EXPERIMENT_NAME>/ exactly
    python run_train.py --init_from checkpoints/open_body/straps_open_body.pt   # start from these weights
    torchrun --nproc_per_node 4 run_train.py                 # DDP, one process per GPU (gloo on the CPU)

Precedence, lowest first: the options block below, the --config YAML file, key=value overrides (positional
or --set, in order), then --output_dir and --device.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from configs import ConfigError, ExperimentConfig, config_to_dict, load_config
from train.checkpointing import CHECKPOINT_DIR, STATE_FILE
from train.distributed import cleanup_distributed
from train.trainer import Trainer
from train.validation import to_report
from utils.errors import StrapsError, exit_code

# ------------------------------------------------------------------------------------------------------------
# Options, as at the top of the original's run_train.py. Edit them here, or override them per run. As
# shipped they equal the defaults of configs/experiment.py, the single source of truth (a test checks it).
EXPERIMENT_NAME = "exp001"  # outputs go to runs/<EXPERIMENT_NAME>/ unless --output_dir says otherwise
BODY_MODEL = "open"  # "open" (shipped with the repository) or "smpl" (your SMPL files in additional/)
GENDER = "neutral"
POSE_SOURCE = "procedural"  # "procedural" (needs no file) or "npz" (the original's pose files in data/)
TRAIN_POSES = "data/amass_up3d_3dpw_train.npz"
VAL_POSES = "data/up3d_3dpw_val.npz"
PARAMS_FROM = "all"  # npz rows to train on: all, h36m, up3d, 3dpw, not_amass
SAMPLES_PER_EPOCH = 348_000  # procedural source: samples per epoch (the size of the original's epoch)
NUM_EPOCHS = 100
BATCH_SIZE = 140
LEARNING_RATE = 1e-4
LOSSES_ON = ["verts", "shape_params", "pose_params", "joints2D", "joints3D"]
INIT_LOSS_WEIGHTS = {"verts": 1.0, "joints3D": 1.0, "joints2D": 0.1, "pose_params": 0.1, "shape_params": 0.1}
SAVE_VAL_METRICS = ["pves_pa", "mpjpes_pa"]  # best weights: every one of these <= its best so far
CHECKPOINT_EVERY_EPOCHS = 10
DEVICE = "auto"  # "auto" (CUDA when present), "cpu", "cuda", "cuda:1"
BF16 = None  # bf16 autocast + channels_last: None where the hardware has bf16 units, False: float32
COMPILE = False  # GPU: torch.compile of the regressor
SEED = 0

OPTIONS = {
    "body_model.kind": BODY_MODEL,
    "body_model.gender": GENDER,
    "data.pose_source": POSE_SOURCE,
    "data.train_poses": TRAIN_POSES,
    "data.val_poses": VAL_POSES,
    "data.params_from": PARAMS_FROM,
    "data.samples_per_epoch": SAMPLES_PER_EPOCH,
    "train.epochs": NUM_EPOCHS,
    "train.batch_size": BATCH_SIZE,
    "train.lr": LEARNING_RATE,
    "loss.losses_on": LOSSES_ON,
    "loss.init_loss_weights": INIT_LOSS_WEIGHTS,
    "train.save_val_metrics": SAVE_VAL_METRICS,
    "train.checkpoint_every_epochs": CHECKPOINT_EVERY_EPOCHS,
    "train.device": DEVICE,
    "train.bf16": BF16,
    "train.compile": COMPILE,
    "train.seed": SEED,
    "train.output_dir": f"runs/{EXPERIMENT_NAME}",
}
# ------------------------------------------------------------------------------------------------------------


def build_config(
    yaml_path: str | None = None, overrides: Sequence[str] = (), options: dict = OPTIONS
) -> ExperimentConfig:
    """The options block, then the YAML file, then the overrides, into one checked ExperimentConfig."""
    layers = [f"{key}={json.dumps(value)}" for key, value in options.items()]
    if yaml_path is not None:
        # Checked on its own first, for errors that name the file; then applied section by section on top
        # of the options block (mapping values merge key by key).
        load_config(ExperimentConfig, yaml_path)
        content = yaml.safe_load(Path(yaml_path).read_text()) or {}
        layers += [f"{section}={json.dumps(value)}" for section, value in content.items()]
    return load_config(ExperimentConfig, overrides=[*layers, *overrides])


def _flat_config(config: ExperimentConfig) -> list[str]:
    """'section.key = value' lines of every config key."""
    lines = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict) and prefix.count(".") < 1:
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else key, item)
        else:
            lines.append(f"  {prefix} = {json.dumps(value)}")

    walk("", config_to_dict(config))
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    try:
        defaults = "\n".join(_flat_config(build_config()))
    except ConfigError as error:  # an invalid options block: say so in the help too
        defaults = f"  (the options block is invalid: {error})"
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Config keys, with the options block applied (override any as key=value):\n{defaults}",
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. train.lr=3e-4"
    )
    parser.add_argument(
        "--set",
        dest="set_overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config override (repeatable), applied after the positional ones",
    )
    parser.add_argument(
        "--config", metavar="FILE.yaml", help="a YAML file with any subset of the config keys"
    )
    parser.add_argument(
        "--resume",
        metavar="PATH|auto",
        help="a training_state.tar to continue exactly, or 'auto' for the output folder's own",
    )
    parser.add_argument(
        "--init_from",
        metavar="CHECKPOINT",
        help="start from this checkpoint's regressor weights with a fresh optimiser (train.init_from)",
    )
    parser.add_argument(
        "--output_dir", help="where outputs go (default: train.output_dir = runs/<EXPERIMENT_NAME>)"
    )
    parser.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: train.device)")
    return parser.parse_intermixed_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    late = [f"train.output_dir={json.dumps(args.output_dir)}"] if args.output_dir else []
    late += [f"train.device={json.dumps(args.device)}"] if args.device else []
    late += [f"train.init_from={json.dumps(args.init_from)}"] if args.init_from else []
    # Problems with config values, assets, pose files, checkpoints or devices, and a loss that stops being
    # finite, end in one sentence: exit 2 for usage errors, 1 for the others (utils/errors.py).
    try:
        config = build_config(args.config, [*args.overrides, *args.set_overrides, *late])
        output_dir = Path(config.train.output_dir)
        resume = args.resume
        if resume == "auto":
            state = output_dir / CHECKPOINT_DIR / STATE_FILE
            resume = state if state.is_file() else None
            print(f"Resuming from {state}." if resume else f"No {state} yet: starting afresh.")
        trainer = Trainer(config, resume=resume)
        summary = trainer.fit()
    except StrapsError as error:
        print(f"run_train.py: {error}", file=sys.stderr)
        return exit_code(error)
    finally:
        cleanup_distributed()
    if trainer.dist.is_main:
        best = ", ".join(f"{name} {value:.4g}" for name, value in to_report(summary.best_metrics).items())
        print(
            f"Done: {summary.step} steps, {summary.epochs_completed} epochs; best epoch {summary.best_epoch}"
            f"{f' ({best}; mm for 3D errors)' if best else ''}. Checkpoints in "
            f"{output_dir / CHECKPOINT_DIR}, TensorBoard logs in {output_dir / 'tensorboard'}."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
