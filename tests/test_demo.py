"""The demo folder: its listing, its images and the ground truth beside the renders."""

import dataclasses
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from evaluation.photo_render import FOCAL_PER_LONG_SIDE, make_tileable
from models.bundle import load_bundle
from renderers import silhouette
from tools.demo_scenes import (
    SCENES,
    check_with_detector,
    frame_camera,
    generate,
    load_truth,
    sample_pose_and_shape,
)
from utils.cameras import perspective_project
from utils.image_io import IMAGE_EXTENSIONS

DEMO = Path(__file__).resolve().parents[1] / "demo"
GT = DEMO / "ground_truth"
RENDERS = sorted(path.name[: -len("_gt.npz")] for path in GT.glob("*_gt.npz"))


def _listed_images() -> dict[str, str]:
    """Image file name -> its table row, for every `| `name.ext` | ...` row of demo/README.md."""
    rows = {}
    for line in (DEMO / "README.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*`([^`/]+\.(?:jpg|jpeg|png))`\s*\|", line)
        if match:
            rows[match.group(1)] = line
    return rows


def _image_hw(path: Path) -> tuple[int, int]:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape[:2]


@pytest.fixture(scope="module")
def bundle():
    return load_bundle("open", "neutral")


def test_readme_lists_exactly_the_images_in_demo():
    on_disk = {path.name for path in DEMO.iterdir() if path.suffix.lower() in IMAGE_EXTENSIONS}
    listed = _listed_images()
    assert set(listed) == on_disk
    assert len(on_disk) >= 6
    for name, row in listed.items():
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) >= 3 and all(cells[1:3]), f"{name}: source and licence must be given"


def test_only_images_and_the_readme_at_the_top_level():
    for path in DEMO.iterdir():
        assert path.is_dir() or path.suffix.lower() in IMAGE_EXTENSIONS or path.name == "README.md", path


def test_demo_is_small_and_images_are_not_huge():
    total = sum(path.stat().st_size for path in DEMO.rglob("*") if path.is_file())
    assert total < 3 * 2**20
    for name in _listed_images():
        assert max(_image_hw(DEMO / name)) <= 800


def test_every_scene_has_its_render_and_ground_truth():
    assert RENDERS == sorted(scene.name for scene in SCENES)
    assert len(RENDERS) >= 6
    for name in RENDERS:
        assert (DEMO / f"{name}.jpg").is_file()
        assert (GT / "masks" / f"{name}.png").is_file()
        assert (GT / "keypoints" / f"{name}.npy").is_file()


