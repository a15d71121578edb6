"""predict/detectors: backends, output conversion and pairing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from predict.detectors import (
    COCO17_NAMES,
    DetectorConfigError,
    DetectorUnavailableError,
    ImageDetectionError,
    PersonDetection,
    make_detector,
)
from predict.detectors.base import box_iou, mask_box
from predict.detectors.detectron2_conversion import (
    KeypointInstances,
    MaskInstances,
    SquarePad,
    densepose_to_masks,
    densepose_to_people,
    keypoint_rcnn_to_people,
    pair_people,
    pointrend_masks_to_people,
)
from predict.detectors.mediapipe_backend import BLAZEPOSE_TO_COCO17, MediapipeBackend, blazepose_to_coco17
from predict.detectors.precomputed import PrecomputedBackend
from predict.people import choose_main
from proxy.crop import mask_bbox
from utils.image_io import read_image_rgb


def person(box: tuple[float, float, float, float], image_hw: tuple[int, int] = (100, 100), tag: float = 0.0):
    """A PersonDetection whose mask fills its (integer) box; `tag` goes in the keypoint confidences."""
    mask = np.zeros(image_hw, dtype=bool)
    x0, y0, x1, y1 = (int(v) for v in box)
    mask[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)] = True  # at least one pixel
    keypoints = np.full((17, 3), tag, dtype=np.float32)
    return PersonDetection(mask=mask, keypoints=keypoints, box=np.array(box, np.float32), score=1.0)


def disc_mask(image_hw: tuple[int, int], centre_uv: tuple[float, float], radius: float) -> np.ndarray:
    rows, cols = np.mgrid[: image_hw[0], : image_hw[1]]
    return (cols + 0.5 - centre_uv[0]) ** 2 + (rows + 0.5 - centre_uv[1]) ** 2 < radius**2


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


# ---------------------------------------------------------------------------------------------- interface


def test_person_detection_rejects_wrong_layouts() -> None:
    good = person((10, 10, 20, 30))
    with pytest.raises(ValueError, match="mask"):
        PersonDetection(np.zeros((5, 5), bool), good.keypoints, good.box, 1.0)  # empty silhouette
    with pytest.raises(ValueError, match="keypoints"):
        PersonDetection(good.mask, good.keypoints[:, :2].copy(), good.box, 1.0)
    with pytest.raises(ValueError, match="box"):
        PersonDetection(good.mask, good.keypoints, good.box.astype(np.float64), 1.0)
    assert good.area == 200.0 and good.centre == (15.0, 20.0)


def test_person_boxes_are_the_crop_boxes_with_pixel_edges() -> None:
    """One box scan: a person box is `mask_bbox`'s inclusive indices with 1 added to the far corner."""
    mask = np.zeros((40, 30), bool)
    mask[5:17, 3:4] = True  # columns 3 only, rows 5..16
    mask[20, 12] = True
    assert mask_box(mask).tolist() == [3, 5, 13, 21]
    assert mask_bbox(torch.from_numpy(mask)[None])[0][0].tolist() == [3, 5, 12, 20]
    assert mask_box(np.zeros((4, 4), bool)) is None


# --------------------------------------------------------------------------------------------- mediapipe


@pytest.fixture(scope="module")
def mediapipe_backend():
    backend = MediapipeBackend()
    yield backend
    backend.close()


def real_photo_path() -> Path:
    """Grace Hopper's portrait, shipped with matplotlib's sample data (a real photo of a person)."""
    matplotlib = pytest.importorskip("matplotlib")
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not path.is_file():
        pytest.skip("matplotlib's sample photo grace_hopper.jpg is not installed")
    return path


def test_blazepose_map_matches_mediapipe_landmark_names() -> None:
    from mediapipe.python.solutions.pose import PoseLandmark

    for coco_index, name in enumerate(COCO17_NAMES):
        assert BLAZEPOSE_TO_COCO17[coco_index] == PoseLandmark[name.upper()].value, name


