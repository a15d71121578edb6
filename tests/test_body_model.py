"""Tests of the SMPL-format body model layer and the body-model bundles, on the fixture assets."""

from __future__ import annotations

import contextlib
import pickle
import sys
import types
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import smplx
import torch

from configs.loader import ConfigError
from models.body_model import (
    BodyModelAssetError,
    SMPLFormatBodyModel,
    SMPLJointSuperset,
    read_smpl_format,
)
from models.bundle import BodyModelBundle, face_parts_from_texture, load_bundle
from tests.smpl_fixture import fixture_face_parts, write_open_format_assets, write_smpl_format_assets
from utils.rotations import axis_angle_to_rotmat

# ORIGINAL.md §3, written out here rather than imported, so the test checks the module's tables.
SMPLH_VERTEX_JOINT_IDS = [332, 6260, 2800, 4071, 583, 3216, 3226, 3387, 6617, 6624, 6787]
SMPLH_VERTEX_JOINT_IDS += [2746, 2319, 2445, 2556, 2673, 6191, 5782, 5905, 6016, 6133]
COCO17_FACE_VERTICES = [332, 2800, 6260, 583, 4071]  # nose, L eye, R eye, L ear, R ear
COCO17_BODY_JOINTS = [
    16,
    17,
    18,
    19,
    20,
    21,
    1,
    2,
    4,
    5,
    7,
    8,
]  # shoulders, elbows, wrists, hips, knees, ankles
H36M_ROWS_FOR_LSP14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]
OPEN_NUM_VERTICES = 602  # write_open_format_assets' default


@pytest.fixture(scope="module")
def smpl_dir(tmp_path_factory) -> Path:
    return write_smpl_format_assets(tmp_path_factory.mktemp("smpl_additional"))


@pytest.fixture(scope="module")
def open_dir(tmp_path_factory) -> Path:
    return write_open_format_assets(tmp_path_factory.mktemp("open_additional"))


@pytest.fixture(scope="module")
def bundles(smpl_dir, open_dir) -> dict[str, BodyModelBundle]:
    return {
        "smpl": load_bundle("smpl", additional_dir=smpl_dir),
        "open": load_bundle("open", additional_dir=open_dir),
    }


def random_pose(batch_size: int, seed: int, scale: float = 0.5) -> torch.Tensor:
    """(B, 24, 3, 3) random rotations."""
    generator = torch.Generator().manual_seed(seed)
    return axis_angle_to_rotmat(scale * torch.randn(batch_size, 24, 3, generator=generator))


def random_betas(batch_size: int, seed: int) -> torch.Tensor:
    return torch.randn(batch_size, 10, generator=torch.Generator().manual_seed(seed))


def identity_pose(batch_size: int) -> torch.Tensor:
    return torch.eye(3).expand(batch_size, 24, 3, 3)


def variant_dir(source: Path, target: Path, drop: tuple[str, ...] = ()) -> Path:
    """A copy of an assets folder made of symbolic links, without the files in `drop`; tests write their
    own versions of the dropped files."""
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if path.is_file() and str(relative) not in drop:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).symlink_to(path)
    return target


@contextlib.contextmanager
def importable_as(module_name: str, **classes: type):
    """Make `classes` picklable as members of `module_name` (which need not exist) inside the block only,
    so that unpickling the result needs that module."""
    parts = module_name.split(".")
    modules = {".".join(parts[:i]): types.ModuleType(".".join(parts[:i])) for i in range(1, len(parts) + 1)}
    for name, cls in classes.items():
        cls.__module__, cls.__qualname__ = module_name, name
        setattr(modules[module_name], name, cls)
    with mock.patch.dict(sys.modules, modules):
        yield


def neutral_model_dict(smpl_dir: Path) -> dict:
    with open(smpl_dir / "smpl" / "SMPL_NEUTRAL.pkl", "rb") as file:
        return pickle.load(file)


