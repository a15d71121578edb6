"""Prediction: the predictor's camera and crop, the output files and their schema, an end-to-end run.

Test people are the open body model rendered by our renderer over a textured background; their exact
silhouettes and COCO-17 joints go through the precomputed detector backend. The checkpoint has seeded
random weights whose last IEF layer is scaled down, so that predictions stay near the mean upright body
(a fully random head can put the body behind the camera) while still differing between images.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import run_predict
from configs.experiment import ExperimentConfig, ProxyRepConfig
from models.bundle import BodyModelBundle, load_bundle
from models.checkpoint import CheckpointError, save_regressor_checkpoint
from models.regressor import SingleInputRegressor
from predict.detectors.precomputed import PrecomputedBackend
from predict.outputs import OUTPUT_KINDS, write_obj
from predict.people import NO_PERSON
from predict.pipeline import check_output_dir, default_output_dir, output_stems
from predict.predictor import PredictionInputError, Predictor
from proxy.crop import crop_nearest
from renderers import silhouette
from tests.helpers import make_checkpoint, render_person, write_precomputed, write_rgb
from utils.cameras import normalised_to_pixels, perspective_project, weak_perspective_project
from utils.errors import UsageError
from utils.metrics import silhouette_iou

DEMO = Path(__file__).resolve().parents[1] / "demo"
NPZ_SHAPES = {
    "pose": (72,),
    "pose_rotmats": (24, 3, 3),
    "betas": (10,),
    "cam_wp": (3,),
    "bbox": (4,),
    "focal_length": (),
    "principal_point": (2,),
    "cam_t": (3,),
    "joints2d": (17, 2),
    "joints2d_detected": (17, 3),
}


# ------------------------------------------------------------------------------------------------ helpers


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


# ----------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def bundle() -> BodyModelBundle:
    return load_bundle("open")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, bundle: BodyModelBundle) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("checkpoint") / "regressor.pt", bundle)


@pytest.fixture(scope="module")
def predictor(checkpoint: Path) -> Predictor:
    return Predictor.from_checkpoint(checkpoint, device="cpu")


@pytest.fixture(scope="module")
def people(bundle: BodyModelBundle) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    return [render_person(bundle, seed, hw) for seed, hw in enumerate([(384, 384), (384, 320), (352, 448)])]


@pytest.fixture(scope="module")
def scene_run(tmp_path_factory: pytest.TempPathFactory, people, checkpoint: Path) -> dict:
    """run_predict.py on a folder of three rendered people with the precomputed backend."""
    root = tmp_path_factory.mktemp("scene")
    images, masks = root / "images", root / "masks"
    images.mkdir()
    masks.mkdir()
    for index, (rgb, mask, keypoints) in enumerate(people):
        write_rgb(images / f"person{index}.png", rgb)
        write_precomputed(masks, f"person{index}", mask, keypoints)
    argv = ["--input", str(images), "--checkpoint", str(checkpoint), "--silh_from", "precomputed"]
    options = ["--mask_dir", str(masks), "--quiet", "--batch_size", "2", "--refine_steps", "0"]
    exit_code = run_predict.main([*argv, *options])
    output = root / "images_straps_output"
    return {"exit_code": exit_code, "output": output, "images": images, "masks": masks}


# ---------------------------------------------------------------------------------------------- predictor


def test_predictor_crop_camera_and_joints_agree(predictor: Predictor, people) -> None:
    masks = [mask for _, mask, _ in people]  # three images of different sizes in one batch
    keypoints = np.stack([kp for _, _, kp in people])
    batch = predictor.predict_proxy(masks, keypoints)
    assert len(batch) == 3 and batch.body_vertices.shape == (3, predictor.bundle.num_vertices, 3)
    for row, mask in enumerate(masks):
        rows, cols = np.nonzero(mask)
        x0, y0, x1, y1 = batch.bbox[row].tolist()
        side = 1.2 * max(rows.max() + 1 - rows.min(), cols.max() + 1 - cols.min())
        assert x1 - x0 == pytest.approx(side, rel=1e-5) and y1 - y0 == pytest.approx(side, rel=1e-5)
        assert (x0 + x1) / 2 == pytest.approx((cols.min() + cols.max() + 1) / 2)
        assert (y0 + y1) / 2 == pytest.approx((rows.min() + rows.max() + 1) / 2)
        assert batch.focal_length[row] == pytest.approx(5000.0 * side / 256, rel=1e-5)
        np.testing.assert_allclose(batch.principal_point[row], [mask.shape[1] / 2, mask.shape[0] / 2])
        # The network's input silhouette is the mask's crop.
        crop = crop_nearest(torch.from_numpy(mask)[None], batch.bbox[row : row + 1], 256)[0]
        assert torch.equal(batch.crop_silhouettes[row], crop)
    # The perspective image camera reproduces the regressor's weak-perspective crop camera.
    crop_pixels = normalised_to_pixels(weak_perspective_project(batch.coco17, batch.cam_wp), 256)
    side = batch.bbox[:, 2:3, None] - batch.bbox[:, 0:1, None]
    through_crop = crop_pixels * side / 256 + batch.bbox[:, None, :2]
    assert (batch.joints2d - through_crop).abs().max() < 1.0
    assert (batch.vertices[..., 2] > 1.0).all()  # in front of the camera
    # Fit scores: IoU in [0, 1]; joint error is the mean distance to the detected joints.
    assert ((batch.silhouette_iou > 0) & (batch.silhouette_iou <= 1)).all()
    expected = (batch.joints2d - torch.from_numpy(keypoints[..., :2])).norm(dim=-1).mean(dim=1)
    torch.testing.assert_close(batch.joints2d_error_px, expected)


def test_checkpoint_config_sets_the_input_size(tmp_path: Path, bundle: BodyModelBundle, people) -> None:
    """A checkpoint trained on 128 px inputs (configs/cpu_open_body.yaml) gets 128 px crops and its heatmap
    std; the image camera keeps the training renders' focal length per pixel of crop side."""
    config = ExperimentConfig(proxy_rep=ProxyRepConfig(img_wh=128, heatmap_std=2.0))
    torch.manual_seed(0)
    regressor = SingleInputRegressor(bundle.mean_params)
    path = save_regressor_checkpoint(tmp_path / "small.pt", regressor, config=config)
    small = Predictor.from_checkpoint(path, device="cpu")
    _, mask, keypoints = people[0]
    batch = small.predict_proxy([mask], keypoints[None])
    assert batch.crop_silhouettes.shape == (1, 128, 128) and batch.heatmaps().shape == (1, 17, 128, 128)
    assert small.proxy_rep.heatmap_std == 2.0
    assert float(batch.heatmaps().max()) == pytest.approx(0.9216, abs=1e-4)  # the std-2 patch's peak
    side = float(batch.bbox[0, 2] - batch.bbox[0, 0])
    assert float(batch.focal_length[0]) == pytest.approx(5000.0 * side / 256, rel=1e-5)
    expected = (torch.from_numpy(keypoints[:, :2]) - batch.bbox[0, :2]) * 128 / side
    torch.testing.assert_close(batch.crop_joints2d[0], expected)


