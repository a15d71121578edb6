"""The tiny SSP-3D and 3DPW datasets of the evaluation tests and perfect predictions (their fixtures are in
conftest.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from data.procedural_poses import ProceduralPoseSource
from evaluation.loop import EvalBatch, GroundTruthBodies, PlacedBodies
from models.bundle import load_bundle
from models.checkpoint import save_regressor_checkpoint
from models.regressor import SingleInputRegressor

SIZE = 512
FOCAL = 5000.0


class GroundTruthSource:
    """Perfect predictions: each sample's ground-truth body and camera (3DPW has no camera: a fixed one)."""

    description = "ground truth"

    def __init__(self, bodies: GroundTruthBodies):
        self.bodies = bodies
        self.body_model = bodies.kind
        self.faces = bodies.bundle("n").faces

    def predict(self, batch: EvalBatch) -> PlacedBodies:
        target = self.bodies.posed(batch.poses, batch.betas, batch.genders)
        b = len(batch.indices)
        fixed = torch.tensor([[0.0, -0.1, 24.0]]).expand(b, 3)
        cam_t = batch.cam_trans if batch.cam_trans is not None else fixed
        return PlacedBodies(
            vertices=target.vertices,
            lsp14=target.lsp14,
            betas=batch.betas,
            cam_t=cam_t,
            focal_length=torch.full((b,), FOCAL),
            principal_point=torch.full((b, 2), SIZE / 2),
        )


def sample_labels(n: int, seed: int) -> dict[str, np.ndarray]:
    generator = torch.Generator().manual_seed(seed)
    poses = ProceduralPoseSource().sample(n, generator)
    betas = torch.randn(n, 10, generator=generator)
    # The fake body's pelvis is its origin: this camera keeps the whole body in the 512 image.
    cam_trans = torch.tensor([0.0, -0.1, 24.0]) + 0.05 * torch.randn(n, 3, generator=generator)
    genders = np.array(["m", "f"] * (n // 2) + ["m"] * (n % 2))
    return {
        "poses": poses.numpy(),
        "shapes": betas.numpy(),
        "cam_trans": cam_trans.numpy(),
        "genders": genders,
    }


def write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


def random_checkpoint(path: Path, additional_dir: Path | str, kind: str) -> Path:
    torch.manual_seed(0)
    bundle = load_bundle(kind, additional_dir=additional_dir)
    regressor = SingleInputRegressor(bundle.mean_params)
    return save_regressor_checkpoint(path, regressor, body_model={"kind": kind, "gender": "neutral"})
