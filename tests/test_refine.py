"""Fit refinement: it recovers a known body from a perturbed start, keeps cut-off bodies cut, leaves
uninformative masks alone, and 0 steps is the regressor exactly."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from models.bundle import load_bundle
from predict.predictor import Predictor
from predict.refine import RefineConfig, RefineInputs, Refiner, crop_pixels_in_image, hidden_leg_joints
from renderers import silhouette
from renderers.decimate import cluster_decimate, decimate_to_faces
from utils.cameras import weak_perspective_project, weak_perspective_to_translation
from utils.metrics import silhouette_iou
from utils.rotations import axis_angle_to_rotmat, rot6d_to_rotmat, rotmat_to_rot6d

DEMO = Path(__file__).resolve().parents[1] / "demo"
CROP = 128
FOCAL = 5000.0 / 256.0 * CROP


@pytest.fixture(scope="module")
def bundle():
    return load_bundle("open")


@pytest.fixture(scope="module")
def refiner(bundle):
    return Refiner(bundle, RefineConfig(steps=20))


def _true_bodies(bundle, batch_size: int, seed: int = 0):
    """Upright bodies with a random pose and shape, and their crop cameras."""
    generator = torch.Generator().manual_seed(seed)
    pose = 0.25 * torch.randn(batch_size, 24, 3, generator=generator)
    pose[:, 0] = torch.tensor([math.pi, 0.0, 0.0])
    betas = torch.randn(batch_size, 10, generator=generator)
    cam_wp = torch.tensor([[0.95, 0.0, 0.1]]).repeat(batch_size, 1)
    return axis_angle_to_rotmat(pose), betas, cam_wp


def _observe(bundle, rotmats, betas, cam_wp):
    """Crop silhouettes (B, S, S) and COCO joints (B, 17, 2) in crop pixels of bodies seen by the crop
    camera."""
    body = bundle(rotmats, betas)
    translation = weak_perspective_to_translation(cam_wp, FOCAL, CROP)
    masks = silhouette(body.vertices + translation[:, None], bundle.faces, FOCAL, None, (CROP, CROP))
    joints = (weak_perspective_project(body.coco17, cam_wp) + 1.0) * (CROP / 2.0)
    return masks, joints


def _inputs(masks, joints, in_image=None):
    weights = torch.ones(joints.shape[:2])
    in_image = torch.ones_like(masks) if in_image is None else in_image
    return RefineInputs(silhouettes=masks, joints=joints, joint_weights=weights, in_image=in_image)


def test_fit_recovers_a_perturbed_body(bundle, refiner):
    rotmats, betas, cam_wp = _true_bodies(bundle, 3)
    masks, joints = _observe(bundle, rotmats, betas, cam_wp)
    generator = torch.Generator().manual_seed(1)
    noise = axis_angle_to_rotmat(0.12 * torch.randn(3, 24, 3, generator=generator))
    start_rotmats = rotmats @ noise
    start_betas = betas + 0.5 * torch.randn(3, 10, generator=generator)
    start_cam = cam_wp + torch.tensor([0.08, 0.05, -0.04])
    start_pose6d = rotmat_to_rot6d(start_rotmats).reshape(3, -1)

    result = refiner.refine(start_cam, start_pose6d, start_betas, _inputs(masks, joints))

    def scores(rot6d, shape, cam):
        fitted_masks, fitted_joints = _observe(bundle, rot6d_to_rotmat(rot6d.reshape(3, 24, 6)), shape, cam)
        return silhouette_iou(fitted_masks, masks), (fitted_joints - joints).norm(dim=-1).mean(1)

    iou_before, joints_before = scores(start_pose6d, start_betas, start_cam)
    iou_after, joints_after = scores(result.pose6d, result.betas, result.cam_wp)
    # From IoU 0.39-0.48 and 7-9 px joint errors (128 px crop) to about 0.77-0.81 and 1-1.4 px.
    assert (iou_after > iou_before + 0.2).all(), (iou_before, iou_after)
    assert (iou_after > 0.7).all(), iou_after
    assert (joints_after < 0.3 * joints_before).all(), (joints_before, joints_after)
    assert (result.objective_end < result.objective_start).all()
    assert not result.kept_regressor.any()


def test_whole_image_and_empty_masks_keep_the_regressor_result(bundle, refiner):
    rotmats, betas, cam_wp = _true_bodies(bundle, 2, seed=3)
    _, joints = _observe(bundle, rotmats, betas, cam_wp)
    masks = torch.zeros(2, CROP, CROP, dtype=torch.bool)
    masks[0] = True  # the whole crop: the mask says nothing of the outline
    pose6d = rotmat_to_rot6d(rotmats).reshape(2, -1)
    result = refiner.refine(cam_wp, pose6d, betas, _inputs(masks, joints))
    assert result.kept_regressor.all()
    assert torch.equal(result.pose6d, pose6d) and torch.equal(result.betas, betas)
    assert torch.equal(result.cam_wp, cam_wp)
    assert all("not refined" in note for note in result.notes)


def test_a_body_cut_at_the_image_border_stays_cut(bundle, refiner):
    rotmats, betas, cam_wp = _true_bodies(bundle, 1, seed=5)
    masks, joints = _observe(bundle, rotmats, betas, cam_wp)
    # The photo ends at row 80 of the crop: everything below is padding, the legs run out of the frame.
    in_image = torch.zeros_like(masks)
    in_image[:, :80] = True
    masks = masks & in_image
    weights_visible = joints[..., 1] < 80
    inputs = RefineInputs(masks, joints, weights_visible.float(), in_image)
    start_cam = cam_wp + torch.tensor([0.03, 0.0, 0.02])
    pose6d = rotmat_to_rot6d(rotmats).reshape(1, -1)
    result = refiner.refine(start_cam, pose6d, betas, inputs)
    rotmats = rot6d_to_rotmat(result.pose6d.reshape(1, 24, 6))
    fitted, fitted_joints = _observe(bundle, rotmats, result.betas, result.cam_wp)
    # The body still reaches past the border (ankles, COCO 15 and 16, far below row 80) ...
    assert (fitted_joints[0, 15:, 1] > 100).all()
    # ... and fits what the photo shows.
    assert silhouette_iou(fitted & in_image, masks) > 0.85


def test_crop_pixels_in_image():
    boxes = torch.tensor([[-10.0, -10.0, 30.0, 30.0]])  # 40 px box over a 20 x 25 (h x w) image
    inside = crop_pixels_in_image(boxes, torch.tensor([[20.0, 25.0]]), 8)
    # Crop pixel k covers image coordinates -10 + 5 k .. -10 + 5 (k + 1), centre -7.5 + 5 k.
    expected_rows = (torch.arange(8) * 5 - 7.5 >= 0) & (torch.arange(8) * 5 - 7.5 < 20)
    expected_cols = (torch.arange(8) * 5 - 7.5 >= 0) & (torch.arange(8) * 5 - 7.5 < 25)
    assert torch.equal(inside[0], expected_rows[:, None] & expected_cols[None, :])


def test_decimated_mesh_keeps_the_silhouette(bundle):
    rest = bundle.tpose_vertices(bundle.mean_params[None, -10:])[0].numpy()
    groups = bundle.skinning_weights.argmax(1).numpy()
    mesh = decimate_to_faces(rest, bundle.faces.numpy(), groups, 2000)
    assert 1500 <= mesh.faces.shape[0] <= 2500
    assert mesh.faces.min() >= 0 and mesh.faces.max() < mesh.vertex_index.shape[0]
    assert (mesh.faces != np.roll(mesh.faces, 1, axis=1)).all()  # no degenerate triangle
    rotmats, betas, cam_wp = _true_bodies(bundle, 2, seed=7)
    body = bundle(rotmats, betas)
    vertices = body.vertices + weak_perspective_to_translation(cam_wp, FOCAL / 2, CROP // 2)[:, None]
    full = silhouette(vertices, bundle.faces, FOCAL / 2, None, (CROP // 2, CROP // 2))
    coarse = silhouette(
        vertices[:, torch.as_tensor(mesh.vertex_index)], torch.as_tensor(mesh.faces), FOCAL / 2, None,
        (CROP // 2, CROP // 2),
    )  # fmt: skip
    assert (silhouette_iou(coarse, full) > 0.9).all()


def test_clustering_never_merges_vertices_of_different_groups():
    # Two unit squares 1 mm apart, in different groups: a 1 m cell would merge them were groups ignored.
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=np.float64)
    vertices = np.concatenate([square, square + [0, 0, 0.001]])
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    groups = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    mesh = cluster_decimate(vertices, faces, groups, cell_size=0.6)
    kept_groups = groups[mesh.vertex_index]
    for face in mesh.faces:
        assert len(set(kept_groups[face].tolist())) == 1


def _demo_inputs(count: int) -> tuple[list[np.ndarray], np.ndarray]:
    """The first demo renders' exact silhouettes and COCO keypoints."""
    stems = sorted(path.stem for path in DEMO.glob("render_*.jpg"))[:count]
    masks = [cv2.imread(str(DEMO / "ground_truth" / "masks" / f"{stem}.png"), 0) > 0 for stem in stems]
    keypoints = np.stack([np.load(DEMO / "ground_truth" / "keypoints" / f"{stem}.npy") for stem in stems])
    return masks, keypoints.astype(np.float32)


