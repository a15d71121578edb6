"""Exports for the tools people use: a rigged binary glTF (`<stem>.glb`: Blender, game engines, the web)
and BVH motion (`<stem>.bvh`: retargeting in animation tools), written from plain arrays (predict.exports.rig)
so that single images and clips share them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.bundle import BodyModelBundle
from predict.exports.bvh import write_bvh
from predict.exports.gltf import write_glb
from predict.exports.rig import BodyMotion, ImageCamera, RiggedBody, rig_from_body_model
from predict.predictor import PredictionBatch
from utils.errors import UsageError

EXPORT_FORMATS = ("glb", "bvh")

__all__ = [
    "EXPORT_FORMATS",
    "BodyMotion",
    "ImageCamera",
    "RiggedBody",
    "parse_export_formats",
    "rig_from_body_model",
    "write_bvh",
    "write_exports",
    "write_glb",
]


def parse_export_formats(text: str) -> tuple[str, ...]:
    """'glb,bvh' -> ('glb', 'bvh'): a comma list of EXPORT_FORMATS, in EXPORT_FORMATS order, '' for none.

    Raises:
        UsageError: an unknown format, in one sentence that lists the known ones.
    """
    names = {name.strip().lower() for name in text.split(",") if name.strip()}
    unknown = sorted(names - set(EXPORT_FORMATS))
    if unknown:
        raise UsageError(
            f"--export: Unknown export format(s) {', '.join(unknown)}; "
            f"choose from {', '.join(EXPORT_FORMATS)}."
        )
    return tuple(name for name in EXPORT_FORMATS if name in names)


def write_exports(
    base: Path, formats: Sequence[str], bundle: BodyModelBundle, batch: PredictionBatch, row: int
) -> list[Path]:
    """Write one prediction (batch row `row`) as `<base>.glb` / `<base>.bvh`; returns the paths written."""
    if not formats:
        return []
    betas = batch.betas[row].detach().cpu().numpy()
    rig = rig_from_body_model(bundle.body_model, betas)
    motion = BodyMotion(
        rotations=batch.pose_rotmats[row : row + 1].detach().cpu().double().numpy(),
        translations=batch.cam_t[row : row + 1].detach().cpu().double().numpy(),
    )
    height, width = (int(n) for n in batch.image_hw[row].tolist())
    principal_x, principal_y = (float(p) for p in batch.principal_point[row].tolist())
    camera = ImageCamera(
        focal_length=float(batch.focal_length[row]),
        principal_point=(principal_x, principal_y),
        image_hw=(height, width),
    )
    written = []
    if "glb" in formats:
        extras = {"body_model": bundle.kind, "gender": bundle.gender, "betas": np.round(betas, 6).tolist()}
        written.append(write_glb(base.with_name(base.name + ".glb"), rig, motion, camera, extras))
    if "bvh" in formats:
        written.append(write_bvh(base.with_name(base.name + ".bvh"), rig, motion))
    return written
