"""The detectron2 path without detectron2: its outputs, weight files, configs and failures.

detectron2 cannot be installed in CI, so its parts are exercised on recorded structures: `RecordedInstances`
has the attributes, tensor types and shapes of detectron2's `Instances` for each model (empty results
included), and `tests/detectron2_records/` holds what detectron2 itself reported (state-dict shapes of the
built models, the configs its yaml files give), written by `record.py` there from a real install.
"""

from __future__ import annotations

import json
import pickle
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import run_predict
from predict.detectors import DetectorUnavailableError, ImageDetectionError, joint_threshold, make_detector
from predict.detectors.detectron2_backend import (
    DETECTRON2_INSTALL_MESSAGE,
    _explained,
    _import_or_explain,
    densepose_instances,
    detect_people,
    keypoint_instances,
    pointrend_instances,
)
from predict.detectors.detectron2_configs import (
    DENSEPOSE,
    DENSEPOSE_LEGACY,
    KEYPOINT_RCNN,
    POINTREND,
    config_overrides,
)
from predict.detectors.detectron2_conversion import SquarePad, clip_to_image
from predict.detectors.detectron2_weights import (
    WeightsFileError,
    keypoint_rcnn_weights,
    match_weights,
    prepare_weights,
    read_weights,
)
from utils.runtime import REPO_ROOT

RECORDS = Path(__file__).parent / "detectron2_records"
HAS_DETECTRON2 = __import__("importlib").util.find_spec("detectron2") is not None


class RecordedBoxes:
    """detectron2's `Boxes`: the (N, 4) float32 [x0, y0, x1, y1] tensor."""

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor


class RecordedInstances:
    """What the backend reads of detectron2's `Instances`: fields as attributes, `has`, `len`, `to`."""

    def __init__(self, image_size: tuple[int, int], **fields):
        self.image_size = image_size
        self._fields = fields

    def __getattr__(self, name: str):
        fields = self.__dict__["_fields"]
        if name in fields:
            return fields[name]
        raise AttributeError(f"Cannot find field '{name}' in the given Instances!")

    def has(self, name: str) -> bool:
        return name in self._fields

    def __len__(self) -> int:
        for value in self._fields.values():
            return len(value.tensor if isinstance(value, RecordedBoxes) else value)
        raise NotImplementedError("Empty Instances does not support __len__!")

    def to(self, device: str) -> RecordedInstances:
        return self


def keypoint_output(boxes, scores, keypoints, size=512) -> RecordedInstances:
    """Keypoint R-CNN's fields: pred_boxes, scores, pred_classes, pred_keypoints (N, 17, 3) [x, y, prob],
    pred_keypoint_heatmaps (N, 17, 56, 56)."""
    n = len(boxes)
    return RecordedInstances(
        (size, size),
        pred_boxes=RecordedBoxes(torch.as_tensor(np.asarray(boxes, np.float32).reshape(n, 4))),
        scores=torch.as_tensor(np.asarray(scores, np.float32)),
        pred_classes=torch.zeros(n, dtype=torch.int64),
        pred_keypoints=torch.as_tensor(np.asarray(keypoints, np.float32).reshape(n, 17, 3)),
        pred_keypoint_heatmaps=torch.zeros((n, 17, 56, 56)),
    )


def pointrend_output(boxes, scores, masks, classes, size=512) -> RecordedInstances:
    """PointRend's fields: pred_boxes, scores, pred_classes, pred_masks (N, H, W) bool."""
    n = len(boxes)
    return RecordedInstances(
        (size, size),
        pred_boxes=RecordedBoxes(torch.as_tensor(np.asarray(boxes, np.float32).reshape(n, 4))),
        scores=torch.as_tensor(np.asarray(scores, np.float32)),
        pred_classes=torch.as_tensor(np.asarray(classes, np.int64)),
        pred_masks=torch.as_tensor(np.asarray(masks, bool).reshape(n, size, size)),
    )


def empty_densepose_output(size=512) -> RecordedInstances:
    """DensePose finding nobody: boxes, scores and classes of length 0 and no pred_densepose field."""
    return RecordedInstances(
        (size, size),
        pred_boxes=RecordedBoxes(torch.zeros((0, 4))),
        scores=torch.zeros(0),
        pred_classes=torch.zeros(0, dtype=torch.int64),
    )