@pytest.mark.parametrize("kind", ["smpl", "open"])
@pytest.mark.parametrize("gender", ["neutral", "male", "female"])
def test_each_kind_and_gender_loads_and_runs(kind, gender, smpl_dir, open_dir):
    bundle = load_bundle(kind, gender, additional_dir=smpl_dir if kind == "smpl" else open_dir)
    num_vertices = 6890 if kind == "smpl" else OPEN_NUM_VERTICES
    assert (bundle.kind, bundle.gender, bundle.num_vertices) == (kind, gender, num_vertices)
    assert bundle.num_faces == 2 * num_vertices - 4  # the fixture is a closed genus-0 surface, like SMPL
    assert bundle.faces.shape == (bundle.num_faces, 3) and bundle.faces.dtype == torch.int64
    assert bundle.face_parts.shape == (bundle.num_faces,) and bundle.face_parts.dtype == torch.int64
    out = bundle(random_pose(2, seed=1), random_betas(2, seed=2))
    assert out.vertices.shape == (2, num_vertices, 3)
    assert out.coco17.shape == (2, 17, 3) and out.lsp14.shape == (2, 14, 3)
    assert torch.isfinite(out.vertices).all()


@pytest.mark.parametrize("kind", ["smpl", "open"])
def test_genders_load_their_own_files(kind, smpl_dir, open_dir):
    root = smpl_dir if kind == "smpl" else open_dir
    betas = torch.zeros(1, 10)
    heights = {}
    for gender in ("female", "neutral", "male"):
        vertices = load_bundle(kind, gender, additional_dir=root).tpose_vertices(betas)[0]
        heights[gender] = float(vertices[:, 1].max() - vertices[:, 1].min())
    # The fixture scales the female template by 0.96 and the male one by 1.04.
    assert heights["female"] == pytest.approx(0.96 * heights["neutral"], rel=1e-4)
    assert heights["male"] == pytest.approx(1.04 * heights["neutral"], rel=1e-4)


