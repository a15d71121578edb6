"""The scene benchmark's tools: the contact sheet's choice of the hardest people and the mirror-invariance
benchmark's flip of a body back into the original picture."""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.mirror_invariance import LSP14_MIRROR, mirrored_lsp14
from models.bundle import load_bundle
from tools.scene_sheet import hardest
from utils.rotations import axis_angle_to_rotmat


def test_the_sheet_takes_the_largest_errors_at_most_per_case():
    samples = [
        {"id": "scene_00000/p0", "status": "ok", "metrics": {"mpjpe_pelvis": 300.0}},
        {"id": "scene_00001/p1", "status": "ok", "metrics": {"mpjpe_pelvis": 250.0}},
        {"id": "scene_00002/p0", "status": "ok", "metrics": {"mpjpe_pelvis": 200.0}},
        {"id": "scene_00003/p0", "status": "missed", "metrics": {"recall": 0.0}},
        {"id": "scene_00004/p2", "status": "ok", "metrics": {"mpjpe_pelvis": 100.0}},
    ]
    cases = ["group", "group", "front", "front", "side"]
    chosen = hardest({"samples": samples}, count=3, per_case=1, cases=cases)
    assert [(index, person) for index, person, _ in chosen] == [(0, 0), (2, 0), (4, 2)]
    assert [index for index, _, _ in hardest({"samples": samples}, 2, 2, cases)] == [0, 1]


def test_a_mirrored_body_flipped_back_is_the_body():
    """The body posed with the mirror image of a pose, seen in the mirrored picture, flipped back, gives the
    original body's joints."""
    bundle = load_bundle("open")
    pose = 0.4 * torch.randn(1, 24, 3, generator=torch.Generator().manual_seed(0))
    pose[0, 0] = torch.tensor([np.pi, 0.0, 0.0])
    # Mirroring a pose across the body's sagittal plane: swap left and right joints, negate y and z angles.
    swap = [0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22]
    mirrored = pose[:, swap] * torch.tensor([1.0, -1.0, -1.0])
    betas = torch.zeros(1, 10)
    with torch.no_grad():
        joints = bundle(axis_angle_to_rotmat(pose), betas).lsp14[0].numpy().astype(np.float64)
        seen = bundle(axis_angle_to_rotmat(mirrored), betas).lsp14[0].numpy().astype(np.float64)
    assert np.abs(mirrored_lsp14(seen) - joints).max() < 0.01  # the open body is nearly symmetric
    assert sorted(LSP14_MIRROR) == list(range(14)) and all(LSP14_MIRROR[j] != j for j in range(12))
