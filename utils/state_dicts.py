"""Whether named weights fit a model: the one comparison behind the checkpoint and detector-weights errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class WeightsMismatch:
    """How a set of named weights differs from a model's state dict (empty lists: it fits)."""

    missing: list[str]  # names the model has and the weights lack
    unexpected: list[str]  # names the weights have and the model lacks
    wrong_shape: list[str]  # "name (given shape) instead of (model shape)"

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.wrong_shape)

    def describe(self, noun: str = "key") -> str:
        """One clause for an error sentence, e.g. "1 missing key (a); 2 unexpected keys (b, c)"."""
        parts = [
            list_some(items, f"{label} {noun}")
            for items, label in (
                (self.missing, "missing"),
                (self.unexpected, "unexpected"),
                (self.wrong_shape, "wrong-shape"),
            )
            if items
        ]
        return "; ".join(parts)


def compare_shapes(
    model_shapes: Mapping[str, Sequence[int]], given_shapes: Mapping[str, Sequence[int]]
) -> WeightsMismatch:
    """Compare the names and shapes of given weights with a model's, both as {name: shape}; lists keep the
    model's order (the given order for unexpected names)."""
    return WeightsMismatch(
        missing=[name for name in model_shapes if name not in given_shapes],
        unexpected=[name for name in given_shapes if name not in model_shapes],
        wrong_shape=[
            f"{name} {tuple(given_shapes[name])} instead of {tuple(shape)}"
            for name, shape in model_shapes.items()
            if name in given_shapes and tuple(given_shapes[name]) != tuple(shape)
        ],
    )


def list_some(items: Sequence[str], label: str, limit: int = 4) -> str:
    """ "N label(s) (a, b, c, d, ...)": the count and the first `limit` items."""
    shown = ", ".join(items[:limit]) + (", ..." if len(items) > limit else "")
    return f"{len(items)} {label}{'s' if len(items) != 1 else ''} ({shown})"