def returning(instances: RecordedInstances):
    """A predictor that returns recorded instances, after checking it got the 512 px BGR square."""

    def predictor(bgr: np.ndarray) -> dict:
        assert bgr.shape == (512, 512, 3) and bgr.dtype == np.uint8 and bgr.flags.c_contiguous
        return {"instances": instances}

    return predictor


NOBODY_KEYPOINTS = keypoint_output(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 17, 3)))


# ----------------------------------------------------------------------------------------- empty results


def test_empty_results_of_every_model_mean_nobody() -> None:
    nobody_masks = pointrend_output(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 512, 512)), np.zeros(0))
    assert len(keypoint_instances(NOBODY_KEYPOINTS).boxes) == 0
    assert pointrend_instances(nobody_masks).masks.shape == (0, 512, 512)
    assert densepose_instances(empty_densepose_output(), (512, 512)).masks.shape == (0, 512, 512)
    photo = np.full((300, 400, 3), 90, np.uint8)
    for silhouettes, output in [("pointrend", nobody_masks), ("densepose", empty_densepose_output())]:
        assert detect_people(photo, returning(NOBODY_KEYPOINTS), returning(output), silhouettes) == []


def test_only_other_classes_than_people_mean_nobody() -> None:
    car = np.zeros((1, 512, 512), bool)
    car[200:300, 100:400] = True
    cars = pointrend_output([[100, 200, 400, 300]], [0.9], car, [2])
    assert pointrend_instances(cars).masks.shape == (0, 512, 512)
    person_keypoints = keypoint_output([[100, 200, 400, 300]], [0.9], np.full((17, 3), 250.0))
    photo = np.zeros((512, 512, 3), np.uint8)
    assert detect_people(photo, returning(person_keypoints), returning(cars), "pointrend") == []


def heatmaps_to_keypoints(maps: torch.Tensor) -> torch.Tensor:
    """Named after detectron2's function, whose bare assert fails on degenerate (NaN) heatmaps (written as
    a raise: pytest would give an assert statement here a message)."""
    if not (maps.flatten(1).max(1).values == maps.flatten(1).amax(1)).all():
        raise AssertionError
    return maps


def test_a_failing_model_check_is_one_sentence_naming_where() -> None:
    def keypoint_model(bgr: np.ndarray) -> dict:
        heatmaps_to_keypoints(torch.full((1, 17, 56, 56), float("nan")))
        raise AssertionError("unreachable")

    photo = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(ImageDetectionError) as error:
        detect_people(photo, keypoint_model, returning(empty_densepose_output()), "densepose")
    message = str(error.value)
    assert message.startswith("Keypoint R-CNN failed on this image: an internal check of detectron2 failed")
    assert "heatmaps_to_keypoints" in message and "AssertionError: )" not in message

    def failing_masks(bgr: np.ndarray) -> dict:
        raise RuntimeError("CUDA out of memory")

    with pytest.raises(ImageDetectionError, match=r"^PointRend failed on this image: RuntimeError in fail"):
        detect_people(photo, returning(NOBODY_KEYPOINTS), failing_masks, "pointrend")


# ------------------------------------------------------------------------------------------ clipping


