"""The predictor: a person's silhouette and 2D joints per image -> an SMPL-format body in the image's camera.

Per batch, one code path on the CPU and CUDA (ORIGINAL.md §9, with our crop and camera):
1. crop box: the bounding box of the silhouette's pixels, a square of `crop_scale` (1.2) times its longer
   side around its centre, zero padding beyond the image border (`proxy.crop`, the crop the
   regressor saw in training and validation);
2. proxy representation (`proxy.representation`): the silhouette resampled to 256 x 256 (nearest) and 17
   Gaussian heatmaps of the joints in crop pixels; joints whose detector confidence is below
   `joint_confidence_threshold` get an empty heatmap (0 draws every joint, as the original);
3. regressor (eval mode, no gradients); then, when refinement is on, a few gradient steps that fit its
   pose, shape and camera to the silhouette and joints (predict/refine.py); 6D -> rotation matrices, body
   model -> posed and T-pose vertices (`proxy.bodies`, as in training);
4. camera: the weak-perspective crop camera becomes a perspective camera of the whole image with focal
   length f = 5000 * L / 256 (L = crop side in image pixels; 5000 / 256 is the training camera's focal
   length per pixel of its square render) and the principal point at the image centre. The crop, about as
   wide as the training renders, then sees the body with their focal length, so the predicted perspective
   matches the one the network learned; `cam_t` places the body in that camera;
5. fit scores: IoU of the predicted body's silhouette, rendered in the crop, with the input silhouette; mean
   distance in image pixels between the predicted 2D joints and the detected joints above the threshold.

`Predictor.predict_proxy` needs no files (silhouettes and keypoints in, `PredictionBatch` out); it is what
evaluation calls. `Predictor.predict_images` adds the detector and the person choice.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import torch
from torch import Tensor

from configs.experiment import CameraConfig, ProxyRepConfig, RegressorConfig
from configs.loader import ConfigError
from models.bundle import GENDERS, KINDS, BodyModelBundle, load_bundle
from models.checkpoint import CheckpointError, load_regressor_weights, read_checkpoint
from models.ief import NUM_PARAMS
from models.regressor import SingleInputRegressor
from predict.detectors import DEFAULT_JOINT_CONFIDENCE_THRESHOLD
from predict.detectors.base import DetectorBackend, ImageDetectionError, PersonDetection
from predict.people import find_people
from predict.refine import RefineConfig, RefineInputs, Refiner, crop_pixels_in_image
from proxy.bodies import BodyEstimate, decode_bodies
from proxy.crop import crop_nearest, crop_points, mask_bbox, square_crop_boxes
from proxy.heatmaps import joints_to_heatmaps
from proxy.representation import network_input
from renderers import silhouette
from utils.cameras import crop_camera_to_image_camera, perspective_project
from utils.errors import UsageError
from utils.joint_names import NUM_KEYPOINTS
from utils.metrics import silhouette_iou
from utils.precision import choose_precision
from utils.rotations import rotmat_to_axis_angle
from utils.runtime import here_or_in_repo, resolve_device, synchronise

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_Section = TypeVar("_Section", bound="DataclassInstance")  # a config section dataclass
DEFAULT_CHECKPOINT = Path("checkpoints/open_body/straps_open_body.pt")


class PredictionInputError(UsageError, ValueError):
    """Silhouettes or keypoints handed to the predictor have the wrong shape or are empty."""


@dataclass
class PredictionBatch:
    """Predictions for B images, on the predictor's device.

    Image pixels are those of the images the outputs refer to (`image_hw` of `predict_proxy`); the camera
    frame is the perspective camera (focal_length, principal_point) of those images: x right, y down, z
    forward, metres. The body-model frame is SMPL's (y up); `vertices` = body_vertices + cam_t.
    """

    cam_wp: Tensor  # (B, 3) weak-perspective camera [s, tx, ty] in the crop's normalised coordinates
    pose_rotmats: Tensor  # (B, 24, 3, 3), global orientation first
    betas: Tensor  # (B, 10)
    body_vertices: Tensor  # (B, V, 3) posed, body-model frame
    coco17: Tensor  # (B, 17, 3) COCO-17 joints, body-model frame
    lsp14: Tensor  # (B, 14, 3) LSP-14 joints, body-model frame (metrics)
    tpose_vertices: Tensor  # (B, V, 3) zero pose, body-model frame
    faces: Tensor  # (F, 3) int64
    bbox: Tensor  # (B, 4) crop box [x0, y0, x1, y1], image pixels
    image_hw: Tensor  # (B, 2) image height and width, pixels
    focal_length: Tensor  # (B,) pixels
    principal_point: Tensor  # (B, 2) pixels, the image centre
    cam_t: Tensor  # (B, 3) body-model frame -> camera frame translation
    joints2d: Tensor  # (B, 17, 2) predicted COCO-17 joints, image pixels
    joints2d_detected: Tensor  # (B, 17, 3) [u, v, confidence] detected, image pixels
    crop_silhouettes: Tensor  # (B, S, S) bool, the silhouette channel the network saw
    crop_joints2d: Tensor  # (B, 17, 2) detected joints in crop pixels
    joints_visible: Tensor  # (B, 17) bool, joints drawn into the heatmaps (confidence >= threshold)
    silhouette_iou: Tensor  # (B,) IoU of the rendered prediction with the input silhouette (NaN if off)
    joints2d_error_px: Tensor  # (B,) mean predicted-to-detected distance of visible joints (NaN if none)
    heatmap_std: float = 4.0
    timings_ms: dict[str, float] = field(default_factory=dict)  # per stage, for the whole batch
    regressor: RegressorEstimate | None = None  # the regressor's own result when refinement ran

    def __len__(self) -> int:
        return self.cam_wp.shape[0]

    @property
    def vertices(self) -> Tensor:
        """(B, V, 3) posed vertices in the camera frame."""
        return self.body_vertices + self.cam_t[:, None, :]

    @property
    def pose(self) -> Tensor:
        """(B, 72) axis-angle pose, as in SMPL pose files."""
        return rotmat_to_axis_angle(self.pose_rotmats).reshape(len(self), -1)

    def heatmaps(self) -> Tensor:
        """(B, 17, S, S) the joint heatmaps the network saw."""
        size = self.crop_silhouettes.shape[-1]
        return joints_to_heatmaps(self.crop_joints2d, size, self.heatmap_std, self.joints_visible)


@dataclass
class RegressorEstimate:
    """The regressor's result before refinement (the batch's main fields then hold the refined one), its
    fit scores, and the refinement's objective per image before and after; `kept` (B,) bool marks the
    images that kept the regressor's result, with the reason in `notes`."""

    cam_wp: Tensor  # (B, 3)
    pose_rotmats: Tensor  # (B, 24, 3, 3)
    betas: Tensor  # (B, 10)
    body_vertices: Tensor  # (B, V, 3) posed, body-model frame
    lsp14: Tensor  # (B, 14, 3) LSP-14, body-model frame (metrics)
    cam_t: Tensor  # (B, 3)
    silhouette_iou: Tensor  # (B,)
    joints2d_error_px: Tensor  # (B,)
    objective_start: Tensor  # (B,)
    objective_end: Tensor  # (B,)
    kept: Tensor  # (B,) bool
    notes: list[str]

    @property
    def pose(self) -> Tensor:
        """(B, 72) axis-angle pose."""
        return rotmat_to_axis_angle(self.pose_rotmats).reshape(self.cam_wp.shape[0], -1)


