"""The synthetic training loop (ORIGINAL.md §8): generate on the device, regress, multi-task loss, Adam.

    trainer = Trainer(config)          # builds everything; writes nothing yet
    summary = trainer.fit()            # epochs of steps, validation after each, checkpoints, TensorBoard

Per step: a keyed generator (seed, rank, step) draws this process's poses and augmentations, the batch is
generated on the device, the regressor + criterion (one module, DDP-wrapped when distributed) give the loss,
and Adam(regressor + log-variances, lr 1e-4) steps. After every epoch: validation on the fixed set with the
ORIGINAL.md §8 metrics, the best-model rule (every save metric <= its best; ties count), checkpoints
(train/checkpointing.py). Losses reach the host one step late (train/monitor.py), so the GPU is never idle
waiting for the host; a non-finite loss stops training with a message naming the step.

Outputs under the output directory: config.yaml, checkpoints/, tensorboard/, val_metrics.jsonl.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from configs.experiment import ExperimentConfig
from configs.loader import ConfigError, save_config
from models.bundle import BodyModelBundle, load_bundle
from models.checkpoint import load_regressor_weights, save_regressor_checkpoint
from models.regressor import SingleInputRegressor
from train.checkpointing import (
    BEST_FILE,
    CHECKPOINT_DIR,
    LAST_FILE,
    METRICS_LOG,
    STATE_FILE,
    Progress,
    TrainingStateError,
    epoch_file,
    load_training_state,
    restore_rng_states,
    rng_states,
    trim_metrics_log,
)
from train.distributed import DistributedContext, setup_distributed
from train.losses import HomoscedasticMultiTaskLoss, SilhouetteLoss
from train.monitor import LossReadback
from train.poses import TrainingPoses, build_validation_set, step_generator
from train.summaries import TrainingLogger, mesh_images, proxy_images, tile
from train.synthetic_batch import SyntheticBatch, SyntheticBatchGenerator
from train.training_model import StepLosses, TrainingModel
from train.validation import MeanAccumulator, check_metric_names, sample_metrics, to_report
from utils.precision import RegressorPrecision, choose_precision
from utils.runtime import code_record
from utils.stale_files import remove_stale_temp_files

_IMAGE_SAMPLES = 4  # samples per TensorBoard image grid


@dataclass
class TrainSummary:
    """What `fit` did: steps done, epochs validated, and the best epoch with its save metrics (metres)."""

    step: int
    epochs_completed: int
    best_epoch: int
    best_metrics: dict[str, float]


class Trainer:
    """Synthetic training of the STRAPS regressor.

    Args:
        config: the experiment (train.device picks the device; WORLD_SIZE > 1 in the environment means DDP).
        output_dir: where outputs go (default train.output_dir).
        resume: a training_state.tar to continue from exactly (model, optimiser, log-variances, RNG states,
            step, best metrics); the run's config is the given one, e.g. with more epochs.
        bundle: a body-model bundle to use instead of loading the configured one.
        show_progress: the tqdm bar (main process only).
    """

    def __init__(
        self,
        config: ExperimentConfig,
        output_dir: str | Path | None = None,
        resume: str | Path | None = None,
        bundle: BodyModelBundle | None = None,
        show_progress: bool = True,
    ):
        tc = config.train
        self.config = config
        self.dist: DistributedContext = setup_distributed(tc.device)
        self.device = self.dist.device
        self.output_dir = Path(output_dir if output_dir is not None else tc.output_dir)
        self.show_progress = show_progress
        _configure_backends(tc.deterministic, self.device)
        check_metric_names(tc.metrics_to_track)
        missing = [name for name in tc.save_val_metrics if name not in tc.metrics_to_track]
        if missing:
            raise ConfigError(f"train.save_val_metrics {missing} must also be in train.metrics_to_track.")
        self.precision: RegressorPrecision = choose_precision(self.device, tc.bf16)
        if self.dist.is_main and show_progress:
            tqdm.write(f"Regressor precision: {self.precision.reason}.")

        bm = config.body_model
        self.bundle = (bundle or load_bundle(bm.kind, bm.gender, bm.additional_dir)).to(self.device)
        self.batches = SyntheticBatchGenerator(self.bundle, config, self.device)
        self.poses = TrainingPoses(config, self.device, self.dist.rank, self.dist.world_size)
        self.val_set = build_validation_set(config, self.batches.mean_betas, self.device)

        torch.manual_seed(tc.seed)  # the same initial weights on every process and in every run
        self.regressor = _build_regressor(self.bundle, config).to(self.device)
        if tc.init_from is not None and resume is None:
            load_regressor_weights(self.regressor, tc.init_from, map_location=self.device, which="best")
        self.precision.prepare_model(self.regressor)
        self.criterion = HomoscedasticMultiTaskLoss(config.loss.losses_on, config.loss.init_loss_weights).to(
            self.device
        )
        self.optimizer = torch.optim.Adam(
            [*self.regressor.parameters(), *self.criterion.parameters()], lr=tc.lr
        )
        self.progress = Progress()
        self.best_state = _cpu_copy(self.regressor.state_dict())
        self.resumed = resume is not None
        if resume is not None:
            self._resume(resume)

        silhouette_loss = None
        if "silhouette" in config.loss.losses_on:
            scale = config.loss.silhouette_wh / config.camera.render_wh
            silhouette_loss = SilhouetteLoss(
                self.bundle.faces, config.camera.focal_length * scale, config.loss.silhouette_sigma
            )
        regressor = _maybe_compile(self.regressor, tc.compile, self.device, config.regressor.in_channels)
        model: nn.Module = TrainingModel(
            regressor, self.criterion, config.loss.losses_on, config.proxy_rep.img_wh, silhouette_loss,
            self.precision,
        )  # fmt: skip
        if self.dist.enabled:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=device_ids)
        self.model: nn.Module = model
        self.logger: TrainingLogger | None = None
        self._deadline: float | None = None

    # ------------------------------------------------------------------------------------------------------
    # One step.

    def train_step(self, step: int) -> tuple[SyntheticBatch, StepLosses]:
        """Generate this process's batch of global step `step` and take one optimiser step on it."""
        generator = step_generator(self.config.train.seed, self.dist.rank, step, self.device)
        poses, betas = self.poses.poses(step, generator)
        batch = self.batches.generate(poses, generator, train=True, betas=betas)
        losses = self.model(batch, self.bundle)
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(step)
        self.optimizer.zero_grad(set_to_none=True)
        losses.total.backward()
        self.optimizer.step()
        return batch, losses

    def learning_rate(self, step: int) -> float:
        """train.lr_schedule at `step`: a linear warm-up, then constant or cosine down to the last step. A
        function of the step alone, so resuming needs no scheduler state."""
        tc = self.config.train
        if step < tc.warmup_steps:
            return tc.lr * (step + 1) / tc.warmup_steps
        if tc.lr_schedule == "constant":
            return tc.lr
        decay_steps = max(self.total_steps - tc.warmup_steps, 1)
        progress = min((step - tc.warmup_steps) / decay_steps, 1.0)
        final = tc.lr * tc.final_lr_fraction
        return final + (tc.lr - final) * 0.5 * (1.0 + math.cos(math.pi * progress))

    # ------------------------------------------------------------------------------------------------------
    # The loop.

    @property
    def total_steps(self) -> int:
        """Steps of the whole run: every epoch, or train.max_steps if that is fewer."""
        total = self.config.train.epochs * self.poses.steps_per_epoch
        max_steps = self.config.train.max_steps
        return total if max_steps is None else min(total, max_steps)

    def fit(self) -> TrainSummary:
        """Train until train.epochs (or train.max_steps), validating and checkpointing after each epoch."""
        self._start_outputs()
        steps_per_epoch = self.poses.steps_per_epoch
        max_minutes = self.config.train.max_minutes
        self._deadline = None if max_minutes is None else time.monotonic() + 60.0 * max_minutes
        try:
            while self.progress.step < self.total_steps:
                epoch = self.progress.step // steps_per_epoch
                self._train_epoch(epoch)
                if self.progress.step % steps_per_epoch == 0:
                    self._end_epoch(epoch, self.validate())
                else:  # stopped inside an epoch by train.max_steps or train.max_minutes
                    self._save_state()
                if self._out_of_time():
                    break
        finally:
            if self.logger is not None:
                self.logger.close()
        self.dist.barrier()
        return TrainSummary(
            step=self.progress.step,
            epochs_completed=self.progress.step // steps_per_epoch,
            best_epoch=self.progress.best_epoch,
            best_metrics=dict(self.progress.best_metrics),
        )

    def _train_epoch(self, epoch: int) -> None:
        tc, batch_size = self.config.train, self.config.train.batch_size
        steps_per_epoch = self.poses.steps_per_epoch
        stop = min(self.total_steps, (epoch + 1) * steps_per_epoch)
        names = ["loss", *(f"loss_{task}" for task in self.criterion.losses_on)]
        names += [f"log_var_{task}" for task in self.criterion.losses_on]
        readback = LossReadback(names)
        interval = _IntervalMeans(tc.log_every_steps, self.poses.local_batch_size * self.dist.world_size)
        bar = tqdm(
            total=steps_per_epoch * batch_size,
            initial=(self.progress.step - epoch * steps_per_epoch) * batch_size,
            desc=f"epoch {epoch}",
            unit="sample",
            unit_scale=True,
            dynamic_ncols=True,
            disable=not (self.show_progress and self.dist.is_main),
        )
        self.model.train()
        assert self.logger is not None  # set by _start_outputs, which fit runs first
        with bar:
            for step in range(self.progress.step, stop):
                batch, losses = self.train_step(step)
                values = {"loss": losses.total}
                values |= {f"loss_{task}": value for task, value in losses.weighted.items()}
                values |= {
                    f"log_var_{task}": self.criterion.log_var(task) for task in self.criterion.losses_on
                }
                ready = readback.push(step, values)
                if step + 1 == stop:
                    ready += readback.flush()
                self.progress.step = step + 1
                bar.update(batch_size)
                for done, means in interval.add(ready):
                    bar.set_postfix(loss=f"{means['loss']:.4g}")
                    self.logger.scalars("train", means, done)
                if tc.image_every_steps and step % tc.image_every_steps == 0:
                    self._log_images(batch, losses, step)
                if (
                    tc.state_every_steps
                    and self.progress.step % tc.state_every_steps == 0
                    and step + 1 < stop
                ):
                    self._save_state()
                if step + 1 < stop and self._out_of_time(step):
                    readback.flush()
                    break

    def _out_of_time(self, step: int | None = None) -> bool:
        """Whether train.max_minutes has passed. With DDP the processes agree through one all-reduce, done
        every log_every_steps steps (or when `step` is None) so that the device is not synchronised at every
        step."""
        if self._deadline is None:
            return False
        late = time.monotonic() > self._deadline
        if not self.dist.enabled:
            return late
        if step is not None and (step + 1) % max(self.config.train.log_every_steps, 1):
            return False
        return bool(self.dist.all_reduce_sum(torch.tensor(float(late), device=self.device)).item() > 0)

    @torch.no_grad()
    def _log_images(self, batch: SyntheticBatch, losses: StepLosses, step: int) -> None:
        if not self.dist.is_main:
            return
        assert self.logger is not None  # set by _start_outputs, which fit runs first
        n = min(_IMAGE_SAMPLES, batch.batch_size)
        prediction = losses.prediction
        focal = self.config.camera.focal_length * self.config.proxy_rep.img_wh / self.config.camera.render_wh
        meshes = mesh_images(
            prediction.vertices[:n].detach(),
            prediction.cam_wp[:n].detach(),
            self.bundle.faces,
            batch.inputs[:n, 0],
            focal,
        )
        self.logger.image(
            "train/inputs_and_predictions", tile([proxy_images(batch.inputs[:n]), meshes]), step
        )

    # ------------------------------------------------------------------------------------------------------
    # Validation and checkpoints.

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Means over the validation set (all processes) of the tracked metrics (metres) and the losses."""
        model = self.model.module if isinstance(self.model, DistributedDataParallel) else self.model
        assert isinstance(model, TrainingModel)  # __init__ builds one, wrapped in DDP or not
        names = self.config.train.metrics_to_track
        loss_names = ["loss", *(f"loss_{task}" for task in self.criterion.losses_on)]
        accumulator = MeanAccumulator([*names, *loss_names], self.device)
        local_batch_size = self.poses.local_batch_size
        model.eval()
        for poses, betas in self.val_set.batches(local_batch_size, self.dist.rank, self.dist.world_size):
            batch = self.batches.generate(poses, train=False, betas=betas)
            losses = model(batch, self.bundle)
            values = sample_metrics(
                names, losses.prediction, batch, self.bundle, self.config.proxy_rep.img_wh
            )
            values["loss"] = losses.total
            values |= {f"loss_{task}": value for task, value in losses.weighted.items()}
            accumulator.add(values, batch.batch_size)
        model.train()
        return accumulator.means(self.dist.all_reduce_sum if self.dist.enabled else None)

    def _end_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        tc = self.config.train
        improved = self.progress.is_improvement(metrics, tc.save_val_metrics)
        if improved:
            self.progress.best_epoch = epoch
            self.progress.best_metrics = {name: metrics[name] for name in tc.save_val_metrics}
            self.best_state = _cpu_copy(self.regressor.state_dict())
        if not self.dist.is_main:
            return
        assert self.logger is not None  # set by _start_outputs, which fit runs first
        report = to_report(metrics)
        self.logger.scalars("val", report, self.progress.step)
        with (self.output_dir / METRICS_LOG).open("a") as file:
            file.write(
                json.dumps({"epoch": epoch, "step": self.progress.step, "best": improved, **report}) + "\n"
            )
        shown = ", ".join(f"{name} {report[name]:.2f}" for name in tc.metrics_to_track)
        tqdm.write(f"epoch {epoch} validation: {shown}{' (best)' if improved else ''}")
        extra = {
            "epoch": epoch,
            "step": self.progress.step,
            "val_metrics": report,
            "training_code": code_record(),
        }
        if improved:
            self._save_regressor(BEST_FILE, self.best_state, extra)
        if tc.checkpoint_every_epochs and (epoch + 1) % tc.checkpoint_every_epochs == 0:
            self._save_regressor(epoch_file(epoch), self.regressor.state_dict(), extra)
        self._save_state()

    def _save_regressor(
        self, name: str, state_dict: dict, extra: dict, best_state_dict: dict | None = None
    ) -> None:
        """A checkpoint of `state_dict` (in both slots unless best_state_dict is given)."""
        save_regressor_checkpoint(
            self.output_dir / CHECKPOINT_DIR / name,
            state_dict,
            best_model_state_dict=best_state_dict,
            config=self.config,
            body_model={"kind": self.bundle.kind, "gender": self.bundle.gender},
            extra=extra,
        )

    def _save_state(self) -> None:
        """training_state.tar (everything resuming needs) and last.tar (weights), main process only."""
        if not self.dist.is_main:
            return
        epoch = self.progress.step // self.poses.steps_per_epoch
        self._save_regressor(
            LAST_FILE, self.regressor.state_dict(), {"epoch": epoch, "step": self.progress.step}
        )
        self._save_regressor(
            STATE_FILE,
            self.regressor.state_dict(),
            {
                "epoch": epoch,
                "step": self.progress.step,
                "best_epoch": self.progress.best_epoch,
                "best_epoch_val_metrics": self.progress.best_metrics,
                "optimiser_state_dict": self.optimizer.state_dict(),
                "criterion_state_dict": self.criterion.state_dict(),
                "rng_states": rng_states(),
            },
            best_state_dict=self.best_state,
        )

    def _resume(self, path: str | Path) -> None:
        state = load_training_state(path, map_location=self.device)
        load_regressor_weights(self.regressor, state, which="current", name=path)
        best = _build_regressor(self.bundle, self.config)
        load_regressor_weights(best, state, which="best", name=path)
        self.best_state = _cpu_copy(best.state_dict())
        try:
            self.criterion.load_state_dict(state["criterion_state_dict"])
            self.optimizer.load_state_dict(state["optimiser_state_dict"])
        except (RuntimeError, ValueError, KeyError) as error:
            first_line = str(error).strip().splitlines()[0]
            raise TrainingStateError(
                f"'{path}' was written with other loss terms ({first_line}); resume with the run's "
                "loss.losses_on or start afresh."
            ) from None
        self.progress = Progress(
            step=int(state["step"]),
            best_epoch=int(state.get("best_epoch", -1)),
            best_metrics=dict(state.get("best_epoch_val_metrics", {})),
        )
        if "rng_states" in state:
            restore_rng_states(state["rng_states"])

    def _start_outputs(self) -> None:
        """Output folder, config.yaml and the TensorBoard writer (main process only)."""
        is_main = self.dist.is_main
        if is_main:
            (self.output_dir / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
            remove_stale_temp_files(self.output_dir / CHECKPOINT_DIR, recursive=False)  # of killed runs
            if self.resumed:
                trim_metrics_log(self.output_dir / METRICS_LOG, self.progress.step)
            if not self.resumed and (self.output_dir / CHECKPOINT_DIR / STATE_FILE).exists():
                warnings.warn(
                    f"{self.output_dir} holds an earlier run, whose checkpoints will be overwritten; pass "
                    "--resume auto to continue it instead.",
                    stacklevel=3,
                )
            save_config(self.config, self.output_dir / "config.yaml")
        purge = self.progress.step if self.resumed else None
        self.logger = TrainingLogger(self.output_dir / "tensorboard", enabled=is_main, purge_step=purge)


class _IntervalMeans:
    """Means of the read-back step values over every `every` steps, plus the samples per second."""

    def __init__(self, every: int, batch_size: int):
        self.every = max(every, 1)
        self.batch_size = batch_size
        self.sums: dict[str, float] = {}
        self.count = 0
        self.start = time.perf_counter()

    def add(self, ready: list[tuple[int, dict[str, float]]]) -> list[tuple[int, dict[str, float]]]:
        """Add steps' values; returns (steps done, means) for each interval completed."""
        out = []
        for step, values in ready:
            for name, value in values.items():
                self.sums[name] = self.sums.get(name, 0.0) + value
            self.count += 1
            if (step + 1) % self.every == 0:
                now = time.perf_counter()
                means = {name: total / self.count for name, total in self.sums.items()}
                means["samples_per_s"] = self.count * self.batch_size / max(now - self.start, 1e-9)
                out.append((step + 1, means))
                self.sums, self.count, self.start = {}, 0, now
        return out


