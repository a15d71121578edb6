"""On-device synthetic training batches: poses in, proxy representations and targets out (ORIGINAL.md §5.2).

One call turns a batch of axis-angle poses into network inputs and loss targets, vectorised over the batch
and on the bundle's device (no per-sample Python, no host round trip):

    betas (sampled or given) -> body model -> camera-frame vertices (+ cam_t, R = I) and perspective COCO-17
    -> vertex jitter -> 6-part label map (our rasterizer) -> body crop (jittered in training)
    -> part removal, box occlusion -> silhouette (+ optional edge noise)
    -> joint noise (+ optional dropout) on a copy of the joints -> heatmaps -> inputs (B, 18, R, R).

Training draws everything from one `torch.Generator`, so a seed reproduces a batch on a given device type;
validation (`train=False`) draws nothing: mean camera, no jitter, crop scale proxy_rep.crop_scale, no
augmentation, and the betas given (or the mean shape).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from augmentation.camera import sample_camera_translation
from augmentation.crop_jitter import CropJitter, sample_crop_jitter
from augmentation.hard_cases import cut_by_border, dress_silhouette, occlude_with_ellipse
from augmentation.proxy import (
    drop_joints,
    jitter_joints,
    jitter_vertices,
    occlude_box,
    perturb_silhouette_edges,
    remove_body_parts,
)
from augmentation.shape import sample_betas
from configs.experiment import ExperimentConfig
from models.bundle import BodyModelBundle
from proxy.crop import CropResult, crop_nearest, crop_to_body, mask_bbox
from proxy.representation import network_input
from renderers.maps import label_map
from utils.cameras import perspective_project
from utils.joint_names import NUM_BETAS, NUM_SKELETON_JOINTS
from utils.rotations import axis_angle_to_rotmat


@dataclass
class AugmentationDraws:
    """What the training augmentations drew for each sample (None in validation batches).

    parts_removed: (B, P) bool, body part k + 1 erased (P = len(proxy_augment.part_removal_probs));
    occluded: (B,) bool, a box was zeroed;
    crop_scale: (B,) crop side / longer bbox side; crop_shift: (B, 2) crop centre shift in render pixels.
    """

    parts_removed: torch.Tensor
    occluded: torch.Tensor
    crop_scale: torch.Tensor
    crop_shift: torch.Tensor


@dataclass
class SyntheticBatch:
    """A generated batch. R = proxy_rep.img_wh, V = body vertices; 3D targets are in the body-model frame
    (camera orientation, no translation), as the original's losses and metrics use them.

    inputs: (B, 18, R, R) float32, channel 0 the binary silhouette, 1..17 the COCO-17 heatmaps.
    target_vertices: (B, V, 3); target_lsp14: (B, 14, 3) LSP-14 joints; target_pose_rotmats: (B, 24, 3, 3);
    target_betas: (B, 10); target_tpose_vertices: (B, V, 3) zero-pose vertices (PVE-T metrics).
    target_joints2d: (B, 17, 2) clean COCO-17 in crop pixels; joints2d_visible: (B, 17) bool, inside [0, R]
    on both axes (judged on the clean joints).
    label_maps: (B, R, R) uint8 cropped part labels after augmentation (0 background), for visualisation.
    target_silhouettes: (B, S, S) bool clean cropped silhouettes at loss.silhouette_wh, only when the
    silhouette loss is on (else None).
    cam_t: (B, 3) camera translations; crop_boxes: (B, 4) [x0, y0, x1, y1] crops in render pixels.
    draws: the training augmentations' draws (None for validation).
    """

    inputs: torch.Tensor
    target_vertices: torch.Tensor
    target_lsp14: torch.Tensor
    target_pose_rotmats: torch.Tensor
    target_betas: torch.Tensor
    target_joints2d: torch.Tensor
    joints2d_visible: torch.Tensor
    target_tpose_vertices: torch.Tensor
    label_maps: torch.Tensor
    target_silhouettes: torch.Tensor | None
    cam_t: torch.Tensor
    crop_boxes: torch.Tensor
    draws: AugmentationDraws | None

    @property
    def batch_size(self) -> int:
        return self.inputs.shape[0]


class SyntheticBatchGenerator:
    """Generates `SyntheticBatch`es on `device` from poses, following an `ExperimentConfig`.

    Args:
        bundle: the body model bundle (moved to `device`).
        config: its camera, shape_augment, proxy_rep, proxy_augment and loss (silhouette target) sections.
        device: where every tensor is made.
    """

    def __init__(self, bundle: BodyModelBundle, config: ExperimentConfig, device: torch.device | str):
        self.device = torch.device(device)
        self.bundle = bundle.to(self.device)
        self.config = config
        render_wh = config.camera.render_wh
        self.render_size = (render_wh, render_wh)
        self.principal_point = torch.full((2,), render_wh / 2.0, device=self.device)
        self.mean_betas = self.bundle.mean_params[-NUM_BETAS:]
        self.mean_translation = torch.tensor(config.camera.mean_translation, device=self.device)
        self.with_silhouette_target = "silhouette" in config.loss.losses_on

    @torch.no_grad()
    def generate(
        self,
        poses: torch.Tensor,
        generator: torch.Generator | None = None,
        train: bool = True,
        betas: torch.Tensor | None = None,
    ) -> SyntheticBatch:
        """Make one batch.

        Args:
            poses: (B, 72) axis-angle, global orientation first, camera frame.
            generator: draws every random number of a training batch (a generator on `device` keeps the
                draws there); unused when train is False.
            train: training (random betas if shape_augment.enabled, jittered camera, vertices and crop,
                augmentations) or validation (none of these).
            betas: (B, 10) shapes for validation, or for training with shape_augment.enabled = False; None
                means the bundle's mean shape.
        """
        if poses.ndim != 2 or poses.shape[1] != 3 * NUM_SKELETON_JOINTS:
            raise ValueError(f"poses must have shape (B, 72), got {tuple(poses.shape)}.")
        if train and generator is None:
            raise ValueError("A training batch needs a torch.Generator for its random draws.")
        cfg = self.config
        batch_size = poses.shape[0]
        pose_rotmats = axis_angle_to_rotmat(poses.to(self.device, torch.float32).view(batch_size, -1, 3))

        if train and cfg.shape_augment.enabled:
            assert generator is not None  # checked above: training needs one
            shape = cfg.shape_augment
            betas = sample_betas(
                batch_size, self.mean_betas, generator, shape.distribution, shape.std, shape.uniform_range
            )
        elif betas is None:
            betas = self.mean_betas.expand(batch_size, NUM_BETAS)
        betas = betas.to(self.device, torch.float32)

        if train:
            assert generator is not None
            camera = cfg.camera
            cam_t = sample_camera_translation(
                batch_size, generator, camera.mean_translation, camera.xy_std, camera.z_range
            )
        else:
            cam_t = self.mean_translation.expand(batch_size, 3)

        body = self.bundle(pose_rotmats, betas)
        focal = cfg.camera.focal_length
        joints2d = perspective_project(body.coco17, focal, self.principal_point, translation=cam_t)
        vertices = body.vertices + cam_t[:, None, :]
        if train:
            assert generator is not None
            vertices = jitter_vertices(vertices, generator, cfg.proxy_augment.vertex_noise)
        labels = label_map(vertices, self.bundle.faces, self.bundle.face_parts, focal, None, self.render_size)

        crop, jitter = self._crop(labels, joints2d, generator, train)
        target_silhouettes = (
            self._silhouette_target(labels, crop.boxes) if self.with_silhouette_target else None
        )
        img_wh = cfg.proxy_rep.img_wh
        target_joints2d = crop.joints2d
        visible = ((target_joints2d >= 0) & (target_joints2d <= img_wh)).all(dim=-1)

        if train:
            assert generator is not None and jitter is not None  # _crop jitters every training crop
            inputs, maps, draws = self._augmented_inputs(crop.maps, target_joints2d, generator, jitter)
        else:
            maps, draws = crop.maps, None
            inputs = self._proxy_representation(maps != 0, target_joints2d, None)

        return SyntheticBatch(
            inputs=inputs,
            target_vertices=body.vertices,
            target_lsp14=body.lsp14,
            target_pose_rotmats=pose_rotmats,
            target_betas=betas,
            target_joints2d=target_joints2d,
            joints2d_visible=visible,
            target_tpose_vertices=self.bundle.tpose_vertices(betas),
            label_maps=maps.to(torch.uint8),
            target_silhouettes=target_silhouettes,
            cam_t=cam_t,
            crop_boxes=crop.boxes,
            draws=draws,
        )

    def _crop(
        self, labels: torch.Tensor, joints2d: torch.Tensor, generator: torch.Generator | None, train: bool
    ) -> tuple[CropResult, CropJitter | None]:
        """Crop the render around the body: jittered scale and centre in training, fixed in validation."""
        cfg = self.config
        jitter: CropJitter | None
        scale: float | torch.Tensor
        shift: torch.Tensor | None
        if train:
            assert generator is not None  # generate checks that training has one
            aug = cfg.proxy_augment
            bbox, _ = mask_bbox(labels)
            jitter = sample_crop_jitter(
                bbox,
                generator,
                cfg.proxy_rep.crop_scale,
                aug.bbox_scale_range,
                aug.bbox_centre_shift,
                aug.partial_crop_prob,
                aug.partial_crop_scale,
                aug.partial_crop_shift,
            )
            scale, shift = jitter.scale, jitter.shift
        else:
            jitter, scale, shift = None, cfg.proxy_rep.crop_scale, None
        crop = crop_to_body(labels, joints2d, cfg.proxy_rep.img_wh, cfg.proxy_rep.crop_mode, scale, shift)
        return crop, jitter

    def _silhouette_target(self, labels: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """The clean silhouette (before part removal and occlusion) under the same crop, at silhouette_wh."""
        rule = "centre" if self.config.proxy_rep.crop_mode == "square" else "cv2"
        return crop_nearest(labels != 0, boxes, self.config.loss.silhouette_wh, rule)

    def _augmented_inputs(
        self, maps: torch.Tensor, joints2d: torch.Tensor, generator: torch.Generator, jitter: CropJitter
    ) -> tuple[torch.Tensor, torch.Tensor, AugmentationDraws]:
        """Training augmentations of the cropped maps and joints (ORIGINAL.md §6, the original's order),
        then the proxy representation. Our extras draw nothing while off (probability 0), so the original's
        augmentations see the same random stream with or without them."""
        aug = self.config.proxy_augment
        labels = maps  # before part removal: dressing grows the parts the body has, seen or not
        maps, parts_removed = remove_body_parts(maps, generator, aug.part_removal_probs)
        maps, occluded = occlude_box(
            maps, generator, aug.occlusion_prob, aug.occlusion_size, aug.occlusion_centre_range
        )
        silhouettes = maps != 0
        if aug.edge_noise_prob > 0:
            silhouettes = perturb_silhouette_edges(
                silhouettes, generator, aug.edge_noise_prob, aug.edge_noise_radius
            )
        noisy_joints = jitter_joints(joints2d, generator, aug.joint_noise, aug.hip_noise)
        drawn = None
        if aug.joint_dropout_prob > 0:
            all_joints = torch.ones(joints2d.shape[:2], dtype=torch.bool, device=joints2d.device)
            drawn = drop_joints(all_joints, generator, aug.joint_dropout_prob)
        if max(aug.border_cut_prob, aug.ellipse_occlusion_prob, aug.dress_prob) > 0:
            silhouettes, drawn = self._hard_cases(silhouettes, labels, noisy_joints, drawn, generator)
        draws = AugmentationDraws(parts_removed, occluded, jitter.scale, jitter.shift)
        return self._proxy_representation(silhouettes, noisy_joints, drawn), maps, draws

    def _hard_cases(
        self,
        silhouettes: torch.Tensor,
        labels: torch.Tensor,
        joints2d: torch.Tensor,
        drawn: torch.Tensor | None,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Dressing, then an occluding ellipse, then a border cut (augmentation/hard_cases.py): clothes
        are in the picture before anything hides them, and the frame cuts last."""
        aug = self.config.proxy_augment
        if drawn is None:
            drawn = torch.ones(joints2d.shape[:2], dtype=torch.bool, device=joints2d.device)
        silhouettes = dress_silhouette(silhouettes, labels, generator, aug.dress_prob, aug.dress_radius)
        silhouettes, drawn = occlude_with_ellipse(
            silhouettes, joints2d, drawn, generator, aug.ellipse_occlusion_prob
        )
        return cut_by_border(silhouettes, joints2d, drawn, generator, aug.border_cut_prob)

    def _proxy_representation(
        self, silhouettes: torch.Tensor, joints2d: torch.Tensor, drawn: torch.Tensor | None
    ) -> torch.Tensor:
        """(B, R, R) bool silhouettes and (B, 17, 2) heatmap joints -> (B, 18, R, R) float32 inputs."""
        return network_input(silhouettes, joints2d, self.config.proxy_rep.heatmap_std, drawn)