def test_boxes_and_keypoints_are_clipped_to_the_photo() -> None:
    photo_hw = (400, 600)  # padded to 600 x 600: 100 px of padding above and below the photo
    square = SquarePad(photo_hw)
    to_square = 512 / square.side
    mask = np.zeros((1, 512, 512), bool)
    mask[0, 120:380, 200:300] = True  # inside the photo's part of the square (rows 85-427)
    box = np.array([[190, 40, 310, 470]], np.float32)  # reaches into the padding above and below
    keypoints = np.zeros((1, 17, 3), np.float32)
    keypoints[0, :, 0] = np.linspace(195, 305, 17)
    keypoints[0, :, 1] = np.linspace(100, 410, 17)  # rows 85-427 of the square are the photo's
    keypoints[0, [0, -1], 1] = [45, 465]  # the first and last joints lie in the padding
    keypoints[0, :, 2] = 0.5
    people = detect_people(
        np.zeros(photo_hw + (3,), np.uint8),
        returning(keypoint_output(box, [0.99], keypoints)),
        returning(pointrend_output(box, [0.95], mask, [0])),
        "pointrend",
    )
    assert len(people) == 1
    chosen = people[0]
    assert chosen.box[1] == 0.0 and chosen.box[3] == 400.0
    np.testing.assert_allclose(chosen.box[[0, 2]], box[0, [0, 2]] / to_square - square.offset[0], rtol=1e-5)
    assert chosen.keypoints[:, 1].min() == 0.0 and chosen.keypoints[:, 1].max() == 400.0
    assert (chosen.keypoints[1:-1, 1] > 0).all() and (chosen.keypoints[:, 2] == 0.5).all()
    # clip_to_image leaves what is inside unchanged.
    assert clip_to_image(chosen, photo_hw).keypoints.tolist() == chosen.keypoints.tolist()


# ---------------------------------------------------------------------------------------- weight files


def write_zoo_pkl(path: Path, weights: dict[str, np.ndarray]) -> Path:
    """detectron2's model-zoo layout: protocol-2 pickle (bytes as _codecs.encode) of numpy arrays."""
    with open(path, "wb") as file:
        pickle.dump({"model": weights, "__author__": "Detectron2 Model Zoo"}, file, protocol=2)
    return path


class _Payload:
    """Unpickling this opens (creates) a file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.reliability
def test_weights_files_are_read_without_running_code(tmp_path: Path) -> None:
    weights = {"backbone.conv.weight": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.ones(2)}
    read = read_weights(write_zoo_pkl(tmp_path / "zoo.pkl", weights), "PointRend")
    assert read.keys() == weights.keys() and np.array_equal(
        read["backbone.conv.weight"], weights["backbone.conv.weight"]
    )
    torch.save({"model": {"module.a": torch.ones(2, 3)}, "iteration": 5}, tmp_path / "trained.pth")
    assert read_weights(tmp_path / "trained.pth", "PointRend")["a"].shape == (2, 3)

    write_zoo_pkl(tmp_path / "evil.pkl", {"a": _Payload(tmp_path / "ran")})
    with pytest.raises(
        WeightsFileError, match=r"could not be read \(UnpicklingError: it holds a \w+\.open obj"
    ):
        read_weights(tmp_path / "evil.pkl", "PointRend")
    assert not (tmp_path / "ran").exists()

    (tmp_path / "cut.pkl").write_bytes((tmp_path / "zoo.pkl").read_bytes()[:60])
    with pytest.raises(WeightsFileError, match=r"cut\.pkl could not be read .*; download it again\.$"):
        read_weights(tmp_path / "cut.pkl", "PointRend")
    with pytest.raises(WeightsFileError, match="does not exist"):
        read_weights(tmp_path / "none.pkl", "PointRend")


def recorded_shapes(model: str) -> dict[str, tuple[int, ...]]:
    """State-dict names and shapes of the model detectron2 builds from our config values."""
    records = json.loads((RECORDS / "state_dict_shapes.json").read_text())
    return {name: tuple(shape) for name, shape in records[model].items()}


def zero_weights(shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Weights of the right shapes that take no memory (only shapes matter to matching)."""
    return {name: np.broadcast_to(np.float32(0), shape) for name, shape in shapes.items()}