def test_blazepose_to_coco17_scales_by_image_size_and_clips_visibility() -> None:
    landmarks = np.random.default_rng(5).uniform(-0.2, 1.2, (33, 3)).astype(np.float32)
    keypoints = blazepose_to_coco17(landmarks, (600, 400))
    assert keypoints.shape == (17, 3) and keypoints.dtype == np.float32
    chosen = landmarks[list(BLAZEPOSE_TO_COCO17)]
    np.testing.assert_allclose(keypoints[:, 0], chosen[:, 0] * 400, rtol=1e-6)
    np.testing.assert_allclose(keypoints[:, 1], chosen[:, 1] * 600, rtol=1e-6)
    np.testing.assert_allclose(keypoints[:, 2], np.clip(chosen[:, 2], 0, 1))
    with pytest.raises(ValueError, match="33"):
        blazepose_to_coco17(landmarks[:17], (600, 400))


def test_mediapipe_finds_the_person_in_a_real_photo(mediapipe_backend: MediapipeBackend) -> None:
    image = read_image_rgb(real_photo_path()).rgb  # 600 x 512 head-and-shoulders portrait
    people = mediapipe_backend.detect(image)
    assert len(people) == 1
    found = choose_main(people, image.shape[:2])
    assert found is people[0]
    assert found.mask.shape == image.shape[:2] and 0.2 < found.mask.mean() < 0.95
    kp = {name: found.keypoints[i] for i, name in enumerate(COCO17_NAMES)}
    upper_body = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder"]
    for name in upper_body:
        u, v, confidence = kp[name]
        assert confidence > 0.9, name
        assert 0 <= u < image.shape[1] and 0 <= v < image.shape[0], name
    assert found.mask[int(kp["nose"][1]), int(kp["nose"][0])]  # joints and silhouette are the same person
    # She faces the camera: her left side is on the image's right; eyes above the nose, shoulders below.
    assert kp["left_shoulder"][0] > kp["right_shoulder"][0] and kp["left_eye"][0] > kp["right_eye"][0]
    assert kp["left_eye"][1] < kp["nose"][1] < kp["left_shoulder"][1]
    for name in ["left_ankle", "right_ankle", "left_knee", "right_knee"]:  # below the frame
        assert kp[name][2] < 0.5 and kp[name][1] > image.shape[0], name


def test_mediapipe_reports_nobody_on_empty_images(mediapipe_backend: MediapipeBackend) -> None:
    assert mediapipe_backend.detect(np.zeros((240, 320, 3), np.uint8)) == []
    assert mediapipe_backend.detect(np.full((64, 64, 3), 128, np.uint8)) == []
    with pytest.raises(ValueError, match="uint8"):
        mediapipe_backend.detect(np.zeros((64, 64, 3), np.float32))


def test_mediapipe_from_the_factory_and_close() -> None:
    backend = make_detector("mediapipe", "mediapipe", mask_threshold=0.6)
    assert isinstance(backend, MediapipeBackend) and backend.mask_threshold == 0.6
    with backend:
        assert backend.detect(np.zeros((32, 32, 3), np.uint8)) == []
    backend.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        backend.detect(np.zeros((32, 32, 3), np.uint8))


# --------------------------------------------------------------------------------------------- detectron2


