"""The DCGAN training loop: one `tf.function` step under a `tf.distribute` strategy.

Used by the CLI (`tfx-dcgan train`) and the TFX Trainer's `run_fn`: an `ExperimentConfig` in,
checkpoints, TensorBoard logs, PNG sample grids and trained Keras models out.

The step itself is `gan_step.py`; where it runs (strategies, CPU replicas, workers) is
`distribute.py`.

Resumption is exact: the checkpoint holds both networks, both optimizers, the step, the noise RNG
state and the fixed sample z, and the data order is a pure function of the step
(`input_pipeline.make_image_dataset`). SIGINT (Ctrl-C) and SIGTERM stop the loop after the current
step and save a checkpoint first.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from tfx_dcgan import fileio, input_pipeline, models, progress, visualize
from tfx_dcgan.config import ConfigError, ExperimentConfig
from tfx_dcgan.distribute import make_strategy, worker_role
from tfx_dcgan.gan_step import GanState, create_gan_state, make_train_step
from tfx_dcgan.workdir import (
    TrainingError,
    check_workdir_config,
    checkpoint_manager,
    pause_in_save_from_environment,
    restore_latest,
    restore_models,
    save_checkpoint,
    workdir_paths,
    write_json_atomically,
)

import tensorflow as tf

__all__ = [
    "TrainingError",
    "TrainResult",
    "train",
    "restore_models",
    "workdir_paths",
]

log = logging.getLogger(__name__)

DatasetFactory = Callable[[int], tf.data.Dataset]


@dataclasses.dataclass
class TrainResult:
    """What a finished (or interrupted) run leaves behind."""

    generator: tf.keras.Model
    discriminator: tf.keras.Model
    step: int
    workdir: str
    checkpoint_dir: str
    tensorboard_dir: str
    samples_dir: str
    final_sample_png: str
    interrupted: bool
    skipped_images: int = 0
    last_metrics: dict[str, float] = dataclasses.field(default_factory=dict)


class _StopRequest:
    """Turns SIGINT/SIGTERM into a flag the loop checks between steps (main thread only)."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal_name is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C aborts without waiting
        self.signal_name = signal.Signals(signum).name
        log.warning(
            "%s received: stopping after this step and saving a checkpoint", self.signal_name
        )

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


def default_dataset_factory(config: ExperimentConfig) -> tuple[DatasetFactory, int]:
    """(start_step -> the image-folder dataset of `config.data.data_dir`, skipped file count).

    Lists and checks the folder now: call it after the strategy exists (multi-worker collectives
    must be configured before any TensorFlow op).
    """
    folder = input_pipeline.load_image_folder(
        config.data.data_dir, config.model.channels, max_pixels=config.data.max_image_pixels
    )

    def factory(start_step: int) -> tf.data.Dataset:
        return input_pipeline.make_image_dataset(
            folder.paths,
            image_size=config.model.image_size,
            channels=config.model.channels,
            global_batch_size=config.train.batch_size,
            start_step=start_step,
            seed=config.data.shuffle_seed,
            parallel_reads=config.data.parallel_reads,
            converted=folder.converted,
            max_pixels=config.data.max_image_pixels,
        )

    return factory, len(folder.skipped)


def _write_samples(
    state: GanState,
    step: int,
    samples_dir: str,
    writer: tf.summary.SummaryWriter,
    final: bool,
    write: bool = True,
) -> str:
    """G(fixed z) as a PNG grid and a TensorBoard image; returns the PNG's path ("" if not written).

    Every worker must call this: under MultiWorkerMirroredStrategy reading batch norm's moving
    statistics is a collective operation. Only the chief (`write`) writes files.
    """
    images = state.generator(state.fixed_noise, training=False).numpy()
    if not write:
        return ""
    path = os.path.join(samples_dir, "final.png" if final else f"step_{step:07d}.png")
    if final:
        visualize.save_image_grid(
            images, os.path.join(samples_dir, f"step_{step:07d}.png"), scale=2
        )
    visualize.save_image_grid(images, path, scale=2)
    with writer.as_default():
        tf.summary.image("samples/fixed_z", visualize.make_grid(images)[None], step=step)
    return path