def test_the_original_pointrend_layout_is_renamed_to_todays_model() -> None:
    model = recorded_shapes("pointrend")
    todays = zero_weights(model)
    originals = {
        name.replace("roi_heads.mask_head.coarse_head.fc", "roi_heads.mask_coarse_head.coarse_mask_fc")
        .replace("roi_heads.mask_head.coarse_head.", "roi_heads.mask_coarse_head.")
        .replace("roi_heads.mask_head.point_head.", "roi_heads.mask_point_head."): array
        for name, array in todays.items()
    }
    assert {
        "roi_heads.mask_coarse_head.coarse_mask_fc2.weight",
        "roi_heads.mask_coarse_head.prediction.bias",
    } <= set(originals)
    assert any(name.startswith("roi_heads.mask_point_head.fc3.") for name in originals)
    for weights, layout in [
        (todays, "current"),
        (originals, "before detectron2's 2020-11 PointRend rewrite"),
    ]:
        prepared, values, described = prepare_weights(dict(weights), "pointrend")
        assert values is POINTREND and described == layout
        assert match_weights(model, prepared, "PointRend", Path("w.pkl")).keys() == model.keys()
    # Without the renaming, the heads would be missing: exactly what must not load silently.
    with pytest.raises(WeightsFileError) as error:
        match_weights(model, originals, "PointRend", Path("w.pkl"))
    message = str(error.value)
    assert "missing weights (roi_heads.mask_head" in message
    assert "unexpected weights (roi_heads.mask_" in message


def test_the_densepose_layout_picks_the_model_configuration() -> None:
    current, legacy = recorded_shapes("densepose"), recorded_shapes("densepose_legacy")
    assert current["roi_heads.densepose_predictor.ann_index_lowres.weight"][1] == 2
    assert legacy["roi_heads.densepose_predictor.ann_index_lowres.weight"][1] == 15
    assert any(name.startswith("roi_heads.decoder.") for name in current)
    assert not any(name.startswith("roi_heads.decoder.") for name in legacy)
    for model, values, layout in [
        (current, DENSEPOSE, "current"),
        (legacy, DENSEPOSE_LEGACY, "legacy heads"),
    ]:
        prepared, chosen, described = prepare_weights(zero_weights(model), "densepose")
        assert chosen is values and described == layout
        match_weights(model, prepared, "DensePose", Path("d.pkl"))
    # A legacy file in today's model: wrong shapes and a missing decoder, named in one sentence.
    with pytest.raises(WeightsFileError) as error:
        match_weights(current, zero_weights(legacy), "DensePose", Path("d.pkl"))
    message = str(error.value)
    assert "\n" not in message and "missing weights (roi_heads.decoder." in message
    assert (
        "wrong-shape weights (roi_heads.densepose_predictor.ann_index_lowres.weight (512, 15, 4, 4) instead "
        "of (512, 2, 4, 4)" in message
    )
    assert message.endswith("densepose_rcnn_R_101_FPN_s1x or _s1x_legacy model).")


def test_keypoint_weights_must_match_and_old_leftovers_are_dropped() -> None:
    model = recorded_shapes("keypointrcnn")
    weights = zero_weights(model)
    weights["proposal_generator.anchor_generator.cell_anchors.0"] = np.zeros((3, 4), np.float32)
    weights["pixel_mean"] = np.zeros((3, 1, 1), np.float32)
    assert match_weights(model, weights, "Keypoint R-CNN", Path("k.pkl")).keys() == model.keys()
    del weights["roi_heads.keypoint_head.score_lowres.weight"]
    weights["roi_heads.extra.weight"] = np.zeros(1, np.float32)
    with pytest.raises(
        WeightsFileError,
        match=r"1 missing weight \(roi_heads.keypoint_head.score_lowres.weight\); 1 unexpected weight "
        r"\(roi_heads.extra.weight\); expected detectron2's model-zoo file https://",
    ):
        match_weights(model, weights, "Keypoint R-CNN", Path("k.pkl"))


def test_config_values_equal_what_detectron2s_yaml_files_give() -> None:
    """Our values over detectron2's defaults reproduce the yaml chains, for every inference setting."""
    records = json.loads((RECORDS / "configs.json").read_text())
    for model, values in [
        ("keypointrcnn", KEYPOINT_RCNN),
        ("pointrend", POINTREND),
        ("densepose", DENSEPOSE),
        ("densepose_legacy", DENSEPOSE_LEGACY),
    ]:
        ours = dict(records[model]["defaults"])
        flat = config_overrides(values)
        ours.update({key: _plain(value) for key, value in zip(flat[::2], flat[1::2], strict=True)})
        from_yaml = records[model]["from_yaml"]
        assert ours.keys() == from_yaml.keys()
        differing = {key: (ours[key], from_yaml[key]) for key in ours if ours[key] != from_yaml[key]}
        assert all(key.startswith(NOT_FOR_INFERENCE) for key in differing), (model, differing)
    keypoint_threshold = records["keypointrcnn"]["from_yaml"]["MODEL.ROI_HEADS.SCORE_THRESH_TEST"]
    assert keypoint_threshold == 0.05 and KEYPOINT_RCNN["MODEL.ROI_HEADS.SCORE_THRESH_TEST"] == 0.7