@dataclass
class ImagePredictions:
    """`Predictor.predict_images` result: `batch` row k belongs to image `rows[k]`; `failures` maps the other
    image indices to their reason (no person found, or the detector's one-sentence error)."""

    batch: PredictionBatch | None
    rows: list[int]
    failures: dict[int, str]
    detect_ms: list[float]  # per image


class Predictor:
    """Regressor + body-model bundle + the crop, camera and proxy conventions of the checkpoint.

    Args:
        regressor: a SingleInputRegressor with loaded weights.
        bundle: the body-model bundle the regressor was trained with.
        proxy_rep: crop and heatmap settings (img_wh, heatmap_std, crop_scale) and the joint confidence
            threshold; defaults to the original's with DEFAULT_JOINT_CONFIDENCE_THRESHOLD.
        camera: the training renders' camera; its focal length per pixel of render side (5000 / 256) becomes
            the focal length per pixel of crop side, whatever size the crop is resampled to (img_wh).
        fit_scores: compute silhouette IoU and joint error (one 256 x 256 silhouette render per image).
        refine: settings of the fit after the regressor (predict/refine.py); None or 0 steps: the regressor's
            result as it is (the original's behaviour).
    """

    def __init__(
        self,
        regressor: SingleInputRegressor,
        bundle: BodyModelBundle,
        proxy_rep: ProxyRepConfig | None = None,
        camera: CameraConfig | None = None,
        fit_scores: bool = True,
        refine: RefineConfig | None = None,
    ):
        self.proxy_rep = proxy_rep or ProxyRepConfig(
            joint_confidence_threshold=DEFAULT_JOINT_CONFIDENCE_THRESHOLD
        )
        self.device = next(regressor.parameters()).device
        # bf16 autocast and channels_last where the hardware runs them fast (utils/precision.py).
        self.precision = choose_precision(self.device)
        self.regressor = self.precision.prepare_model(regressor.eval())
        self.bundle = bundle.to(self.device)
        camera = camera or CameraConfig()
        self.focal_per_crop_pixel = camera.focal_length / camera.render_wh
        self.fit_scores = fit_scores
        refining = refine is not None and refine.steps > 0
        self.refiner = Refiner(self.bundle, refine, self.focal_per_crop_pixel) if refining else None

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: str | os.PathLike | Mapping = DEFAULT_CHECKPOINT,
        body_model: str | None = None,
        gender: str | None = None,
        additional_dir: str | os.PathLike = "additional",
        device: str | torch.device = "auto",
        joint_confidence_threshold: float = DEFAULT_JOINT_CONFIDENCE_THRESHOLD,
        fit_scores: bool = True,
        allow_unsafe: bool = False,
        refine: RefineConfig | None = None,
    ) -> Predictor:
        """Build a predictor from a checkpoint file (ours, the original's .tar, or a bare state dict).

        Args:
            checkpoint: path or loaded checkpoint; a relative path is looked up in the working directory,
                then in the repository root.
            body_model: "open" or "smpl"; None takes the one recorded in the checkpoint, "smpl" for the
                original's checkpoint, else "open". A kind other than the recorded one is refused.
            gender: None takes the recorded one, else "neutral".
            device: "auto" (CUDA when available), "cpu", "cuda", "cuda:1", ...
            joint_confidence_threshold: joints below it get no heatmap; 0 reproduces the original.
            refine: the fit after the regressor; None (or 0 steps) leaves the regressor's result as it is.
        Raises:
            CheckpointError: missing, unreadable or mismatching checkpoint.
            BodyModelAssetError: missing body-model files.
            DeviceUnavailableError: CUDA requested but not available.
        """
        device = resolve_device(device)
        if not isinstance(checkpoint, Mapping):
            checkpoint = here_or_in_repo(checkpoint)
        content = read_checkpoint(checkpoint, map_location="cpu", allow_unsafe=allow_unsafe)
        ours = "format_version" in content
        config = _mapping_entry(content, "config") if ours else {}
        recorded = _mapping_entry(content, "body_model") if ours else {}
        original = not ours and ("best_model_state_dict" in content or "model_state_dict" in content)

        regressor_cfg = _config_section(config, "regressor", RegressorConfig)
        proxy_rep = dataclasses.replace(
            _config_section(config, "proxy_rep", ProxyRepConfig),
            joint_confidence_threshold=joint_confidence_threshold,
        )
        camera = _config_section(config, "camera", CameraConfig)

        def build(mean_params: Tensor) -> SingleInputRegressor:
            return SingleInputRegressor(
                mean_params,
                in_channels=regressor_cfg.in_channels,
                resnet_layers=regressor_cfg.resnet_layers,
                ief_iters=regressor_cfg.ief_iters,
            )

        name = None if isinstance(checkpoint, Mapping) else checkpoint
        shown = checkpoint if not isinstance(checkpoint, Mapping) else "the given checkpoint"
        # The weights are checked against the architecture first (mean_params is no weight), so that a
        # checkpoint of another network is reported as such, not as a body-model problem.
        try:
            architecture = build(torch.zeros(NUM_PARAMS))
        except ConfigError as error:  # the checkpoint's stored settings, not the user's
            raise CheckpointError(
                f"The stored regressor config of checkpoint {shown} is not usable: {error}"
            ) from None
        load_regressor_weights(architecture, content, name=name)

        recorded_kind = recorded.get("kind") or ("smpl" if original else None)
        recorded_gender = recorded.get("gender")
        for what, value, known in (
            ("body model", recorded_kind, KINDS),
            ("gender", recorded_gender, GENDERS),
        ):
            if value is not None and value not in known:
                raise CheckpointError(f"Checkpoint {shown} records the unknown {what} {value!r}.")
        kind = body_model or recorded_kind or "open"
        if recorded_kind is not None and kind != recorded_kind:
            raise CheckpointError(
                f"Checkpoint {shown} was trained with the {recorded_kind} body model, not {kind}; pass "
                f"--body_model {recorded_kind} or a checkpoint trained with the {kind} body model."
            )
        bundle = load_bundle(kind, gender or recorded_gender or "neutral", additional_dir)
        regressor = build(bundle.mean_params)
        load_regressor_weights(regressor, content, name=name)
        return cls(regressor.to(device), bundle, proxy_rep, camera, fit_scores, refine)

    @torch.no_grad()  # not inference mode: refinement takes gradients of its own inside
    def predict_proxy(
        self,
        silhouettes: Tensor | np.ndarray | Sequence[Tensor | np.ndarray],
        keypoints: Tensor | np.ndarray,
        image_hw: Sequence[tuple[int, int]] | None = None,
    ) -> PredictionBatch:
        """Predict bodies from silhouettes and 2D joints.

        Args:
            silhouettes: (B, H, W) masks, or a sequence of B (H_i, W_i) masks (images of different sizes);
                nonzero = person; each must have at least one person pixel.
            keypoints: (B, 17, 3) [u, v, confidence] COCO-17 keypoints in the silhouettes' pixels.
            image_hw: (height, width) per image of the images the outputs should refer to, when the masks
                were measured on downscaled copies of them; outputs are scaled by width / mask width.
                None: the masks' own sizes.
        Returns:
            PredictionBatch on the predictor's device.
        """
        masks = _as_mask_list(silhouettes)
        keypoints = torch.as_tensor(np.asarray(keypoints) if not isinstance(keypoints, Tensor) else keypoints)
        if keypoints.shape != (len(masks), NUM_KEYPOINTS, 3):
            raise PredictionInputError(
                f"keypoints must have shape ({len(masks)}, {NUM_KEYPOINTS}, 3) for {len(masks)} silhouettes, "
                f"got {tuple(keypoints.shape)}."
            )
        keypoints = keypoints.to(self.device, torch.float32)
        mask_hw = [tuple(m.shape) for m in masks]
        out_hw = mask_hw if image_hw is None else [tuple(int(s) for s in hw) for hw in image_hw]
        if len(out_hw) != len(masks):
            raise PredictionInputError(f"image_hw has {len(out_hw)} entries for {len(masks)} silhouettes.")
        timings: dict[str, float] = {}
        size = self.proxy_rep.img_wh

        with self._stopwatch(timings, "crop_proxy"):
            boxes, crops = self._crop(masks)  # mask pixels
            crop_joints = crop_points(keypoints[..., :2], boxes, size)
            visible = keypoints[..., 2] >= self.proxy_rep.joint_confidence_threshold
            proxy = network_input(crops, crop_joints, self.proxy_rep.heatmap_std, visible)
        with self._stopwatch(timings, "regressor"):
            with self.precision.autocast():
                outputs = self.regressor(self.precision.prepare_input(proxy))
            cam_wp, pose6d, betas = (output.float() for output in outputs)
        refined = None
        if self.refiner is not None:
            with self._stopwatch(timings, "refine"):
                mask_sizes = torch.tensor(mask_hw, dtype=boxes.dtype, device=self.device)
                inputs = RefineInputs(
                    silhouettes=crops,
                    joints=crop_joints,
                    joint_weights=keypoints[..., 2] * visible,
                    in_image=crop_pixels_in_image(boxes, mask_sizes, size),
                )
                refined = self.refiner.refine(cam_wp, pose6d, betas, inputs)
        # The camera; from here on in the pixels of the images the outputs refer to.
        scale = torch.tensor(
            [hw[1] / m[1] for hw, m in zip(out_hw, mask_hw, strict=True)], device=self.device
        )
        boxes = boxes * scale[:, None]
        detected = torch.cat((keypoints[..., :2] * scale[:, None, None], keypoints[..., 2:]), dim=-1)
        hw = torch.tensor(out_hw, dtype=torch.float32, device=self.device)
        principal_point = hw.flip(-1) / 2.0
        focal_length = self.focal_per_crop_pixel * (boxes[:, 2] - boxes[:, 0])
        camera = (focal_length, principal_point, boxes)
        regressed = self._place(cam_wp, pose6d, betas, camera, crops, detected, visible, timings)
        if refined is None:
            estimate, regressor_estimate = regressed, None
        else:
            estimate = self._place(
                refined.cam_wp, refined.pose6d, refined.betas, camera, crops, detected, visible, timings
            )
            regressor_estimate = RegressorEstimate(
                cam_wp=cam_wp,
                pose_rotmats=regressed.body.pose_rotmats,
                betas=betas,
                body_vertices=regressed.body.vertices,
                lsp14=regressed.body.lsp14,
                cam_t=regressed.cam_t,
                silhouette_iou=regressed.iou,
                joints2d_error_px=regressed.joint_error,
                objective_start=refined.objective_start,
                objective_end=refined.objective_end,
                kept=refined.kept_regressor,
                notes=refined.notes,
            )
            cam_wp, betas = refined.cam_wp, refined.betas
        with self._stopwatch(timings, "body_model"):
            tpose = self.bundle.tpose_vertices(betas)
        body, cam_t, joints2d = estimate.body, estimate.cam_t, estimate.joints2d
        iou, joint_error = estimate.iou, estimate.joint_error
        return PredictionBatch(
            cam_wp=cam_wp,
            pose_rotmats=body.pose_rotmats,
            betas=betas,
            body_vertices=body.vertices,
            coco17=body.coco17,
            lsp14=body.lsp14,
            tpose_vertices=tpose,
            faces=self.bundle.faces,
            bbox=boxes,
            image_hw=hw,
            focal_length=focal_length,
            principal_point=principal_point,
            cam_t=cam_t,
            joints2d=joints2d,
            joints2d_detected=detected,
            crop_silhouettes=crops,
            crop_joints2d=crop_joints,
            joints_visible=visible,
            silhouette_iou=iou,
            joints2d_error_px=joint_error,
            heatmap_std=self.proxy_rep.heatmap_std,
            timings_ms=timings,
            regressor=regressor_estimate,
        )

    def _place(
        self,
        cam_wp: Tensor,
        pose6d: Tensor,
        betas: Tensor,
        camera: tuple[Tensor, Tensor, Tensor],
        crops: Tensor,
        detected: Tensor,
        visible: Tensor,
        timings: dict[str, float],
    ) -> _PlacedBody:
        """Pose the body model and place it in the image's camera (focal length (B,), principal point (B, 2),
        crop boxes (B, 4) in image pixels), with its fit scores against the crop silhouettes and the
        detected joints (B, 17, 3) in image pixels."""
        focal_length, principal_point, boxes = camera
        with self._stopwatch(timings, "body_model"):
            body = decode_bodies(self.bundle, cam_wp, pose6d, betas)
            cam_t = crop_camera_to_image_camera(cam_wp, boxes, focal_length, principal_point)
            joints2d = perspective_project(body.coco17, focal_length, principal_point, cam_t)
        with self._stopwatch(timings, "fit"):
            iou = self._silhouette_iou(body.vertices + cam_t[:, None], camera, crops)
            joint_error = _mean_joint_error(joints2d, detected, visible)
        return _PlacedBody(body, cam_t, joints2d, iou, joint_error)

    def predict_images(
        self,
        images: Sequence[np.ndarray],
        detector: DetectorBackend,
        image_paths: Sequence[Path | None] | None = None,
        image_hw: Sequence[tuple[int, int]] | None = None,
    ) -> ImagePredictions:
        """Detect, choose one person per image and predict, for a batch of images.

        Args:
            images: (H, W, 3) uint8 RGB images.
            detector: the detector backend.
            image_paths: the images' files, for backends that read per-image files (precomputed).
            image_hw: as in `predict_proxy` (sizes of the files when `images` are downscaled copies).
        """
        paths = list(image_paths) if image_paths is not None else [None] * len(images)
        people: list[PersonDetection] = []
        rows: list[int] = []
        failures: dict[int, str] = {}
        detect_ms: list[float] = []
        for index, (image, path) in enumerate(zip(images, paths, strict=True)):
            start = time.perf_counter()
            person = None
            try:
                found = find_people(detector, image, path)
            except ImageDetectionError as error:
                failures[index] = str(error)
            else:
                if found.failure is not None:
                    failures[index] = found.failure
                else:
                    person = found.people[0]
            detect_ms.append(1000.0 * (time.perf_counter() - start))
            if person is not None:
                people.append(person)
                rows.append(index)
        batch = None
        if people:
            batch = self.predict_proxy(
                [p.mask for p in people],
                np.stack([p.keypoints for p in people]),
                [image_hw[i] for i in rows] if image_hw is not None else None,
            )
        return ImagePredictions(batch, rows, failures, detect_ms)

    def _crop(self, masks: list[Tensor]) -> tuple[Tensor, Tensor]:
        """Square crop boxes (B, 4) in mask pixels and the (B, S, S) bool silhouette crops.

        Masks of different sizes are cropped one by one on the device they came on (large masks are not
        copied to the GPU), then the small crops are stacked.
        """
        boxes, crops = [], []
        for index, mask in enumerate(masks):
            bbox, found = mask_bbox(mask[None])
            if not bool(found[0]):
                raise PredictionInputError(f"Silhouette {index} is empty; every image needs a person's mask.")
            box = square_crop_boxes(bbox, self.proxy_rep.crop_scale)
            boxes.append(box)
            crops.append(crop_nearest(mask[None], box, self.proxy_rep.img_wh, rule="centre"))
        return torch.cat(boxes).to(self.device), torch.cat(crops).to(self.device)

    def _silhouette_iou(
        self, vertices: Tensor, camera: tuple[Tensor, Tensor, Tensor], crops: Tensor
    ) -> Tensor:
        """(B,) IoU of the camera-frame mesh (B, V, 3), rendered in the crop, with the crop silhouettes
        (B, S, S); NaN when fit scores are off. camera: image focal length (B,), principal point (B, 2) and
        crop boxes (B, 4)."""
        if not self.fit_scores:
            return torch.full((vertices.shape[0],), torch.nan, device=self.device)
        focal_length, principal_point, boxes = camera
        # The crop is a camera of its own: the image camera scaled by S / L and shifted by the box corner.
        size = self.proxy_rep.img_wh
        zoom = size / (boxes[:, 2] - boxes[:, 0])
        crop_centre = (principal_point - boxes[:, :2]) * zoom[:, None]
        rendered = silhouette(vertices, self.bundle.faces, focal_length * zoom, crop_centre, (size, size))
        return silhouette_iou(rendered, crops).float()

    @contextmanager
    def _stopwatch(self, timings: dict[str, float], stage: str) -> Iterator[None]:
        """Add the stage's wall time in ms; CUDA work is waited for, so the time is the stage's own."""
        synchronise(self.device)
        start = time.perf_counter()
        yield
        synchronise(self.device)
        timings[stage] = timings.get(stage, 0.0) + 1000.0 * (time.perf_counter() - start)