def test_layer_matches_smplx_forward(smpl_dir):
    """Vertices and the first 45 superset joints equal smplx.SMPL's own forward at its fixed batch size."""
    aa = 0.5 * torch.randn(3, 24, 3, generator=torch.Generator().manual_seed(3))
    betas = random_betas(3, seed=4)
    with contextlib.redirect_stdout(None):
        reference = smplx.SMPL(model_path=str(smpl_dir / "smpl"), gender="male", batch_size=3)
    expected = reference(
        betas=betas, global_orient=aa[:, 0], body_pose=aa[:, 1:].reshape(3, 69), transl=torch.zeros(3, 3)
    )

    body_model = SMPLFormatBodyModel.from_file(smpl_dir / "smpl" / "SMPL_MALE.pkl")
    out = body_model(axis_angle_to_rotmat(aa), betas)
    superset = SMPLJointSuperset.from_dir(smpl_dir)(out.vertices, out.joints)
    torch.testing.assert_close(out.vertices, expected.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(superset[:, :45], expected.joints, atol=1e-5, rtol=0)


def test_superset_has_the_original_90_joint_order(smpl_dir):
    body_model = SMPLFormatBodyModel.from_file(smpl_dir / "smpl" / "SMPL_NEUTRAL.pkl")
    out = body_model(random_pose(2, seed=5), random_betas(2, seed=6))
    superset = SMPLJointSuperset.from_dir(smpl_dir)(out.vertices, out.joints)
    assert superset.shape == (2, 90, 3)
    vertices = out.vertices.double()
    regressed = [
        torch.einsum("jv,bvc->bjc", torch.from_numpy(np.load(smpl_dir / name)), vertices)
        for name in ("J_regressor_extra.npy", "cocoplus_regressor.npy", "J_regressor_h36m.npy")
    ]
    expected = torch.cat([out.joints.double(), vertices[:, SMPLH_VERTEX_JOINT_IDS], *regressed], dim=1)
    torch.testing.assert_close(superset.double(), expected, atol=1e-5, rtol=0)


def test_smpl_coco17_and_lsp14_are_the_original_joints(bundles, smpl_dir):
    bundle = bundles["smpl"]
    pose, betas = random_pose(3, seed=7), random_betas(3, seed=8)
    out = bundle(pose, betas)
    skeleton = bundle.body_model(pose, betas)
    torch.testing.assert_close(out.coco17[:, :5], skeleton.vertices[:, COCO17_FACE_VERTICES])
    torch.testing.assert_close(out.coco17[:, 5:], skeleton.joints[:, COCO17_BODY_JOINTS])
    h36m = torch.from_numpy(np.load(smpl_dir / "J_regressor_h36m.npy"))
    expected_lsp14 = torch.einsum("jv,bvc->bjc", h36m[H36M_ROWS_FOR_LSP14], skeleton.vertices.double())
    torch.testing.assert_close(out.lsp14.double(), expected_lsp14, atol=1e-5, rtol=0)


def test_open_joints_regress_the_posed_vertices(bundles, open_dir):
    pose, betas = random_pose(3, seed=9), random_betas(3, seed=10)
    out = bundles["open"](pose, betas)
    extras = np.load(open_dir / "open_body" / "open_body_extras.npz")
    vertices = out.vertices.double()
    for name, joints in (("coco17_regressor", out.coco17), ("lsp14_regressor", out.lsp14)):
        expected = torch.einsum("jv,bvc->bjc", torch.from_numpy(extras[name]), vertices)
        torch.testing.assert_close(joints.double(), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["smpl", "open"])
@pytest.mark.parametrize("batch_size", [1, 3, 7])
def test_any_batch_size_gives_the_single_sample_results(kind, batch_size, bundles):
    bundle = bundles[kind]
    pose, betas = random_pose(batch_size, seed=batch_size), random_betas(batch_size, seed=100 + batch_size)
    batched = bundle(pose, betas)
    tpose = bundle.tpose_vertices(betas)
    for i in range(batch_size):
        single = bundle(pose[i : i + 1], betas[i : i + 1])
        for field in ("vertices", "coco17", "lsp14"):
            torch.testing.assert_close(
                getattr(batched, field)[i], getattr(single, field)[0], atol=1e-5, rtol=0
            )
        torch.testing.assert_close(tpose[i], bundle.tpose_vertices(betas[i : i + 1])[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["smpl", "open"])
def test_tpose_vertices_equal_the_zero_pose_output(kind, bundles):
    bundle = bundles[kind]
    betas = random_betas(4, seed=11)
    zero_pose = bundle(identity_pose(4), betas).vertices
    torch.testing.assert_close(bundle.tpose_vertices(betas), zero_pose, atol=1e-5, rtol=0)
    assert not torch.allclose(bundle.tpose_vertices(betas[:1]), bundle.tpose_vertices(betas[1:2]))


def test_global_orientation_rotates_the_body_about_the_root(bundles):
    bundle = bundles["smpl"]
    betas = random_betas(2, seed=12)
    rest = bundle.body_model(identity_pose(2), betas)
    rotation = random_pose(2, seed=13, scale=1.5)[:, 0]
    pose = identity_pose(2).clone()
    pose[:, 0] = rotation
    root = rest.joints[:, :1]
    expected = torch.einsum("bij,bvj->bvi", rotation, rest.vertices - root) + root
    torch.testing.assert_close(bundle(pose, betas).vertices, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["smpl", "open"])
def test_axis_angle_input_matches_rotation_matrices(kind, bundles):
    aa = 0.5 * torch.randn(2, 24, 3, generator=torch.Generator().manual_seed(14))
    betas = random_betas(2, seed=15)
    from_aa = bundles[kind].forward_axis_angle(aa.reshape(2, 72), betas)
    from_rotmats = bundles[kind](axis_angle_to_rotmat(aa), betas)
    torch.testing.assert_close(from_aa.vertices, from_rotmats.vertices)
    torch.testing.assert_close(from_aa.coco17, from_rotmats.coco17)


def test_face_parts_decode_the_fixture_labels(bundles):
    expected_smpl = torch.from_numpy(fixture_face_parts())
    assert torch.equal(bundles["smpl"].face_parts, expected_smpl)
    assert set(expected_smpl.unique().tolist()) == {1, 2, 3, 4, 5, 6}
    assert torch.equal(bundles["open"].face_parts, torch.from_numpy(fixture_face_parts(OPEN_NUM_VERTICES)))


def test_face_parts_from_texture_uses_the_floor_of_100_times_the_colour():
    cube_parts = np.ones((100, 92, 17))
    cube_parts[12, 34, 5] = 2
    cube_parts[13, 34, 5] = 3
    # floor, not round: 0.1299 -> cell 12.
    colours = np.array([[0.1299, 0.345, 0.055], [0.135, 0.3401, 0.0599]], dtype=np.float32)
    texture = np.broadcast_to(colours[None, :, None, None, None, :], (1, 2, 2, 2, 2, 3))
    assert face_parts_from_texture(texture, cube_parts).tolist() == [2, 3]


def test_mean_params_layout(bundles, smpl_dir, open_dir, tmp_path):
    # The smpl file's own camera is ignored: write one that differs from the hard-set [0.9, 0, 0].
    root = variant_dir(smpl_dir, tmp_path, drop=("neutral_smpl_mean_params_6dpose.npz",))
    pose = np.linspace(-1, 1, 144, dtype=np.float32)
    shape = np.arange(10, dtype=np.float32)
    np.savez(root / "neutral_smpl_mean_params_6dpose.npz", pose=pose, shape=shape, cam=np.ones(3, np.float32))
    mean = load_bundle("smpl", additional_dir=root).mean_params
    assert mean.shape == (157,) and mean.dtype == torch.float32
    assert mean[:3].tolist() == pytest.approx([0.9, 0.0, 0.0])
    assert torch.equal(mean[3:147], torch.from_numpy(pose)) and torch.equal(
        mean[147:], torch.from_numpy(shape)
    )

    extras = np.load(open_dir / "open_body" / "open_body_extras.npz")
    mean = bundles["open"].mean_params
    assert mean[:3].tolist() == pytest.approx([0.9, 0.0, 0.0])
    assert torch.equal(mean[3:147], torch.from_numpy(extras["mean_pose_6d"]))
    assert torch.equal(mean[147:], torch.from_numpy(extras["mean_betas"]))


def test_chumpy_pickle_gives_conversion_advice(smpl_dir, tmp_path):
    class Ch:  # stands for chumpy.ch.Ch, which the official v1.0.0 pickles hold
        def __init__(self, x):
            self.x = x

    root = variant_dir(smpl_dir, tmp_path, drop=("smpl/SMPL_NEUTRAL.pkl",))
    model = neutral_model_dict(smpl_dir)
    model["v_template"] = Ch(model["v_template"])
    with importable_as("chumpy.ch", Ch=Ch):
        with open(root / "smpl" / "SMPL_NEUTRAL.pkl", "wb") as file:
            pickle.dump(model, file, protocol=2)
    assert "chumpy" not in sys.modules
    with pytest.raises(BodyModelAssetError, match="holds chumpy objects.*clean_ch.*v1.1.0") as info:
        load_bundle("smpl", additional_dir=root)
    assert "\n" not in str(info.value)


def _csc_state(dense: np.ndarray) -> dict:
    """The pickled state of a scipy CSC matrix, built without scipy."""
    rows, cols = np.nonzero(dense.T)[::-1]  # column-major order of the non-zeros
    return {
        "_shape": dense.shape,
        "maxprint": 50,
        "indptr": np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=dense.shape[1]))]).astype(
            np.int32
        ),
        "indices": rows.astype(np.int32),
        "data": dense[rows, cols],
    }


