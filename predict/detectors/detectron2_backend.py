"""The original's detectors: Keypoint R-CNN joints + PointRend or DensePose silhouettes (ORIGINAL.md §9).

Used only when detectron2 is installed; it is imported when this backend is built, never before. This
module is the thin part that talks to detectron2: configs come from `detectron2_configs` (values, no yaml
files, so any working detectron2 install serves), weights from `detectron2_weights` (read without running
code, the original's older layouts recognised, matched strictly), and everything that turns detectron2's
outputs into people lives in `detectron2_conversion` as pure functions.

Models, as in the original:
- joints: Keypoint R-CNN R50-FPN 3x from detectron2's model zoo, ROI_HEADS.SCORE_THRESH_TEST = 0.7;
  weights `<weights dir>/keypoint_rcnn_R_50_FPN_3x.pkl`, else detectron2's cache, else downloaded;
- silhouettes, PointRend R50-FPN: weights `<weights dir>/pointrend_rcnn_R_50_fpn.pkl`, detectron2's default
  threshold;
- silhouettes, DensePose R101-FPN s1x: weights `<weights dir>/densepose_rcnn_R_101_fpn_s1x.pkl`.
The weights folder is `checkpoints` from the working folder, else the repository's. By default the photo is
padded to a square and resized to 512x512 before detection, as the released checkpoint saw it; results are
mapped back to the photo's pixels and clipped to it.
"""

from __future__ import annotations

import contextlib
import importlib
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from predict.detectors.base import (
    DetectorBackend,
    DetectorConfigError,
    DetectorError,
    DetectorUnavailableError,
    ImageDetectionError,
    PersonDetection,
    check_rgb_image,
)
from predict.detectors.detectron2_configs import config_overrides
from predict.detectors.detectron2_conversion import (
    DETECTION_SIZE,
    KeypointInstances,
    MaskInstances,
    SquarePad,
    clip_to_image,
    densepose_to_people,
    keypoint_rcnn_to_people,
    pair_people,
    pointrend_masks_to_people,
)
from predict.detectors.detectron2_weights import (
    SILHOUETTE_WEIGHTS,
    keypoint_rcnn_weights,
    match_weights,
    prepare_weights,
    read_weights,
)
from utils.runtime import here_or_in_repo, resolve_device

MODEL_NAMES = {"keypointrcnn": "Keypoint R-CNN", "pointrend": "PointRend", "densepose": "DensePose"}
# Verified on Python 3.11, CPU: detectron2 builds against the torch already installed (hence
# --no-build-isolation), needs torchvision from the same index as torch, and its model zoo imports
# pkg_resources, which setuptools 82 removed. DensePose is installed from the same source tree without its
# dependencies (they would pull a second detectron2 and an unpinned OpenCV with numpy 2), plus av.
DETECTRON2_INSTALL_MESSAGE = (
    "detectron2 is not installed: install torchvision from the same index as your torch (e.g. torch==2.14.1 "
    "torchvision==0.29.1) and pip install 'setuptools<82', then git clone "
    "https://github.com/facebookresearch/detectron2.git and run pip install --no-build-isolation -e "
    "detectron2, plus for DensePose pip install --no-build-isolation --no-deps -e "
    "detectron2/projects/DensePose and pip install av; put the weights in "
    "checkpoints/pointrend_rcnn_R_50_fpn.pkl or checkpoints/densepose_rcnn_R_101_fpn_s1x.pkl (detectron2's "
    "model zoo provides the Keypoint R-CNN weights); or use the default mediapipe detector."
)
# The module each silhouette model's project lives in: in a source install, and in the original's layout.
_PROJECT_MODULES = {
    "pointrend": ("detectron2.projects.point_rend", "point_rend"),
    "densepose": ("densepose", "densepose"),
}
# Packages whose absence has a known cause and fix.
_MISSING_MODULE_FIXES = {
    "pkg_resources": "pip install 'setuptools<82' (setuptools 82 removed pkg_resources)",
    "torchvision": "install torchvision from the same index as your torch",
    "av": "pip install av",
}