@pytest.mark.skipif(importlib.util.find_spec("detectron2") is not None, reason="detectron2 is installed")
@pytest.mark.parametrize("silhouettes", ["pointrend", "densepose"])
def test_detectron2_missing_gives_the_install_sentence(silhouettes: str, tmp_path: Path) -> None:
    weights = {"pointrend": "pointrend_rcnn_R_50_fpn.pkl", "densepose": "densepose_rcnn_R_101_fpn_s1x.pkl"}
    (tmp_path / weights[silhouettes]).write_bytes(b"")  # present: the missing package is what stops it
    with pytest.raises(DetectorUnavailableError) as error:
        make_detector(silhouettes, "keypointrcnn", checkpoints_dir=tmp_path)
    message = str(error.value)
    assert "\n" not in message and message.endswith(".")
    for needle in [
        "pip install",
        "facebookresearch/detectron2.git",
        "--no-build-isolation",
        "torchvision",
        "'setuptools<82'",
        "--no-deps -e detectron2/projects/DensePose",
        "pip install av",
        "checkpoints/pointrend_rcnn_R_50_fpn.pkl",
        "checkpoints/densepose_rcnn_R_101_fpn_s1x.pkl",
    ]:
        assert needle in message
    # A git+...#subdirectory= install of DensePose pulls detectron2 again and an unpinned OpenCV.
    assert "#subdirectory=" not in message


def test_keypoint_rcnn_conversion() -> None:
    rng = np.random.default_rng(6)
    keypoints = rng.uniform(0, 50, (2, 17, 3))
    keypoints[0, 3, 2] = 1.7  # out-of-range scores are clipped
    people = keypoint_rcnn_to_people(
        np.array([[0, 0, 10, 10], [5, 5, 20, 20]]), np.array([0.9, 0.8]), keypoints
    )
    assert people.boxes.dtype == people.keypoints.dtype == np.float32
    assert people.keypoints.shape == (2, 17, 3)
    np.testing.assert_allclose(people.keypoints[:, :, :2], keypoints[:, :, :2], rtol=1e-6)
    assert people.keypoints[0, 3, 2] == 1.0 and (people.keypoints[:, :, 2] <= 1).all()
    empty = keypoint_rcnn_to_people(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 17, 3)))
    assert empty.keypoints.shape == (0, 17, 3)
    with pytest.raises(ValueError, match="2 boxes, 1 scores"):
        keypoint_rcnn_to_people(np.zeros((2, 4)), np.zeros(1), np.zeros((2, 17, 3)))


def test_pointrend_conversion_keeps_people_with_pixels() -> None:
    masks = np.zeros((3, 20, 20), dtype=bool)
    masks[0, 2:8, 2:8] = True  # person
    masks[1, 10:15, 10:15] = True  # a car (class 2)
    boxes = np.array([[2, 2, 8, 8], [10, 10, 15, 15], [0, 0, 5, 5]], np.float32)
    people = pointrend_masks_to_people(boxes, np.array([0.9, 0.8, 0.7]), masks, np.array([0, 2, 0]))
    assert len(people.boxes) == 1  # the empty person mask is dropped too
    np.testing.assert_array_equal(people.masks[0], masks[0])
    np.testing.assert_array_equal(people.boxes[0], boxes[0])


def test_densepose_i_maps_are_pasted_at_the_truncated_box_corner() -> None:
    i_map_a = np.zeros((5, 4), np.uint8)
    i_map_a[1:4, 1:3] = [[1, 2], [24, 0], [3, 3]]  # part indices; 0 inside the box is background
    i_map_b = np.full((6, 6), 7, np.uint8)  # partly outside the 12 x 10 image
    boxes = np.array([[2.9, 3.7, 6.9, 8.7], [7.2, 8.99, 13.2, 14.99]])
    masks = densepose_to_masks(boxes, [i_map_a, i_map_b], (12, 10))
    expected_a = np.zeros((12, 10), bool)
    expected_a[3:8, 2:6] = i_map_a != 0
    expected_b = np.zeros((12, 10), bool)
    expected_b[8:12, 7:10] = True
    np.testing.assert_array_equal(masks[0], expected_a)
    np.testing.assert_array_equal(masks[1], expected_b)
    people = densepose_to_people(boxes, np.array([0.9, 0.5]), [i_map_a, np.zeros((3, 3), np.uint8)], (12, 10))
    assert len(people.masks) == 1 and people.scores[0] == np.float32(0.9)


def test_box_iou() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 1 / 3, 0.0], [0.0, 0.0, 0.0]])


