"""Typed experiment configuration. Defaults are the original STRAPS values (ORIGINAL.md §4 to 8).

Every field has a default, so `ExperimentConfig()` is the original's set-up (with our open body model).
To extend: add a field with a default to the right section; YAML files and `a.b=value` overrides pick it
up with no other change (see configs/loader.py). Sequences are tuples so that configs stay immutable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class BodyModelConfig:
    """Which body-model bundle to load (models/bundle.py)."""

    kind: Literal["open", "smpl"] = "open"
    gender: Literal["neutral", "male", "female"] = "neutral"
    additional_dir: str = "additional"


@dataclass(frozen=True)
class RegressorConfig:
    """SingleInputRegressor arguments (ORIGINAL.md §2): 18 input channels, ResNet-18, 3 IEF steps."""

    in_channels: int = 18
    resnet_layers: Literal[18, 50] = 18
    ief_iters: int = 3


@dataclass(frozen=True)
class ProxyRepConfig:
    """Proxy representation (ORIGINAL.md §4) and the silhouette crop used for validation and inference
    (ORIGINAL.md §5.2 step 7, §9 step 6)."""

    img_wh: int = 256
    heatmap_std: float = 4.0
    # Keypoints below this detector confidence get an empty heatmap; 0.0 draws all, as the original.
    joint_confidence_threshold: float = 0.0
    # Crop side = crop_scale x the larger side of the silhouette bounding box.
    crop_scale: float = 1.2
    # Synthetic crops (training and validation, proxy/crop.py): "square" pads like the inference crop;
    # "original" is the original's training crop, truncated at the render border and stretched to square.
    crop_mode: Literal["square", "original"] = "square"


@dataclass(frozen=True)
class CameraConfig:
    """Perspective camera of the synthetic renders (ORIGINAL.md §5.2 step 3), centred on the render."""

    # Side of the square synthetic render in pixels; the crop then resamples it to proxy_rep.img_wh.
    render_wh: int = 256
    # In pixels of the render: scale it with render_wh to keep the framing (e.g. 1250 for a 64 px render).
    focal_length: float = 5000.0
    mean_translation: tuple[float, float, float] = (0.0, 0.2, 42.0)
    # Training jitter: tx, ty += N(0, xy_std^2) m; tz += U(-z_range, z_range) m. Validation uses the mean.
    xy_std: float = 0.05
    z_range: float = 5.0


@dataclass(frozen=True)
class ShapeAugmentConfig:
    """Training shapes (ORIGINAL.md §5.2 step 2): mean betas + noise; the data files' shapes are discarded."""

    enabled: bool = True
    distribution: Literal["normal", "uniform"] = "normal"
    std: float = 1.5  # per-dimension std of the normal distribution
    uniform_range: float = 3.0  # U(-r, r) for the uniform distribution


@dataclass(frozen=True)
class ProxyAugmentConfig:
    """Training-only augmentations of the synthetic proxy representation (ORIGINAL.md §6). A zero probability
    or range switches one off."""

    # U(-v, v) metres added to every vertex's x and y before rendering (silhouette edges only).
    vertex_noise: float = 0.01
    # Crop scale = proxy_rep.crop_scale + U(-r, r); crop centre + U(-s, s) px per axis.
    bbox_scale_range: float = 0.2
    bbox_centre_shift: float = 5.0
    # Probability of removing each body part class 1..6 (L arm, R arm, head, L leg, R leg, torso).
    part_removal_probs: tuple[float, ...] = (0.1, 0.1, 0.1, 0.1, 0.05, 0.05)
    # One square zero box per sample with this probability; its centre (row and column independently) is
    # uniform in [lo, hi] x img_wh, i.e. [89.6, 166.4] px for 256.
    occlusion_prob: float = 0.5
    occlusion_size: int = 48
    occlusion_centre_range: tuple[float, float] = (0.35, 0.65)
    # U(-n, n) px noise on the joints used for the heatmaps (not on the 2D targets); hips are COCO 11, 12.
    joint_noise: float = 8.0
    hip_noise: float = 8.0
    # Beyond the original, off by default (augmentation/proxy.py, augmentation/crop_jitter.py):
    # each joint's heatmap is left empty with this probability (missed keypoints at inference);
    joint_dropout_prob: float = 0.0
    # a sample gets a tight or partial crop with this probability: scale U(partial_crop_scale), centre shift
    # U(-s, s) x the bbox side per axis (bodies cut off by the photo's border);
    partial_crop_prob: float = 0.0
    partial_crop_scale: tuple[float, float] = (0.6, 1.0)
    partial_crop_shift: float = 0.2
    # a sample's silhouette is eroded or dilated by 1..edge_noise_radius px with this probability.
    edge_noise_prob: float = 0.0
    edge_noise_radius: int = 2
    # Hard cases (augmentation/hard_cases.py), each a probability per sample: the picture ends at a random
    # line (portraits, people cut by the frame's side); an ellipse hides silhouette and joints (someone or
    # something in front); the torso and legs grow by 1..dress_radius px (loose clothes). The targets stay
    # the whole, undressed body.
    border_cut_prob: float = 0.0
    ellipse_occlusion_prob: float = 0.0
    dress_prob: float = 0.0
    dress_radius: int = 6


