"""The original's detectors: Keypoint R-CNN joints + PointRend or DensePose silhouettes (spec section 9).

Used only when detectron2 is installed; it is imported when this backend is built, never before. This
module is the thin part that talks to detectron2; everything that turns its outputs into people lives in
`detectron2_conversion` as pure functions.

Models, as in the original:
- joints: detectron2 model zoo `COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x.yaml`, its zoo weights (downloaded by
  detectron2 on first use), ROI_HEADS.SCORE_THRESH_TEST = 0.7;
- silhouettes, PointRend: `pointrend_rcnn_R_50_FPN_3x_coco.yaml` from detectron2's projects/PointRend/configs/
  InstanceSegmentation, weights `checkpoints/pointrend_rcnn_R_50_fpn.pkl`, detectron2's default threshold;
- silhouettes, DensePose: `densepose_rcnn_R_101_FPN_s1x.yaml` from detectron2's projects/DensePose/configs,
  weights `checkpoints/densepose_rcnn_R_101_fpn_s1x.pkl`, default threshold.
The config files are looked for in a detectron2 source checkout (pip install -e) and in the original's
layout (PointRend/configs/..., DensePose/configs/... under the working folder); `silhouette_config` names
one explicitly. By default the photo is padded to a square and resized to 512x512 before detection, as the
released checkpoint saw it; results are mapped back to the photo's pixels.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from predict.detectors.base import (
    DetectorBackend,
    DetectorConfigError,
    DetectorUnavailableError,
    PersonDetection,
    check_rgb_image,
)
from predict.detectors.detectron2_conversion import (
    DETECTION_SIZE,
    KeypointInstances,
    MaskInstances,
    SquarePad,
    densepose_to_people,
    keypoint_rcnn_to_people,
    pair_people,
    pointrend_masks_to_people,
)

KEYPOINT_RCNN_CONFIG = "COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x.yaml"
KEYPOINT_SCORE_THRESHOLD = 0.7
SILHOUETTE_WEIGHTS = {
    "pointrend": "pointrend_rcnn_R_50_fpn.pkl",
    "densepose": "densepose_rcnn_R_101_fpn_s1x.pkl",
}
# Where each silhouette config sits relative to a detectron2 source checkout, and in the original's layout.
SILHOUETTE_CONFIGS = {
    "pointrend": (
        "projects/PointRend/configs/InstanceSegmentation/pointrend_rcnn_R_50_FPN_3x_coco.yaml",
        "PointRend/configs/InstanceSegmentation/pointrend_rcnn_R_50_FPN_3x_coco.yaml",
    ),
    "densepose": (
        "projects/DensePose/configs/densepose_rcnn_R_101_FPN_s1x.yaml",
        "DensePose/configs/densepose_rcnn_R_101_FPN_s1x.yaml",
    ),
}
DETECTRON2_INSTALL_MESSAGE = (
    "detectron2 is not installed: install it with "
    "pip install 'git+https://github.com/facebookresearch/detectron2.git' (or the original's fork "
    "git+https://github.com/akashsengupta1997/detectron2.git), plus "
    "pip install 'git+https://github.com/facebookresearch/detectron2.git#subdirectory=projects/DensePose' "
    "for DensePose, and put the weights in checkpoints/pointrend_rcnn_R_50_fpn.pkl or "
    "checkpoints/densepose_rcnn_R_101_fpn_s1x.pkl (detectron2's model zoo fetches the Keypoint R-CNN "
    "weights); or use the default mediapipe detector."
)


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
    ) -> None:
        """
        Args:
            silhouettes: "pointrend" or "densepose".
            checkpoints_dir: folder holding the silhouette model's weights.
            silhouette_config: the silhouette model's yaml; None looks in the usual places (module doc).
            device: "cpu", "cuda", "cuda:1", ...; None takes CUDA when available.
            pad_to_square: detect on the 512x512 padded square like the original (default) instead of the
                photo as it is.
            min_pair_iou: least box IoU between a keypoint person and its silhouette.
        """
        if silhouettes not in SILHOUETTE_WEIGHTS:
            raise DetectorConfigError(
                f"Unknown detectron2 silhouette model {silhouettes!r}; use pointrend or densepose."
            )
        detectron2 = _import_or_explain("detectron2", DETECTRON2_INSTALL_MESSAGE)
        import torch

        self.name = silhouettes
        self.silhouettes = silhouettes
        self.pad_to_square = pad_to_square
        self.min_pair_iou = min_pair_iou
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        weights = Path(checkpoints_dir) / SILHOUETTE_WEIGHTS[silhouettes]
        if not weights.is_file():
            raise DetectorUnavailableError(
                f"The {silhouettes} weights are not at {weights}; download them as the original STRAPS "
                "README says and put them there, or use the default mediapipe detector."
            )
        config = _find_config(silhouettes, silhouette_config, Path(detectron2.__file__).resolve().parents[1])
        self._keypoint_model = _build_predictor(_keypoint_rcnn_cfg(self.device), "Keypoint R-CNN")
        self._silhouette_model = _build_predictor(
            _silhouette_cfg(silhouettes, config, weights, self.device), silhouettes
        )

    def detect(self, image_rgb: np.ndarray, image_path: Path | None = None) -> list[PersonDetection]:
        """Detect people; see `DetectorBackend.detect`."""
        check_rgb_image(image_rgb)
        if self._keypoint_model is None:
            raise RuntimeError("This Detectron2Backend was closed; build a new one.")
        square = SquarePad(image_rgb.shape[:2], DETECTION_SIZE) if self.pad_to_square else None
        work = square.apply(image_rgb) if square is not None else image_rgb
        bgr = np.ascontiguousarray(work[:, :, ::-1])  # detectron2's predictors take BGR
        keypoint_people = _keypoint_instances(self._keypoint_model(bgr)["instances"].to("cpu"))
        silhouette_instances = self._silhouette_model(bgr)["instances"].to("cpu")
        if self.silhouettes == "pointrend":
            mask_people = _pointrend_instances(silhouette_instances)
        else:
            mask_people = _densepose_instances(silhouette_instances, work.shape[:2])
        people = pair_people(keypoint_people, mask_people, self.min_pair_iou)
        return square.detections_to_image(people) if square is not None else people

    def close(self) -> None:
        """Drop the models (idempotent); their GPU memory is freed with them."""
        self._keypoint_model = None
        self._silhouette_model = None


def _import_or_explain(module: str, message: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DetectorUnavailableError(message) from None


def _find_config(silhouettes: str, explicit: str | Path | None, detectron2_root: Path) -> Path:
    in_checkout, in_original_layout = SILHOUETTE_CONFIGS[silhouettes]
    candidates = (
        [Path(explicit)]
        if explicit is not None
        else [detectron2_root / in_checkout, Path(in_original_layout)]
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    searched = ", ".join(map(str, candidates))
    raise DetectorUnavailableError(
        f"The {silhouettes} config {Path(in_checkout).name} was not found at {searched}; pass "
        f"silhouette_config= the file from detectron2's {Path(in_checkout).parent} (in its source tree)."
    )


def _keypoint_rcnn_cfg(device: str) -> Any:
    from detectron2 import model_zoo
    from detectron2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(model_zoo.get_config_file(KEYPOINT_RCNN_CONFIG))
    cfg.MODEL.WEIGHTS = model_zoo.get_checkpoint_url(KEYPOINT_RCNN_CONFIG)
    cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = KEYPOINT_SCORE_THRESHOLD
    cfg.MODEL.DEVICE = device
    return cfg


def _silhouette_cfg(silhouettes: str, config: Path, weights: Path, device: str) -> Any:
    from detectron2.config import get_cfg

    cfg = get_cfg()
    if silhouettes == "pointrend":
        # A source install exposes PointRend as detectron2.projects.point_rend; the original shipped it as a
        # top-level point_rend package.
        try:
            point_rend = importlib.import_module("detectron2.projects.point_rend")
        except ImportError:
            point_rend = _import_or_explain(
                "point_rend",
                "PointRend is not importable; install detectron2 from a source checkout (pip install -e) so "
                "that detectron2.projects.point_rend exists.",
            )
        point_rend.add_pointrend_config(cfg)
    else:
        densepose = _import_or_explain(
            "densepose",
            "DensePose is not installed; run pip install "
            "'git+https://github.com/facebookresearch/detectron2.git#subdirectory=projects/DensePose'.",
        )
        densepose.add_densepose_config(cfg)
    cfg.merge_from_file(str(config))
    cfg.MODEL.WEIGHTS = str(weights)
    cfg.MODEL.DEVICE = device
    return cfg


def _build_predictor(cfg: Any, what: str) -> Any:
    from detectron2.engine import DefaultPredictor

    try:
        return DefaultPredictor(cfg)
    except Exception as exc:  # detectron2/iopath/torch raise many types; the run needs one sentence
        raise DetectorUnavailableError(
            f"The {what} model could not be built ({type(exc).__name__}: {exc}); check its weights and "
            "config."
        ) from exc


def _keypoint_instances(instances: Any) -> KeypointInstances:
    return keypoint_rcnn_to_people(
        instances.pred_boxes.tensor.numpy(), instances.scores.numpy(), instances.pred_keypoints.numpy()
    )


def _pointrend_instances(instances: Any) -> MaskInstances:
    return pointrend_masks_to_people(
        instances.pred_boxes.tensor.numpy(),
        instances.scores.numpy(),
        instances.pred_masks.numpy(),
        instances.pred_classes.numpy(),
    )


def _densepose_instances(instances: Any, image_hw: tuple[int, int]) -> MaskInstances:
    from densepose.vis.extractor import DensePoseResultExtractor

    results, _ = DensePoseResultExtractor()(instances)
    # Each result's `labels` is the box-sized (h, w) part-index map I (0 background, 1..24 parts).
    i_maps = [result.labels.numpy() for result in results or []]
    boxes = instances.pred_boxes.tensor.numpy() if i_maps else np.zeros((0, 4), np.float32)
    scores = instances.scores.numpy() if i_maps else np.zeros(0, np.float32)
    return densepose_to_people(boxes, scores, i_maps, image_hw)
