"""The synthetic benchmark: a seeded test set made by our own pipeline, written in the SSP-3D layout.

Samples come from the training distributions with a seed of their own (held out from training, whose draws
start from `TrainConfig.seed`): poses from the procedural sampler, betas = the body model's mean + N(0, 1.5^2)
per component (`ShapeAugmentConfig`), and the training camera (R = I, f = 5000 px) with every distance halved,
so that a 512 x 512 image frames the body exactly as the 256 x 256 training renders do. Each sample is
rendered with our rasterizer and written as SSP-3D would hold it (see evaluation/datasets.py):

    images/<fname>       the body shaded over a grey background (a detector can run on it);
    silhouettes/<fname>  the exact silhouette (0/255 PNG);
    labels.npz           fnames, shapes, poses, genders ('n': the model's neutral file), joints2D (COCO-17
                         [u, v, confidence], confidence 1 inside the image and 0 outside; not
                         occlusion-aware), cam_trans, bbox_centres ([u, v] centre of the silhouette box),
                         bbox_whs (its longer side), plus body_model, focal_length and config (the generator
                         settings as JSON, so that a folder made with other settings is recognised).

The files are the same for the same settings on any device: every random draw is made on the CPU.
labels.npz is written last, so a folder without it is an unfinished generation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from augmentation.camera import sample_camera_translation
from augmentation.shape import sample_betas
from configs.experiment import CameraConfig, ShapeAugmentConfig
from data.procedural_poses import ProceduralPoseSource
from evaluation.datasets import read_generated_labels, settings_json
from models.bundle import BodyModelBundle, load_bundle
from proxy.crop import mask_bbox
from renderers import shade
from utils.cameras import perspective_project
from utils.runtime import REPO_ROOT

DEFAULT_DIR = REPO_ROOT / "data" / "datasets" / "synthetic_benchmark"
BACKGROUND_GREY = 0.5
_DISTANCE_FACTOR = 0.5  # 512 px images at half the training distance frame the body like the 256 renders


@dataclass(frozen=True)
class SyntheticBenchmarkConfig:
    """Settings of the synthetic benchmark. Camera defaults: `CameraConfig` with distances halved."""

    num_samples: int = 300
    seed: int = 20_200_911  # any seed other than training's; this one is the benchmark's identity
    body_model: str = "open"
    image_size: int = 512
    focal_length: float = CameraConfig.focal_length
    mean_translation: tuple[float, float, float] = (
        _DISTANCE_FACTOR * CameraConfig.mean_translation[0],
        _DISTANCE_FACTOR * CameraConfig.mean_translation[1],
        _DISTANCE_FACTOR * CameraConfig.mean_translation[2],
    )
    xy_std: float = _DISTANCE_FACTOR * CameraConfig.xy_std
    z_range: float = _DISTANCE_FACTOR * CameraConfig.z_range
    betas_std: float = ShapeAugmentConfig.std


@dataclass
class SyntheticSamples:
    """Ground truth of a batch of benchmark samples (float32, CPU).

    poses (B, 72) axis-angle, betas (B, 10), cam_trans (B, 3)."""

    poses: torch.Tensor
    betas: torch.Tensor
    cam_trans: torch.Tensor


def sample_ground_truth(config: SyntheticBenchmarkConfig, mean_betas: torch.Tensor) -> SyntheticSamples:
    """Every sample's pose, shape and camera, drawn on the CPU. Sample i has a generator of its own, seeded
    with config.seed + i, so a benchmark of any size holds the same first samples."""
    poses = ProceduralPoseSource()
    mean_betas = mean_betas.detach().float().cpu()
    drawn = []
    for index in range(config.num_samples):
        generator = torch.Generator().manual_seed(config.seed + index)
        drawn.append(
            (
                poses.sample(1, generator),
                sample_betas(1, mean_betas, generator, std=config.betas_std),
                sample_camera_translation(
                    1, generator, config.mean_translation, xy_std=config.xy_std, z_range=config.z_range
                ),
            )
        )
    return SyntheticSamples(*(torch.cat(parts).float() for parts in zip(*drawn, strict=True)))


def generate_synthetic_benchmark(
    out_dir: str | Path,
    config: SyntheticBenchmarkConfig | None = None,
    additional_dir: str | Path = "additional",
    device: torch.device | str = "cpu",
    batch_size: int = 16,
    progress: bool = True,
) -> Path:
    """Render the benchmark into `out_dir` (created; existing files of the same names are replaced).

    Returns:
        out_dir as a Path.
    """
    config = config or SyntheticBenchmarkConfig()
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "silhouettes").mkdir(exist_ok=True)
    bundle = load_bundle(config.body_model, "neutral", additional_dir, device=device)
    truth = sample_ground_truth(config, bundle.mean_params[-10:])
    n = config.num_samples
    fnames = [f"synthetic_{i:05d}.png" for i in range(n)]
    joints2d = np.zeros((n, 17, 3), dtype=np.float32)
    boxes = np.zeros((n, 4), dtype=np.float32)

    batches = range(0, n, batch_size)
    for start in tqdm(batches, desc="rendering synthetic benchmark", unit="batch", disable=not progress):
        rows = slice(start, min(start + batch_size, n))
        images, masks, joints = render_samples(
            bundle, truth.poses[rows], truth.betas[rows], truth.cam_trans[rows], config
        )
        joints2d[rows] = joints
        boxes[rows] = mask_bbox(torch.from_numpy(masks))[0].numpy()
        for fname, image, mask in zip(fnames[rows], images, masks, strict=True):
            _write_png(out_dir / "images" / fname, image[:, :, ::-1])  # RGB -> BGR for OpenCV
            _write_png(out_dir / "silhouettes" / fname, mask.astype(np.uint8) * 255)

    lo, hi = boxes[:, :2], boxes[:, 2:] + 1.0  # inclusive pixel indices -> pixel edges
    partial = out_dir / "labels.partial.npz"  # renamed when complete: labels.npz marks a finished folder
    np.savez(
        partial,
        fnames=np.array(fnames),
        shapes=truth.betas.numpy(),
        poses=truth.poses.numpy(),
        genders=np.array(["n"] * n),
        joints2D=joints2d,
        cam_trans=truth.cam_trans.numpy(),
        bbox_centres=(lo + hi) / 2,
        bbox_whs=(hi - lo).max(axis=1),
        body_model=np.array(config.body_model),
        focal_length=np.array(config.focal_length, dtype=np.float32),
        config=np.array(settings_json(config)),
    )
    os.replace(partial, out_dir / "labels.npz")
    return out_dir


@torch.no_grad()
def render_samples(
    bundle: BodyModelBundle,
    poses: torch.Tensor,
    betas: torch.Tensor,
    cam_trans: torch.Tensor,
    config: SyntheticBenchmarkConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render B samples.

    Args:
        poses (B, 72), betas (B, 10), cam_trans (B, 3) on any device.
    Returns:
        images (B, S, S, 3) uint8 RGB, silhouettes (B, S, S) bool, joints2D (B, 17, 3) float32
        [u, v, inside the image].
    """
    device = bundle.mean_params.device
    cam_trans = cam_trans.to(device)
    body = bundle.forward_axis_angle(poses.to(device), betas.to(device))
    size = config.image_size
    rgb, mask = shade(
        body.vertices + cam_trans[:, None], bundle.faces, config.focal_length, None, (size, size)
    )
    image = torch.where(mask[..., None], rgb, torch.full_like(rgb, BACKGROUND_GREY))
    uv = perspective_project(body.coco17, config.focal_length, (size / 2, size / 2), cam_trans)
    inside = ((uv >= 0) & (uv < size)).all(dim=-1, keepdim=True)
    joints = torch.cat((uv, inside.to(uv.dtype)), dim=-1)
    return (
        (image * 255).round().to(torch.uint8).cpu().numpy(),
        mask.cpu().numpy(),
        joints.float().cpu().numpy(),
    )


def ensure_synthetic_benchmark(
    out_dir: str | Path = DEFAULT_DIR,
    config: SyntheticBenchmarkConfig | None = None,
    additional_dir: str | Path = "additional",
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> Path:
    """The benchmark folder, generated first if it holds no labels.npz.

    Raises:
        DatasetError: the folder holds a benchmark made with other settings.
    """
    config = config or SyntheticBenchmarkConfig()
    out_dir = Path(out_dir)
    labels = out_dir / "labels.npz"
    if not labels.is_file():
        return generate_synthetic_benchmark(out_dir, config, additional_dir, device, progress=progress)
    read_generated_labels(out_dir, config, "synthetic benchmark")
    return out_dir


def _write_png(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), np.ascontiguousarray(image)):
        raise OSError(f"Could not write {path}; check that the folder is writable.")
