"""Shared test set-up: a fixed, small thread count so tests behave the same on 2-core CI machines, and the
open body model with a random-weight checkpoint for the command-line tests (a module may define its own)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def bundle():
    """The shipped open body model's neutral bundle."""
    from models.bundle import load_bundle

    return load_bundle("open")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, bundle) -> Path:
    """A regressor checkpoint with random weights for the open body model."""
    from tests.test_predict import make_checkpoint

    return make_checkpoint(tmp_path_factory.mktemp("checkpoint") / "regressor.pt", bundle)