def test_sparse_j_regressor_loads_without_scipy(smpl_dir, tmp_path):
    class csc_matrix:  # noqa: N801 - scipy's class name, as found in SMPL pickles
        pass

    model = neutral_model_dict(smpl_dir)
    dense = model["J_regressor"]
    sparse = csc_matrix()
    sparse.__dict__.update(_csc_state(dense))
    model["J_regressor"] = sparse
    with importable_as("scipy.sparse._csc", csc_matrix=csc_matrix):
        with open(tmp_path / "model.pkl", "wb") as file:
            pickle.dump(model, file, protocol=2)
    np.testing.assert_array_equal(read_smpl_format(tmp_path / "model.pkl").J_regressor, dense)


def test_real_scipy_sparse_pickle_loads(smpl_dir, tmp_path):
    scipy_sparse = pytest.importorskip("scipy.sparse")
    model = neutral_model_dict(smpl_dir)
    dense = model["J_regressor"]
    model["J_regressor"] = scipy_sparse.csc_matrix(dense)
    with open(tmp_path / "model.pkl", "wb") as file:
        pickle.dump(model, file, protocol=2)
    np.testing.assert_array_equal(read_smpl_format(tmp_path / "model.pkl").J_regressor, dense)


@pytest.mark.parametrize(
    "kind, gender, drop, named",
    [
        ("smpl", "male", "smpl/SMPL_MALE.pkl", "smpl/SMPL_MALE.pkl"),
        ("smpl", "neutral", "cocoplus_regressor.npy", "cocoplus_regressor.npy"),
        ("smpl", "neutral", "cube_parts.npy", "cube_parts.npy"),
        ("open", "female", "open_body/OPEN_BODY_FEMALE.npz", "open_body/OPEN_BODY_FEMALE.npz"),
        ("open", "neutral", "open_body/open_body_extras.npz", "open_body/open_body_extras.npz"),
    ],
)
def test_missing_file_is_named_with_what_to_do(kind, gender, drop, named, smpl_dir, open_dir, tmp_path):
    root = variant_dir(smpl_dir if kind == "smpl" else open_dir, tmp_path, drop=(drop,))
    advice = "put them at exactly these paths" if kind == "smpl" else "python -m tools.open_body.build"
    with pytest.raises(BodyModelAssetError) as info:
        load_bundle(kind, gender, additional_dir=root)
    message = str(info.value)
    assert str(root / named) in message and advice in message and "\n" not in message


