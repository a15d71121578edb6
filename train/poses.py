"""Poses for each training step and the fixed validation set, for every process of a (DDP) run.

Randomness is keyed, not streamed: a step's draws come from a generator seeded by (seed, rank, step), and an
npz epoch's shuffle by (seed, epoch). Any step can thus be regenerated on its own, which is what makes
resuming exact (no generator state to carry) and gives every DDP rank its own samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from augmentation.shape import sample_betas
from configs.experiment import ExperimentConfig
from configs.loader import ConfigError
from data.pose_sources import NpzPoseSource
from data.procedural_poses import ProceduralPoseSource
from utils.joint_names import NUM_BETAS

# Purposes of the keyed seeds, so that two purposes never share a stream.
_STEP, _EPOCH_ORDER = 0, 1


def keyed_generator(device: torch.device | str, *key: int) -> torch.Generator:
    """A torch.Generator on `device` seeded from a tuple of non-negative integers (via numpy's SeedSequence,
    so that nearby keys give unrelated streams)."""
    high, low = np.random.SeedSequence(list(key)).generate_state(2, dtype=np.uint32)
    return torch.Generator(device=device).manual_seed(int(high) << 32 | int(low))


def step_generator(seed: int, rank: int, step: int, device: torch.device | str) -> torch.Generator:
    """The generator of every random draw of one training step on one process."""
    return keyed_generator(device, seed, _STEP, rank, step)


class TrainingPoses:
    """This process's share of each step's poses.

    The procedural source draws batch_size / world_size fresh poses per step (an "epoch" is
    data.samples_per_epoch samples); the npz source walks a shuffled permutation of its rows per epoch (the
    original's shuffle with drop_last), each rank taking its slice of every global batch.

    Args:
        config: data and train sections are read.
        device: where poses are made.
        rank, world_size: this process among the DDP processes.
    """

    def __init__(
        self, config: ExperimentConfig, device: torch.device | str, rank: int = 0, world_size: int = 1
    ):
        data, batch_size = config.data, config.train.batch_size
        if batch_size % world_size:
            raise ConfigError(
                f"train.batch_size={batch_size} must be divisible by the number of processes ({world_size})."
            )
        self.device = torch.device(device)
        self.seed = config.train.seed
        self.batch_size = batch_size
        self.local_batch_size = batch_size // world_size
        self.rank = rank
        self.source: ProceduralPoseSource | NpzPoseSource
        if data.pose_source == "procedural":
            self.source = ProceduralPoseSource(data.procedural)
            samples = data.samples_per_epoch
        else:
            self.source = NpzPoseSource(data.train_poses, data.params_from, self.device)
            samples = len(self.source)
        self.steps_per_epoch = samples // batch_size
        if self.steps_per_epoch < 1:
            raise ConfigError(
                f"An epoch of {samples} samples holds no full batch of {batch_size}; lower "
                "train.batch_size or raise data.samples_per_epoch."
            )
        self._order: tuple[int, torch.Tensor] | None = None  # (epoch, its permutation) of the npz rows

    def poses(self, step: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Poses (b, 72) of global step `step` for this rank, and the file's shapes (b, 10) (npz) or None."""
        if isinstance(self.source, ProceduralPoseSource):
            return self.source.sample(self.local_batch_size, generator), None
        epoch, within = divmod(step, self.steps_per_epoch)
        start = within * self.batch_size + self.rank * self.local_batch_size
        rows = self._epoch_order(epoch)[start : start + self.local_batch_size]
        return self.source.get(rows), self.source.get_shapes(rows)

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        assert isinstance(self.source, NpzPoseSource)  # only npz rows are walked in epochs
        if self._order is None or self._order[0] != epoch:
            generator = keyed_generator("cpu", self.seed, _EPOCH_ORDER, epoch)
            self._order = (epoch, torch.randperm(len(self.source), generator=generator).to(self.device))
        return self._order[1]


@dataclass
class ValidationSet:
    """Fixed validation poses (N, 72) and shapes (N, 10)."""

    poses: torch.Tensor
    betas: torch.Tensor

    def __len__(self) -> int:
        return self.poses.shape[0]

    def batches(
        self, batch_size: int, rank: int = 0, world_size: int = 1
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """This rank's contiguous shard of the set, in order, in batches of at most batch_size."""
        shard = -(-len(self) // world_size)
        stop = min(len(self), (rank + 1) * shard)
        for start in range(rank * shard, stop, batch_size):
            end = min(start + batch_size, stop)
            yield self.poses[start:end], self.betas[start:end]


def build_validation_set(
    config: ExperimentConfig, mean_betas: torch.Tensor, device: torch.device | str
) -> ValidationSet:
    """The validation set of the configured pose source.

    npz: the validation file's poses and shapes, used directly (ORIGINAL.md §5.2 "Validation differs").
    procedural: data.val_samples poses drawn once on the CPU with data.val_seed (the same set on every
    device and in every run), with shapes from the training shape distribution (shape_augment; the mean shape
    when it is off) drawn with the same seed. The first train.val_batches * train.batch_size samples are kept
    when val_batches is set.
    """
    data = config.data
    if data.pose_source == "npz":
        source = NpzPoseSource(data.val_poses, "all", device)
        poses, betas = source.poses, source.shapes
    else:
        generator = torch.Generator().manual_seed(data.val_seed)
        poses = ProceduralPoseSource(data.procedural).sample(data.val_samples, generator)
        shape = config.shape_augment
        mean = mean_betas.detach().cpu().float()
        if shape.enabled:
            betas = sample_betas(
                data.val_samples, mean, generator, shape.distribution, shape.std, shape.uniform_range
            )
        else:
            betas = mean.expand(data.val_samples, NUM_BETAS)
    if config.train.val_batches is not None:
        keep = config.train.val_batches * config.train.batch_size
        poses, betas = poses[:keep], betas[:keep]
    if len(poses) == 0:
        raise ConfigError("The validation set is empty; raise data.val_samples or train.val_batches.")
    return ValidationSet(poses.to(device), betas.to(device).contiguous())