@pytest.mark.parametrize("name", RENDERS)
def test_ground_truth_shapes_and_values(name):
    with np.load(GT / f"{name}_gt.npz", allow_pickle=False) as data:
        assert data["pose"].shape == (72,)
        assert data["betas"].shape == (10,)
        assert data["cam_t"].shape == (3,)
        assert data["focal_length"].shape == ()
        assert data["principal_point"].shape == (2,)
        assert str(data["body_model"]) == "open"
        assert str(data["gender"]) == "neutral"
        hw = tuple(int(v) for v in data["image_size"])
    assert _image_hw(DEMO / f"{name}.jpg") == hw
    mask = cv2.imread(str(GT / "masks" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == hw and set(np.unique(mask)) == {0, 255}
    share = (mask > 0).mean()
    assert 0.05 < share < 0.5
    keypoints = np.load(GT / "keypoints" / f"{name}.npy")
    assert keypoints.shape == (17, 3) and keypoints.dtype == np.float32
    assert (keypoints[:, 0] >= 0).all() and (keypoints[:, 0] < hw[1]).all()
    assert (keypoints[:, 1] >= 0).all() and (keypoints[:, 1] < hw[0]).all()
    assert (keypoints[:, 2] == 1.0).all()


@pytest.mark.parametrize("name", RENDERS)
def test_saved_mask_and_keypoints_follow_from_the_saved_parameters(bundle, name):
    truth = load_truth(GT / f"{name}_gt.npz")
    with torch.no_grad():
        pose, betas = torch.from_numpy(truth.pose)[None], torch.from_numpy(truth.betas)[None]
        out = bundle.forward_axis_angle(pose, betas)
        cam_t = torch.from_numpy(truth.cam_t)[None]
        mask = silhouette(
            out.vertices + cam_t[:, None],
            bundle.faces,
            truth.focal_length,
            torch.from_numpy(truth.principal_point),
            truth.image_hw,
        )[0].numpy()
        joints = perspective_project(
            out.coco17, truth.focal_length, torch.from_numpy(truth.principal_point), cam_t
        )[0].numpy()
    saved = cv2.imread(str(GT / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE) > 0
    # Bit-identical on the machine that wrote them; other float libraries may move a few edge pixels.
    assert (mask != saved).sum() <= 0.002 * saved.sum()
    keypoints = np.load(GT / "keypoints" / f"{name}.npy")
    np.testing.assert_allclose(keypoints[:, :2], joints, atol=1e-2)
    # The person is large in the frame and whole.
    rows, cols = np.nonzero(saved)
    assert rows.min() > 0 and cols.min() > 0
    assert rows.max() < saved.shape[0] - 1 and cols.max() < saved.shape[1] - 1
    assert max((np.ptp(rows) + 1) / saved.shape[0], (np.ptp(cols) + 1) / saved.shape[1]) > 0.65


def test_generator_reproduces_the_saved_parameters(bundle):
    scene = SCENES[1]
    truth = load_truth(GT / f"{scene.name}_gt.npz")
    pose, betas = sample_pose_and_shape(scene)
    np.testing.assert_allclose(pose, truth.pose, atol=1e-5)
    np.testing.assert_allclose(betas, truth.betas, atol=1e-6)
    focal = FOCAL_PER_LONG_SIDE * max(scene.image_hw)
    assert truth.focal_length == pytest.approx(focal)
    with torch.no_grad():
        vertices = bundle.forward_axis_angle(torch.from_numpy(pose)[None], torch.from_numpy(betas)[None])
    np.testing.assert_allclose(frame_camera(vertices.vertices[0], scene, focal), truth.cam_t, atol=1e-4)


def test_generator_writes_consistent_files_and_repeats_itself(tmp_path):
    (tmp_path / "textures").mkdir()
    for texture in (DEMO / "textures").glob("*.png"):
        (tmp_path / "textures" / texture.name).write_bytes(texture.read_bytes())
    scene = dataclasses.replace(SCENES[0], name="tiny", image_hw=(96, 80))
    first = generate(tmp_path, (scene,))[0].read_bytes()
    assert generate(tmp_path, (scene,))[0].read_bytes() == first
    picture = cv2.imread(str(tmp_path / "tiny.jpg"))
    mask = cv2.imread(str(tmp_path / "ground_truth" / "masks" / "tiny.png"), cv2.IMREAD_GRAYSCALE) > 0
    assert picture.shape == (96, 80, 3) and mask.shape == (96, 80)
    assert np.load(tmp_path / "ground_truth" / "keypoints" / "tiny.npy").shape == (17, 3)
    # The person stands out from the background where the mask says it is.
    assert mask.any() and (~mask).any()


def test_make_tileable_wraps_without_a_seam():
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.random((64, 64)).astype(np.float32), (0, 0), 2.0)
    ramp = np.linspace(0.0, 0.4, 64, dtype=np.float32)
    texture = texture * 0.5 + ramp[None, :] + ramp[:, None]  # strong seams where it wraps
    assert np.abs(texture[:, 0] - texture[:, -1]).mean() > 0.3
    tiled = make_tileable(np.clip(texture, 0, 1))
    inner = np.abs(np.diff(tiled, axis=1)).mean()
    assert np.abs(tiled[:, 0] - tiled[:, -1]).mean() < 2 * inner
    assert np.abs(tiled[0] - tiled[-1]).mean() < 2 * np.abs(np.diff(tiled, axis=0)).mean()


def test_detector_check_scores_the_person_against_the_ground_truth(tmp_path):
    """The --check of the demo renders: mediapipe on a render beside its ground truth (mask, keypoints)."""
    stem = "render_01_standing"
    for sub, suffix in (("masks", ".png"), ("keypoints", ".npy")):
        (tmp_path / "ground_truth" / sub).mkdir(parents=True)
        truth = (GT / sub / f"{stem}{suffix}").read_bytes()
        (tmp_path / "ground_truth" / sub / f"{stem}{suffix}").write_bytes(truth)
    (tmp_path / f"{stem}.jpg").write_bytes((DEMO / f"{stem}.jpg").read_bytes())
    (row,) = check_with_detector(tmp_path)
    assert row["image"] == f"{stem}.jpg" and row["found"] and 0.5 < row["mean_conf"] <= 1.0
    assert row["iou"] > 0.9 and row["kp_px"] < 10
