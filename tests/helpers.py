"""Helpers shared by several test modules: checkpoints, rendered people and pictures, odd image files, the
original's state dict and the tiny training set-up."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch

from configs import ExperimentConfig, load_config
from models.bundle import BodyModelBundle
from models.checkpoint import save_regressor_checkpoint
from models.regressor import SingleInputRegressor
from renderers import render_overlay, silhouette
from utils.cameras import perspective_project

if TYPE_CHECKING:  # the trainer is imported by the training tests only
    from train.trainer import Trainer

SCENE_FOCAL = 900.0
PERSON_COLOUR = (0.85, 0.62, 0.48)


def make_checkpoint(path: Path, bundle: BodyModelBundle, record_body_model: bool = True) -> Path:
    """Seeded random regressor weights; the last IEF layer scaled by 0.01 (predictions near the mean)."""
    torch.manual_seed(0)
    regressor = SingleInputRegressor(bundle.mean_params)
    with torch.no_grad():
        regressor.ief_module.fc3.weight.mul_(0.01)
    if not record_body_model:
        return save_regressor_checkpoint(path, regressor.state_dict())
    return save_regressor_checkpoint(path, regressor, body_model={"kind": "open", "gender": "neutral"})


def render_person(
    bundle: BodyModelBundle, seed: int, image_hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A posed open body over a textured background.

    Returns rgb (H, W, 3) uint8, its exact silhouette (H, W) bool and COCO-17 keypoints (17, 3) [u, v, 1].
    """
    rng = np.random.default_rng(seed)
    height, width = image_hw
    pose = np.zeros(72, dtype=np.float32)
    pose[0] = np.pi  # upright in the camera frame
    pose[3:] = rng.normal(0.0, 0.15, 69)
    pose[16 * 3 + 2], pose[17 * 3 + 2] = -1.1, 1.1  # arms half down
    betas = rng.normal(0.0, 1.0, (1, 10)).astype(np.float32)
    with torch.no_grad():
        body = bundle.forward_axis_angle(torch.from_numpy(pose)[None], torch.from_numpy(betas))
    low, high = body.vertices.amin(dim=1), body.vertices.amax(dim=1)
    centre = (low + high) / 2
    depth = SCENE_FOCAL * float(high[0, 1] - low[0, 1]) / (0.7 * height)  # 70% of the image height
    shift = torch.tensor([[float(rng.uniform(-0.1, 0.1)) * width / SCENE_FOCAL * depth, 0.0, 0.0]])
    translation = torch.stack((-centre[:, 0], -centre[:, 1], torch.tensor([depth])), dim=-1) + shift
    vertices = body.vertices + translation[:, None]
    texture = rng.integers(0, 256, (max(height // 24, 2), max(width // 24, 2), 3), dtype=np.uint8)
    background = cv2.resize(texture, (width, height), interpolation=cv2.INTER_CUBIC)
    rgb = render_overlay(
        vertices,
        bundle.faces,
        SCENE_FOCAL,
        None,
        image_hw,
        torch.from_numpy(background),
        colours=PERSON_COLOUR,
    )[0]
    mask = silhouette(vertices, bundle.faces, SCENE_FOCAL, None, image_hw)[0].numpy()
    joints = perspective_project(body.coco17, SCENE_FOCAL, (width / 2, height / 2), translation)[0]
    keypoints = np.concatenate([joints.numpy(), np.ones((17, 1))], axis=1).astype(np.float32)
    return (rgb.clamp(0, 1) * 255).round().byte().numpy(), mask, keypoints


def write_rgb(path: Path, rgb: np.ndarray, *params: int) -> Path:
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]), list(params))
    return path


def write_precomputed(folder: Path, stem: str, mask: np.ndarray, keypoints: np.ndarray) -> None:
    assert cv2.imwrite(str(folder / f"{stem}.png"), mask.astype(np.uint8) * 255)
    np.save(folder / f"{stem}.npy", keypoints)


QUADRANT_COLOURS = np.array([[230, 20, 20], [20, 230, 20], [20, 20, 230], [230, 230, 20]], dtype=np.uint8)


def quadrant_image(height: int = 32, width: int = 48) -> np.ndarray:
    """(H, W, 3) RGB with four flat quadrants: any rotation or flip changes it."""
    image = np.empty((height, width, 3), dtype=np.uint8)
    half_h, half_w = height // 2, width // 2
    image[:half_h, :half_w] = QUADRANT_COLOURS[0]
    image[:half_h, half_w:] = QUADRANT_COLOURS[1]
    image[half_h:, :half_w] = QUADRANT_COLOURS[2]
    image[half_h:, half_w:] = QUADRANT_COLOURS[3]
    return image


