"""Training throughput: batch generation alone, the regressor's forward + backward alone, the full step.

    python -m benchmarks.training_step [--device cpu|cuda|auto] [--batch_sizes 8,32,140]
        [--iters 5] [--repeats 3] [--json PATH] [--img_wh 256] [--precisions float32,auto] [--compile]
        [--set key=value ...]

Samples per second of
- generation: poses + `SyntheticBatchGenerator.generate` (render, crop, augment, heatmaps), no network;
- regressor: forward + backward of the ResNet-18 + IEF regressor on a fixed input batch (no body model, no
  loss terms, no optimiser step): the network's own pace;
- full step: `Trainer.train_step`, i.e. generation + regressor + body model + multi-task loss + backward +
  Adam step,
and full step / regressor (the target on a GPU: >= 0.7), for each regressor precision asked for in one run
(`float32`, `auto`: what training chooses on this hardware, see utils/precision.py; `bf16`: asked for),
so that the rows compare on the same machine state. Defaults are the training defaults (open body,
procedural poses, 256 px), with any config key overridable. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from collections.abc import Callable

import torch

from benchmarks.common import best_seconds, machine, write_report
from configs import ExperimentConfig, load_config
from train.poses import step_generator
from train.trainer import Trainer


def _per_call(
    fn: Callable[[int], object], iters: int, warmup: int, repeats: int, device: torch.device
) -> float:
    """Seconds per call of fn(i) (i counts the calls): the fastest of `repeats` windows of `iters` calls after
    `warmup` calls, the device synchronised around each window (calls inside one still overlap on a GPU)."""
    calls = itertools.count()
    for _ in range(warmup):
        fn(next(calls))
    window = lambda: [fn(next(calls)) for _ in range(iters)]  # noqa: E731
    return best_seconds(window, device, repeats=repeats, warmup=0) / iters


def benchmark_batch_size(trainer: Trainer, iters: int, warmup: int, repeats: int) -> dict[str, float]:
    """Samples per second of generation, regressor forward + backward and the full step at one batch size."""
    device, batch_size = trainer.device, trainer.config.train.batch_size
    seed = trainer.config.train.seed

    def generate(step: int) -> object:
        generator = step_generator(seed, 0, step, device)
        poses, betas = trainer.poses.poses(step, generator)
        return trainer.batches.generate(poses, generator, train=True, betas=betas)

    inputs = generate(0).inputs
    regressor = trainer.model.regressor  # compiled when --compile
    precision = trainer.precision
    inputs = precision.prepare_input(inputs)

    def forward_backward(_: int) -> None:
        with precision.autocast():
            cam_wp, pose6d, betas = regressor(inputs)
        (
            cam_wp.float().square().mean() + pose6d.float().square().mean() + betas.float().square().mean()
        ).backward()

    trainer.model.train()
    seconds = {
        "generation": _per_call(generate, iters, warmup, repeats, device),
        "regressor": _per_call(forward_backward, iters, warmup, repeats, device),
        "full_step": _per_call(trainer.train_step, iters, warmup, repeats, device),
    }
    result = {f"{name}_samples_per_s": batch_size / value for name, value in seconds.items()}
    result["full_step_vs_regressor"] = seconds["regressor"] / seconds["full_step"]
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--batch_sizes", default="8,32,140", help="comma-separated batch sizes")
    parser.add_argument("--iters", type=int, default=5, help="timed iterations per window")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed windows per measurement (the fastest counts)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations before each measurement")
    parser.add_argument("--img_wh", type=int, default=256, help="render and input side in pixels")
    parser.add_argument(
        "--precisions",
        default="float32,auto",
        help="comma-separated regressor precisions to compare: float32, auto (the hardware decides), bf16",
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the regressor")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", default="outputs/train_benchmark.json", help="where to write the results")
    args = parser.parse_args(argv)
    unknown = set(args.precisions.split(",")) - {"float32", "auto", "bf16"}
    if unknown:
        parser.error(f"--precisions takes float32, auto and bf16, not {', '.join(sorted(unknown))}")

    scale = args.img_wh / 256
    base = [
        f"train.device={args.device}",
        f"train.compile={str(args.compile).lower()}",
        f"camera.render_wh={args.img_wh}",
        f"proxy_rep.img_wh={args.img_wh}",
        f"camera.focal_length={5000 * scale}",
        "data.val_samples=1",
    ]
    requests = {"float32": "false", "auto": "null", "bf16": "true"}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for batch_size in (int(b) for b in args.batch_sizes.split(",")):
            for precision in args.precisions.split(","):
                config = load_config(
                    ExperimentConfig,
                    overrides=[
                        *base, f"train.batch_size={batch_size}", f"train.bf16={requests[precision]}",
                        *args.overrides,
                    ],
                )  # fmt: skip
                trainer = Trainer(config, output_dir=scratch, show_progress=False)
                result = {
                    "batch_size": batch_size,
                    "precision": trainer.precision.label,
                    "precision_reason": trainer.precision.reason,
                    **benchmark_batch_size(trainer, args.iters, args.warmup, args.repeats),
                }
                rows.append(result)
                print(
                    f"batch {batch_size:4d} {result['precision']:>26}: "
                    f"generation {result['generation_samples_per_s']:8.1f}/s, "
                    f"regressor {result['regressor_samples_per_s']:8.1f}/s, "
                    f"full step {result['full_step_samples_per_s']:8.1f}/s "
                    f"({result['full_step_vs_regressor']:.0%} of the regressor)",
                    flush=True,
                )
                device = trainer.device
                del trainer

    report = {
        "machine": machine([device]),
        "device_type": device.type,
        "iters": args.iters,
        "repeats": args.repeats,
        "img_wh": args.img_wh,
        "precisions": args.precisions,
        "compile": args.compile,
        "body_model": config.body_model.kind,
        "pose_source": config.data.pose_source,
        "results": rows,
    }
    write_report(report, args.json)
    return report


if __name__ == "__main__":
    main()