class Detectron2Backend(DetectorBackend):
    """Keypoint R-CNN + PointRend/DensePose; silhouettes paired with joints by box IoU."""

    def __init__(
        self,
        silhouettes: str = "pointrend",
        checkpoints_dir: str | Path = "checkpoints",
        silhouette_config: str | Path | None = None,
        device: str | None = None,
        pad_to_square: bool = True,
        min_pair_iou: float = 0.5,
        silhouette_weights: str | Path | None = None,
        keypoint_weights: str | Path | None = None,
    ) -> None:
        """
        Args:
            silhouettes: "pointrend" or "densepose".
            checkpoints_dir: folder of the weights (a relative one is looked for in the working folder, then
                in the repository).
            silhouette_config: a yaml merged over the built-in silhouette config (for other variants).
            device: "cpu", "cuda", "cuda:1", ...; None takes CUDA when available.
            pad_to_square: detect on the 512x512 padded square like the original (default) instead of the
                photo as it is.
            min_pair_iou: least box IoU between a keypoint person and its silhouette.
            silhouette_weights: the PointRend/DensePose weights file (default: in checkpoints_dir).
            keypoint_weights: the Keypoint R-CNN weights file (default: module docstring).
        """
        if silhouettes not in SILHOUETTE_WEIGHTS:
            raise DetectorConfigError(
                f"Unknown detectron2 silhouette model {silhouettes!r}; use pointrend or densepose."
            )
        self.name = silhouettes
        self.silhouettes = silhouettes
        self.pad_to_square = pad_to_square
        self.min_pair_iou = min_pair_iou
        weights_dir = here_or_in_repo(checkpoints_dir)
        silhouette_path = Path(silhouette_weights or weights_dir / SILHOUETTE_WEIGHTS[silhouettes])
        if not silhouette_path.is_file():
            raise DetectorUnavailableError(
                f"The {MODEL_NAMES[silhouettes]} weights are not at {silhouette_path}; download them as the "
                "original STRAPS README says and put them there (or pass their path with "
                "--silhouette_weights), or use the default mediapipe detector."
            )
        _import_or_explain("detectron2", "detectron2", DETECTRON2_INSTALL_MESSAGE)
        self.device = str(resolve_device(device or "auto"))
        project = _import_project(silhouettes)
        keypoint_path = keypoint_rcnn_weights(keypoint_weights, weights_dir)
        self._keypoint_model = _build_model("keypointrcnn", keypoint_path, self.device)
        self._silhouette_model = _build_model(
            silhouettes, silhouette_path, self.device, project, silhouette_config
        )

    def detect(self, image_rgb: np.ndarray, image_path: Path | None = None) -> list[PersonDetection]:
        """Detect people; see `DetectorBackend.detect`."""
        check_rgb_image(image_rgb)
        if self._keypoint_model is None:
            raise RuntimeError("This Detectron2Backend was closed; build a new one.")
        return detect_people(
            image_rgb,
            self._keypoint_model,
            self._silhouette_model,
            self.silhouettes,
            self.pad_to_square,
            self.min_pair_iou,
        )

    def close(self) -> None:
        """Drop the models (idempotent); their GPU memory is freed with them."""
        self._keypoint_model = None
        self._silhouette_model = None


