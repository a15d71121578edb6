"""Regressor precision: bf16 where the hardware has it, float32 elsewhere, with the reason."""

from __future__ import annotations

import pytest
import torch

from utils import precision as precision_module
from utils.precision import choose_precision


@pytest.fixture
def fake_cpuinfo(monkeypatch):
    """Replace /proc/cpuinfo with the given flags line for one test."""

    def install(flags: str) -> None:
        lines = ["model name\t: Test CPU", f"flags\t\t: {flags}"]
        monkeypatch.setattr(precision_module, "_cpuinfo_lines", lambda: iter(lines))
        precision_module.cpu_bf16_flags.cache_clear()
        precision_module.cpu_name.cache_clear()

    yield install
    precision_module.cpu_bf16_flags.cache_clear()
    precision_module.cpu_name.cache_clear()


def test_cpu_with_amx_gets_bf16_and_channels_last(fake_cpuinfo):
    fake_cpuinfo("fpu sse avx2 avx512f amx_bf16 amx_tile")
    chosen = choose_precision("cpu")
    assert chosen.bf16 and chosen.channels_last
    assert "amx_bf16" in chosen.reason
    assert chosen.label == "bf16+channels_last"


def test_cpu_without_bf16_units_falls_back_to_float32_with_the_reason(fake_cpuinfo):
    fake_cpuinfo("fpu sse avx avx2 fma")
    for request in (None, True):
        chosen = choose_precision("cpu", request)
        assert not chosen.bf16
        assert "no bf16" in chosen.reason and "Test CPU" in chosen.reason
    assert "asked for" in choose_precision("cpu", True).reason
    # channels_last still pays on CPUs in float32.
    assert choose_precision("cpu").channels_last


def test_false_forces_float32(fake_cpuinfo):
    fake_cpuinfo("avx512_bf16 amx_bf16")
    chosen = choose_precision("cpu", False)
    assert not chosen.bf16 and chosen.reason == "float32 as configured"


def test_autocast_and_layout_apply_to_a_convolution():
    chosen = precision_module.RegressorPrecision("cpu", bf16=True, channels_last=True, reason="test")
    conv = chosen.prepare_model(torch.nn.Conv2d(3, 4, 3))
    x = chosen.prepare_input(torch.randn(2, 3, 8, 8))
    assert x.is_contiguous(memory_format=torch.channels_last)
    with chosen.autocast():
        y = conv(x)
    assert y.dtype == torch.bfloat16
    off = precision_module.RegressorPrecision("cpu", bf16=False, channels_last=False, reason="test")
    with off.autocast():
        assert conv(off.prepare_input(torch.randn(2, 3, 8, 8))).dtype == torch.float32
