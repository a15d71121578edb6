"""Hard-case training augmentations: what each removes or adds, that they draw nothing while off, and that
a training batch with all of them keeps its targets."""

from __future__ import annotations

import pytest
import torch

from augmentation.hard_cases import DRESSED_PARTS, cut_by_border, dress_silhouette, occlude_with_ellipse
from data.procedural_poses import ProceduralPoseSource
from models.bundle import load_bundle
from tests.helpers import tiny_config
from train.synthetic_batch import SyntheticBatchGenerator

R = 64


def _full(batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Silhouettes covering the whole crop and joints spread over it, all drawn."""
    silhouettes = torch.ones(batch, R, R, dtype=torch.bool)
    joints = torch.rand(batch, 17, 2, generator=torch.Generator().manual_seed(1)) * R
    return silhouettes, joints, torch.ones(batch, 17, dtype=torch.bool)


def test_a_border_cut_removes_everything_beyond_one_line():
    silhouettes, joints, drawn = _full(400)
    kept, shown = cut_by_border(silhouettes, joints, drawn, torch.Generator().manual_seed(2), prob=1.0)
    rows, cols = kept.any(2), kept.any(1)  # (B, R) rows / columns with a pixel left
    bottom = ~rows[:, -1]  # the last row is gone: a bottom cut
    assert bottom.float().mean().item() == pytest.approx(0.5, abs=0.08)
    for b in range(len(kept)):
        if bottom[b]:
            last = int(rows[b].nonzero().max())
            assert kept[b, : last + 1].all() and not kept[b, last + 1 :].any()
            # The line lies between the last kept pixel's centre and the first removed one's.
            v = joints[b, :, 1]
            assert (v[shown[b]] < last + 1.5).all() and (v[~shown[b]] >= last + 0.5).all()
        else:  # a side cut: whole columns on one side
            assert rows[b].all() and not cols[b].all() and (kept[b] == cols[b][None]).all()
    assert 0.45 * R <= rows.sum(1)[bottom].min() and rows.sum(1)[bottom].max() <= 0.85 * R + 1


def test_an_ellipse_removes_silhouette_and_the_joints_under_it():
    silhouettes, joints, drawn = _full(50)
    kept, shown = occlude_with_ellipse(silhouettes, joints, drawn, torch.Generator().manual_seed(3), prob=1.0)
    removed = (~kept).flatten(1).sum(1).float() / (R * R)
    assert (removed > 0.02).all() and (removed < 0.3).all()  # semi-axes 0.1-0.3 of the side
    pixel = joints.long().clamp(0, R - 1)
    under = ~kept[torch.arange(50)[:, None], pixel[..., 1], pixel[..., 0]]
    # Joints hidden are those inside the ellipse (up to the pixel a joint falls in, at the outline).
    assert ((~shown) == under).float().mean().item() > 0.97


def test_dressing_grows_torso_and_legs_only():
    labels = torch.zeros(20, R, R, dtype=torch.uint8)
    labels[:, 10:20, 28:36] = 3  # head
    labels[:, 20:40, 24:40] = 6  # torso
    labels[:, 20:40, 10:16] = 1  # an arm, away from the torso
    labels[:, 40:60, 26:31] = 4  # legs
    labels[:, 40:60, 33:38] = 5
    silhouettes = labels != 0
    dressed = dress_silhouette(silhouettes, labels, torch.Generator().manual_seed(4), prob=1.0, max_radius=3)
    added = dressed & ~silhouettes
    assert added.flatten(1).any(1).all()
    body = torch.zeros_like(silhouettes)
    for part in DRESSED_PARTS:
        body |= labels == part
    near_body = torch.nn.functional.max_pool2d(body.float()[:, None], 7, 1, 3)[:, 0] > 0
    assert not (added & ~near_body).any()  # nothing grows around the arm or away from torso and legs
    assert (dressed & silhouettes).sum() == silhouettes.sum()


def test_switched_off_they_change_nothing_and_draw_nothing():
    silhouettes, joints, drawn = _full(8)
    generator = torch.Generator().manual_seed(5)
    state = generator.get_state()
    assert cut_by_border(silhouettes, joints, drawn, generator, 0.0) == (silhouettes, drawn)
    assert occlude_with_ellipse(silhouettes, joints, drawn, generator, 0.0) == (silhouettes, drawn)
    assert (
        dress_silhouette(silhouettes, torch.zeros(8, R, R, dtype=torch.uint8), generator, 0.0, 3)
        is silhouettes
    )
    assert torch.equal(generator.get_state(), state)


def test_a_training_batch_with_every_hard_case_keeps_whole_body_targets(assets):
    bundle = load_bundle("open", additional_dir=assets)
    plain = tiny_config(assets)
    hard = tiny_config(
        assets,
        "proxy_augment.border_cut_prob=1",
        "proxy_augment.ellipse_occlusion_prob=1",
        "proxy_augment.dress_prob=1",
    )
    poses = ProceduralPoseSource().sample(6, torch.Generator().manual_seed(6))
    clean = SyntheticBatchGenerator(bundle, plain, "cpu").generate(poses, torch.Generator().manual_seed(7))
    cut = SyntheticBatchGenerator(bundle, hard, "cpu").generate(poses, torch.Generator().manual_seed(7))
    for name in ("target_vertices", "target_lsp14", "target_betas", "target_joints2d", "joints2d_visible"):
        assert torch.equal(getattr(clean, name), getattr(cut, name)), name
    empty_heatmaps = (cut.inputs[:, 1:].flatten(2).amax(2) == 0).sum()
    assert empty_heatmaps > (clean.inputs[:, 1:].flatten(2).amax(2) == 0).sum()  # joints hidden by cuts
    assert not torch.equal(clean.inputs[:, 0], cut.inputs[:, 0])
