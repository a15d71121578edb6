"""Time our linear blend skinning against smplx's on the open body:
`python -m benchmarks.skinning [--batch_sizes 1 8 64] [--json FILE]`.

Per batch size, the forward pass and forward + backward (to pose and betas) of `SMPLFormatBodyModel` (ours:
pose correctives skipped when the model has none, as the open body) and of smplx's `lbs` on the same buffers
(smplx always applies the correctives), plus ours with the correctives forced on so that both do the same
arithmetic. Milliseconds per batch, the best of
several rounds that take the variants in turn. smplx must be installed for its rows.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks.common import best_seconds, machine, write_report
from models.body_model import SMPLFormatBodyModel, SmplxBodyModel, read_smpl_format
from models.bundle import load_bundle
from utils.rotations import axis_angle_to_rotmat
from utils.runtime import REPO_ROOT

OPEN_BODY_FILE = REPO_ROOT / "additional" / "open_body" / "OPEN_BODY_NEUTRAL.npz"


def _smplx_forward() -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """smplx's `lbs` on the same model file (the SMPL path's layer)."""
    reference = SmplxBodyModel(read_smpl_format(OPEN_BODY_FILE))
    return lambda rotations, betas: reference(rotations, betas).vertices


def _ours_forward(
    model: SMPLFormatBodyModel, pose_correctives: bool
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def forward(rotations: torch.Tensor, betas: torch.Tensor) -> torch.Tensor:
        model.has_pose_correctives = pose_correctives
        return model(rotations, betas).vertices

    return forward


def _calls(forward: Callable, batch: int) -> dict[str, Callable[[], None]]:
    """The forward and the forward + backward call of one variant on seeded inputs."""
    generator = torch.Generator().manual_seed(batch)
    axis_angle = 0.5 * torch.randn(batch, 24, 3, generator=generator)
    betas = torch.randn(batch, 10, generator=generator)

    def forward_only() -> None:
        with torch.no_grad():
            forward(axis_angle_to_rotmat(axis_angle), betas)

    def forward_backward() -> None:
        pose = axis_angle.clone().requires_grad_()
        shape = betas.clone().requires_grad_()
        forward(axis_angle_to_rotmat(pose), shape).square().sum().backward()

    return {"forward_ms": forward_only, "forward_backward_ms": forward_backward}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--rounds", type=int, default=10, help="rounds over the variants (default: 10)")
    parser.add_argument("--json", type=Path, default=Path("outputs/skinning_benchmark.json"))
    args = parser.parse_args(argv)

    model = load_bundle("open").body_model
    natural = model.has_pose_correctives
    variants = {
        "ours": _ours_forward(model, natural),
        "ours (correctives on)": _ours_forward(model, True),
        "smplx lbs": _smplx_forward(),
    }
    results: dict[str, dict[str, dict[str, float]]] = {}
    print(f"{'batch':>5}  {'variant':<22} {'forward ms':>11} {'fwd+bwd ms':>11}")
    for batch in args.batch_sizes:
        calls = {name: _calls(forward, batch) for name, forward in variants.items()}
        best = {name: {figure: float("inf") for figure in calls[name]} for name in calls}
        # Round-robin over the variants, keeping each one's fastest round: on a shared machine a slow
        # spell then costs every variant alike instead of whichever ran during it.
        for _ in range(args.rounds):
            for name, figures in calls.items():
                for figure, call in figures.items():
                    best[name][figure] = min(best[name][figure], 1000 * best_seconds(call, repeats=3))
        results[str(batch)] = {
            name: {figure: round(ms, 2) for figure, ms in row.items()} for name, row in best.items()
        }
        for name, row in results[str(batch)].items():
            print(f"{batch:>5}  {name:<22} {row['forward_ms']:>11.2f} {row['forward_backward_ms']:>11.2f}")
    model.has_pose_correctives = natural
    report = {"machine": machine(), "vertices": model.num_vertices, "results": results}
    write_report(report, args.json)
    return report


if __name__ == "__main__":
    main()