def test_pairing_matches_each_keypoint_person_to_their_own_silhouette() -> None:
    hw = (60, 100)
    keypoint_people = keypoint_rcnn_to_people(
        boxes=np.array([[5, 5, 35, 55], [60, 5, 95, 55], [40, 0, 50, 5]]),
        scores=np.array([0.99, 0.95, 0.8]),
        keypoints=np.stack([np.full((17, 3), tag) for tag in (0.1, 0.2, 0.3)]),
    )
    masks = np.stack([person(box, hw).mask for box in [(62, 6, 95, 54), (6, 4, 34, 55), (0, 40, 10, 60)]])
    mask_people = MaskInstances(
        boxes=np.array([[62, 6, 95, 54], [6, 4, 34, 55], [0, 40, 10, 60]], np.float32),
        scores=np.ones(3, np.float32),
        masks=masks,
    )
    people = pair_people(keypoint_people, mask_people)
    assert len(people) == 2  # the third keypoint person overlaps no silhouette
    np.testing.assert_array_equal(people[0].mask, masks[1])
    np.testing.assert_array_equal(people[1].mask, masks[0])
    assert people[0].keypoints[0, 2] == np.float32(0.1) and people[1].keypoints[0, 2] == np.float32(0.2)
    np.testing.assert_array_equal(people[0].box, keypoint_people.boxes[0])
    # One silhouette, two overlapping keypoint people: only the better-overlapping one gets it.
    rivals = KeypointInstances(
        boxes=np.array([[8, 4, 40, 55], [6, 4, 34, 55]], np.float32),
        scores=np.ones(2, np.float32),
        keypoints=np.zeros((2, 17, 3), np.float32),
    )
    single = MaskInstances(mask_people.boxes[1:2], mask_people.scores[1:2], masks[1:2])
    paired = pair_people(rivals, single, min_iou=0.1)
    assert len(paired) == 1 and np.array_equal(paired[0].box, rivals.boxes[1])


@pytest.mark.parametrize("image_hw", [(301, 500), (500, 300), (256, 256), (1080, 1920)])
def test_square_pad_maps_points_and_masks_back(image_hw: tuple[int, int]) -> None:
    square = SquarePad(image_hw)
    col, row = int(0.37 * image_hw[1]), int(0.61 * image_hw[0])
    image = np.zeros(image_hw + (3,), np.uint8)
    image[row - 4 : row + 5, col - 4 : col + 5] = 255  # a 9 px square centred on pixel (row, col)
    padded = square.apply(image)
    assert padded.shape == (512, 512, 3)
    rows, cols = np.nonzero(padded[:, :, 0])
    weights = padded[rows, cols, 0].astype(float)
    centroid = [np.average(cols + 0.5, weights=weights), np.average(rows + 0.5, weights=weights)]
    np.testing.assert_allclose(square.points_to_image(np.array(centroid)), [col + 0.5, row + 0.5], atol=1.0)
    disc = disc_mask(image_hw, (col, row), 0.2 * min(image_hw))
    disc_in_square = square.apply(disc.astype(np.uint8) * 255) > 127
    back = square.masks_to_image(disc_in_square[None])[0]
    assert back.shape == image_hw and iou(back, disc) > 0.95