def test_zero_steps_is_the_regressor_exactly():
    masks, keypoints = _demo_inputs(2)
    plain = Predictor.from_checkpoint(device="cpu")
    zero = Predictor.from_checkpoint(device="cpu", refine=RefineConfig(steps=0))
    refined = Predictor.from_checkpoint(device="cpu", refine=RefineConfig(steps=3))
    a, b = plain.predict_proxy(masks, keypoints), zero.predict_proxy(masks, keypoints)
    assert b.regressor is None
    for name in ("cam_wp", "pose_rotmats", "betas", "cam_t", "body_vertices", "silhouette_iou"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    c = refined.predict_proxy(masks, keypoints)
    assert c.regressor is not None
    # The refined run reports the regressor's own result unchanged beside its own.
    assert torch.equal(c.regressor.betas, a.betas) and torch.equal(c.regressor.cam_t, a.cam_t)
    assert torch.equal(c.regressor.silhouette_iou, a.silhouette_iou)
    assert not torch.equal(c.betas, a.betas)


def test_run_predict_writes_both_results(tmp_path):
    import json
    import shutil

    import run_predict

    images = tmp_path / "images"
    images.mkdir()
    for stem in ("render_01_standing", "render_04_crouching"):
        shutil.copy(DEMO / f"{stem}.jpg", images)
    truth = DEMO / "ground_truth"
    argv = ["--input", str(images), "--silh_from", "precomputed", "--mask_dir", str(truth / "masks")]
    options = [
        "--keypoints_dir",
        str(truth / "keypoints"),
        "--quiet",
        "--no-side",
        "--no-tpose",
        "--no-proxy",
    ]
    assert run_predict.main([*argv, *options, "--no-overlay", "--refine_steps", "12"]) == 0
    output = tmp_path / "images_straps_output"
    summary = json.loads((output / "summary.json").read_text())
    assert summary["run"]["refine_steps"] == 12
    for entry in summary["images"]:
        fit = entry["fit"]
        assert fit["silhouette_iou"] > fit["regressor"]["silhouette_iou"]
        assert fit["refinement"]["objective_end"] < fit["refinement"]["objective_start"]
        assert fit["refinement"]["kept_regressor"] is False
        with np.load(output / f"{Path(entry['path']).stem}.npz") as data:
            for key in ("pose", "betas", "cam_wp", "cam_t", "pose_rotmats"):
                assert data[f"{key}_regressor"].shape == data[key].shape
            assert not np.array_equal(data["betas"], data["betas_regressor"])


def test_hidden_leg_joints_follow_the_knees_and_ankles():
    size = 16
    joints = torch.full((3, 17, 2), 4.0)
    weights = torch.ones(3, 17)
    weights[0, 13] = 0.0  # left knee undetected: the whole left leg is hidden
    weights[1, 16] = 0.0  # right ankle undetected: the right knee's rotation and below
    joints[2, 14] = torch.tensor([4.0, 14.0])  # right knee detected but below the picture's border
    in_image = torch.zeros(3, size, size, dtype=torch.bool)
    in_image[:, :10] = True
    inputs = RefineInputs(torch.zeros(3, size, size, dtype=torch.bool), joints, weights, in_image)
    hidden = hidden_leg_joints(inputs)
    assert hidden[0].nonzero().flatten().tolist() == [1, 4, 7, 10]
    assert hidden[1].nonzero().flatten().tolist() == [5, 8, 11]
    assert hidden[2].nonzero().flatten().tolist() == [2, 5, 8, 11]


def test_legs_the_picture_hides_stand_instead_of_keeping_the_regressors_squat(bundle):
    rotmats, betas, cam_wp = _true_bodies(bundle, 1, seed=9)
    squat = rotmats.clone()
    knee_bend = axis_angle_to_rotmat(torch.tensor([[[1.6, 0.0, 0.0]]]))[0, 0]
    hip_bend = axis_angle_to_rotmat(torch.tensor([[[-1.5, 0.0, 0.0]]]))[0, 0]
    squat[:, [1, 2]], squat[:, [4, 5]] = hip_bend, knee_bend
    masks, joints = _observe(bundle, rotmats, betas, cam_wp)
    in_image = torch.zeros_like(masks)
    in_image[:, : int(joints[0, 11:13, 1].max()) + 4] = True  # the picture ends just below the hips
    shown = (joints[..., 1] < in_image.sum(1).max()).float()
    inputs = RefineInputs(masks & in_image, joints, shown, in_image)
    start = rotmat_to_rot6d(squat).reshape(1, -1)
    legs = [1, 2, 4, 5]

    def leg_distance_to_standing(config):
        result = Refiner(bundle, config).refine(cam_wp, start, betas, inputs)
        fitted = rot6d_to_rotmat(result.pose6d.reshape(1, 24, 6))[0, legs]
        return (fitted - torch.eye(3)).square().sum((-1, -2)).sqrt().max()

    assert leg_distance_to_standing(RefineConfig(steps=10)) < 0.1
    assert leg_distance_to_standing(RefineConfig(steps=10, hidden_leg_weight=0.0)) > 1.0  # the squat stays


def test_a_start_turned_the_other_way_recovers_the_orientation(bundle):
    rotmats, betas, cam_wp = _true_bodies(bundle, 2, seed=11)
    masks, joints = _observe(bundle, rotmats, betas, cam_wp)
    half_turn = axis_angle_to_rotmat(torch.tensor([[[0.0, math.pi, 0.0]]]))[0, 0]
    wrong = rotmats.clone()
    wrong[:, 0] = half_turn @ rotmats[:, 0]  # the regressor's guess faces away from the camera
    start = rotmat_to_rot6d(wrong).reshape(2, -1)

    def root_error_degrees(turns):
        config = RefineConfig(steps=10, orientation_starts=turns)
        result = Refiner(bundle, config).refine(cam_wp, start, betas, _inputs(masks, joints))
        root = rot6d_to_rotmat(result.pose6d.reshape(2, 24, 6))[:, 0]
        cosine = ((root.transpose(-1, -2) @ rotmats[:, 0]).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
        return torch.rad2deg(torch.arccos(cosine.clamp(-1, 1)))

    assert (root_error_degrees((0.0, 180.0)) < 10).all()
    assert (root_error_degrees((0.0,)) > 90).all()