def jpeg_with_exif_orientation(rgb: np.ndarray, orientation: int) -> bytes:
    """A JPEG whose APP1 segment holds a one-entry EXIF IFD: tag 0x0112 (Orientation), type SHORT."""
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 98])
    assert ok
    # TIFF header (big endian, IFD at offset 8), 1 entry (tag, type 3, count 1, value padded), no next IFD.
    tiff = struct.pack(">2sHIHHHIHHI", b"MM", 42, 8, 1, 0x0112, 3, 1, orientation, 0, 0)
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    data = encoded.tobytes()
    return data[:2] + app1 + data[2:]  # right after the SOI marker


IEF_FC = [("fc1", 0, (512, 669)), ("fc2", 2, (512, 512)), ("fc3", 4, (157, 512))]


def stand_in_mean_params() -> torch.Tensor:
    """Private stand-in for a bundle's mean_params: [0.9, 0, 0 | 180 deg about x, 23 x identity | betas]."""
    pose6d = torch.tensor([1.0, 0.0, 0.0, -1.0, 0.0, 0.0] + [1.0, 0.0, 0.0, 1.0, 0.0, 0.0] * 23)
    return torch.cat([torch.tensor([0.9, 0.0, 0.0]), pose6d, torch.linspace(-0.3, 0.4, 10)])


def spec_state_dict_shapes() -> dict[str, tuple[int, ...]]:
    """The 132 keys of the original checkpoint, written out from ORIGINAL.md §2.5."""

    def bn(prefix: str, channels: int) -> dict:
        return {f"{prefix}.{n}": (channels,) for n in ("weight", "bias", "running_mean", "running_var")} | {
            f"{prefix}.num_batches_tracked": ()
        }

    shapes = {"image_encoder.conv1.weight": (64, 18, 7, 7)} | bn("image_encoder.bn1", 64)
    for layer, (c, c_in) in enumerate([(64, 64), (128, 64), (256, 128), (512, 256)], start=1):
        p = f"image_encoder.layer{layer}"
        shapes[f"{p}.0.conv1.weight"] = (c, c_in, 3, 3)
        shapes |= bn(f"{p}.0.bn1", c)
        shapes[f"{p}.0.conv2.weight"] = (c, c, 3, 3)
        shapes |= bn(f"{p}.0.bn2", c)
        if layer > 1:
            shapes[f"{p}.0.downsample.0.weight"] = (c, c_in, 1, 1)
            shapes |= bn(f"{p}.0.downsample.1", c)
        for conv, norm in (("conv1", "bn1"), ("conv2", "bn2")):
            shapes[f"{p}.1.{conv}.weight"] = (c, c, 3, 3)
            shapes |= bn(f"{p}.1.{norm}", c)
    for name, index, (out_f, in_f) in IEF_FC:
        for prefix in (f"ief_module.{name}", f"ief_module.ief_layers.{index}"):
            shapes[f"{prefix}.weight"] = (out_f, in_f)
            shapes[f"{prefix}.bias"] = (out_f,)
    return shapes


def fabricated_original_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random values under the original's names; aliases are the same tensors, as torch.save wrote them."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in spec_state_dict_shapes().items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1234)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.05
    for name, index, _ in IEF_FC:
        for kind in ("weight", "bias"):
            state[f"ief_module.ief_layers.{index}.{kind}"] = state[f"ief_module.{name}.{kind}"]
    return state


TINY_SIZE = 64  # render and input side of the tiny set-up
# Everything measured in pixels scaled from 256 to 64 px, so the tiny batches look like the real ones.
TINY = [
    f"camera.render_wh={TINY_SIZE}",
    "camera.focal_length=1250",
    f"proxy_rep.img_wh={TINY_SIZE}",
    "proxy_rep.heatmap_std=1.0",
    "proxy_augment.joint_noise=2",
    "proxy_augment.hip_noise=2",
    "proxy_augment.occlusion_size=12",
    "proxy_augment.bbox_centre_shift=1.25",
    "train.batch_size=4",
    "data.val_samples=6",
]


def tiny_config(assets: Path, *overrides: str) -> ExperimentConfig:
    """The 64 px configuration on the fixture body in `assets`, plus overrides."""
    return load_config(ExperimentConfig, overrides=[f"body_model.additional_dir={assets}", *TINY, *overrides])


# Two steps of 4 samples per epoch, small validation, no periodic state saves or images.
LOOP = ["data.samples_per_epoch=8", "train.state_every_steps=0", "train.image_every_steps=0"]


def training_weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    """The regressor, loss-weight and Adam tensors of a trainer under prefixed names, to compare runs."""
    state = {f"regressor.{k}": v for k, v in trainer.regressor.state_dict().items()}
    state |= {f"criterion.{k}": v for k, v in trainer.criterion.state_dict().items()}
    for index, param_state in trainer.optimizer.state_dict()["state"].items():
        state |= {f"adam.{index}.{k}": v for k, v in param_state.items() if torch.is_tensor(v)}
    return state