def test_detectron2_outputs_to_the_chosen_person_in_photo_pixels() -> None:
    """Recorded-style outputs on the 512 square (two people, masks listed in another order, a car) go
    through conversion, pairing, mapping back and person choice to the centred person in photo pixels."""
    photo_hw = (400, 600)
    square = SquarePad(photo_hw)
    rng = np.random.default_rng(7)
    centres = [(300.0, 210.0), (90.0, 150.0)]  # centred person, off-centre person (photo pixels)
    photo_masks = [disc_mask(photo_hw, c, r) for c, r in zip(centres, (120.0, 60.0), strict=True)]
    photo_keypoints = [
        np.column_stack([rng.normal(c, 30, (17, 2)), rng.uniform(0.2, 1, 17)]) for c in centres
    ]
    to_square = 512 / square.side
    square_masks = np.stack([square.apply(m.astype(np.uint8) * 255) > 127 for m in photo_masks])
    square_boxes = np.stack([_box_of(m) for m in square_masks])
    square_keypoints = np.stack(photo_keypoints).copy()
    square_keypoints[:, :, :2] = (square_keypoints[:, :, :2] + square.offset) * to_square
    car = np.zeros((1, 512, 512), bool)
    car[10:30, 10:60] = True

    keypoint_people = keypoint_rcnn_to_people(square_boxes, np.array([0.99, 0.98]), square_keypoints)
    mask_people = pointrend_masks_to_people(
        np.concatenate([square_boxes[::-1], [[10, 10, 60, 30]]]),
        np.array([0.9, 0.9, 0.95]),
        np.concatenate([square_masks[::-1], car]),
        np.array([0, 0, 2]),
    )
    people = square.detections_to_image(pair_people(keypoint_people, mask_people))
    assert len(people) == 2
    chosen = choose_main(people, photo_hw)
    assert chosen is people[0]
    assert chosen.mask.shape == photo_hw and iou(chosen.mask, photo_masks[0]) > 0.97
    np.testing.assert_allclose(chosen.keypoints[:, :2], photo_keypoints[0][:, :2], atol=1e-3)
    np.testing.assert_allclose(chosen.keypoints[:, 2], photo_keypoints[0][:, 2], atol=1e-6)
    assert iou(people[1].mask, photo_masks[1]) > 0.95


def _box_of(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    return np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], np.float32)


# -------------------------------------------------------------------------------------------- precomputed

BODY25_NAMES = [
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip",
    "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe",
    "LHeel", "RBigToe", "RSmallToe", "RHeel",
]  # fmt: skip
COCO18_NAMES = [
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "RHip", "RKnee",
    "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
]  # fmt: skip


def openpose_name(coco_name: str) -> str:
    """'left_shoulder' -> 'LShoulder', 'nose' -> 'Nose'."""
    side, _, part = coco_name.partition("_")
    return side[0].upper() + part.capitalize() if part else side.capitalize()


IMAGE_HW = (40, 60)


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path]:
    masks, keypoints = tmp_path / "masks", tmp_path / "keypoints"
    masks.mkdir()
    keypoints.mkdir()
    return masks, keypoints


def write_mask(folder: Path, stem: str, mask: np.ndarray) -> None:
    assert cv2.imwrite(str(folder / f"{stem}.png"), mask)


def body_mask(value: int = 255) -> np.ndarray:
    mask = np.zeros(IMAGE_HW, np.uint8)
    mask[5:35, 20:40] = value
    return mask


def detect_one(backend: PrecomputedBackend, stem: str) -> PersonDetection:
    people = backend.detect(np.zeros(IMAGE_HW + (3,), np.uint8), Path(f"/photos/{stem}.jpg"))
    assert len(people) == 1
    return people[0]


def test_precomputed_npy_keypoints_and_binary_mask(folders: tuple[Path, Path]) -> None:
    masks, keypoints = folders
    write_mask(masks, "img", body_mask())
    expected = np.random.default_rng(8).uniform(0, 40, (17, 3)).astype(np.float32)
    np.save(keypoints / "img.npy", expected)
    found = detect_one(
        make_detector("precomputed", "precomputed", mask_dir=masks, keypoints_dir=keypoints), "img"
    )
    np.testing.assert_array_equal(found.mask, body_mask() > 0)
    np.testing.assert_array_equal(found.keypoints, expected)
    np.testing.assert_array_equal(found.box, [20, 5, 40, 35])