# Config values that may differ from the yaml files: training settings, datasets (no metadata is needed),
# the initial weights (replaced by the model's), and the original's own Keypoint R-CNN score threshold.
NOT_FOR_INFERENCE = (
    "SOLVER.",
    "DATASETS.",
    "MODEL.WEIGHTS",
    "INPUT.MIN_SIZE_TRAIN",
    "INPUT.MASK_FORMAT",
    "MODEL.RPN.PRE_NMS_TOPK_TRAIN",
    "MODEL.RPN.POST_NMS_TOPK_TRAIN",
    "MODEL.ROI_BOX_HEAD.SMOOTH_L1_BETA",
    "MODEL.ROI_BOX_HEAD.TRAIN_ON_PRED_BOXES",
    "MODEL.ROI_DENSEPOSE_HEAD.INDEX_WEIGHTS",
    "MODEL.ROI_DENSEPOSE_HEAD.PART_WEIGHTS",
    "MODEL.ROI_DENSEPOSE_HEAD.POINT_REGRESSION_WEIGHTS",
    "MODEL.ROI_HEADS.SCORE_THRESH_TEST",
)


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


# --------------------------------------------------------------------------------- Keypoint R-CNN file


def test_keypoint_weights_are_looked_for_before_downloading(tmp_path: Path) -> None:
    url = "https://example.org/detectron2/COCO-Keypoints/x/1/model_final.pkl"
    weights_dir, cache = tmp_path / "checkpoints", tmp_path / "cache"
    weights_dir.mkdir()
    with pytest.raises(WeightsFileError, match="mine.pkl does not exist"):
        keypoint_rcnn_weights(tmp_path / "mine.pkl", weights_dir, url, cache)
    cached = cache / "detectron2/COCO-Keypoints/x/1/model_final.pkl"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"cached")
    assert keypoint_rcnn_weights(None, weights_dir, url, cache) == cached
    (weights_dir / "keypoint_rcnn_R_50_FPN_3x.pkl").write_bytes(b"local")
    assert (
        keypoint_rcnn_weights(None, weights_dir, url, cache) == weights_dir / "keypoint_rcnn_R_50_FPN_3x.pkl"
    )


@pytest.mark.reliability
def test_keypoint_weights_download_and_its_failure_leave_no_partial_files(tmp_path: Path) -> None:
    source = write_zoo_pkl(tmp_path / "served.pkl", {"a": np.ones(3, np.float32)})
    cache = tmp_path / "cache"
    got = keypoint_rcnn_weights(None, tmp_path, source.as_uri(), cache)
    assert got.read_bytes() == source.read_bytes() and got.is_relative_to(cache)
    assert [p.name for p in got.parent.iterdir()] == [got.name]

    offline = "http://127.0.0.1:9/detectron2/COCO-Keypoints/k/1/model_final.pkl"  # nothing listens on port 9
    fresh = tmp_path / "fresh_cache"
    with pytest.raises(WeightsFileError) as error:
        keypoint_rcnn_weights(None, tmp_path / "checkpoints", offline, fresh)
    message = str(error.value)
    assert message.startswith(
        f"The Keypoint R-CNN weights are not on this machine and could not be downloaded from {offline}"
    )
    assert "put it at" in message and "keypoint_rcnn_R_50_FPN_3x.pkl" in message and "\n" not in message
    assert not fresh.exists()  # no partial file, no lock, no empty folders


# ------------------------------------------------------------------------------ install and imports