def train(
    config: ExperimentConfig, workdir: str, make_dataset: DatasetFactory | None = None
) -> TrainResult:
    """Trains (or resumes training of) a DCGAN up to `config.train.steps` steps.

    Args:
      config: the run's configuration.
      workdir: receives checkpoints/, tensorboard/, samples/ (PNG grids of a fixed z),
        config.json and train_log.jsonl; a workdir holding checkpoints is resumed.
      make_dataset: `start_step -> tf.data.Dataset` of float32 [global_batch, S, S, C] in [-1, 1]
        (infinite, positioned at `start_step`'s batch). None reads `config.data.data_dir`.

    Returns:
      A TrainResult; `interrupted` is True when a signal stopped the run (a checkpoint was saved).

    Raises:
      ConfigError: invalid configuration, or a workdir holding an incompatible run.
      input_pipeline.DataError: the data folder is missing, empty or wholly unreadable.
      TrainingError: losses became non-finite (the last good checkpoint is kept).
    """
    config.validate()
    if not workdir:
        raise ConfigError("workdir must be set (the folder for checkpoints, logs and samples)")
    paths = workdir_paths(workdir)
    check_workdir_config(config, workdir, paths["config"])
    if config.train.deterministic:
        tf.config.experimental.enable_op_determinism()
    # The strategy comes first: splitting the CPU into replicas must precede any TF op.
    strategy = make_strategy(config.train)
    skipped_images = 0
    if make_dataset is None:
        make_dataset, skipped_images = default_dataset_factory(config)
    _check_batch_divides(config.train.batch_size, strategy)
    state = create_gan_state(config, strategy)
    is_chief, role = worker_role(strategy)
    manager = checkpoint_manager(state, paths, workdir, config.train, is_chief, role)
    restore_latest(state, paths["checkpoints"])
    fileio.makedirs(workdir)
    if is_chief and not fileio.exists(paths["config"]):
        write_json_atomically(paths["config"], config.to_dict())
    start_step = int(state.step.numpy())
    writer = (
        tf.summary.create_file_writer(paths["tensorboard"])
        if is_chief
        else tf.summary.create_noop_writer()
    )
    _log_start(config, strategy, role, start_step)
    result = _new_result(state, workdir, paths, start_step, skipped_images)
    if start_step >= config.train.steps:
        log.info("already trained to step %d (>= %d requested)", start_step, config.train.steps)
    else:
        loop = _Loop(state, config, strategy, manager, writer, paths, is_chief)
        run_start = time.perf_counter()
        loop.run(make_dataset, result)
        if not result.interrupted:
            log.info(
                "done: %d steps in %s; checkpoints %s; TensorBoard: tensorboard --logdir %s",
                result.step - start_step,
                _format_duration(time.perf_counter() - run_start),
                paths["checkpoints"],
                paths["tensorboard"],
            )
    if not result.interrupted:
        result.final_sample_png = _write_samples(
            state, result.step, paths["samples"], writer, final=True, write=is_chief
        )
        log.info("final sample grid: %s", result.final_sample_png)
        if not is_chief:
            _remove_worker_scratch(manager.directory)
    writer.flush()
    return result


def _remove_worker_scratch(scratch_dir: str) -> None:
    """Deletes a non-chief worker's checkpoint folder after a finished run (and `.workers/` when
    it is left empty): those checkpoints exist only because saving is collective; every worker
    resumes from the chief's."""
    if tf.io.gfile.isdir(scratch_dir):
        tf.io.gfile.rmtree(scratch_dir)
    parent = os.path.dirname(scratch_dir)
    if tf.io.gfile.isdir(parent) and not tf.io.gfile.listdir(parent):
        tf.io.gfile.rmtree(parent)


def _log_start(
    config: ExperimentConfig, strategy: tf.distribute.Strategy, role: str, start_step: int
) -> None:
    log.info(
        "training %s%s: %d replica(s), global batch %d, steps %d -> %d, G widths %s, D widths %s",
        type(strategy).__name__,
        f" ({role})" if role else "",
        strategy.num_replicas_in_sync,
        config.train.batch_size,
        start_step,
        config.train.steps,
        models.generator_widths(config.model),
        models.discriminator_widths(config.model),
    )


def _new_result(
    state: GanState, workdir: str, paths: dict[str, str], start_step: int, skipped_images: int
) -> TrainResult:
    return TrainResult(
        generator=state.generator,
        discriminator=state.discriminator,
        step=start_step,
        workdir=workdir,
        checkpoint_dir=paths["checkpoints"],
        tensorboard_dir=paths["tensorboard"],
        samples_dir=paths["samples"],
        final_sample_png="",
        interrupted=False,
        skipped_images=skipped_images,
    )


def _check_batch_divides(batch_size: int, strategy: tf.distribute.Strategy) -> None:
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ConfigError(
            f"train.batch_size={batch_size} must be divisible by the number of replicas "
            f"({replicas}, strategy {type(strategy).__name__})"
        )