def test_precomputed_i_map_and_colour_masks(folders: tuple[Path, Path]) -> None:
    masks, keypoints = folders
    i_map = body_mask(0)
    i_map[5:35, 20:40] = np.random.default_rng(9).integers(0, 25, (30, 20))  # 0 = background inside the box
    write_mask(masks, "dp", i_map)
    colour = np.zeros(IMAGE_HW + (3,), np.uint8)
    colour[10:20, 5:15, 1] = 200
    write_mask(masks, "rgb", colour)
    for stem in ("dp", "rgb"):
        np.save(keypoints / f"{stem}.npy", np.ones((17, 3), np.float32))
    backend = PrecomputedBackend(masks, keypoints)
    np.testing.assert_array_equal(detect_one(backend, "dp").mask, i_map != 0)
    np.testing.assert_array_equal(detect_one(backend, "rgb").mask, colour[:, :, 1] > 0)


def test_precomputed_coco_json_variants(folders: tuple[Path, Path]) -> None:
    masks, keypoints = folders
    rng = np.random.default_rng(10)
    uv = rng.uniform(0, 40, (17, 2))
    flags = rng.integers(0, 3, 17)
    flat = np.column_stack([uv, flags]).reshape(-1).tolist()
    scores = rng.uniform(0, 1.3, 17)
    scored = np.column_stack([uv, scores]).reshape(-1).tolist()
    variants = {
        "list": [{"image_id": 1, "keypoints": flat}],
        "single": {"keypoints": flat},
        "annotations": {"annotations": [{"keypoints": flat}]},
        "scores": [{"keypoints": scored, "score": 0.9}],
    }
    for stem, content in variants.items():
        write_mask(masks, stem, body_mask())
        (keypoints / f"{stem}.json").write_text(json.dumps(content))
    backend = PrecomputedBackend(masks, keypoints)
    for stem in ("list", "single", "annotations"):
        found = detect_one(backend, stem)
        np.testing.assert_allclose(found.keypoints[:, :2], uv, rtol=1e-6)
        np.testing.assert_array_equal(found.keypoints[:, 2], (flags > 0).astype(np.float32))
    np.testing.assert_allclose(
        detect_one(backend, "scores").keypoints[:, 2], np.clip(scores, 0, 1), rtol=1e-6
    )