def _build_regressor(bundle: BodyModelBundle, config: ExperimentConfig) -> SingleInputRegressor:
    rc = config.regressor
    return SingleInputRegressor(bundle.mean_params, rc.in_channels, rc.resnet_layers, rc.ief_iters)


def _cpu_copy(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: value.detach().to("cpu", copy=True) for key, value in state_dict.items()}


def _configure_backends(deterministic: bool, device: torch.device) -> None:
    """Deterministic algorithms for repeatable runs, else cuDNN's autotuner for speed."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        # warn_only: a few kernels (e.g. CUDA scatter_reduce) have no deterministic variant, although the
        # rasterizer's max-reductions are order-independent anyway.
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def _maybe_compile(
    regressor: nn.Module, compile_model: bool, device: torch.device, in_channels: int
) -> nn.Module:
    """torch.compile the regressor when asked. On the CPU a failing toolchain is not fatal: one eval-mode
    probe (which leaves the BatchNorm statistics alone) decides, and training goes on eagerly after a
    warning."""
    if not compile_model:
        return regressor
    # The stub types the result as a Callable; a Module in gives an OptimizedModule (a Module) out.
    compiled: nn.Module = torch.compile(regressor)  # type: ignore[assignment]
    if device.type == "cuda":
        return compiled
    was_training = regressor.training
    try:
        regressor.eval()
        with torch.no_grad():
            compiled(torch.zeros(2, in_channels, 64, 64, device=device))
    except Exception as error:  # any backend failure: compiler missing, unsupported op, ...
        warnings.warn(
            f"torch.compile failed on the CPU ({type(error).__name__}); training eagerly.", stacklevel=3
        )
        return regressor
    finally:
        regressor.train(was_training)
    return compiled
