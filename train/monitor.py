"""Reading each step's losses back to the host without stalling the device, and refusing non-finite ones."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

import torch

from utils.errors import StrapsError


class NonFiniteLossError(StrapsError, RuntimeError):
    """The training loss became NaN or infinite."""


class LossReadback:
    """Copies a step's loss values to the host asynchronously and hands them out one step later.

    On a GPU the copy of step k is waited for only after step k + 1 has been queued, so the device never
    idles on the host; on the CPU values are read at once. Non-finite values raise `NonFiniteLossError`
    naming the step and every term.

    Args:
        names: the names of the values pushed at every step, in order.
    """

    def __init__(self, names: Sequence[str]):
        self.names = tuple(names)
        self._pending: deque[tuple[int, torch.Tensor, torch.cuda.Event | None]] = deque()

    def push(self, step: int, values: Mapping[str, torch.Tensor]) -> list[tuple[int, dict[str, float]]]:
        """Queue the scalar values of `step`; returns the (step, values) that are ready, checked."""
        packed = torch.stack([values[name].detach().float() for name in self.names])
        if packed.is_cuda:
            host = torch.empty(packed.shape, dtype=packed.dtype, pin_memory=True)
            host.copy_(packed, non_blocking=True)
            event = torch.cuda.Event()  # type: ignore[no-untyped-call]  # untyped in torch
            event.record()
            self._pending.append((step, host, event))
        else:
            self._pending.append((step, packed, None))
        return self._ready(keep=1 if packed.is_cuda else 0)

    def flush(self) -> list[tuple[int, dict[str, float]]]:
        """Everything still pending (call at the end of an epoch)."""
        return self._ready(keep=0)

    def _ready(self, keep: int) -> list[tuple[int, dict[str, float]]]:
        out = []
        while len(self._pending) > keep:
            step, host, event = self._pending.popleft()
            if event is not None:
                event.synchronize()
            values = dict(zip(self.names, host.tolist(), strict=True))
            if not all(torch.isfinite(torch.tensor(list(values.values())))):
                self._pending.clear()
                terms = ", ".join(f"{name}={value:.4g}" for name, value in values.items())
                raise NonFiniteLossError(
                    f"Training stopped: the loss is not finite at step {step} ({terms}); lower train.lr or "
                    "check the data, and resume from the last checkpoint."
                )
            out.append((step, values))
        return out