def test_predictor_downscaled_masks_map_back_to_image_pixels(predictor: Predictor, people) -> None:
    _, mask, keypoints = people[0]  # 384 x 384
    full = predictor.predict_proxy([mask], keypoints[None])
    half_mask = mask[::2, ::2]  # what a reader that halves the image would give
    half_keypoints = keypoints.copy()
    half_keypoints[:, :2] /= 2
    half = predictor.predict_proxy([half_mask], half_keypoints[None], image_hw=[mask.shape])
    torch.testing.assert_close(half.principal_point, full.principal_point)
    torch.testing.assert_close(half.joints2d_detected, full.joints2d_detected)
    assert (half.bbox - full.bbox).abs().max() < 3.0  # the half-resolution bbox is off by < 1 px there
    assert half.focal_length / full.focal_length == pytest.approx(1.0, abs=0.02)


def test_joint_confidence_threshold_leaves_joints_out(checkpoint: Path, people) -> None:
    _, mask, keypoints = people[0]
    keypoints = keypoints.copy()
    keypoints[[0, 9], 2] = [0.1, 0.29]  # nose and left wrist barely seen
    strict = Predictor.from_checkpoint(checkpoint, device="cpu", joint_confidence_threshold=0.3)
    original = Predictor.from_checkpoint(checkpoint, device="cpu", joint_confidence_threshold=0.0)
    left_out = strict.predict_proxy([mask], keypoints[None])
    kept = original.predict_proxy([mask], keypoints[None])
    assert left_out.joints_visible[0].tolist() == [i not in (0, 9) for i in range(17)]
    assert kept.joints_visible.all()
    heat_strict, heat_all = left_out.heatmaps()[0], kept.heatmaps()[0]
    assert heat_strict[[0, 9]].abs().sum() == 0 and (heat_all[[0, 9]].amax(dim=(1, 2)) > 0.9).all()
    torch.testing.assert_close(heat_strict[1:9], heat_all[1:9])
    # The error is averaged over the joints that were drawn.
    distance = (left_out.joints2d[0] - torch.from_numpy(keypoints[:, :2])).norm(dim=-1)
    assert float(left_out.joints2d_error_px[0]) == pytest.approx(
        float(distance[left_out.joints_visible[0]].mean())
    )


