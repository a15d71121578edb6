"""Our linear blend skinning against smplx's on the SMPL stand-in files and on the shipped open body."""

from __future__ import annotations

import sys
from unittest import mock

import pytest
import torch

from models.body_model import BodyModelAssetError, SMPLFormatBodyModel, SmplxBodyModel, read_smpl_format
from models.bundle import load_bundle
from models.skinning import kinematic_chain
from tests.smpl_fixture import write_smpl_format_assets
from utils.joint_names import SMPL_PARENTS
from utils.rotations import axis_angle_to_rotmat
from utils.runtime import REPO_ROOT


@pytest.fixture(scope="module")
def smpl_dir(tmp_path_factory):
    return write_smpl_format_assets(tmp_path_factory.mktemp("smpl_additional"))


def _random_pose_and_shape(batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Wide random poses (up to about 2.5 rad per joint) and betas spanning +-3 standard deviations."""
    generator = torch.Generator().manual_seed(seed)
    axis_angle = 0.8 * torch.randn(batch, 24, 3, generator=generator)
    betas = 3.0 * (2 * torch.rand(batch, 10, generator=generator) - 1)
    return axis_angle_to_rotmat(axis_angle), betas


@pytest.mark.parametrize("gender", ["neutral", "male", "female"])
def test_ours_equals_smplx_on_the_smpl_stand_ins(smpl_dir, gender):
    arrays = read_smpl_format(smpl_dir / "smpl" / f"SMPL_{gender.upper()}.pkl")
    model = SMPLFormatBodyModel(arrays)
    assert model.has_pose_correctives  # the stand-ins carry pose correctives, so that step is compared too
    rotations, betas = _random_pose_and_shape(16, seed=1)
    ours, theirs = model(rotations, betas), SmplxBodyModel(arrays)(rotations, betas)
    torch.testing.assert_close(ours.vertices, theirs.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.joints, theirs.joints, atol=1e-5, rtol=0)


@pytest.mark.parametrize("gender", ["neutral", "male", "female"])
def test_ours_equals_smplx_on_the_open_body(gender):
    model = load_bundle("open", gender).body_model
    assert type(model) is SMPLFormatBodyModel  # the open body is posed by our skinning
    arrays = read_smpl_format(REPO_ROOT / "additional" / "open_body" / f"OPEN_BODY_{gender.upper()}.npz")
    rotations, betas = _random_pose_and_shape(16, seed=2)
    ours, theirs = model(rotations, betas), SmplxBodyModel(arrays)(rotations, betas)
    torch.testing.assert_close(ours.vertices, theirs.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.joints, theirs.joints, atol=1e-5, rtol=0)


def test_the_smpl_path_is_posed_by_smplx_and_agrees_with_ours(smpl_dir):
    bundle = load_bundle("smpl", additional_dir=smpl_dir)
    assert type(bundle.body_model) is SmplxBodyModel
    rotations, betas = _random_pose_and_shape(4, seed=3)
    theirs = bundle.body_model(rotations, betas)
    ours = SMPLFormatBodyModel.forward(bundle.body_model, rotations, betas)
    torch.testing.assert_close(ours.vertices, theirs.vertices, atol=1e-5, rtol=0)


def test_kinematic_chain_composes_parent_rotations():
    """Bending only the root by 90 degrees about z turns every bone with it: the chain is a composition."""
    rest = torch.randn(1, 24, 3, generator=torch.Generator().manual_seed(4))
    rotations = torch.eye(3).repeat(1, 24, 1, 1)
    rotations[0, 0] = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    world, posed = kinematic_chain(rotations, rest, SMPL_PARENTS)
    expected = rest[:, :1] + (rest - rest[:, :1]) @ rotations[0, 0].T
    torch.testing.assert_close(posed, expected)
    torch.testing.assert_close(world, rotations[:, :1].expand(1, 24, 3, 3))


def test_a_parent_after_its_child_is_refused():
    with pytest.raises(ValueError, match="must come before it"):
        kinematic_chain(torch.eye(3).repeat(1, 3, 1, 1), torch.zeros(1, 3, 3), (-1, 2, 0))


def test_the_smpl_path_without_smplx_says_how_to_install_it(smpl_dir):
    hidden = {
        name: None for name in ("smplx", "smplx.lbs", "smplx.vertex_ids", "smplx.vertex_joint_selector")
    }
    with mock.patch.dict(sys.modules, hidden), pytest.raises(BodyModelAssetError, match="pip install smplx"):
        load_bundle("smpl", additional_dir=smpl_dir)