def detect_people(
    image_rgb: np.ndarray,
    keypoint_model: Callable[[np.ndarray], dict],
    silhouette_model: Callable[[np.ndarray], dict],
    silhouettes: str,
    pad_to_square: bool = True,
    min_pair_iou: float = 0.5,
) -> list[PersonDetection]:
    """People in an (H, W, 3) uint8 RGB photo, from two detectron2 predictors.

    Args:
        keypoint_model, silhouette_model: detectron2 predictors: BGR (h, w, 3) uint8 -> {"instances": ...}.
        silhouettes: "pointrend" or "densepose" (how the silhouette model's instances are read).
    Returns:
        Paired people in the photo's pixels, boxes and keypoints clipped to the photo.
    Raises:
        ImageDetectionError: a model failed on this image.
    """
    image_size = (image_rgb.shape[0], image_rgb.shape[1])
    square = SquarePad(image_size, DETECTION_SIZE) if pad_to_square else None
    work = square.apply(image_rgb) if square is not None else image_rgb
    bgr = np.ascontiguousarray(work[:, :, ::-1])  # detectron2's predictors take BGR
    keypoint_people = keypoint_instances(_run(keypoint_model, bgr, "keypointrcnn"))
    silhouette_instances = _run(silhouette_model, bgr, silhouettes)
    if silhouettes == "pointrend":
        mask_people = pointrend_instances(silhouette_instances)
    else:
        mask_people = densepose_instances(silhouette_instances, (work.shape[0], work.shape[1]))
    people = pair_people(keypoint_people, mask_people, min_pair_iou)
    people = square.detections_to_image(people) if square is not None else people
    return [clip_to_image(person, image_size) for person in people]


def _run(model: Callable[[np.ndarray], dict], bgr: np.ndarray, which: str) -> Any:
    """One model on one image -> its instances on the CPU; a failure becomes this image's one sentence."""
    try:
        return model(bgr)["instances"].to("cpu")
    except Exception as exc:  # one odd image must not end the run; say where detectron2 gave up
        raise ImageDetectionError(f"{MODEL_NAMES[which]} failed on this image: {_failure(exc)}.") from exc


def _failure(exc: BaseException) -> str:
    """'what went wrong, where' for an exception from inside detectron2 (whose asserts carry no text)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" in {frames[-1].name} ({Path(frames[-1].filename).name})" if frames else ""
    if isinstance(exc, AssertionError) and not str(exc):
        return f"an internal check of detectron2 failed{where} (degenerate model outputs)"
    return f"{type(exc).__name__}{where}: {exc}"


def keypoint_instances(instances: Any) -> KeypointInstances:
    """Keypoint R-CNN `Instances` (pred_boxes.tensor (N, 4), scores (N,), pred_keypoints (N, 17, 3))."""
    return keypoint_rcnn_to_people(
        instances.pred_boxes.tensor.numpy(), instances.scores.numpy(), instances.pred_keypoints.numpy()
    )


def pointrend_instances(instances: Any) -> MaskInstances:
    """PointRend `Instances` (pred_boxes, scores, pred_masks (N, H, W) bool, pred_classes (N,))."""
    return pointrend_masks_to_people(
        instances.pred_boxes.tensor.numpy(),
        instances.scores.numpy(),
        instances.pred_masks.numpy(),
        instances.pred_classes.numpy(),
    )


def densepose_instances(instances: Any, image_hw: tuple[int, int]) -> MaskInstances:
    """DensePose `Instances` (pred_boxes, scores, pred_densepose; detectron2 leaves pred_densepose out when
    there are no boxes) -> person instances."""
    if len(instances) == 0 or not instances.has("pred_densepose"):
        return densepose_to_people(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), [], image_hw)
    from densepose.vis.extractor import DensePoseResultExtractor

    results, _ = DensePoseResultExtractor()(instances)
    # Each result's `labels` is the box-sized (h, w) part-index map I (0 background, 1..24 parts).
    i_maps = [result.labels.numpy() for result in results]
    return densepose_to_people(
        instances.pred_boxes.tensor.numpy(), instances.scores.numpy(), i_maps, image_hw
    )


@contextlib.contextmanager
def _explained(step: str, advice: str = "check the detectron2 install") -> Iterator[None]:
    """Any failure inside becomes one sentence: what step failed, why, and what to do."""
    try:
        yield
    except DetectorError:
        raise
    except Exception as exc:  # detectron2, fvcore, iopath and torch raise many types
        raise DetectorUnavailableError(f"detectron2 could not {step} ({_cause(exc)}); {advice}.") from exc


def _cause(exc: BaseException) -> str:
    missing = _missing_module(exc)
    if missing is not None:
        fix = _MISSING_MODULE_FIXES.get(missing.split(".")[0], f"pip install {missing.split('.')[0]}")
        return f"the package {missing} is missing: {fix}"
    return f"{type(exc).__name__}: {exc}"


def _missing_module(exc: BaseException) -> str | None:
    """The name of the module whose absence caused `exc` (also when it surfaced wrapped), else None."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, ModuleNotFoundError) and current.name:
            return current.name
        current = current.__cause__ or current.__context__
    return None


