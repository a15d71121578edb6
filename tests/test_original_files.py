# ruff: noqa: F811  (pytest fixtures imported from test_evaluate are redefined as arguments)
"""The original's files as its users have them: damaged assets, missing gendered models, the original's 3DPW
input layout. Every case ends in one sentence naming the file, before any work is done."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import run_evaluate
from data.pose_sources import NpzPoseSource, PoseFileError
from evaluation.datasets import DatasetError, read_3dpw, read_ssp3d, require_precomputed_inputs
from evaluation.loop import DatasetInputs, GroundTruthBodies, evaluate
from models.body_model import BodyModelAssetError, SMPLJointSuperset, load_regressor
from models.bundle import load_bundle
from tests.eval_helpers import GroundTruthSource, random_checkpoint
from tests.smpl_fixture import write_open_format_assets


def truncate(path: Path) -> None:
    """Keep the first half of a file, as an interrupted download does."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# ----------------------------------------------------------------------------------- damaged assets


@pytest.mark.parametrize(
    "name",
    [
        "J_regressor_h36m.npy",
        "cocoplus_regressor.npy",
        "vertex_texture.npy",
        "cube_parts.npy",
        "neutral_smpl_mean_params_6dpose.npz",
    ],
)
@pytest.mark.reliability
def test_a_truncated_smpl_asset_is_one_sentence_naming_it(name: str, smpl_dir: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(smpl_dir, tmp_path / "additional")
    truncate(copy / name)
    with pytest.raises(BodyModelAssetError) as error:
        load_bundle("smpl", additional_dir=copy)
    message = str(error.value)
    assert str(copy / name) in message and "\n" not in message


def test_an_object_array_regressor_is_refused_without_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "J_regressor_extra.npy"
    np.save(path, np.array([{"not": "numbers"}], dtype=object), allow_pickle=True)
    with pytest.raises(BodyModelAssetError, match=r"could not be read as a \.npy array of numbers"):
        load_regressor(path, 9, 6890)
    np.save(path, np.zeros((9, 6890)))
    truncate(path)
    with pytest.raises(BodyModelAssetError, match="J_regressor_extra.npy could not be read"):
        SMPLJointSuperset.from_dir(tmp_path)


@pytest.mark.reliability
def test_a_truncated_open_body_file_is_one_sentence(tmp_path: Path) -> None:
    root = write_open_format_assets(tmp_path / "additional")
    truncate(root / "open_body" / "OPEN_BODY_NEUTRAL.npz")
    with pytest.raises(BodyModelAssetError, match=r"OPEN_BODY_NEUTRAL\.npz could not be read as an \.npz"):
        load_bundle("open", additional_dir=root)


@pytest.mark.reliability
def test_a_truncated_training_pose_file_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "amass_up3d_3dpw_train.npz"
    np.savez(path, fnames=np.array(["a", "b"]), poses=np.zeros((2, 72)), shapes=np.zeros((2, 10)))
    truncate(path)
    with pytest.raises(PoseFileError, match=r"amass_up3d_3dpw_train\.npz could not be read .*BadZipFile"):
        NpzPoseSource(path)


# ----------------------------------------------------------------------------- gendered model files


class CountingSource(GroundTruthSource):
    """Perfect predictions that count how often they were asked for."""

    calls = 0

    def predict(self, batch):
        CountingSource.calls += 1
        return super().predict(batch)


def test_every_gendered_model_is_checked_before_the_first_sample(
    ssp3d_dir: Path,
    ground_truth: GroundTruthBodies,
    smpl_dir: Path,
    tmp_path: Path,
) -> None:
    without_female = shutil.copytree(smpl_dir, tmp_path / "additional")
    (without_female / "smpl" / "SMPL_FEMALE.pkl").unlink()
    dataset = read_ssp3d(ssp3d_dir)
    assert dataset.genders.tolist()[:2] == ["m", "f"]
    CountingSource.calls = 0
    with pytest.raises(BodyModelAssetError, match=r"SMPL_FEMALE\.pkl"):
        evaluate(
            dataset,
            CountingSource(ground_truth),
            DatasetInputs(dataset),
            GroundTruthBodies("smpl", without_female),
            batch_size=1,
            progress=False,
        )
    assert CountingSource.calls == 0
    # Only the genders of the samples that run are needed: the first sample is male.
    report = evaluate(
        dataset,
        CountingSource(ground_truth),
        DatasetInputs(dataset),
        GroundTruthBodies("smpl", without_female),
        limit=1,
        progress=False,
    )
    assert report.num_evaluated == 1


# ------------------------------------------------------------------------------ 3DPW input layouts


def original_layout_copy(pw3d_dir: Path, root: Path) -> Path:
    """The same samples with inputs in the original's folders: pointrend_R50FPN_masks/<imgname> and
    keypoint_rcnn_results/keypoints/<imgname stem>.npy (unique stems here)."""
    root.mkdir()
    with np.load(pw3d_dir / "3dpw_test.npz", allow_pickle=True) as labels:
        arrays = {key: labels[key] for key in labels.files}
    imgnames = [f"{Path(name).parent.name}_{Path(name).name}" for name in arrays["imgname"]]
    np.savez(root / "3dpw_test.npz", **{**arrays, "imgname": np.array(imgnames)})
    ours = read_3dpw(pw3d_dir)
    for index, name in enumerate(imgnames):
        (root / "pointrend_R50FPN_masks").mkdir(exist_ok=True)
        shutil.copy(ours.input_masks[index], root / "pointrend_R50FPN_masks" / name)
        keypoints = root / "keypoint_rcnn_results" / "keypoints"
        keypoints.mkdir(parents=True, exist_ok=True)
        shutil.copy(ours.input_keypoints[index], keypoints / f"{Path(name).stem}.npy")
    return root


def test_3dpw_inputs_in_the_original_layout_are_read(
    pw3d_dir: Path, smpl_dir: Path, tmp_path: Path, capsys
) -> None:
    root = original_layout_copy(pw3d_dir, tmp_path / "3dpw_original")
    dataset = read_3dpw(root)
    assert dataset.input_masks[2] == root / "pointrend_R50FPN_masks" / "courtyard_a_00_image_00001.jpg"
    assert (
        dataset.input_keypoints[2] == root / "keypoint_rcnn_results/keypoints/courtyard_a_00_image_00001.npy"
    )
    ours = read_3dpw(pw3d_dir).proxy_input(3)
    item = dataset.proxy_input(3)
    assert np.array_equal(item.silhouette, ours.silhouette) and np.array_equal(item.keypoints, ours.keypoints)
    checkpoint = random_checkpoint(tmp_path / "ck" / "random.pt", smpl_dir, "smpl")
    code = run_evaluate.main(
        ["--dataset", "3dpw", "--data_dir", str(root), "--checkpoint", str(checkpoint)]
        + ["--additional_dir", str(smpl_dir), "--device", "cpu", "--limit", "2"]
    )
    assert code == 0 and "2 samples evaluated, 0 failed" in capsys.readouterr().out


def test_3dpw_without_any_inputs_exits_1_with_a_sentence(
    pw3d_dir: Path, smpl_dir: Path, tmp_path: Path, capsys
) -> None:
    root = tmp_path / "3dpw_labels_only"
    root.mkdir()
    shutil.copy(pw3d_dir / "3dpw_test.npz", root)
    with pytest.raises(DatasetError, match=r"None of the 4 3dpw samples has precomputed inputs under"):
        require_precomputed_inputs(read_3dpw(root), 4)
    checkpoint = random_checkpoint(tmp_path / "ck" / "random.pt", smpl_dir, "smpl")
    out = tmp_path / "report.json"
    code = run_evaluate.main(
        ["--dataset", "3dpw", "--data_dir", str(root), "--checkpoint", str(checkpoint), "--out", str(out)]
        + ["--additional_dir", str(smpl_dir), "--device", "cpu"]
    )
    error = capsys.readouterr().err
    assert code == 1 and not out.exists()
    assert "masks/<key>.png and keypoints/<key>.npy or pointrend_R50FPN_masks/<imgname>" in error
    assert "--silh_from" in error and error.count("\n") == 1
    # One sample with inputs is enough to run.
    ours = read_3dpw(pw3d_dir)
    (root / "masks").mkdir()
    shutil.copy(ours.input_masks[3], root / "masks")
    (root / "keypoints").mkdir()
    shutil.copy(ours.input_keypoints[3], root / "keypoints")
    require_precomputed_inputs(read_3dpw(root), 4)
