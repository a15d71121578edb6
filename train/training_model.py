"""The module that training differentiates: regressor + loss log-variances, batch in, loss out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from models.bundle import BodyModelBundle
from proxy.bodies import BodyEstimate, decode_bodies
from train.losses import HomoscedasticMultiTaskLoss, SilhouetteLoss, task_losses
from train.synthetic_batch import SyntheticBatch
from utils.precision import RegressorPrecision


@dataclass
class StepLosses:
    """total: scalar; weighted: L_k exp(-s_k) per enabled task (what is logged); prediction: the bodies."""

    total: torch.Tensor
    weighted: dict[str, torch.Tensor]
    prediction: BodyEstimate


class TrainingModel(nn.Module):
    """The regressor and the criterion in one module, so that one DistributedDataParallel wrapper averages
    the gradients of the network and of the learned log-variances alike.

    The body-model bundle is an argument of `forward`, not a submodule: DDP would otherwise broadcast its
    large (non-learned) buffers at every step.

    Args:
        regressor: SingleInputRegressor (possibly compiled).
        criterion: HomoscedasticMultiTaskLoss.
        losses_on: enabled tasks.
        img_wh: network input side R.
        silhouette_loss: for the optional silhouette task.
        precision: how the regressor runs (bf16 autocast, channels_last); the body model and losses stay in
            float32.
    """

    def __init__(
        self,
        regressor: nn.Module,
        criterion: HomoscedasticMultiTaskLoss,
        losses_on: Sequence[str],
        img_wh: int,
        silhouette_loss: SilhouetteLoss | None,
        precision: RegressorPrecision,
    ):
        super().__init__()
        self.regressor = regressor
        self.criterion = criterion
        self.losses_on = tuple(losses_on)
        self.img_wh = img_wh
        self.silhouette_loss = silhouette_loss
        self.precision = precision

    def forward(self, batch: SyntheticBatch, bundle: BodyModelBundle) -> StepLosses:
        with self.precision.autocast():
            cam_wp, pose6d, betas = self.regressor(self.precision.prepare_input(batch.inputs))
        prediction = decode_bodies(bundle, cam_wp, pose6d, betas)
        losses = task_losses(prediction, batch, self.losses_on, self.img_wh, self.silhouette_loss)
        total, weighted = self.criterion(losses)
        return StepLosses(total, weighted, prediction)