def _import_or_explain(module: str, label: str, not_installed: str) -> ModuleType:
    """Import `module`; its own absence gives `not_installed`, any other failure says what broke."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module or module.startswith(f"{exc.name}."):
            raise DetectorUnavailableError(not_installed) from None
        raise DetectorUnavailableError(
            f"{label} is installed but cannot be imported ({_cause(exc)})."
        ) from None
    except Exception as exc:  # e.g. a torchvision built for another torch raises RuntimeError on import
        raise DetectorUnavailableError(
            f"{label} is installed but cannot be imported ({_cause(exc)}); check that torch, torchvision "
            "and detectron2 were built for each other."
        ) from None


def _import_project(silhouettes: str) -> ModuleType:
    """The silhouette model's detectron2 project (PointRend or DensePose), which registers its model parts."""
    source_install, original_layout = _PROJECT_MODULES[silhouettes]
    label = MODEL_NAMES[silhouettes]
    not_installed = (
        f"{label} is not importable: install detectron2 from a source checkout (pip install "
        "--no-build-isolation -e detectron2) so that detectron2.projects.point_rend exists."
        if silhouettes == "pointrend"
        else "DensePose is not installed: run pip install --no-build-isolation --no-deps -e "
        "detectron2/projects/DensePose (in a detectron2 source checkout) and pip install av."
    )
    try:
        return _import_or_explain(source_install, label, not_installed)
    except DetectorUnavailableError:
        if original_layout == source_install:
            raise
        return _import_or_explain(original_layout, label, not_installed)


def _build_model(
    which: str,
    weights_path: Path,
    device: str,
    project: ModuleType | None = None,
    extra_config: str | Path | None = None,
) -> Any:
    """A detectron2 predictor with strictly matched weights. Every step's failure is one sentence."""
    label = MODEL_NAMES[which]
    weights, values, layout = prepare_weights(read_weights(weights_path, label), which)
    with _explained(f"build the {label} config"):
        from detectron2.config import get_cfg

        cfg = get_cfg()
        if which == "pointrend":
            assert project is not None  # Detectron2Backend passes the imported project for these two
            project.add_pointrend_config(cfg)
        elif which == "densepose":
            assert project is not None
            project.add_densepose_config(cfg)
        cfg.merge_from_list(config_overrides(values))
        if extra_config is not None:
            cfg.merge_from_file(str(extra_config))
        cfg.MODEL.WEIGHTS = ""  # loaded below, after the strict check
        cfg.MODEL.DEVICE = device
    with _explained(f"build the {label} model", "check the device and the detectron2 install"):
        from detectron2.engine import DefaultPredictor

        predictor = DefaultPredictor(cfg)
    shapes = {name: tuple(value.shape) for name, value in predictor.model.state_dict().items()}
    matched = match_weights(shapes, weights, label, weights_path)
    with _explained(f"load the {label} weights ({layout} layout) from {weights_path}"):
        import torch

        state = predictor.model.state_dict()
        for name, array in matched.items():
            state[name] = torch.from_numpy(np.array(array))
        # `state` keeps the model's own version metadata: the names are already today's, so detectron2's
        # load-time renaming of old PointRend layouts (which warns about it) does not run.
        predictor.model.load_state_dict(state)
    return predictor
