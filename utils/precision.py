"""Numeric precision of the regressor: bf16 autocast and channels_last where the hardware pays for them.

The ResNet's convolutions dominate training and prediction. bf16 autocast halves their memory traffic and,
on hardware with bf16 matrix units (CUDA GPUs from Ampere on; x86 CPUs with AMX-BF16 or AVX512-BF16), runs
them several times faster; elsewhere bf16 is emulated and much slower than float32, so it must be chosen
by the hardware, not by habit. channels_last (NHWC) is the layout oneDNN's CPU convolutions and cuDNN's
bf16 kernels prefer. The body model, renderer and losses always stay in float32.

    precision = choose_precision(device, request=None)   # None: decide from the hardware
    model = precision.prepare_model(model)
    with precision.autocast():
        outputs = model(precision.prepare_input(x))
"""

from __future__ import annotations

import contextlib
import functools
import platform
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

# /proc/cpuinfo flags of x86 bf16 matrix/vector instructions (Sapphire Rapids and later, Zen 4 and later).
_CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class RegressorPrecision:
    """How to run the regressor on one device.

    bf16: run it under bf16 autocast (outputs are cast back to float32 by the caller's `.float()`).
    channels_last: keep weights and inputs in the NHWC layout.
    reason: one sentence for the log saying why.
    """

    device_type: str
    bf16: bool
    channels_last: bool
    reason: str

    def autocast(self) -> contextlib.AbstractContextManager:
        """The autocast context of the regressor's forward pass (a no-op in float32)."""
        return torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16)

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """The model in the chosen memory layout (in place, as `nn.Module.to`)."""
        # torch's stubs list no overload with memory_format alone, which nn.Module.to accepts.
        return model.to(memory_format=torch.channels_last) if self.channels_last else model  # type: ignore[call-overload]

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) input in the chosen memory layout."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    @property
    def label(self) -> str:
        """Short name for tables and records, e.g. "bf16+channels_last"."""
        name = "bf16" if self.bf16 else "float32"
        return f"{name}+channels_last" if self.channels_last else name


def choose_precision(device: torch.device | str, request: bool | None = None) -> RegressorPrecision:
    """bf16 + channels_last where `device` has fast bf16, float32 elsewhere.

    request: None decides from the hardware; True asks for bf16 (granted only where it is fast, else float32
    with the reason); False forces float32. channels_last goes with bf16 on every device, and with float32
    on CPUs (oneDNN's NHWC convolutions are faster there too).
    """
    device = torch.device(device)
    fast, why = bf16_support(device)
    if request is False:
        bf16, reason = False, "float32 as configured"
    elif fast:
        bf16, reason = True, f"bf16 autocast: {why}"
    elif request:
        bf16, reason = False, f"bf16 was asked for, but {why}; running in float32"
    else:
        bf16, reason = False, f"float32: {why}"
    channels_last = bf16 or device.type == "cpu"
    return RegressorPrecision(device.type, bf16, channels_last, reason)


def bf16_support(device: torch.device) -> tuple[bool, str]:
    """Whether `device` runs bf16 matrix products natively, and a few words saying why (not)."""
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return True, f"{torch.cuda.get_device_name(device)} has bf16 tensor cores"
        return False, f"{torch.cuda.get_device_name(device)} has no native bf16"
    if device.type == "cpu":
        flags = cpu_bf16_flags()
        if flags:
            return True, f"this CPU has {' and '.join(flags)}"
        return False, f"this CPU ({cpu_name()}) has no bf16 matrix instructions (AMX-BF16 or AVX512-BF16)"
    return False, f"bf16 autocast is not set up for {device.type} devices"


@functools.cache
def cpu_bf16_flags() -> tuple[str, ...]:
    """The bf16 instruction-set flags that /proc/cpuinfo lists (empty where it does not exist)."""
    flags = _cpuinfo_field("flags").split()
    return tuple(flag for flag in _CPU_BF16_FLAGS if flag in flags)


@functools.cache
def cpu_name() -> str:
    """The CPU's model name, for logs and benchmark records."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine() or "unknown CPU"


def _cpuinfo_field(name: str) -> str:
    """The first value of `name` in /proc/cpuinfo, or "" off Linux."""
    for line in _cpuinfo_lines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == name:
            return value.strip()
    return ""


def _cpuinfo_lines() -> Iterator[str]:
    path = Path("/proc/cpuinfo")
    try:
        yield from path.read_text().splitlines()
    except OSError:
        return
