"""Retries, every person of a picture, the prominence choice and the group overlay."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import run_predict
from models.bundle import load_bundle
from predict.detectors import make_detector
from predict.detectors.base import DetectorBackend, PersonDetection, mask_box
from predict.detectors.retry import RetryingDetector
from predict.group_overlay import render_people_overlay
from predict.people import (
    MIN_PERSON_HEIGHT,
    choose_main,
    find_people,
    order_by_prominence,
    paint_out,
    prominence,
)
from tests.helpers import make_checkpoint

DEMO = Path(__file__).resolve().parents[1] / "demo" / "multi"
GROUP = DEMO / "group_01_four_people.jpg"
GROUP_LABELS = DEMO / "ground_truth" / "masks" / "group_01_four_people_people.png"


def person_at(box: tuple[int, int, int, int], image_hw: tuple[int, int], confidence: float = 0.9):
    """A rectangular person with keypoints spread over its box."""
    x0, y0, x1, y1 = box
    mask = np.zeros(image_hw, bool)
    mask[y0:y1, x0:x1] = True
    u = np.linspace(x0 + 1, x1 - 1, 17)
    v = np.linspace(y0 + 1, y1 - 1, 17)
    keypoints = np.stack([u, v, np.full(17, confidence)], axis=1).astype(np.float32)
    return PersonDetection(mask=mask, keypoints=keypoints, box=mask_box(mask), score=confidence)


class SquareOnlyDetector(DetectorBackend):
    """Finds one fixed person, but only in square pictures: the failure mode of mediapipe on some wide photos.
    The person is the rectangle rows 20..60, columns 30..50 of the picture it was given (a square)."""

    name = "square-only"

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def detect(self, image_rgb, image_path=None):
        self.calls.append(image_rgb.shape[:2])
        height, width = image_rgb.shape[:2]
        return [person_at((30, 20, 50, 60), (height, width))] if height == width else []

    def close(self) -> None:
        pass


def test_retry_maps_a_padded_square_detection_back_to_the_photo() -> None:
    primary = SquareOnlyDetector()
    detector = RetryingDetector(primary)
    people = detector.detect(np.zeros((60, 100, 3), np.uint8))
    assert detector.last_attempt == "square"
    assert primary.calls == [(60, 100), (100, 100)]
    # The square puts the photo 20 rows down: the person's rows 20..60 of the square are rows 0..40 here.
    (person,) = people
    assert person.mask.shape == (60, 100)
    assert person.box.tolist() == [30, 0, 50, 40]
    expected = person_at((30, 20, 50, 60), (100, 100)).keypoints[:, 1] - 20
    np.testing.assert_allclose(person.keypoints[:, 1], expected)


def test_retry_crops_map_back_and_nobody_costs_every_attempt_once() -> None:
    class CropOnly(SquareOnlyDetector):
        def detect(self, image_rgb, image_path=None):
            self.calls.append(image_rgb.shape[:2])
            return super().detect(image_rgb) if image_rgb.shape[:2] == (60, 60) else []

    primary = CropOnly()
    detector = RetryingDetector(primary)
    (person,) = detector.detect(np.zeros((60, 120, 3), np.uint8))
    assert detector.last_attempt == "crop_centre"
    assert person.box.tolist() == [30 + 30, 20, 50 + 30, 60]  # the centre crop starts at column 30
    blank = SquareOnlyDetector()
    blank.detect = lambda image_rgb, image_path=None: blank.calls.append(image_rgb.shape) or []
    retrying = RetryingDetector(blank)
    assert retrying.detect(np.zeros((60, 120, 3), np.uint8)) == []
    assert retrying.last_attempt is None
    assert len(blank.calls) == 5  # direct, square, three crops (no low-threshold backend given)


def test_plain_backends_are_their_own_primary_and_retries_name_the_wrapped_one() -> None:
    plain = SquareOnlyDetector()
    assert plain.primary is plain and plain.last_attempt is None
    plain.detect(np.zeros((40, 40, 3), np.uint8))
    assert plain.last_attempt is None  # found someone, but without any retry
    assert RetryingDetector(plain).primary is plain
    # The first search retries (square), the search for more people uses the plain backend only.
    wide = SquareOnlyDetector()
    found = find_people(RetryingDetector(wide), np.zeros((60, 100, 3), np.uint8))
    assert found.attempt == "square" and wide.calls == [(60, 100), (100, 100), (60, 100)]


def test_prominence_prefers_the_central_complete_person_over_a_larger_one_cut_by_the_edge() -> None:
    hw = (480, 640)
    centre = person_at((270, 100, 370, 460), hw)
    edge = person_at((0, 20, 130, 480), hw, confidence=0.4)  # larger, half outside, unsure joints
    assert edge.mask.sum() > centre.mask.sum()
    assert prominence(centre, hw) > prominence(edge, hw)
    assert choose_main([edge, centre], hw) is centre
    assert order_by_prominence([edge, centre], hw) == [centre, edge]
    assert choose_main([], hw) is None


def test_paint_out_changes_only_the_region() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    region = np.zeros((120, 160), bool)
    region[30:90, 60:100] = True
    image[region] = (250, 0, 250)
    out = paint_out(image, region)
    np.testing.assert_array_equal(out[~region], image[~region])
    assert np.abs(out[region].astype(int) - (250, 0, 250)).mean() > 60  # the magenta block is gone


@pytest.fixture(scope="module")
def group_picture() -> np.ndarray:
    return cv2.imread(str(GROUP))[:, :, ::-1].copy()


def test_every_person_of_the_rendered_group_is_found_once(group_picture) -> None:
    labels = cv2.imread(str(GROUP_LABELS), cv2.IMREAD_GRAYSCALE)
    with make_detector("mediapipe", "mediapipe") as detector:
        found = find_people(detector, group_picture)
    assert len(found.people) == 4
    owners = []
    for person in found.people:
        counts = np.bincount(labels[person.mask], minlength=5)[1:]
        owner = int(counts.argmax())
        visible = labels == owner + 1
        iou = np.logical_and(person.mask, visible).sum() / np.logical_or(person.mask, visible).sum()
        assert iou > 0.5
        owners.append(owner)
    assert sorted(owners) == [0, 1, 2, 3]
    assert owners[0] == 0  # the person in the middle, in front, is the most prominent
    for a in range(4):
        for b in range(a + 1, 4):
            assert not np.logical_and(found.people[a].mask, found.people[b].mask).any()


def test_group_overlay_draws_the_nearer_person_in_front() -> None:
    bundle = load_bundle("open")
    rotmats = torch.eye(3).expand(1, 24, 3, 3).clone()
    rotmats[:, 0] = torch.diag(torch.tensor([1.0, -1.0, -1.0]))  # upright, facing the camera
    body = bundle(rotmats, torch.zeros(1, 10))
    near = body.vertices[0] + torch.tensor([0.0, 0.0, 5.0])
    far = body.vertices[0] + torch.tensor([0.1, 0.0, 8.0])
    background = np.zeros((240, 320, 3), np.uint8)
    focal, camera = torch.tensor([600.0, 600.0]), (torch.tensor([160.0, 120.0]), (240, 320), background)
    front_first, _ = render_people_overlay(torch.stack([near, far]), bundle.faces, focal, *camera)
    back_first, _ = render_people_overlay(torch.stack([far, near]), bundle.faces, focal, *camera)
    alone, _ = render_people_overlay(far[None], bundle.faces, focal[:1], *camera)

    def pixels(picture: np.ndarray, colour: str) -> int:
        red, blue = picture[..., 0].astype(int), picture[..., 2].astype(int)
        drawn = picture.sum(axis=-1) > 0
        return int((drawn & ((blue > red) if colour == "blue" else (red > blue))).sum())

    # Colours follow the order of people (p0 light blue, p1 orange); the far body loses the pixels the near
    # one covers, whichever of the two is p0.
    far_alone = pixels(alone, "blue")
    assert pixels(front_first, "orange") < 0.9 * far_alone
    assert pixels(back_first, "blue") < 0.9 * far_alone
    assert pixels(front_first, "blue") == pytest.approx(pixels(back_first, "orange"), rel=0.02)


def test_people_all_writes_per_person_files_one_overlay_and_a_people_list(tmp_path, capsys) -> None:
    bundle = load_bundle("open")
    checkpoint = make_checkpoint(tmp_path / "regressor.pt", bundle)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "group.jpg").write_bytes(GROUP.read_bytes())
    out = tmp_path / "out"
    argv = ["--input", str(folder), "--output", str(out), "--checkpoint", str(checkpoint), "--people", "all"]
    code = run_predict.main([*argv, "--no-obj", "--no-side", "--no-tpose", "--no-proxy", "--quiet"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    (entry,) = summary["images"]
    assert entry["status"] == "ok" and entry["found_by"] == "direct"
    assert [person["person"] for person in entry["people"]] == [0, 1, 2, 3]
    for k in range(4):
        with np.load(out / f"group_p{k}.npz", allow_pickle=False) as data:
            assert data["vertices"].shape[1] == 3
    assert sorted(path.name for path in out.glob("*.png")) == ["group_overlay.png"]
    assert cv2.imread(str(out / "group_overlay.png")).shape == (480, 640, 3)


def test_tiles_find_people_too_small_for_a_whole_picture_search() -> None:
    """Two rendered people 150 and 200 px tall on a 1920 x 1080 gravel picture: the whole-picture search
    misses them, the tiled search finds each once, whole, where they stand."""
    demo = DEMO.parent
    render = cv2.imread(str(demo / "render_01_standing.jpg"))[:, :, ::-1]
    mask_file = demo / "ground_truth" / "masks" / "render_01_standing.png"
    mask = cv2.imread(str(mask_file), cv2.IMREAD_GRAYSCALE) > 0
    gravel = cv2.imread(str(demo / "textures" / "gravel.png"))[:, :, ::-1]
    picture = np.ascontiguousarray(cv2.resize(gravel, (1920, 1080)))
    rows, cols = np.nonzero(mask)
    person, silhouette = (a[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] for a in (render, mask))
    boxes = []
    for left, height in ((400, 150), (1300, 200)):
        scale = height / person.shape[0]
        small = cv2.resize(person, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        small_mask = cv2.resize(silhouette.astype(np.uint8), small.shape[1::-1]) > 0
        top = 700
        region = picture[top : top + small.shape[0], left : left + small.shape[1]]
        region[small_mask] = small[small_mask]
        boxes.append((left, top, left + small.shape[1], top + small.shape[0]))
    with make_detector("mediapipe", "mediapipe") as detector:
        whole = find_people(detector, picture, tiles=False)
        tiled = find_people(detector, picture, tiles=True)
    assert len(whole.people) < 2
    assert len(tiled.people) == 2
    for x0, y0, x1, y1 in boxes:
        centres = [person.centre for person in tiled.people]
        assert sum(x0 <= u <= x1 and y0 <= v <= y1 for u, v in centres) == 1


class FixedPeople(DetectorBackend):
    """Returns the same people on every call (as precomputed files do)."""

    name = "fixed"

    def __init__(self, people: list[PersonDetection]) -> None:
        self.people = people

    def detect(self, image_rgb, image_path=None):
        return list(self.people)

    def close(self) -> None:
        pass


def test_people_under_the_minimum_height_are_set_aside_with_a_reason() -> None:
    hw = (100, 100)
    short = person_at((10, 10, 20, 10 + MIN_PERSON_HEIGHT - 1), hw)
    tall = person_at((60, 10, 70, 10 + MIN_PERSON_HEIGHT), hw)
    found = find_people(FixedPeople([short, tall]), np.zeros((*hw, 3), np.uint8))
    boxes = [[person.box.tolist() for person in group] for group in (found.people, found.too_small)]
    assert boxes == [[tall.box.tolist()], [short.box.tolist()]] and found.failure is None
    alone = find_people(FixedPeople([short]), np.zeros((*hw, 3), np.uint8))
    assert alone.people == [] and alone.failure == (
        f"The person found is {MIN_PERSON_HEIGHT - 1} px tall: too small for a usable fit "
        f"(at least {MIN_PERSON_HEIGHT} px)."
    )
    assert choose_main([short], hw) is None and choose_main([short, tall], hw) is tall
