"""Evaluation data files as an attacker or a damaged disk hands them over: no unpickling, one sentence per
malformed file, no empty dataset reported as a result, an empty silhouette costs its sample only."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

import run_evaluate
from evaluation.datasets import DatasetError, read_label_arrays, read_ssp3d
from evaluation.loop import DatasetInputs, evaluate
from evaluation.synthetic import SyntheticBenchmarkConfig, ensure_synthetic_benchmark
from tests.eval_helpers import GroundTruthSource

pytestmark = pytest.mark.reliability  # damaged and hostile files, every test


class _Payload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def copy_with(source: Path, target: Path, **changes) -> Path:
    """An SSP-3D folder like `source` whose labels.npz has `changes` (arrays; None removes the key)."""
    target.mkdir()
    for folder in ("images", "silhouettes"):
        (target / folder).symlink_to(source / folder)
    content = read_label_arrays(source / "labels.npz", "")
    content = {k: v for k, v in {**content, **changes}.items() if v is not None}
    np.savez(target / "labels.npz", **content)
    return target


def test_a_pickle_in_labels_npz_is_never_executed(tmp_path: Path, ssp3d_dir: Path) -> None:
    marker = tmp_path / "executed"
    evil = np.array([_Payload(str(marker))] * 5, dtype=object)
    folder = copy_with(ssp3d_dir, tmp_path / "evil", fnames=evil)
    with pytest.raises(DatasetError, match="pickled posix.system, which is never loaded"):
        read_ssp3d(folder)
    assert run_evaluate.main(["--dataset", "ssp3d", "--data_dir", str(folder)]) == 1
    assert not marker.exists()


def test_string_fields_saved_as_object_arrays_still_read(tmp_path: Path, ssp3d_dir: Path) -> None:
    fnames = np.array([f"image_{i:02d}.png" for i in range(5)], dtype=object)
    genders = np.array(["m", "f", "m", "f", "m"], dtype=object)
    folder = copy_with(ssp3d_dir, tmp_path / "objects", fnames=fnames, genders=genders)
    dataset = read_ssp3d(folder)
    assert dataset.sample_ids == tuple(fnames) and list(dataset.genders) == list(genders)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("random_bytes", "is not a readable .npz file"),
        ("text", "is not a readable .npz file"),
        ("truncated", "is not a readable .npz file"),
        ("focal_text", "focal_length holds <U5 values, expected numbers"),
        ("poses_text", "poses holds <U1 values, expected numbers"),
        ("no_samples", "lists no samples"),
    ],
)
def test_malformed_labels_give_one_sentence(tmp_path: Path, ssp3d_dir: Path, kind: str, reason: str) -> None:
    folder = copy_with(ssp3d_dir, tmp_path / kind)
    labels = folder / "labels.npz"
    data = labels.read_bytes()
    if kind == "random_bytes":
        labels.write_bytes(np.random.default_rng(0).bytes(3000))
    elif kind == "text":
        labels.write_text("fnames,poses\n1,2\n")
    elif kind == "truncated":
        labels.write_bytes(data[: len(data) // 2])
    elif kind == "focal_text":
        copy_with(ssp3d_dir, folder.with_name("f"), focal_length=np.array("large"))
        labels = folder.with_name("f") / "labels.npz"
    elif kind == "poses_text":
        copy_with(ssp3d_dir, folder.with_name("p"), poses=np.full((5, 72), "x"))
        labels = folder.with_name("p") / "labels.npz"
    else:
        empty = {"fnames": np.array([], dtype="<U1"), "poses": np.zeros((0, 72)), "shapes": np.zeros((0, 10))}
        copy_with(ssp3d_dir, folder.with_name("e"), **empty, genders=np.array([], dtype="<U1"),
                  joints2D=np.zeros((0, 17, 3)), cam_trans=np.zeros((0, 3)))  # fmt: skip
        labels = folder.with_name("e") / "labels.npz"
    with pytest.raises(DatasetError, match=reason) as caught:
        read_ssp3d(labels.parent)
    assert "\n" not in str(caught.value)


def test_zero_samples_exit_1_with_a_sentence(tmp_path: Path, ssp3d_dir: Path, capsys) -> None:
    folder = copy_with(ssp3d_dir, tmp_path / "empty", fnames=np.array([], dtype="<U1"))
    assert run_evaluate.main(["--dataset", "ssp3d", "--data_dir", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "lists no samples" in err and err.count("\n") == 1


def test_a_malformed_synthetic_benchmark_file_gives_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "labels.npz").write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(DatasetError, match="is not a readable .npz file"):
        ensure_synthetic_benchmark(tmp_path, SyntheticBenchmarkConfig(num_samples=2), progress=False)


def test_an_empty_silhouette_costs_its_sample_only(tmp_path: Path, ssp3d_dir: Path, ground_truth) -> None:
    folder = copy_with(ssp3d_dir, tmp_path / "blank")
    (folder / "silhouettes").unlink()
    (folder / "silhouettes").mkdir()
    for path in (ssp3d_dir / "silhouettes").iterdir():
        image = cv2.imread(str(path))
        if path.name == "image_02.png":
            image[:] = 0
        assert cv2.imwrite(str(folder / "silhouettes" / path.name), image)
    dataset = read_ssp3d(folder)

    class RefusesEmpty(GroundTruthSource):  # as the real predictor does
        def predict(self, batch):
            assert all(item.silhouette.any() for item in batch.inputs)
            return super().predict(batch)

    report = evaluate(
        dataset,
        RefusesEmpty(ground_truth),
        DatasetInputs(dataset),
        ground_truth,
        batch_size=5,
        progress=False,
    )
    failed = [sample for sample in report.samples if sample.status == "failed"]
    assert [sample.sample_id for sample in failed] == ["image_02.png"]
    assert "silhouette of sample image_02.png is empty" in failed[0].reason
    assert report.num_evaluated == 4


def test_label_files_are_read_without_numpy_pickle(tmp_path: Path) -> None:
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.arange(3), s=np.array(["x", "yz"]), scalar=np.array(2.5))
    arrays = read_label_arrays(path, "")
    assert arrays["s"].tolist() == ["x", "yz"] and float(arrays["scalar"]) == 2.5
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("notes.txt", "ignored")
    assert set(read_label_arrays(path, "")) == {"a", "s", "scalar"}
