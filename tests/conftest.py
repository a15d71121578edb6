"""Shared test set-up: a fixed, small thread count so tests behave the same on 2-core CI machines; the open
body model with a random-weight checkpoint for the command-line tests; the fake body-model assets of the
training tests; the tiny SSP-3D and 3DPW datasets of the evaluation tests (a module may define its own)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from evaluation.datasets import pw3d_keys
from evaluation.loop import GroundTruthBodies
from renderers import silhouette
from tests.eval_helpers import FOCAL, SIZE, sample_labels, write_png
from tests.helpers import make_checkpoint
from tests.smpl_fixture import write_open_format_assets, write_smpl_format_assets
from utils.cameras import perspective_project

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def bundle():
    """The shipped open body model's neutral bundle."""
    from models.bundle import load_bundle

    return load_bundle("open")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, bundle) -> Path:
    """A regressor checkpoint with random weights for the open body model."""
    return make_checkpoint(tmp_path_factory.mktemp("checkpoint") / "regressor.pt", bundle)


@pytest.fixture(scope="module")
def smpl_dir(tmp_path_factory) -> Path:
    return write_smpl_format_assets(tmp_path_factory.mktemp("smpl_additional"))


@pytest.fixture(scope="module")
def ground_truth(smpl_dir) -> GroundTruthBodies:
    return GroundTruthBodies("smpl", smpl_dir)


@pytest.fixture(scope="module")
def ssp3d_dir(tmp_path_factory, ground_truth) -> Path:
    """Five SSP-3D-format samples whose silhouettes and joints are renders of their ground truth."""
    root = tmp_path_factory.mktemp("ssp3d")
    labels = sample_labels(5, seed=3)
    poses, betas = torch.from_numpy(labels["poses"]), torch.from_numpy(labels["shapes"])
    cam_trans = torch.from_numpy(labels["cam_trans"])
    fnames = [f"image_{i:02d}.png" for i in range(5)]
    joints2d = np.zeros((5, 17, 3), dtype=np.float32)
    for i, gender in enumerate(labels["genders"]):
        body = ground_truth.bundle(gender).forward_axis_angle(poses[i : i + 1], betas[i : i + 1])
        mask = silhouette(
            body.vertices + cam_trans[i], ground_truth.bundle(gender).faces, FOCAL, None, (SIZE, SIZE)
        )[0].numpy()
        uv = perspective_project(body.coco17, FOCAL, (SIZE / 2, SIZE / 2), cam_trans[i : i + 1])[0]
        joints2d[i] = np.concatenate((uv.numpy(), np.ones((17, 1))), axis=1)
        write_png(root / "silhouettes" / fnames[i], mask.astype(np.uint8) * 255)
        write_png(root / "images" / fnames[i], np.repeat(mask[..., None], 3, axis=2).astype(np.uint8) * 200)
    np.savez(
        root / "labels.npz",
        fnames=np.array(fnames),
        joints2D=joints2d,
        bbox_centres=np.full((5, 2), SIZE / 2),
        bbox_whs=np.full(5, 400.0),
        **labels,
    )
    return root


@pytest.fixture(scope="module")
def pw3d_dir(tmp_path_factory) -> Path:
    """Four 3DPW-format samples (the first frame lists two people) with precomputed masks and joints."""
    root = tmp_path_factory.mktemp("3dpw")
    labels = sample_labels(4, seed=4)
    imgnames = [
        "imageFiles/courtyard_a_00/image_00000.jpg",
        "imageFiles/courtyard_a_00/image_00000.jpg",
        "imageFiles/courtyard_a_00/image_00001.jpg",
        "imageFiles/office_b_01/image_00000.jpg",
    ]
    np.savez(
        root / "3dpw_test.npz",
        imgname=np.array(imgnames, dtype=object),  # object strings need pickle, which the reader handles
        center=np.array([[200.0, 240.0], [440.0, 240.0], [320.0, 240.0], [320.0, 250.0]]),
        scale=np.array([1.5, 1.5, 2.0, 2.0]),
        pose=labels["poses"],
        shape=labels["shapes"],
        gender=labels["genders"].astype(bytes),
    )
    for key in pw3d_keys(tuple(imgnames)):
        mask = np.zeros((480, 640), dtype=np.uint8)
        mask[100:400, 250:390] = 255
        write_png(root / "masks" / f"{key}.png", mask)
        keypoints = np.column_stack((np.linspace(260, 380, 17), np.linspace(110, 390, 17), np.ones(17)))
        (root / "keypoints").mkdir(exist_ok=True)
        np.save(root / "keypoints" / f"{key}.npy", keypoints.astype(np.float32))
    return root


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> Path:
    """The fake open-format body-model assets of tests/smpl_fixture.py, for the training tests."""
    return write_open_format_assets(tmp_path_factory.mktemp("loop_assets"))