def test_predict_images_detects_chooses_and_reports_failures(
    predictor: Predictor, scene_run: dict, tmp_path: Path
) -> None:
    images = sorted(scene_run["images"].glob("*.png"))
    pictures = [read_rgb(path) for path in images]
    for stem in ("person0", "person1"):
        for suffix in (".png", ".npy"):
            shutil.copy(scene_run["masks"] / f"{stem}{suffix}", tmp_path)
    write_precomputed(tmp_path, "blank", np.zeros((64, 64), bool), np.zeros((17, 3), np.float32))
    blank = np.zeros((64, 64, 3), np.uint8)
    paths = [images[1], tmp_path / "blank.png", images[0], images[2]]
    with PrecomputedBackend(tmp_path) as detector:
        result = predictor.predict_images([pictures[1], blank, pictures[0], pictures[2]], detector, paths)
    assert result.rows == [0, 2] and len(result.batch) == 2 and len(result.detect_ms) == 4
    assert result.failures[1] == NO_PERSON and "No precomputed mask" in result.failures[3]
    with np.load(scene_run["output"] / "person1.npz") as data:  # the same prediction as in the CLI run
        np.testing.assert_allclose(result.batch.cam_t[0].numpy(), data["cam_t"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(result.batch.vertices[0].numpy(), data["vertices"], atol=1e-4)


def test_predictor_rejects_bad_inputs(predictor: Predictor, people) -> None:
    _, mask, keypoints = people[0]
    with pytest.raises(PredictionInputError, match="empty"):
        predictor.predict_proxy([np.zeros_like(mask)], keypoints[None])
    with pytest.raises(PredictionInputError, match=r"\(1, 17, 3\)"):
        predictor.predict_proxy([mask], keypoints[None, :, :2])
    with pytest.raises(PredictionInputError, match="No silhouettes"):
        predictor.predict_proxy([], np.zeros((0, 17, 3)))


# -------------------------------------------------------------------------------------- end-to-end, files


# npz keys that refinement also writes with a _regressor suffix (the regressor's own result).
REGRESSOR_KEYS = ("pose", "pose_rotmats", "betas", "cam_wp", "cam_t")
STAGES = {"read", "detect", "crop_proxy", "regressor", "body_model", "fit", "render", "write", "total"}


def check_image_outputs(
    output: Path, entry: dict, stem: str, bundle: BodyModelBundle
) -> dict[str, np.ndarray]:
    """Check one successful image's summary entry, npz schema and OBJ; returns the npz arrays."""
    assert entry["status"] == "ok", entry.get("reason")
    stages = set(entry["timings_ms"])
    assert stages - {"refine"} == STAGES and all(ms >= 0 for ms in entry["timings_ms"].values())
    expected_files = [f"{stem}.npz", f"{stem}.obj"] + [f"{stem}_{kind}.png" for kind in OUTPUT_KINDS[2:]]
    assert sorted(entry["outputs"]) == sorted(expected_files)
    assert all((output / name).is_file() for name in expected_files)
    assert 0.0 <= entry["fit"]["silhouette_iou"] <= 1.0 and entry["fit"]["joints2d_error_px"] > 0.0

    with np.load(output / f"{stem}.npz", allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    regressor = {f"{key}_regressor" for key in REGRESSOR_KEYS} if "refine" in stages else set()
    expected = set(NPZ_SHAPES) | {"vertices", "faces", "tpose_vertices", "body_model", "gender"} | regressor
    assert set(arrays) == expected
    for key, shape in NPZ_SHAPES.items():
        assert arrays[key].shape == shape and arrays[key].dtype == np.float32, key
        if key in REGRESSOR_KEYS and regressor:
            assert arrays[f"{key}_regressor"].shape == shape, key
    assert arrays["vertices"].shape == arrays["tpose_vertices"].shape == (bundle.num_vertices, 3)
    assert arrays["vertices"].dtype == arrays["tpose_vertices"].dtype == np.float32
    assert arrays["faces"].shape == (bundle.num_faces, 3) and arrays["faces"].dtype == np.int32
    assert str(arrays["body_model"]) == "open" and str(arrays["gender"]) == "neutral"
    # pose (axis-angle) and pose_rotmats are the same pose, and vertices = that body moved by cam_t.
    betas = torch.from_numpy(arrays["betas"])[None]
    with torch.no_grad():
        posed = bundle.forward_axis_angle(torch.from_numpy(arrays["pose"])[None], betas)
        again = bundle(torch.from_numpy(arrays["pose_rotmats"])[None], betas)
    torch.testing.assert_close(posed.vertices, again.vertices, atol=1e-4, rtol=0)
    moved = (posed.vertices[0] + torch.from_numpy(arrays["cam_t"])).numpy()
    np.testing.assert_allclose(arrays["vertices"], moved, atol=1e-3)

    obj = (output / f"{stem}.obj").read_text().splitlines()
    vertex_lines = [line for line in obj if line.startswith("v ")]
    face_ids = np.array([line.split()[1:] for line in obj if line.startswith("f ")], dtype=np.int64)
    assert len(vertex_lines) == bundle.num_vertices and face_ids.shape == (bundle.num_faces, 3)
    np.testing.assert_array_equal(face_ids - 1, arrays["faces"])
    np.testing.assert_allclose(np.array(vertex_lines[0].split()[1:], float), arrays["vertices"][0], atol=1e-5)
    return arrays


def test_rendered_people_outputs_and_schema(scene_run: dict, bundle: BodyModelBundle, people) -> None:
    assert scene_run["exit_code"] == 0
    output: Path = scene_run["output"]
    summary = json.loads((output / "summary.json").read_text())
    run = summary["run"]
    assert (run["n_images"], run["n_ok"], run["n_failed"]) == (3, 3, 0)
    assert (run["body_model"], run["device"], run["detector"]) == ("open", "cpu", "precomputed+precomputed")
    assert set(run["per_stage_mean_ms"]) == STAGES
    for index, entry in enumerate(summary["images"]):
        assert entry["path"] == str(scene_run["images"] / f"person{index}.png")
        arrays = check_image_outputs(output, entry, f"person{index}", bundle)
        np.testing.assert_allclose(arrays["joints2d_detected"], people[index][2], atol=1e-4)


def test_demo_folder_end_to_end(
    checkpoint: Path, bundle: BodyModelBundle, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The shipped demo pictures with the default detector, and two renders on their ground truth."""
    images = sorted(DEMO.glob("*.png")) + sorted(DEMO.glob("*.jpg"))
    assert len(images) == 10
    argv = ["--checkpoint", str(checkpoint), "--quiet"]
    assert run_predict.main(["--input", str(DEMO), "--output", str(tmp_path / "mediapipe"), *argv]) == 0
    summary = json.loads((tmp_path / "mediapipe" / "summary.json").read_text())
    assert summary["run"]["detector"] == "mediapipe+mediapipe"
    assert (summary["run"]["n_images"], summary["run"]["n_ok"]) == (10, 10)  # demo/README: found in 10/10
    assert sorted(entry["path"] for entry in summary["images"]) == sorted(map(str, images))
    for entry in summary["images"]:
        arrays = check_image_outputs(tmp_path / "mediapipe", entry, Path(entry["path"]).stem, bundle)
        assert (arrays["joints2d_detected"][:, 2] <= 1).all()

    ground_truth = DEMO / "ground_truth"
    precomputed = ["--silh_from", "precomputed", "--mask_dir", str(ground_truth / "masks")]
    precomputed += ["--keypoints_dir", str(ground_truth / "keypoints")]
    renders = ["--input", str(DEMO / "render_0[12]_*.jpg"), "--output", str(tmp_path / "exact")]
    assert run_predict.main([*renders, *precomputed, *argv]) == 0
    summary = json.loads((tmp_path / "exact" / "summary.json").read_text())
    assert (summary["run"]["n_images"], summary["run"]["n_ok"]) == (2, 2)
    for entry in summary["images"]:
        stem = Path(entry["path"]).stem
        arrays = check_image_outputs(tmp_path / "exact", entry, stem, bundle)
        keypoints = np.load(ground_truth / "keypoints" / f"{stem}.npy")
        np.testing.assert_allclose(arrays["joints2d_detected"], keypoints, atol=1e-3)
    assert "Traceback" not in capsys.readouterr().err


def test_overlay_matches_the_npz_camera(scene_run: dict, people) -> None:
    """Projecting the npz vertices with its focal length and principal point covers the pixels where the
    overlay shows the mesh, and the summary's IoU is that silhouette against the input mask in the crop."""
    output: Path = scene_run["output"]
    summary = json.loads((output / "summary.json").read_text())
    for index, (rgb, mask, _) in enumerate(people):
        stem = f"person{index}"
        with np.load(output / f"{stem}.npz") as data:
            vertices, faces = torch.from_numpy(data["vertices"])[None], torch.from_numpy(data["faces"]).long()
            focal, centre, bbox = (
                float(data["focal_length"]),
                torch.from_numpy(data["principal_point"]),
                data["bbox"],
            )
        overlay = read_rgb(output / f"{stem}_overlay.png")
        assert overlay.shape == rgb.shape and summary["images"][index]["overlay_scale"] == 1.0
        drawn = np.abs(overlay.astype(int) - rgb.astype(int)).sum(axis=2) > 12
        rendered = silhouette(vertices, faces, focal, centre, rgb.shape[:2])[0]
        assert rendered.sum() > 2000
        assert float(silhouette_iou(rendered[None], torch.from_numpy(drawn)[None])) > 0.97
        uv = perspective_project(vertices, focal, centre)[0].numpy()
        inside = (uv >= 0).all(axis=1) & (uv[:, 0] < rgb.shape[1]) & (uv[:, 1] < rgb.shape[0])
        cols, rows = uv[inside].astype(int).T
        # Projected vertices land on the rendered body (give or take a pixel at thin parts such as fingers).
        near_body = cv2.dilate(rendered.numpy().astype(np.uint8), np.ones((3, 3), np.uint8))
        assert near_body[rows, cols].mean() > 0.995
        # The fit IoU is the same comparison done in the 256 crop.
        box = torch.from_numpy(bbox)[None]
        in_crop = crop_nearest(rendered[None], box, 256)
        mask_crop = crop_nearest(torch.from_numpy(mask)[None], box, 256)
        recomputed = float(silhouette_iou(in_crop, mask_crop))
        assert summary["images"][index]["fit"]["silhouette_iou"] == pytest.approx(recomputed, abs=0.03)


def test_pictures_have_their_sizes(scene_run: dict, people) -> None:
    output: Path = scene_run["output"]
    for index in range(len(people)):
        side, tpose = (
            read_rgb(output / f"person{index}_side.png"),
            read_rgb(output / f"person{index}_tpose.png"),
        )
        proxy = read_rgb(output / f"person{index}_proxy.png")
        assert side.shape == tpose.shape == (384, 384, 3) and proxy.shape == (256, 256, 3)
        for view in (side, tpose):  # a body on the plain background, framed with a margin
            body = (view != view[0, 0]).any(axis=2)
            rows, cols = np.nonzero(body)
            assert 0.05 < body.mean() < 0.6 and rows.min() > 10 and rows.max() < 374
        assert (proxy[..., 0] == proxy[..., 1]).mean() < 0.99 and proxy.max() > 200  # coloured heatmaps


def test_output_folders_and_names(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    image = folder / "a.jpg"
    image.write_bytes(b"")
    assert default_output_dir(folder) == tmp_path.resolve() / "photos_straps_output"
    assert default_output_dir(image) == folder / "a_straps_output"
    assert default_output_dir(str(folder / "*.jpg")) == tmp_path.resolve() / "photos_straps_output"
    check_output_dir(tmp_path / "elsewhere", folder)
    check_output_dir(folder / "a_straps_output", image)
    for inside, source in [
        (folder / "out", folder),
        (folder / "sub", str(folder / "*.jpg")),
        (folder, image),
    ]:
        with pytest.raises(UsageError, match="inside the input folder"):
            check_output_dir(inside, source)
    paths = [folder / "a.jpg", folder / "a.png", folder / "sub" / "b.png"]
    assert output_stems(paths, folder) == ["a_jpg", "a_png", "sub/b"]
    assert output_stems(paths) == ["a_jpg", "a_png", "b"]


def test_obj_writer_round_trip(tmp_path: Path) -> None:
    vertices = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    faces = np.array([[0, 1, 2], [2, 3, 4]])
    text = write_obj(tmp_path / "m.obj", vertices, faces).read_text().splitlines()
    np.testing.assert_allclose(np.array([line.split()[1:] for line in text[:5]], float), vertices, atol=1e-6)
    assert text[5:] == ["f 1 2 3", "f 3 4 5"]


def test_unusable_settings_stored_in_a_checkpoint_are_checkpoint_errors(tmp_path: Path, bundle):
    """A checkpoint whose recorded config or body model cannot be built is the file's fault (exit 1, the
    file named), not a usage error."""
    regressor = SingleInputRegressor(bundle.mean_params)
    deep = save_regressor_checkpoint(
        tmp_path / "deep.pt",
        regressor,
        config={"regressor": {"resnet_layers": 34}},
        body_model={"kind": "open", "gender": "neutral"},
    )
    with pytest.raises(CheckpointError, match=r"deep\.pt is not usable: resnet_layers must be one of"):
        Predictor.from_checkpoint(deep, device="cpu")
    odd = save_regressor_checkpoint(
        tmp_path / "odd.pt", regressor, body_model={"kind": "open", "gender": "x"}
    )
    with pytest.raises(CheckpointError, match=r"odd\.pt records the unknown gender 'x'"):
        Predictor.from_checkpoint(odd, device="cpu")