class _Loop:
    """The step loop: progress lines, TensorBoard scalars, grids, checkpoints, Ctrl-C."""

    def __init__(self, state, config, strategy, manager, writer, paths, is_chief):
        self.state, self.config, self.strategy = state, config, strategy
        self.manager, self.writer, self.paths, self.is_chief = manager, writer, paths, is_chief
        self.replicas = strategy.num_replicas_in_sync
        self.pause_in_save = pause_in_save_from_environment()
        self.images_per_second = float("nan")

    def run(self, make_dataset: DatasetFactory, result: TrainResult) -> None:
        """Trains from the state's step to `train.steps`; fills result.step/interrupted/metrics."""
        train_config, state = self.config.train, self.state
        train_step = make_train_step(state, self.config, self.strategy)
        start_step = int(state.step.numpy())
        iterator: Iterator[Any] = iter(
            self.strategy.experimental_distribute_dataset(make_dataset(start_step))
        )
        step = start_step
        self.interval_start, self.interval_steps = time.perf_counter(), 0
        log_path = self.paths["log"] if self.is_chief else ""
        bar = progress.task(
            "training", "training", total=train_config.steps, unit="step", initial=start_step
        )
        with _StopRequest() as stop, self.writer.as_default(), bar:
            while step < train_config.steps:
                metrics = train_step(next(iterator))
                step += 1
                self.interval_steps += 1
                bar.update(step, total=train_config.steps)
                if step == start_step + 1:
                    # The first step traces the function: keep it out of the throughput figure.
                    self.interval_start, self.interval_steps = time.perf_counter(), 0
                is_last = step == train_config.steps
                # Read the flag once a step: a signal landing between the checkpoint decision and
                # the break would otherwise stop the run without saving the step it reports.
                stopping = stop.signal_name is not None
                checkpoint_due = step % train_config.checkpoint_every == 0 or is_last or stopping
                if step % train_config.log_every == 0 or checkpoint_due:
                    result.last_metrics = self._log(step, metrics, log_path)
                    bar.update(
                        step,
                        total=train_config.steps,
                        d_loss=result.last_metrics["disc_loss"],
                        g_loss=result.last_metrics["gen_loss"],
                        img_s=round(self.images_per_second, 1),
                    )
                if train_config.sample_every and step % train_config.sample_every == 0:
                    if not is_last:
                        _write_samples(
                            state, step, self.paths["samples"], self.writer, False, self.is_chief
                        )
                if checkpoint_due:
                    save_checkpoint(self.manager, step, self.pause_in_save)
                if stopping:
                    result.interrupted = True
                    log.warning(
                        "stopped by %s at step %d; checkpoint saved in %s. Run the same command "
                        "to resume.",
                        stop.signal_name,
                        step,
                        self.paths["checkpoints"],
                    )
                    break
        result.step = step

    def _log(self, step: int, metrics: dict[str, tf.Tensor], log_path: str) -> dict[str, float]:
        """One progress line, TensorBoard scalars and a train_log.jsonl line.

        Raises:
          TrainingError: a non-finite loss (nothing is saved).
        """
        train_config = self.config.train
        values = {name: float(value) for name, value in metrics.items()}
        if not all(math.isfinite(v) for v in values.values()):
            raise TrainingError(
                f"non-finite losses at step {step} ({values}); not saving. The last good "
                f"checkpoint is {self.manager.latest_checkpoint}"
            )
        elapsed = time.perf_counter() - self.interval_start
        images_per_second = (
            self.interval_steps * train_config.batch_size / elapsed
            if self.interval_steps
            else float("nan")
        )
        self.images_per_second = images_per_second
        remaining = (train_config.steps - step) * train_config.batch_size / images_per_second
        log.info(
            "step %d/%d | d_loss %.4f g_loss %.4f | D(x) %.3f D(G(z)) %.3f | %.1f img/s | ETA %s",
            step,
            train_config.steps,
            values["disc_loss"],
            values["gen_loss"],
            values["d_real"],
            values["d_fake"],
            images_per_second,
            _format_duration(remaining),
        )
        for name, value in values.items():
            tf.summary.scalar(f"train/{name}", value, step=step)
        if math.isfinite(images_per_second):
            tf.summary.scalar("train/images_per_second", images_per_second, step=step)
        line = {"step": step, "images_per_second": images_per_second, "replicas": self.replicas}
        if log_path:  # the chief's train_log.jsonl; other workers write no logs
            fileio.append_text(log_path, json.dumps({**line, **values}) + "\n")
        self.interval_start, self.interval_steps = time.perf_counter(), 0
        return values