def test_install_message_is_the_verified_recipe() -> None:
    message = DETECTRON2_INSTALL_MESSAGE
    for needle in [
        "torchvision from the same index as your torch",
        "pip install 'setuptools<82'",
        "git clone https://github.com/facebookresearch/detectron2.git",
        "pip install --no-build-isolation -e detectron2",
        "pip install --no-build-isolation --no-deps -e detectron2/projects/DensePose",
        "pip install av",
    ]:
        assert needle in message
    assert "#subdirectory=" not in message and "\n" not in message


def test_a_broken_dependency_is_not_reported_as_not_installed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "needs_av_here.py").write_text("import av_absent_here\n")
    (tmp_path / "broken_torchvision_here.py").write_text(
        "raise RuntimeError('operator torchvision::nms does not exist')\n"
    )
    with pytest.raises(DetectorUnavailableError) as error:
        _import_or_explain("needs_av_here", "DensePose", "DensePose is not installed.")
    assert str(error.value) == (
        "DensePose is installed but cannot be imported (the package av_absent_here is missing: pip install "
        "av_absent_here)."
    )
    with pytest.raises(
        DetectorUnavailableError,
        match=r"^detectron2 is installed but cannot be imported \(RuntimeError: operator torchvision::nms "
        r"does not exist\); check that torch",
    ):
        _import_or_explain("broken_torchvision_here", "detectron2", "not installed")
    with pytest.raises(DetectorUnavailableError, match=r"^DensePose is not installed\.$"):
        _import_or_explain("absent_project_here", "DensePose", "DensePose is not installed.")
    for name in ("needs_av_here", "broken_torchvision_here"):
        sys.modules.pop(name, None)


def test_config_building_failures_are_one_sentence() -> None:
    with pytest.raises(DetectorUnavailableError) as error, _explained("build the PointRend config"):
        raise ModuleNotFoundError("No module named 'pkg_resources'", name="pkg_resources")
    assert str(error.value) == (
        "detectron2 could not build the PointRend config (the package pkg_resources is missing: pip install "
        "'setuptools<82' (setuptools 82 removed pkg_resources)); check the detectron2 install."
    )
    with pytest.raises(DetectorUnavailableError, match=r"\(FileNotFoundError: .*Base-RCNN-FPN.yaml'\)"):
        with _explained("build the PointRend config"):
            raise FileNotFoundError("[Errno 2] No such file: '../../../../configs/Base-RCNN-FPN.yaml'")


# ------------------------------------------------------------------------------- options and defaults


@pytest.mark.skipif(HAS_DETECTRON2, reason="detectron2 is installed: the weights would be read")
def test_missing_weights_are_looked_for_in_the_repository_from_any_folder(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DetectorUnavailableError) as error:
        make_detector("pointrend", "keypointrcnn")
    expected = REPO_ROOT / "checkpoints" / "pointrend_rcnn_R_50_fpn.pkl"
    assert f"The PointRend weights are not at {expected};" in str(error.value)
    named = tmp_path / "elsewhere.pkl"
    with pytest.raises(DetectorUnavailableError, match=f"not at {re.escape(str(named))}"):
        make_detector("pointrend", "keypointrcnn", silhouette_weights=named)


def test_joint_threshold_default_depends_on_the_joint_source() -> None:
    args = run_predict.build_parser().parse_args(["--input", "x"])
    assert args.joint_threshold is None
    assert joint_threshold(None, "keypointrcnn") == 0.05
    assert joint_threshold(None, "mediapipe") == 0.3
    assert joint_threshold(0.0, "keypointrcnn") == 0.0
    options = run_predict.build_parser().parse_args(
        [
            "--input",
            "x",
            "--silh_from",
            "densepose",
            "--detector_weights_dir",
            "w",
            "--keypoint_weights",
            "k.pkl",
        ]
    )
    detector_options = run_predict._detector_options(options, "keypointrcnn", "cpu")
    assert detector_options["checkpoints_dir"] == Path("w") and detector_options["keypoint_weights"] == Path(
        "k.pkl"
    )
    with pytest.raises(run_predict.UsageError, match="--silhouette_weights and --keypoint_weights are for"):
        run_predict._detector_options(
            run_predict.build_parser().parse_args(["--input", "x", "--keypoint_weights", "k.pkl"]),
            "mediapipe",
            "cpu",
        )
