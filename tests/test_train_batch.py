"""Synthetic batch generation and training losses (issue 7, second half), on a small body at 64 px."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from configs import ExperimentConfig, config_to_dict, load_config
from configs.loader import ConfigError
from data.pose_sources import NpzPoseSource
from data.procedural_poses import ProceduralPoseSource
from models.bundle import load_bundle
from proxy.bodies import BodyEstimate
from proxy.crop import crop_points
from tests.helpers import TINY_SIZE, tiny_config
from train.losses import (
    ORIGINAL_TASKS,
    HomoscedasticMultiTaskLoss,
    SilhouetteLoss,
    task_losses,
)
from train.poses import TrainingPoses, step_generator
from train.synthetic_batch import SyntheticBatchGenerator
from utils.cameras import perspective_project, weak_perspective_project


@pytest.fixture(scope="module")
def bundle(assets):
    return load_bundle("open", additional_dir=assets)


def _poses(batch_size: int, seed: int = 0) -> torch.Tensor:
    return ProceduralPoseSource().sample(batch_size, torch.Generator().manual_seed(seed))


def _write_pose_file(path: Path, count: int) -> Path:
    poses = _poses(count, seed=5).numpy()
    shapes = np.random.default_rng(0).normal(0.0, 1.0, (count, 10)).astype(np.float32)
    fnames = np.array([f"up3d_{i:04d}.png" for i in range(count)])
    np.savez(path, fnames=fnames, poses=poses, shapes=shapes)
    return path


def _assert_frequency(flags: torch.Tensor, p: float) -> None:
    """The share of True in flags matches p within 4.5 binomial standard deviations."""
    n = flags.numel()
    assert abs(flags.double().mean().item() - p) <= 4.5 * math.sqrt(p * (1 - p) / n) + 1e-12


# ----------------------------------------------------------------------------------------------------------
# Batches.


def _check_batch(batch, bundle, poses: torch.Tensor, train: bool) -> None:
    """Documented shapes and ranges, and consistency of targets with the body model and the crop."""
    b, v = poses.shape[0], bundle.num_vertices
    shapes = {
        "inputs": (b, 18, TINY_SIZE, TINY_SIZE),
        "target_vertices": (b, v, 3),
        "target_lsp14": (b, 14, 3),
        "target_pose_rotmats": (b, 24, 3, 3),
        "target_betas": (b, 10),
        "target_joints2d": (b, 17, 2),
        "joints2d_visible": (b, 17),
        "target_tpose_vertices": (b, v, 3),
        "label_maps": (b, TINY_SIZE, TINY_SIZE),
        "cam_t": (b, 3),
        "crop_boxes": (b, 4),
    }
    for name, shape in shapes.items():
        assert tuple(getattr(batch, name).shape) == shape, name
    assert batch.inputs.dtype == torch.float32 and batch.label_maps.dtype == torch.uint8
    silhouettes, heatmaps = batch.inputs[:, 0], batch.inputs[:, 1:]
    assert set(silhouettes.unique().tolist()) <= {0.0, 1.0} and (silhouettes.sum((1, 2)) > 20).all()
    # The peak of the original's patch (std 1: samples at +-2/3 px around the joint) is exp(-4/9).
    assert heatmaps.min() >= 0 and heatmaps.max().item() == pytest.approx(math.exp(-4 / 9))
    assert batch.label_maps.max() <= 6
    assert torch.equal(silhouettes.bool(), batch.label_maps != 0)  # no edge noise by default
    rot = batch.target_pose_rotmats
    torch.testing.assert_close(rot @ rot.transpose(-1, -2), torch.eye(3).expand_as(rot), atol=1e-5, rtol=0)
    z = batch.cam_t[:, 2]
    assert ((z >= 37) & (z <= 47)).all() if train else (z == 42).all()
    # Targets are the body model's outputs for the target pose and shape, in the body-model frame.
    body = bundle(rot, batch.target_betas)
    torch.testing.assert_close(batch.target_vertices, body.vertices)
    torch.testing.assert_close(batch.target_lsp14, body.lsp14)
    torch.testing.assert_close(batch.target_tpose_vertices, bundle.tpose_vertices(batch.target_betas))
    # Clean 2D targets = perspective projection in the render, mapped into the crop.
    projected = perspective_project(
        body.coco17, 1250.0, (TINY_SIZE / 2, TINY_SIZE / 2), translation=batch.cam_t
    )
    torch.testing.assert_close(batch.target_joints2d, crop_points(projected, batch.crop_boxes, TINY_SIZE))
    inside = ((batch.target_joints2d >= 0) & (batch.target_joints2d <= TINY_SIZE)).all(-1)
    assert torch.equal(batch.joints2d_visible, inside) and inside.float().mean() > 0.9
    # Square crops by default.
    side = batch.crop_boxes[:, 2:] - batch.crop_boxes[:, :2]
    torch.testing.assert_close(side[:, 0], side[:, 1])


def test_procedural_training_batch(assets, bundle):
    config = tiny_config(assets)
    poses = _poses(8)
    batch = SyntheticBatchGenerator(bundle, config, "cpu").generate(poses, torch.Generator().manual_seed(1))
    _check_batch(batch, bundle, poses, train=True)
    assert batch.draws is not None and batch.target_silhouettes is None
    assert batch.target_betas.std() > 0.8  # fresh shapes around the mean, std 1.5
    # Heatmap peaks sit within the joint noise (2 px) plus the half-pixel offset of the original's patch.
    peaks = batch.inputs[:, 1:].flatten(2).argmax(-1)
    peak_xy = torch.stack((peaks % TINY_SIZE, peaks // TINY_SIZE), dim=-1).float() + 0.5
    near = (batch.target_joints2d > 4) & (batch.target_joints2d < TINY_SIZE - 4)
    offset = (peak_xy - batch.target_joints2d).abs()[near.all(-1)]
    assert offset.max() <= 2.0 + 1.5
    # One seed, one batch.
    again = SyntheticBatchGenerator(bundle, config, "cpu").generate(poses, torch.Generator().manual_seed(1))
    assert torch.equal(batch.inputs, again.inputs) and torch.equal(batch.target_betas, again.target_betas)


def test_npz_validation_and_training_batches(assets, bundle, tmp_path):
    path = _write_pose_file(tmp_path / "poses.npz", 20)
    config = tiny_config(assets, "data.pose_source=npz", f"data.train_poses={path}", f"data.val_poses={path}")
    source = NpzPoseSource(path)
    rows = torch.arange(5)
    generator = SyntheticBatchGenerator(bundle, config, "cpu")
    val = generator.generate(source.get(rows), train=False, betas=source.get_shapes(rows))
    _check_batch(val, bundle, source.get(rows), train=False)
    assert val.draws is None
    assert torch.equal(val.target_betas, source.get_shapes(rows))  # the file's shapes, used directly
    assert (val.cam_t == torch.tensor([0.0, 0.2, 42.0])).all()
    # Validation crops: scale 1.2 of the silhouette's longer side, centred (square mode).
    bbox_side = _bbox_side(val.label_maps) * (val.crop_boxes[:, 2] - val.crop_boxes[:, 0]) / TINY_SIZE
    side = val.crop_boxes[:, 2] - val.crop_boxes[:, 0]
    torch.testing.assert_close(side / bbox_side, torch.full_like(side, 1.2), atol=0.1, rtol=0)
    again = generator.generate(source.get(rows), train=False, betas=source.get_shapes(rows))
    assert torch.equal(val.inputs, again.inputs)

    # Training from the npz: each epoch walks a permutation of the file's rows, batch after batch.
    poses = TrainingPoses(config, "cpu")
    assert poses.steps_per_epoch == 5
    seen = [poses.poses(step, step_generator(0, 0, step, "cpu"))[0] for step in range(5)]
    order = [int((source.poses == p).all(-1).nonzero()) for batch in seen for p in batch]
    assert sorted(order) == list(range(20)) and order != list(range(20))
    train_poses, train_shapes = poses.poses(0, step_generator(0, 0, 0, "cpu"))
    train = generator.generate(train_poses, step_generator(0, 0, 0, "cpu"), betas=train_shapes)
    _check_batch(train, bundle, train_poses, train=True)
    assert not torch.equal(train.target_betas, train_shapes)  # shapes are resampled in training


def _bbox_side(maps: torch.Tensor) -> torch.Tensor:
    """Longer side (pixels) of the nonzero region of each map."""
    rows, cols = (maps != 0).any(2), (maps != 0).any(1)

    def extent(occupied):
        index = torch.arange(occupied.shape[1]).float()
        return (index * occupied).amax(1) - torch.where(occupied, index, 1e9).amin(1) + 1

    return torch.maximum(extent(rows), extent(cols))


def _generate_many(generator: SyntheticBatchGenerator, poses: list[torch.Tensor], seed: int) -> list:
    return [generator.generate(p, torch.Generator().manual_seed(seed + i)) for i, p in enumerate(poses)]


def test_augmentation_frequencies_match_their_probabilities(assets, bundle):
    probs = (0.3, 0.2, 0.1, 0.4, 0.25, 0.15)
    on = tiny_config(
        assets,
        f"proxy_augment.part_removal_probs={list(probs)}",
        "proxy_augment.occlusion_prob=0.3",
        "proxy_augment.joint_dropout_prob=0.2",
        "proxy_augment.edge_noise_prob=0.4",
        "proxy_augment.partial_crop_prob=0.25",
        "proxy_augment.joint_noise=0",
        "proxy_augment.hip_noise=0",
    )
    # The same draws with removal and occlusion at probability 0: the clean maps of the same crops.
    off = load_config(
        ExperimentConfig,
        overrides=[
            *_config_overrides(on),
            "proxy_augment.part_removal_probs=[0,0,0,0,0,0]",
            "proxy_augment.occlusion_prob=0",
        ],
    )
    poses = [_poses(50, seed) for seed in range(8)]  # 400 samples
    augmented = _generate_many(SyntheticBatchGenerator(bundle, on, "cpu"), poses, seed=100)
    clean = _generate_many(SyntheticBatchGenerator(bundle, off, "cpu"), poses, seed=100)
    aug_maps = torch.cat([b.label_maps for b in augmented])
    clean_maps = torch.cat([b.label_maps for b in clean])
    occluded = torch.cat([b.draws.occluded for b in augmented])

    # Part removal, measured on the maps: a part present in the clean map and absent after augmentation
    # (samples without an occlusion box, which could hide a small part on its own).
    for part, p in enumerate(probs, start=1):
        present = (clean_maps == part).flatten(1).any(1) & ~occluded
        removed = ~(aug_maps == part).flatten(1).any(1)
        _assert_frequency(removed[present], p)
    # Occlusion: maps differ from the part-removed clean maps only inside one 12 x 12 box, where drawn.
    _assert_frequency(occluded, 0.3)
    removed_parts = torch.cat([b.draws.parts_removed for b in augmented])
    erase = torch.cat((torch.zeros(len(removed_parts), 1, dtype=torch.bool), removed_parts), dim=1)
    expected = clean_maps.masked_fill(erase.gather(1, clean_maps.long().flatten(1)).view_as(clean_maps), 0)
    changed = expected != aug_maps
    assert not changed[~occluded].any()
    rows, cols = changed.any(2), changed.any(1)
    assert (rows.sum(1) <= 12).all() and (cols.sum(1) <= 12).all() and (aug_maps[changed] == 0).all()

    # Edge noise: the input silhouette differs from the label map's in the perturbed samples.
    silhouettes = torch.cat([b.inputs[:, 0] for b in augmented]).bool()
    perturbed = (silhouettes != (aug_maps != 0)).flatten(1).any(1)
    _assert_frequency(perturbed, 0.4)
    # Joint dropout: joints well inside the crop whose heatmap is empty.
    heatmaps = torch.cat([b.inputs[:, 1:] for b in augmented])
    joints = torch.cat([b.target_joints2d for b in augmented])
    inside = ((joints > 2) & (joints < TINY_SIZE - 3)).all(-1)
    empty = heatmaps.flatten(2).amax(-1) == 0
    _assert_frequency(empty[inside], 0.2)
    # Partial crops: scale drawn from (0.6, 1.0) instead of 1.2 +- 0.2.
    scales = torch.cat([b.draws.crop_scale for b in augmented])
    _assert_frequency(scales < 1.0, 0.25)


def _config_overrides(config: ExperimentConfig) -> list[str]:
    """Overrides that rebuild `config` with load_config."""
    return [f"{section}={json.dumps(value)}" for section, value in config_to_dict(config).items()]


def test_original_crop_mode_and_silhouette_target(assets, bundle):
    config = tiny_config(
        assets,
        "proxy_rep.crop_mode=original",
        "loss.losses_on=[verts, silhouette]",
        "loss.silhouette_wh=32",
        "loss.init_loss_weights.silhouette=0.1",
    )
    batch = SyntheticBatchGenerator(bundle, config, "cpu").generate(
        _poses(6), torch.Generator().manual_seed(3)
    )
    boxes = batch.crop_boxes
    assert (
        torch.equal(boxes, boxes.round()) and (boxes >= 0).all() and (boxes <= TINY_SIZE).all()
    )  # integer, clipped
    assert batch.target_silhouettes.shape == (6, 32, 32) and batch.target_silhouettes.dtype == torch.bool
    # The target silhouette is the clean one: at least as large as the augmented input's, resized.
    small_input = torch.nn.functional.interpolate(batch.inputs[:, :1], size=32, mode="nearest")[:, 0]
    assert (batch.target_silhouettes.float().sum((1, 2)) >= 0.7 * small_input.sum((1, 2))).all()


# ----------------------------------------------------------------------------------------------------------
# Losses.


def test_multi_task_loss_initialisation_and_formula():
    weights = {"verts": 1.0, "joints3D": 1.0, "joints2D": 0.1, "pose_params": 0.1, "shape_params": 0.1}
    criterion = HomoscedasticMultiTaskLoss(["verts", "joints2D", "shape_params"], weights)
    names = [name for name, _ in criterion.named_parameters()]
    assert sorted(names) == sorted(f"{task}_log_var" for task in ORIGINAL_TASKS)
    assert criterion.verts_log_var.item() == pytest.approx(-1e-6, abs=1e-9)
    assert criterion.joints2D_log_var.item() == pytest.approx(2.302575, abs=1e-6)
    trainable = {name for name, p in criterion.named_parameters() if p.requires_grad}
    assert trainable == {"verts_log_var", "joints2D_log_var", "shape_params_log_var"}
    # The original's criterion_state_dict (5 scalars) loads strictly.
    original = {f"{task}_log_var": torch.tensor(0.5 + i) for i, task in enumerate(ORIGINAL_TASKS)}
    criterion.load_state_dict(original, strict=True)
    losses = {"verts": torch.tensor(2.0), "joints2D": torch.tensor(3.0), "shape_params": torch.tensor(5.0)}
    total, weighted = criterion(losses)
    s = {task: criterion.log_var(task).item() for task in losses}
    expected = sum(value.item() * math.exp(-s[task]) + s[task] for task, value in losses.items())
    assert total.item() == pytest.approx(expected, rel=1e-6)
    assert set(weighted) == set(losses)
    assert weighted["joints2D"].item() == pytest.approx(3.0 * math.exp(-s["joints2D"]), rel=1e-6)
    total.backward()
    assert criterion.joints3D_log_var.grad is None and criterion.verts_log_var.grad is not None
    # Silhouette log-variance only when the task is on; a missing initial weight is named.
    assert "silhouette_log_var" not in dict(criterion.named_parameters())
    with pytest.raises(ConfigError, match="loss.init_loss_weights.silhouette"):
        HomoscedasticMultiTaskLoss(["verts", "silhouette"], weights)
    with pytest.raises(ConfigError, match="Unknown loss tasks"):
        HomoscedasticMultiTaskLoss(["vertices"], weights)


def _perfect_prediction(batch, bundle, config) -> BodyEstimate:
    """The target bodies with the weak-perspective camera that matches the render and the crop."""
    focal, centre = config.camera.focal_length, TINY_SIZE / 2
    side = batch.crop_boxes[:, 2] - batch.crop_boxes[:, 0]
    s = 2 * focal / (side * batch.cam_t[:, 2])
    offset = (2 * (centre - batch.crop_boxes[:, :2]) / side[:, None] - 1) / s[:, None]
    cam_wp = torch.cat((s[:, None], batch.cam_t[:, :2] + offset), dim=1)
    body = bundle(batch.target_pose_rotmats, batch.target_betas)
    return BodyEstimate(
        cam_wp=cam_wp,
        pose_rotmats=batch.target_pose_rotmats,
        betas=batch.target_betas,
        vertices=body.vertices.clone().requires_grad_(True),
        coco17=body.coco17,
        lsp14=body.lsp14,
        coco17_normalised=weak_perspective_project(body.coco17, cam_wp),
    )


def test_task_losses_vanish_for_the_targets_and_see_the_camera(assets, bundle):
    config = tiny_config(
        assets,
        "loss.losses_on=[verts, joints3D, joints2D, pose_params, shape_params, silhouette]",
        "loss.init_loss_weights.silhouette=0.1",
        "loss.silhouette_wh=32",
    )
    batch = SyntheticBatchGenerator(bundle, config, "cpu").generate(_poses(4), train=False)
    prediction = _perfect_prediction(batch, bundle, config)
    silhouette = SilhouetteLoss(bundle.faces, config.camera.focal_length * 32 / TINY_SIZE)
    losses = task_losses(prediction, batch, config.loss.losses_on, TINY_SIZE, silhouette)
    for task in ("verts", "joints3D", "pose_params", "shape_params"):
        assert losses[task].item() == 0.0
    # 2D: the weak-perspective camera agrees with the perspective render to a fraction of a pixel.
    assert math.sqrt(losses["joints2D"].item()) * TINY_SIZE / 2 < 0.3
    assert losses["silhouette"].item() < 0.02
    losses["silhouette"].backward()
    assert prediction.vertices.grad.abs().sum() > 0
    # A camera shifted by a tenth of the crop raises both camera-dependent terms.
    shifted = _perfect_prediction(batch, bundle, config)
    shifted.cam_wp = shifted.cam_wp + torch.tensor([0.0, 0.1, 0.0]) / shifted.cam_wp[:, :1]
    shifted.coco17_normalised = shifted.coco17_normalised + torch.tensor([0.1, 0.0])
    worse = task_losses(shifted, batch, config.loss.losses_on, TINY_SIZE, silhouette)
    assert worse["silhouette"] > 3 * losses["silhouette"] and worse["joints2D"] > 10 * losses["joints2D"]


def test_joints2d_loss_counts_visible_joints_only():
    batch = type("Targets", (), {})()
    batch.target_joints2d = torch.full((2, 17, 2), 32.0)  # the crop centre: normalised 0
    batch.joints2d_visible = torch.zeros(2, 17, dtype=torch.bool)
    batch.joints2d_visible[0, :3] = True
    joints2d = torch.zeros(2, 17, 2, requires_grad=True)
    with torch.no_grad():
        joints2d[0, :3] = 0.5  # visible joints off by 0.5
        joints2d[0, 3:] = 9.0  # invisible joints far off: ignored
        joints2d[1] = 9.0
    prediction = BodyEstimate(None, None, None, None, None, None, joints2d)
    loss = task_losses(prediction, batch, ["joints2D"], 64)["joints2D"]
    assert loss.item() == pytest.approx(0.25)
    batch.joints2d_visible[:] = False
    none_visible = task_losses(prediction, batch, ["joints2D"], 64)["joints2D"]
    none_visible.backward()
    assert none_visible.item() == 0.0 and torch.isfinite(joints2d.grad).all()
