"""Evaluation: metric glue by hand, dataset readers, the loop with perfect predictions, the CLI end to end.

Tiny SSP-3D-format and 3DPW-format datasets are written by fixtures of conftest.py with the fake SMPL
assets of tests/smpl_fixture.py; the synthetic benchmark is generated with the shipped open body model.
Perfect predictions come from `tests.eval_helpers.GroundTruthSource`, which hands the loop the ground truth
itself through the `PredictionSource` protocol the real predictor uses.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import run_evaluate
from evaluation.datasets import DatasetError, ProxyInput, read_3dpw, read_ssp3d
from evaluation.loop import (
    DatasetInputs,
    DetectorInputs,
    GroundTruthBodies,
    PredictorSource,
    evaluate,
)
from evaluation.report import (
    METRIC_KEYS,
    SCENE_METRIC_KEYS,
    TargetBodies,
    body_metrics,
    format_table,
    write_report_json,
)
from evaluation.synthetic import (
    SyntheticBenchmarkConfig,
    ensure_synthetic_benchmark,
    generate_synthetic_benchmark,
)
from predict.detectors import make_detector
from predict.predictor import Predictor
from tests.eval_helpers import FOCAL, SIZE, GroundTruthSource, random_checkpoint, write_png
from tests.smpl_fixture import write_open_format_assets
from utils.metrics import lsp14_pelvis, root_align
from utils.rotations import axis_angle_to_rotmat

MM_METRICS = ("pve_pelvis", "pve_sc", "pve_pa", "pve_t_sc", "mpjpe_pelvis", "mpjpe_sc", "mpjpe_pa")


def random_points(batch: int, n: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, n, 3, generator=generator, dtype=torch.float64) * 0.3


# ------------------------------------------------------------------------------------- metrics by hand


def test_pelvis_alignment_by_hand():
    joints = torch.zeros(1, 14, 3, dtype=torch.float64)
    joints[0, 2] = torch.tensor([-0.1, 0.0, 0.0])  # right hip
    joints[0, 3] = torch.tensor([0.1, 0.2, 0.4])  # left hip
    assert torch.allclose(lsp14_pelvis(joints), torch.tensor([[0.0, 0.1, 0.2]], dtype=torch.float64))
    moved = root_align(joints, lsp14_pelvis(joints), torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64))
    assert torch.allclose(lsp14_pelvis(moved), torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64))
    assert torch.allclose(moved - joints, torch.tensor([1.0, 1.9, 2.8], dtype=torch.float64).expand(1, 14, 3))


def test_body_metrics_on_known_transforms():
    joints, vertices = random_points(3, 14, seed=0), random_points(3, 50, seed=1)
    target = TargetBodies(vertices, joints, random_points(3, 50, seed=2))
    # A translation is removed by every metric.
    shift = torch.tensor([0.3, -2.0, 40.0], dtype=torch.float64)
    errors = body_metrics(joints + shift, target, vertices + shift, target.tpose_vertices * 2.0 + shift)
    assert set(errors) == set(MM_METRICS)
    for key, value in errors.items():
        assert torch.allclose(value, torch.zeros(3, dtype=torch.float64), atol=1e-9), key

    # Scaling by 2 about the pelvis: the pelvis-aligned error is each point's distance from the pelvis;
    # scale correction and Procrustes undo it exactly.
    pelvis = lsp14_pelvis(joints)[:, None]
    errors = body_metrics(2.0 * (joints - pelvis) + pelvis, target, 2.0 * (vertices - pelvis) + pelvis)
    assert torch.allclose(errors["mpjpe_pelvis"], (joints - pelvis).norm(dim=-1).mean(-1))
    assert torch.allclose(errors["pve_pelvis"], (vertices - pelvis).norm(dim=-1).mean(-1))
    for key in ("mpjpe_sc", "mpjpe_pa", "pve_sc", "pve_pa"):
        assert errors[key].abs().max() < 1e-9, key
    assert "pve_t_sc" not in errors  # no predicted T-pose, no shape metric

    # A rotation about the pelvis survives scale correction but not Procrustes.
    rot = axis_angle_to_rotmat(torch.tensor([0.0, 0.5, 0.0], dtype=torch.float64))
    errors = body_metrics((joints - pelvis) @ rot.T + pelvis, target)
    assert errors["mpjpe_pelvis"].min() > 0.01 and errors["mpjpe_sc"].min() > 0.01
    assert errors["mpjpe_pa"].max() < 1e-9


# ------------------------------------------------------------------------------------------- readers


def test_ssp3d_reader(ssp3d_dir):
    dataset = read_ssp3d(ssp3d_dir)
    assert len(dataset) == 5 and dataset.body_model == "smpl" and dataset.focal_length == FOCAL
    assert dataset.genders.tolist() == ["m", "f", "m", "f", "m"]
    item = dataset.proxy_input(2)
    assert item.silhouette.shape == (SIZE, SIZE) and item.silhouette.dtype == bool and item.silhouette.any()
    assert item.keypoints.shape == (17, 3)
    # The rendered joints fall on the rendered silhouette (a check of the fixture's camera convention).
    u, v = item.keypoints[5:, 0].astype(int), item.keypoints[5:, 1].astype(int)
    assert item.silhouette[v, u].mean() > 0.8
    assert np.array_equal(dataset.gt_silhouette(2), item.silhouette)


def test_3dpw_reader_and_file_keys(pw3d_dir):
    dataset = read_3dpw(pw3d_dir)
    assert dataset.sample_ids == (
        "imageFiles__courtyard_a_00__image_00000__person0",
        "imageFiles__courtyard_a_00__image_00000__person1",
        "imageFiles__courtyard_a_00__image_00001",
        "imageFiles__office_b_01__image_00000",
    )
    assert dataset.gt_silhouettes is None and dataset.cam_trans is None
    np.testing.assert_allclose(dataset.person_boxes[0], [50.0, 90.0, 350.0, 390.0])  # side 200 * 1.5
    assert dataset.image_paths[3] == pw3d_dir / "imageFiles/office_b_01/image_00000.jpg"
    assert dataset.proxy_input(3).silhouette.shape == (480, 640)


@pytest.mark.reliability
def test_missing_or_malformed_files_say_what_is_expected_where(tmp_path, ssp3d_dir):
    with pytest.raises(DatasetError, match="labels not found at .*labels.npz: .*images/ and silhouettes/"):
        read_ssp3d(tmp_path)
    with pytest.raises(DatasetError, match="3dpw_test.npz"):
        read_3dpw(tmp_path)
    content = dict(np.load(ssp3d_dir / "labels.npz"))
    np.savez(tmp_path / "labels.npz", **content)
    with pytest.raises(DatasetError, match="folder .*images not found"):
        read_ssp3d(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "silhouettes").mkdir()
    np.savez(tmp_path / "labels.npz", fnames=np.array(["a.png"]), poses=np.zeros((1, 72)))
    with pytest.raises(DatasetError, match="lacks the keys shapes, genders"):
        read_ssp3d(tmp_path)
    np.savez(tmp_path / "labels.npz", **{**content, "poses": np.zeros((5, 69))})
    with pytest.raises(DatasetError, match=r"poses has shape \(5, 69\), expected \(5, 72\)"):
        read_ssp3d(tmp_path)
    np.savez(tmp_path / "labels.npz", **{**content, "genders": np.array(["m", "x", "f", "f", "m"])})
    with pytest.raises(DatasetError, match=r"genders has unknown values \['x'\]"):
        read_ssp3d(tmp_path)

    # Usage errors exit 2 (file errors exit 1: next test).
    with pytest.raises(SystemExit) as exit_info:
        run_evaluate.parse_args(["--dataset", "3dpw"])
    assert exit_info.value.code == 2


def test_missing_dataset_message_from_the_script(tmp_path, capsys):
    assert run_evaluate.main(["--dataset", "3dpw", "--data_dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: 3DPW labels not found at {tmp_path / '3dpw_test.npz'}: pass --data_dir")
    assert "\n" not in err and "Traceback" not in err


# ------------------------------------------------------------------------------ perfect predictions


def assert_perfect(report, with_iou: bool) -> None:
    assert report.num_failed == 0
    for key in MM_METRICS:
        assert report.aggregates[key] == pytest.approx(0.0, abs=1e-2), key  # mm
        for sample in report.samples:
            assert sample.metrics[key] == pytest.approx(0.0, abs=1e-2), key
    if with_iou:
        # The ground-truth silhouettes are renders of the same meshes by the same rasterizer: exactly 1.
        assert report.aggregates["miou"] == 1.0 and report.aggregates["iou_pooled"] == 1.0
    else:
        assert "miou" not in report.aggregates and "iou_pooled" not in report.aggregates


def test_perfect_predictions_on_ssp3d_give_zero_error(ssp3d_dir, ground_truth):
    dataset = read_ssp3d(ssp3d_dir)
    report = evaluate(
        dataset,
        GroundTruthSource(ground_truth),
        DatasetInputs(dataset),
        ground_truth,
        batch_size=2,
        progress=False,
    )
    assert len(report.samples) == 5 and [s.sample_id for s in report.samples] == list(dataset.sample_ids)
    assert_perfect(report, with_iou=True)
    table = format_table(report)
    assert "PVE-T-SC *" in table and "mIOU *" in table and "mean of per-image IoUs" in table
    assert "IoU (pooled)" in table and "5 samples evaluated, 0 failed" in table


def test_imperfect_shape_and_failed_sample(ssp3d_dir, ground_truth, tmp_path):
    """Betas off by a known amount give a positive PVE-T-SC; a sample without its silhouette file fails
    alone, with its reason, and stays out of the means."""

    class OffShape(GroundTruthSource):
        def predict(self, batch):
            prediction = super().predict(batch)
            prediction.betas = batch.betas + torch.tensor([2.0] + [0.0] * 9)
            return prediction

    dataset = read_ssp3d(ssp3d_dir)
    masks = list(dataset.input_masks)
    masks[1] = tmp_path / "missing.png"
    broken = type(dataset)(**{**dataset.__dict__, "input_masks": tuple(masks)})
    report = evaluate(broken, OffShape(ground_truth), DatasetInputs(broken), ground_truth, progress=False)
    assert report.num_failed == 1 and report.samples[1].status == "failed"
    assert "missing.png" in report.samples[1].reason
    ok = [s for s in report.samples if s.status == "ok"]
    assert len(ok) == 4
    # PVE-T-SC only sees the shape: it is the same sample by sample as a direct computation.
    rows = [0, 2, 3, 4]
    genders = [str(dataset.genders[i]) for i in rows]
    betas = torch.from_numpy(dataset.betas[rows])
    truth = ground_truth.tpose(betas, genders)
    off = ground_truth.tpose(betas + torch.tensor([2.0] + [0.0] * 9), genders)
    expected = body_metrics(
        torch.zeros(4, 14, 3), TargetBodies(truth, torch.zeros(4, 14, 3), truth), None, off
    )
    np.testing.assert_allclose([s.metrics["pve_t_sc"] for s in ok], expected["pve_t_sc"] * 1000, rtol=1e-5)
    assert min(s.metrics["pve_t_sc"] for s in ok) > 1.0  # mm
    assert report.aggregates["pve_t_sc"] == pytest.approx(np.mean([s.metrics["pve_t_sc"] for s in ok]))
    assert report.aggregates["mpjpe_pa"] == pytest.approx(0.0, abs=1e-2)  # the pose is still perfect
    document = json.loads(write_report_json(report, tmp_path / "r.json").read_text())
    assert document["num_failed"] == 1 and document["samples"][1]["reason"] == report.samples[1].reason


def test_per_image_and_pooled_iou_through_the_loop(ssp3d_dir, ground_truth, tmp_path):
    """Crafted ground-truth silhouettes: sample 0 loses the lower half of its body, sample 1 is replaced
    by a 3 x 3 square elsewhere; the others stay exact. Per-image, mean and pooled IoUs follow by hand."""
    dataset = read_ssp3d(ssp3d_dir)
    full = [dataset.gt_silhouette(i) for i in range(5)]
    upper = full[0].copy()
    rows = np.flatnonzero(upper.any(axis=1))
    upper[(rows[0] + rows[-1]) // 2 :] = False
    square = np.zeros((SIZE, SIZE), dtype=bool)
    square[:3, :3] = True
    assert not (square & full[1]).any()
    targets = list(dataset.gt_silhouettes)
    for i, mask in ((0, upper), (1, square)):
        targets[i] = tmp_path / f"target_{i}.png"
        write_png(targets[i], mask.astype(np.uint8) * 255)
    crafted = type(dataset)(**{**dataset.__dict__, "gt_silhouettes": tuple(targets)})
    report = evaluate(
        crafted,
        GroundTruthSource(ground_truth),
        DatasetInputs(crafted),
        ground_truth,
        batch_size=3,
        progress=False,
    )
    per_image = [upper.sum() / full[0].sum(), 0.0, 1.0, 1.0, 1.0]
    np.testing.assert_allclose([s.metrics["miou"] for s in report.samples], per_image)
    assert report.aggregates["miou"] == pytest.approx(np.mean(per_image))
    union = full[0].sum() + full[1].sum() + 9 + sum(m.sum() for m in full[2:])
    pooled = (upper.sum() + sum(m.sum() for m in full[2:])) / union
    assert report.aggregates["iou_pooled"] == pytest.approx(pooled)
    assert abs(pooled - np.mean(per_image)) > 0.02  # the two IoUs weight the images differently


def test_perfect_predictions_on_3dpw_give_zero_error(pw3d_dir, ground_truth):
    dataset = read_3dpw(pw3d_dir)
    report = evaluate(
        dataset, GroundTruthSource(ground_truth), DatasetInputs(dataset), ground_truth, progress=False
    )
    assert_perfect(report, with_iou=False)
    assert any("no ground-truth silhouettes" in note for note in report.notes)
    assert "MPJPE *" in format_table(report) and "PA-MPJPE *" in format_table(report)


def test_detector_inputs_match_the_dataset_files(ssp3d_dir, pw3d_dir, tmp_path):
    """The detector path (image read, detection, person choice) with the precomputed backend as detector."""
    dataset = read_ssp3d(ssp3d_dir)
    keypoints_dir = tmp_path / "keypoints"
    keypoints_dir.mkdir()
    for i, fname in enumerate(dataset.sample_ids):
        np.save(keypoints_dir / f"{Path(fname).stem}.npy", dataset.input_keypoints[i])
    detector = make_detector(
        "precomputed", "precomputed", mask_dir=ssp3d_dir / "silhouettes", keypoints_dir=keypoints_dir
    )
    detected = DetectorInputs(dataset, detector, "precomputed files")(3)
    expected = DatasetInputs(dataset)(3)
    assert np.array_equal(detected.silhouette, expected.silhouette)
    np.testing.assert_allclose(detected.keypoints, expected.keypoints)

    # 3DPW: the detector sees the labelled person's box resampled to 512 x 512.
    pw3d = read_3dpw(pw3d_dir)
    frame = np.zeros((480, 640, 3), dtype=np.uint8)
    write_png(pw3d.image_paths[2], frame)
    crop_dir = tmp_path / "crop_masks"
    write_png(crop_dir / "image_00001.png", np.full((512, 512), 255, dtype=np.uint8))
    np.save(crop_dir / "image_00001.npy", np.full((17, 3), 100.0, dtype=np.float32))
    item = DetectorInputs(pw3d, make_detector("precomputed", "precomputed", mask_dir=crop_dir), "crop")(2)
    assert isinstance(item, ProxyInput) and item.silhouette.shape == (512, 512)


# ------------------------------------------------------------------------------------ synthetic data


def test_synthetic_benchmark_is_seeded_and_read_as_ssp3d(tmp_path):
    config = SyntheticBenchmarkConfig(num_samples=4)
    first = generate_synthetic_benchmark(tmp_path / "a", config, progress=False)
    again = generate_synthetic_benchmark(
        tmp_path / "b", SyntheticBenchmarkConfig(num_samples=3), progress=False
    )
    labels, labels_again = np.load(first / "labels.npz"), np.load(again / "labels.npz")
    for key in ("poses", "shapes", "cam_trans"):
        np.testing.assert_array_equal(labels[key][:3], labels_again[key])  # sample i depends on seed + i only
    np.testing.assert_allclose(labels["joints2D"][:3], labels_again["joints2D"], atol=1e-3)
    assert labels["genders"].tolist() == ["n"] * 4 and str(labels["body_model"]) == "open"
    image = cv2.imread(str(first / "images" / "synthetic_00000.png"))
    assert image.shape == (SIZE, SIZE, 3)

    dataset = read_ssp3d(first, name="synthetic")
    assert dataset.body_model == "open" and len(dataset) == 4
    # Projected joints are inside the body's silhouette, and the shaded image shows the body there.
    item = dataset.proxy_input(0)
    u, v = item.keypoints[5:, 0].astype(int), item.keypoints[5:, 1].astype(int)
    assert item.silhouette[v, u].mean() > 0.8
    assert (image[item.silhouette] != 128).any(axis=-1).mean() > 0.95
    assert (image[~item.silhouette] == 128).all()

    bodies = GroundTruthBodies("open")
    report = evaluate(dataset, GroundTruthSource(bodies), DatasetInputs(dataset), bodies, progress=False)
    assert_perfect(report, with_iou=True)

    assert ensure_synthetic_benchmark(first, config, progress=False) == first  # present: not regenerated
    with pytest.raises(DatasetError, match="made with other settings"):
        ensure_synthetic_benchmark(first, SyntheticBenchmarkConfig(num_samples=5), progress=False)


# ------------------------------------------------------------------------ the real predictor, end to end


BODY_METRIC_KEYS = set(METRIC_KEYS) - set(SCENE_METRIC_KEYS)  # what the single-person benchmarks report


def check_report(path: Path, dataset: str, num_samples: int, metrics: set[str]) -> dict:
    document = json.loads(path.read_text())
    assert document["dataset"] == dataset and document["num_samples"] == num_samples
    assert document["num_evaluated"] == num_samples and document["num_failed"] == 0
    assert set(document["metrics"]) == metrics
    for entry in document["metrics"].values():
        assert set(entry) == {"label", "value", "unit", "description", "headline"}
        assert math.isfinite(entry["value"]) and entry["value"] >= 0
    for sample in document["samples"]:
        assert sample["status"] == "ok" and set(sample["metrics"]) == metrics - {"iou_pooled"}
    assert {"checkpoint", "body_model", "inputs", "device"} <= set(document["settings"])
    return document


@pytest.mark.parametrize("dataset", ["ssp3d", "3dpw"])
def test_script_end_to_end_with_a_random_checkpoint(dataset, ssp3d_dir, pw3d_dir, smpl_dir, tmp_path, capsys):
    checkpoint = random_checkpoint(tmp_path / "ck" / "random.pt", smpl_dir, "smpl")
    data_dir = ssp3d_dir if dataset == "ssp3d" else pw3d_dir
    code = run_evaluate.main(
        ["--dataset", dataset, "--data_dir", str(data_dir), "--checkpoint", str(checkpoint)]
        + ["--additional_dir", str(smpl_dir), "--device", "cpu", "--batch_size", "3", "--limit", "4"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "4 samples evaluated, 0 failed" in out and "PA-MPJPE" in out
    with_iou = {"miou", "iou_pooled"} if dataset == "ssp3d" else set()
    check_report(
        tmp_path / "ck" / f"eval_{dataset}.json",
        dataset,
        4,
        BODY_METRIC_KEYS - {"miou", "iou_pooled"} | with_iou,
    )


def test_script_generates_the_synthetic_benchmark_on_first_use(tmp_path, capsys):
    checkpoint = random_checkpoint(tmp_path / "random.pt", "additional", "open")
    data_dir, out = tmp_path / "synthetic", tmp_path / "report.json"
    args = ["--dataset", "synthetic", "--data_dir", str(data_dir), "--checkpoint", str(checkpoint)]
    args += ["--num_samples", "3", "--device", "cpu", "--out", str(out)]
    assert run_evaluate.main(args) == 0
    assert (data_dir / "labels.npz").is_file() and len(list((data_dir / "silhouettes").iterdir())) == 3
    document = check_report(out, "synthetic", 3, BODY_METRIC_KEYS)
    assert 0.0 <= document["metrics"]["miou"]["value"] <= 1.0
    assert document["settings"]["ground_truth_body_model"] == "open"
    # Refinement is on by default: the regressor alone (the paper's protocol) is reported beside it.
    assert document["settings"]["refine_steps"] > 0
    assert set(document["metrics_regressor"]) == BODY_METRIC_KEYS
    assert all(set(s["metrics_regressor"]) == set(s["metrics"]) for s in document["samples"])
    printed = capsys.readouterr().out
    assert "regressor   refined" in printed and f"report: {out}" in printed


def test_other_body_model_than_the_ground_truth(ssp3d_dir, ground_truth, smpl_dir, tmp_path):
    """Open-model predictions on SMPL ground truth: joint metrics and IoU only, and a note saying why."""
    write_open_format_assets(smpl_dir)
    checkpoint = random_checkpoint(tmp_path / "open.pt", smpl_dir, "open")
    predictor = Predictor.from_checkpoint(checkpoint, additional_dir=smpl_dir, device="cpu", fit_scores=False)
    dataset = read_ssp3d(ssp3d_dir)
    report = evaluate(
        dataset, PredictorSource(predictor), DatasetInputs(dataset), ground_truth, progress=False
    )
    assert set(report.aggregates) == {"mpjpe_pelvis", "mpjpe_sc", "mpjpe_pa", "miou", "iou_pooled"}
    assert any("open body model and the ground truth the smpl one" in note for note in report.notes)


def test_the_joint_threshold_default_follows_the_joint_source():
    args = run_evaluate.parse_args(["--dataset", "synthetic", "--joints_from", "keypointrcnn"])
    assert args.joint_threshold is None  # resolved when the run starts:
    from predict.detectors import joint_threshold

    assert joint_threshold(args.joint_threshold, args.joints_from) == 0.05
    assert joint_threshold(None, "precomputed") == 0.3