@dataclass(frozen=True)
class LossConfig:
    """Homoscedastic-uncertainty weighted multi-task loss (ORIGINAL.md §7), train/losses.py.

    Tasks: verts, joints3D, joints2D, pose_params, shape_params (the original's), and silhouette (ours, off by
    default: the predicted body's soft silhouette against the clean target silhouette, both at silhouette_wh
    px; to enable it, add "silhouette" to losses_on and a weight loss.init_loss_weights.silhouette).
    """

    losses_on: tuple[str, ...] = ("verts", "shape_params", "pose_params", "joints2D", "joints3D")
    # Initial task weights w; the learned log-variances start at s = -ln(w + 1e-6).
    init_loss_weights: dict[str, float] = field(
        default_factory=lambda: {
            "verts": 1.0,
            "joints3D": 1.0,
            "joints2D": 0.1,
            "pose_params": 0.1,
            "shape_params": 0.1,
        }
    )
    silhouette_wh: int = 64
    silhouette_sigma: float = 1.0  # soft-silhouette fall-off in pixels of the silhouette_wh image


# Mixture weights of the procedural sampler's pose archetypes (data/procedural_poses.py names them).
DEFAULT_ARCHETYPE_WEIGHTS: dict[str, float] = {
    "standing": 0.12,
    "walking": 0.14,
    "running": 0.10,
    "sitting": 0.10,
    "crouching": 0.06,
    "kneeling": 0.04,
    "bending": 0.07,
    "arms_raised": 0.07,
    "reaching": 0.07,
    "arms_crossed": 0.05,
    "hands_on_hips": 0.04,
    "ready_stance": 0.05,
    "lunge": 0.03,
    "kicking": 0.03,
    "throwing": 0.03,
}


@dataclass
class ProceduralPoseConfig:
    """Options of the procedural sampler (angles in degrees).

    Attributes:
        archetype_weights: mixture weights by archetype name (normalised; missing names get weight 0).
        noise_std: std of the Gaussian noise added to every joint angle.
        lr_correlation: in [0, 1], the share of a left joint's random variation that its right twin copies
            (mirrored); 0 = independent sides, 1 = perfectly symmetric variations.
        mirror_prob: probability of swapping the left and right sides of the whole pose.
        yaw_range: yaw about the body's vertical axis is uniform in [-yaw_range, yaw_range).
        tilt_std: std of the pitch and roll of upright bodies (clipped at 2.5 std).
        lying_prob: probability that a body lies on the ground (long axis horizontal, any roll).
        lying_tilt_std: std of the deviation of a lying body's long axis from the horizontal.
    """

    archetype_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_ARCHETYPE_WEIGHTS))
    noise_std: float = 5.0
    lr_correlation: float = 0.5
    mirror_prob: float = 0.5
    yaw_range: float = 180.0
    tilt_std: float = 4.0
    lying_prob: float = 0.05
    lying_tilt_std: float = 10.0