@dataclass
class _PlacedBody:
    """One set of parameters posed and placed in the image camera, with its fit scores."""

    body: BodyEstimate
    cam_t: Tensor  # (B, 3)
    joints2d: Tensor  # (B, 17, 2) image pixels
    iou: Tensor  # (B,)
    joint_error: Tensor  # (B,)


def _mean_joint_error(joints2d: Tensor, detected: Tensor, visible: Tensor) -> Tensor:
    """(B,) mean distance (pixels) between predicted (B, 17, 2) and detected (B, 17, 3) joints over the
    visible ones (B, 17); NaN for an image without any."""
    distance = (joints2d - detected[..., :2]).norm(dim=-1)
    count = visible.sum(dim=1)
    mean = (distance * visible).sum(dim=1) / count.clamp_min(1)
    return torch.where(count > 0, mean, torch.full_like(mean, torch.nan))


def _as_mask_list(silhouettes: Tensor | np.ndarray | Sequence[Tensor | np.ndarray]) -> list[Tensor]:
    """Any accepted silhouette input -> list of (H_i, W_i) bool tensors."""
    if isinstance(silhouettes, (Tensor, np.ndarray)):
        if silhouettes.ndim != 3:
            raise PredictionInputError(
                "silhouettes must be (B, H, W) or a list of (H, W) masks, got shape "
                f"{tuple(silhouettes.shape)}."
            )
        silhouettes = list(silhouettes)
    masks = [torch.as_tensor(np.asarray(m) if not isinstance(m, Tensor) else m) != 0 for m in silhouettes]
    if not masks:
        raise PredictionInputError("No silhouettes were given; pass at least one (H, W) mask.")
    bad = [tuple(m.shape) for m in masks if m.ndim != 2]
    if bad:
        raise PredictionInputError(f"Every silhouette must be an (H, W) mask, got shapes {bad}.")
    return masks


def _mapping_entry(content: Mapping, key: str) -> Mapping:
    """content[key] if it is a mapping, else an empty one (absent or None in the checkpoint)."""
    value = content.get(key)
    return value if isinstance(value, Mapping) else {}


def _config_section(config: Mapping, name: str, cls: type[_Section]) -> _Section:
    """The `name` section of a checkpoint's stored config as `cls`, defaults for what it does not hold."""
    section = config.get(name)
    if not isinstance(section, Mapping):
        return cls()
    known = {f.name for f in dataclasses.fields(cls)}
    values = {key: tuple(v) if isinstance(v, list) else v for key, v in section.items() if key in known}
    try:
        return cls(**values)
    except TypeError as error:
        raise CheckpointError(f"The checkpoint's stored {name} config is not usable ({error}).") from None