def test_wrong_arrays_are_reported(open_dir, tmp_path):
    model = dict(np.load(open_dir / "open_body" / "OPEN_BODY_NEUTRAL.npz"))
    model["J_regressor"] = model["J_regressor"][:, :-1]
    np.savez(tmp_path / "short.npz", **model)
    with pytest.raises(BodyModelAssetError, match="short.npz is not a valid SMPL-format model: J_regressor"):
        read_smpl_format(tmp_path / "short.npz")

    model = dict(np.load(open_dir / "open_body" / "OPEN_BODY_NEUTRAL.npz"))
    model["kintree_table"] = model["kintree_table"][:, ::-1].copy()
    np.savez(tmp_path / "tree.npz", **model)
    with pytest.raises(BodyModelAssetError, match="kinematic tree"):
        read_smpl_format(tmp_path / "tree.npz")


def test_bad_inputs_raise_clear_errors(bundles):
    bundle = bundles["open"]
    with pytest.raises(ValueError, match=r"pose_rotmats must have shape \(B, 24, 3, 3\)"):
        bundle(identity_pose(2)[:, :23], torch.zeros(2, 10))
    with pytest.raises(ValueError, match=r"betas must have shape \(B, 10\)"):
        bundle(identity_pose(2), torch.zeros(2, 11))
    with pytest.raises(ValueError, match="share the batch size"):
        bundle(identity_pose(2), torch.zeros(3, 10))
    with pytest.raises(ValueError, match=r"\(B, 72\)"):
        bundle.forward_axis_angle(torch.zeros(2, 69), torch.zeros(2, 10))
    with pytest.raises(ConfigError, match="Unknown body model kind"):
        load_bundle("smplx")
    with pytest.raises(ConfigError, match="Unknown gender"):
        load_bundle("open", "other")


def test_bundle_state_dict_carries_no_model_data(bundles):
    for bundle in bundles.values():
        assert bundle.state_dict() == {}
        assert len(list(bundle.buffers())) > 0


def test_gradients_reach_pose_and_betas(bundles):
    pose = random_pose(2, seed=16).requires_grad_()
    betas = random_betas(2, seed=17).requires_grad_()
    out = bundles["smpl"](pose, betas)
    (out.vertices.sum() + out.coco17.sum() + out.lsp14.sum()).backward()
    assert pose.grad.abs().sum() > 0 and betas.grad.abs().sum() > 0


def test_bundle_follows_dtype_and_device(open_dir):
    reference = load_bundle("open", additional_dir=open_dir)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    moved = load_bundle("open", additional_dir=open_dir, device=device).double()
    pose, betas = random_pose(2, seed=18), random_betas(2, seed=19)
    out = moved(pose.to(device), betas.to(device))
    assert out.vertices.dtype == torch.float64 and out.vertices.device.type == device
    torch.testing.assert_close(out.lsp14.cpu().float(), reference(pose, betas).lsp14, atol=1e-5, rtol=0)
