"""Export a training run's best weights as a small checkpoint to ship (fp16) with a JSON record beside it.

    python -m train.export runs/cpu_open_body --out checkpoints/open_body/straps_open_body.pt

The checkpoint holds the best weights only (in both state-dict slots, so the original's loaders find them),
the run's config (the predictor reads the proxy-representation settings from it) and the body model; the
JSON beside it records the config, the optimiser steps and samples seen, and the validation metrics.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from models.checkpoint import CheckpointError, read_checkpoint, save_regressor_checkpoint
from train.checkpointing import BEST_FILE, CHECKPOINT_DIR, epoch_file


def export_run(run_dir: Path, out: Path, half_precision: bool = True, epoch: int | None = None) -> dict:
    """Write `out` and `out` with a .json suffix from `run_dir`'s best checkpoint (or that of the given
    epoch, when the run saved one); returns the record."""
    source = run_dir / CHECKPOINT_DIR / (BEST_FILE if epoch is None else epoch_file(epoch))
    if not source.is_file():
        raise CheckpointError(f"{source} not found: pass the output folder of a run that has validated once.")
    content = read_checkpoint(source)
    config = content.get("config") or {}
    # The `ief_layers.*` aliases repeat the fc tensors (ORIGINAL.md §2.5); the loader restores them, so the
    # shipped file leaves them out and stays under 25 MB in fp16.
    weights = {k: v for k, v in content["best_model_state_dict"].items() if ".ief_layers." not in k}
    step = int(content.get("step", 0))
    record = {
        "source": str(source),
        "body_model": content.get("body_model"),
        "epoch": int(content.get("epoch", -1)),
        "optimiser_steps": step,
        "samples_seen": step * int(config.get("train", {}).get("batch_size", 0)),
        "val_metrics_mm": content.get("val_metrics", {}),
        "fp16": half_precision,
        # The trainer's git commit and whether smplx was loaded (absent from checkpoints saved before it was
        # recorded).
        "training_code": content.get("training_code"),
        "config": config,
    }
    extra = {
        key: record[key]
        for key in ("epoch", "optimiser_steps", "samples_seen", "val_metrics_mm", "training_code")
    }
    save_regressor_checkpoint(
        out, weights, config=config, body_model=content.get("body_model"), half_precision=half_precision,
        extra=extra,
    )  # fmt: skip
    out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run's output folder (holding checkpoints/best.tar)")
    parser.add_argument("--out", type=Path, required=True, help="the checkpoint file to write")
    parser.add_argument("--fp32", action="store_true", help="keep float32 weights (default: float16)")
    parser.add_argument("--epoch", type=int, help="export this epoch's checkpoint instead of the best one")
    args = parser.parse_args(argv)
    try:
        record = export_run(args.run_dir, args.out, half_precision=not args.fp32, epoch=args.epoch)
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    size_mb = args.out.stat().st_size / 2**20
    print(
        f"wrote {args.out} ({size_mb:.1f} MB), {record['samples_seen']} samples seen, epoch {record['epoch']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