@pytest.mark.parametrize("names", [BODY25_NAMES, COCO18_NAMES], ids=["BODY_25", "COCO-18"])
def test_precomputed_openpose_json_maps_joints_by_name(folders: tuple[Path, Path], names: list[str]) -> None:
    masks, keypoints = folders
    rng = np.random.default_rng(11)
    joints = {name: (rng.uniform(0, 60), rng.uniform(0, 40), rng.uniform(0, 1)) for name in names}
    flat = [value for name in names for value in joints[name]]
    (keypoints / "op.json").write_text(json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": flat}]}))
    write_mask(masks, "op", body_mask())
    found = detect_one(PrecomputedBackend(masks, keypoints), "op")
    expected = np.array([joints[openpose_name(name)] for name in COCO17_NAMES])
    np.testing.assert_allclose(found.keypoints, expected, rtol=1e-6)


def test_precomputed_several_people_takes_the_one_on_the_mask(folders: tuple[Path, Path]) -> None:
    masks, keypoints = folders
    write_mask(masks, "two", body_mask())
    outside = np.column_stack([np.full(17, 5.0), np.full(17, 5.0), np.ones(17)])  # off the mask
    inside = np.column_stack([np.full(17, 30.0), np.full(17, 20.0), np.full(17, 0.6)])
    np.save(keypoints / "two.npy", np.stack([outside, inside]).astype(np.float32))
    found = detect_one(PrecomputedBackend(masks, keypoints), "two")
    np.testing.assert_array_equal(found.keypoints, inside.astype(np.float32))


def test_precomputed_full_size_files_fit_a_downscaled_image(folders: tuple[Path, Path]) -> None:
    masks, keypoints = folders
    full = cv2.resize(body_mask(), (120, 80), interpolation=cv2.INTER_NEAREST)  # the original photo's size
    write_mask(masks, "big", full)
    full_keypoints = np.column_stack([np.full(17, 60.0), np.full(17, 40.0), np.ones(17)]).astype(np.float32)
    np.save(keypoints / "big.npy", full_keypoints)
    found = detect_one(PrecomputedBackend(masks, keypoints), "big")  # the image was read at 60 x 40
    np.testing.assert_array_equal(found.mask, body_mask() > 0)
    np.testing.assert_allclose(found.keypoints[0], [30.0, 20.0, 1.0])
    write_mask(masks, "big", np.full((80, 80), 255, np.uint8))  # another aspect ratio: a wrong file
    with pytest.raises(ImageDetectionError, match="80x80 but the image is 60x40"):
        detect_one(PrecomputedBackend(masks, keypoints), "big")


def test_precomputed_empty_mask_means_nobody(folders: tuple[Path, Path]) -> None:
    masks, keypoints = folders
    write_mask(masks, "none", body_mask(0))
    np.save(keypoints / "none.npy", np.zeros((17, 3), np.float32))
    assert (
        PrecomputedBackend(masks, keypoints).detect(np.zeros(IMAGE_HW + (3,), np.uint8), Path("none.png"))
        == []
    )


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("no_mask", "No precomputed mask"),
        ("no_keypoints", "No precomputed keypoints"),
        ("bad_mask", "not a readable image"),
        ("bad_npy_shape", "expected (17, 3)"),
        ("bad_json", "neither COCO nor OpenPose"),
        ("short_openpose", "neither COCO nor OpenPose"),
        ("nobody_json", "lists no person"),
        ("nan_npy", "NaN"),
    ],
)
def test_precomputed_per_image_errors(folders: tuple[Path, Path], setup: str, reason: str) -> None:
    masks, keypoints = folders
    if setup != "no_mask":
        write_mask(masks, "x", body_mask())
    if setup == "bad_mask":
        (masks / "x.png").write_text("not a png")
    contents = {
        "bad_json": "{not json",
        "short_openpose": json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 30}]}),
        "nobody_json": json.dumps({"people": []}),
    }
    if setup in contents:
        (keypoints / "x.json").write_text(contents[setup])
    elif setup == "bad_npy_shape":
        np.save(keypoints / "x.npy", np.zeros((17, 2)))
    elif setup == "nan_npy":
        np.save(keypoints / "x.npy", np.full((17, 3), np.nan))
    elif setup != "no_keypoints":
        np.save(keypoints / "x.npy", np.zeros((17, 3)))
    with pytest.raises(ImageDetectionError) as error:
        PrecomputedBackend(masks, keypoints).detect(np.zeros(IMAGE_HW + (3,), np.uint8), Path("x.jpg"))
    assert reason in str(error.value) and "\n" not in str(error.value)


# ------------------------------------------------------------------------------------------------ factory


@pytest.mark.parametrize(
    ("silh_from", "joints_from", "options", "match"),
    [
        ("mediapipe", "keypointrcnn", {}, "cannot be combined"),
        ("precomputed", "mediapipe", {}, "cannot be combined"),
        ("pointrend", "mediapipe", {}, "cannot be combined"),
        ("openpose", "mediapipe", {}, "Unknown silhouette source"),
        ("mediapipe", "hrnet", {}, "Unknown joint source"),
        ("mediapipe", "mediapipe", {"mask_dir": "x"}, "has no option mask_dir"),
        ("precomputed", "precomputed", {}, "needs the option mask_dir"),
    ],
)
def test_factory_usage_errors(silh_from: str, joints_from: str, options: dict, match: str) -> None:
    with pytest.raises(DetectorConfigError, match=match) as error:
        make_detector(silh_from, joints_from, **options)
    assert "\n" not in str(error.value)


def test_factory_precomputed_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DetectorUnavailableError, match="does not exist"):
        make_detector("precomputed", "precomputed", mask_dir=tmp_path / "nowhere")
