"""The scene benchmark: seeded generation, consistent ground truth, its metrics, and a run end to end."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import run_evaluate
from evaluation.main_person import main_person
from evaluation.report import build_index, mesh_volume, rotation_angle_deg
from evaluation.scene_benchmark import SceneBenchmark, ensure_scene_benchmark, generate_scene_benchmark
from evaluation.scene_cases import CASES, LayoutSampler, SceneBenchmarkConfig, case_schedule
from evaluation.scene_eval import match_people
from evaluation.scene_render import BodyPoser
from models.bundle import load_bundle
from utils.rotations import axis_angle_to_rotmat

SMALL = (180, 320)  # renders fast; sizes of people scale with the picture


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> SceneBenchmark:
    """Five small pictures: one person framed, one in a coat, one partly behind another, one seated at a
    table, a group."""
    cases = ("front", "loose_clothing", "occluded_by_person", "seated", "group")
    config = SceneBenchmarkConfig(num_pictures=5, image_hw=SMALL, cases=cases)
    return ensure_scene_benchmark(tmp_path_factory.mktemp("scenes"), config, progress=False)


def test_generation_is_seeded_and_deterministic(tmp_path: Path) -> None:
    config = SceneBenchmarkConfig(num_pictures=2, image_hw=SMALL, cases=("three_quarter", "small"))
    first = generate_scene_benchmark(tmp_path / "a", config, progress=False)
    second = generate_scene_benchmark(tmp_path / "b", config, progress=False)
    with np.load(first / "labels.npz") as a, np.load(second / "labels.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            assert np.array_equal(a[key], b[key]), key
        assert list(a["cases"]) == ["three_quarter", "small"]
    for name in ("images/scene_00000.jpg", "images/scene_00001.jpg", "silhouettes/scene_00001_p0.png"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    # Another seed draws other people.
    other = SceneBenchmarkConfig(num_pictures=1, image_hw=SMALL, cases=("three_quarter",), seed=7)
    bundle = load_bundle("open", "neutral")
    poser = BodyPoser(bundle)
    parts = {"knee_up": np.ones(bundle.num_vertices, bool), "waist_up": np.ones(bundle.num_vertices, bool)}
    with np.load(first / "labels.npz") as a:
        assert not np.allclose(LayoutSampler(other, poser, parts).picture(0).people[0].pose, a["poses"][0])
    # A folder made with other settings is refused, not silently reused.
    with pytest.raises(Exception, match="made with other settings"):
        ensure_scene_benchmark(first, other, progress=False)


def test_case_schedule_spreads_cases_and_rejects_unknown_ones() -> None:
    schedule = case_schedule(SceneBenchmarkConfig())
    assert set(schedule) == set(CASES) - {"seated"} and schedule.count("group") == 2
    assert len(schedule) == len(CASES)  # the 12 default cases, groups twice
    with pytest.raises(ValueError, match="Unknown scene cases"):
        case_schedule(SceneBenchmarkConfig(cases=("front", "seated_on_the_moon")))


def test_truth_silhouettes_joints_and_visibility_are_consistent(scenes: SceneBenchmark) -> None:
    assert list(scenes.cases) == ["front", "loose_clothing", "occluded_by_person", "seated", "group"]
    # One person framed alone: wholly visible, joints inside the picture and on the body.
    (row,) = scenes.rows(0)
    body = scenes.silhouette(0, 0)
    assert scenes.visible_fraction[row] > 0.97 and scenes.main[0] == 0
    joints = scenes.joints2d[row]
    assert joints[:, 2].all()
    u, v = joints[:, 0].astype(int), joints[:, 1].astype(int)
    assert body[v, u].mean() > 0.8  # joints lie inside the body (a few sit on its outline)
    assert np.array_equal(scenes.seen(0) == 1, body)  # no coat: what is seen of the person is the body

    # Loose clothing: the body's silhouette lies inside what is seen of the person, which reaches beyond it.
    body, seen = scenes.silhouette(1, 0), scenes.seen(1) == 1
    assert (body & ~seen).sum() == 0
    assert seen.sum() > 1.05 * body.sum()

    # Partly behind another person: the front one is whole and the main one, the others are partly hidden.
    rows = scenes.rows(2)
    fractions = scenes.visible_fraction[rows.start : rows.stop]
    assert len(rows) >= 2 and fractions[0] > 0.97 and (fractions[1:] < 0.97).all()
    assert scenes.main[2] == 0
    for k in range(len(rows)):  # what is seen of a person lies within its body (no coats here)
        assert ((scenes.seen(2) == k + 1) & ~scenes.silhouette(2, k)).sum() == 0

    # Seated at a table: the table hides the legs, all of the lower part of the silhouette.
    (row,) = scenes.rows(3)
    body, seen = scenes.silhouette(3, 0), scenes.seen(3) == 1
    assert 0.2 < scenes.visible_fraction[row] < 0.8
    rows_seen = np.flatnonzero(seen.any(axis=1))
    assert np.flatnonzero(body.any(axis=1)).max() > rows_seen.max() + 5


def test_main_person_rule_is_mirror_invariant(scenes: SceneBenchmark) -> None:
    index = 4  # the group
    count = len(scenes.rows(index))
    visible = np.stack([scenes.silhouette(index, k) & (scenes.seen(index) == k + 1) for k in range(count)])
    fractions = scenes.visible_fraction[scenes.rows(index).start : scenes.rows(index).stop]
    assert main_person(visible, fractions) == scenes.main[index]
    assert main_person(visible[:, :, ::-1], fractions) == scenes.main[index]

    # Two equal people: the central one wins whichever side the other stands on; a half-hidden one loses.
    masks = np.zeros((2, 100, 200), bool)
    masks[0, 20:80, 90:110] = True
    masks[1, 20:80, 10:30] = True
    assert main_person(masks, np.array([1.0, 1.0])) == 0
    assert main_person(masks[:, :, ::-1], np.array([1.0, 1.0])) == 0
    assert main_person(masks, np.array([0.4, 1.0])) == 1


def test_match_people_pairs_by_overlap() -> None:
    seen = np.zeros((50, 80), np.uint8)
    seen[10:40, 5:20] = 1
    seen[10:40, 50:70] = 2
    left = np.zeros((50, 80), bool)
    left[10:40, 6:20] = True
    far = np.zeros((50, 80), bool)
    far[0:5, 30:45] = True
    assert match_people([far, left], seen, 3) == {0: 1}  # person 1 (right) and 2 (absent) unmatched


def test_orientation_volume_and_build_metrics() -> None:
    angle = torch.tensor([[0.0, 0.0, math.radians(30.0)], [math.radians(-90.0), 0.0, 0.0]])
    pred, target = axis_angle_to_rotmat(torch.zeros(2, 3)), axis_angle_to_rotmat(angle)
    assert torch.allclose(rotation_angle_deg(pred, target), torch.tensor([30.0, 90.0]), atol=1e-3)

    bundle = load_bundle("open", "neutral")
    tpose = bundle.tpose_vertices(torch.zeros(1, 10))
    volume = mesh_volume(tpose, bundle.faces)
    assert 0.04 < float(volume) < 0.12  # an adult body: 40-120 litres
    assert torch.allclose(mesh_volume(2.0 * tpose, bundle.faces), 8.0 * volume, rtol=1e-4)
    assert torch.allclose(build_index(2.0 * tpose, bundle.faces), build_index(tpose, bundle.faces), rtol=1e-4)
    heavier = bundle.tpose_vertices(torch.tensor([[0.0, 2.5] + [0.0] * 8]))
    lighter = bundle.tpose_vertices(torch.tensor([[0.0, -2.5] + [0.0] * 8]))
    assert not torch.allclose(
        build_index(heavier, bundle.faces), build_index(lighter, bundle.faces), rtol=0.02
    )


@pytest.mark.slow
def test_tiny_benchmark_runs_end_to_end_with_the_real_detector(tmp_path: Path) -> None:
    out = tmp_path / "eval_scenes.json"
    argv = ["--dataset", "scenes", "--data_dir", str(tmp_path / "bench"), "--num_samples", "2"]
    argv += ["--scene_cases", "waist_up,occluded_by_person", "--device", "cpu", "--out", str(out)]
    argv += ["--refine_steps", "2"]  # refined and regressor columns both, at a tenth of the default's cost
    assert run_evaluate.main(argv) == 0
    report = json.loads(out.read_text())
    assert report["dataset"] == "scenes" and report["settings"]["refine_steps"] == 2
    assert set(report["subsets"]) == {"waist_up", "occluded_by_person"}
    for subset in report["subsets"].values():
        assert subset["num_samples"] >= 1 and "recall" in subset["metrics"]
        assert "recall" in subset["metrics_regressor"]
    assert 0.0 <= report["metrics"]["recall"]["value"] <= 1.0
    assert report["metrics"]["main_person"]["headline"]
    ids = [sample["id"] for sample in report["samples"]]
    assert ids[0] == "scene_00000/p0" and len(ids) == len(set(ids)) >= 3
    found = [s for s in report["samples"] if s["status"] == "ok"]
    assert found and all(
        {"mpjpe_pa", "pve_t_sc", "global_orient", "build", "miou"} <= set(s["metrics"]) for s in found
    )
    assert all(0.0 <= s["metrics"]["miou"] <= 1.0 for s in found)