@dataclass(frozen=True)
class DataConfig:
    """Pose sources: the original's npz files with keys fnames, poses (N, 72), shapes (N, 10) (ORIGINAL.md
    §5.1), or the procedural sampler (data/procedural_poses.py), which needs no file."""

    pose_source: Literal["procedural", "npz"] = "procedural"
    train_poses: str = "data/amass_up3d_3dpw_train.npz"
    val_poses: str = "data/up3d_3dpw_val.npz"
    params_from: Literal["all", "h36m", "up3d", "3dpw", "not_amass"] = "all"
    procedural: ProceduralPoseConfig = field(default_factory=ProceduralPoseConfig)
    # Procedural source: samples per training epoch (the original's epoch: 348k poses of its npz file) and a
    # fixed validation set of val_samples poses and shapes drawn once with val_seed (shapes from the
    # training shape distribution), the size of the original's up3d_3dpw_val.npz.
    samples_per_epoch: int = 348_000
    val_samples: int = 11_836
    val_seed: int = 20_200_907


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, validation and checkpointing (ORIGINAL.md §8), train/trainer.py."""

    epochs: int = 100
    # Global batch: with DDP each of the N processes generates and trains on batch_size / N samples.
    batch_size: int = 140
    lr: float = 1e-4
    # Learning-rate schedule over the run's steps: "constant" (the original's) or "cosine" (decay from lr to
    # lr * final_lr_fraction at the last step); either starts with a linear warm-up over warmup_steps.
    lr_schedule: Literal["constant", "cosine"] = "constant"
    warmup_steps: int = 0
    final_lr_fraction: float = 0.05
    # Start from a checkpoint's regressor weights (its best slot) with a fresh optimiser and loss weights,
    # e.g. to continue training a shipped model under another recipe (run_train.py --init_from).
    init_from: str | None = None
    # Stop after this many optimiser steps in all (None: run every epoch); the state is saved for --resume.
    max_steps: int | None = None
    # Stop once this many minutes of training have passed (None: no limit); the state is saved for --resume.
    max_minutes: float | None = None
    # The original sets no seed; we seed everything we sample so that runs repeat.
    seed: int = 0
    metrics_to_track: tuple[str, ...] = (
        "pves",
        "pves_sc",
        "pves_pa",
        "pve-ts",
        "pve-ts_sc",
        "mpjpes",
        "mpjpes_sc",
        "mpjpes_pa",
        "shape_mses",
        "pose_mses",
        "joints2D_l2es",
    )
    # Best weights: every one of these validation metrics is <= its best so far.
    save_val_metrics: tuple[str, ...] = ("pves_pa", "mpjpes_pa")
    checkpoint_every_epochs: int = 10
    # Also save the training state every this many steps inside an epoch (0: at epoch ends only).
    state_every_steps: int = 1000
    output_dir: str = "runs/exp001"
    device: str = "auto"  # "auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...
    # bf16 autocast (with channels_last) of the regressor: None decides from the hardware (on where bf16 is
    # native: Ampere+ GPUs, CPUs with AMX-BF16 / AVX512-BF16; utils/precision.py), false forces float32.
    bf16: bool | None = None
    # torch.compile of the regressor (on the CPU: tried, and dropped with a warning if the toolchain fails).
    compile: bool = False
    # Deterministic algorithms (repeatable runs, slower on GPUs).
    deterministic: bool = False
    # TensorBoard: scalars every log_every_steps, an image grid (inputs, predicted meshes) every
    # image_every_steps (0: never).
    log_every_steps: int = 20
    image_every_steps: int = 500
    # Validate on the first val_batches * batch_size samples only (None: the whole validation set).
    val_batches: int | None = None


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything one training run (or an evaluation of it) needs."""

    body_model: BodyModelConfig = field(default_factory=BodyModelConfig)
    regressor: RegressorConfig = field(default_factory=RegressorConfig)
    proxy_rep: ProxyRepConfig = field(default_factory=ProxyRepConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    shape_augment: ShapeAugmentConfig = field(default_factory=ShapeAugmentConfig)
    proxy_augment: ProxyAugmentConfig = field(default_factory=ProxyAugmentConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
