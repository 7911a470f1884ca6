"""The DCGAN training loop: one `tf.function` step under a `tf.distribute` strategy.

Used by the CLI (`tfx-dcgan train`) and the TFX Trainer's `run_fn`: an `ExperimentConfig` in,
checkpoints, TensorBoard logs, PNG sample grids and trained Keras models out.

One step follows Radford et al. (2015) and the reference DCGAN code: draw z, G(z) once, update D
on a real batch and a fake batch (two forward passes, so batch norm sees pure batches), then update
G with the non-saturating loss through the updated D. Adam(2e-4, beta1=0.5) for both.

Distribution: the global batch is split over replicas by `experimental_distribute_dataset`; each
replica divides its per-example losses by the *global* batch (`tf.nn.compute_average_loss`) so
that the optimizers' cross-replica gradient sum is the gradient of the global mean loss. z for the
whole global batch is drawn once per step from one checkpointed RNG and sliced per replica, so the
noise (and, with synchronized batch norm, the whole step) does not depend on the replica count.
Without synchronized batch norm each replica normalises its own share of the batch, which is what
`MirroredStrategy` gives by default; with `ModelConfig.sync_batch_norm` the statistics are those of
the global batch, as in the paper.

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
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from tfx_dcgan import input_pipeline, losses, models, visualize
from tfx_dcgan.config import ConfigError, ExperimentConfig, ModelConfig, TrainConfig

import numpy as np
import tensorflow as tf

__all__ = [
    "TrainingError",
    "GanState",
    "TrainResult",
    "configure_cpu_replicas",
    "make_strategy",
    "create_gan_state",
    "make_train_step",
    "train",
    "restore_models",
    "workdir_paths",
]

log = logging.getLogger(__name__)

DatasetFactory = Callable[[int], tf.data.Dataset]

CONFIG_FILE = "config.json"
# Fields that must match when a run continues in an existing workdir: anything that changes the
# variables' shapes or what the checkpoint's numbers mean.
_MODEL_FIELDS_THAT_MUST_MATCH = (
    "image_size",
    "channels",
    "z_dim",
    "noise",
    "ngf",
    "ndf",
    "kernel_size",
    "sync_batch_norm",
)


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite losses, unusable checkpoint); nothing good was overwritten."""


@dataclasses.dataclass
class GanState:
    """Everything a checkpoint holds. Built inside the strategy's scope."""

    generator: tf.keras.Model
    discriminator: tf.keras.Model
    generator_optimizer: tf.keras.optimizers.Optimizer
    discriminator_optimizer: tf.keras.optimizers.Optimizer
    step: tf.Variable
    noise_rng: tf.random.Generator
    fixed_noise: tf.Variable
    checkpoint: tf.train.Checkpoint


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


def workdir_paths(workdir: str) -> dict[str, str]:
    """Where a run writes: checkpoints/, tensorboard/, samples/, config.json, train_log.jsonl."""
    return {
        "checkpoints": os.path.join(workdir, "checkpoints"),
        "tensorboard": os.path.join(workdir, "tensorboard"),
        "samples": os.path.join(workdir, "samples"),
        "config": os.path.join(workdir, CONFIG_FILE),
        "log": os.path.join(workdir, "train_log.jsonl"),
    }


def configure_cpu_replicas(count: int) -> None:
    """Splits the first CPU into `count` logical devices (must run before TF initialises devices).

    Raises:
      ConfigError: TensorFlow's devices were already initialised in this process.
    """
    if count <= 1:
        return
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError as error:
        current = len(tf.config.list_logical_devices("CPU"))
        if current == count:
            return
        raise ConfigError(
            f"train.cpu_replicas={count}: TensorFlow already initialised its devices in this process "
            f"({current} logical CPU); set it before any TensorFlow op runs ({error})"
        ) from error


def make_strategy(config: TrainConfig) -> tf.distribute.Strategy:
    """Builds the distribution strategy named by `config.strategy`.

    "auto": MirroredStrategy over the visible GPUs (or over the logical CPUs when
    `cpu_replicas` > 1), else the default strategy on the CPU.
    """
    if config.strategy == "multi_worker":
        # Collective ops must be configured before anything (even listing devices) starts TF.
        return tf.distribute.MultiWorkerMirroredStrategy()
    configure_cpu_replicas(config.cpu_replicas)
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    name = config.strategy
    if name == "auto":
        name = "mirrored" if gpus or len(cpus) > 1 else "default"
    if name == "mirrored":
        devices = gpus or cpus
        # NCCL is GPU-only; reduce through one device when replicas are CPUs.
        cross_device_ops = None if gpus else tf.distribute.ReductionToOneDevice()
        return tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=cross_device_ops)
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0] if gpus else cpus[0])
    return tf.distribute.get_strategy()


def create_gan_state(config: ExperimentConfig, strategy: tf.distribute.Strategy) -> GanState:
    """Builds G, D, their Adam optimizers, the step counter and the RNGs under `strategy`."""
    train_config = config.train
    with strategy.scope():
        generator = models.build_generator(config.model, seed=train_config.seed)
        discriminator = models.build_discriminator(config.model, seed=train_config.seed)
        generator_optimizer = tf.keras.optimizers.Adam(
            train_config.learning_rate, beta_1=train_config.beta1
        )
        discriminator_optimizer = tf.keras.optimizers.Adam(
            train_config.learning_rate, beta_1=train_config.beta1
        )
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        # Build optimizer slots now so a checkpoint restores them eagerly.
        generator_optimizer.build(generator.trainable_variables)
        discriminator_optimizer.build(discriminator.trainable_variables)
    # The RNGs live outside the replicas: z is drawn once per step for the global batch.
    noise_rng = tf.random.Generator.from_seed(train_config.seed, alg="philox")
    fixed_rng = tf.random.Generator.from_seed(train_config.seed + 7919, alg="philox")
    fixed_noise = tf.Variable(
        models.sample_noise(fixed_rng, train_config.sample_grid, config.model),
        trainable=False,
        name="fixed_noise",
    )
    checkpoint = tf.train.Checkpoint(
        generator=generator,
        discriminator=discriminator,
        generator_optimizer=generator_optimizer,
        discriminator_optimizer=discriminator_optimizer,
        step=step,
        noise_rng=noise_rng,
        fixed_noise=fixed_noise,
    )
    return GanState(
        generator,
        discriminator,
        generator_optimizer,
        discriminator_optimizer,
        step,
        noise_rng,
        fixed_noise,
        checkpoint,
    )


def make_train_step(
    state: GanState,
    config: ExperimentConfig,
    strategy: tf.distribute.Strategy,
    jit_compile: bool = False,
) -> Callable[[Any], dict[str, tf.Tensor]]:
    """Returns a `tf.function` that runs one D update and one G update on a distributed batch.

    The returned function takes the per-replica real images (float32 [global_batch, S, S, C] in
    [-1, 1], split over replicas) and returns global-batch means: disc_loss, gen_loss,
    d_real (mean D(x)) and d_fake (mean D(G(z)) before the D update). `jit_compile` compiles the
    step with XLA (on this project's CPUs it is slower: see bench/train_step.py).
    """
    global_batch = config.train.batch_size
    replicas = strategy.num_replicas_in_sync
    per_replica_batch = global_batch // replicas
    generator, discriminator = state.generator, state.discriminator

    def replica_step(real_images: tf.Tensor, global_noise: tf.Tensor) -> dict[str, tf.Tensor]:
        replica_id = tf.distribute.get_replica_context().replica_id_in_sync_group
        start = tf.cast(replica_id, tf.int32) * per_replica_batch
        noise = global_noise[start : start + per_replica_batch]
        with tf.GradientTape() as gen_tape:
            fake_images = generator(noise, training=True)
            with gen_tape.stop_recording(), tf.GradientTape() as disc_tape:
                real_logits = discriminator(real_images, training=True)
                fake_logits = discriminator(tf.stop_gradient(fake_images), training=True)
                disc_loss = tf.nn.compute_average_loss(
                    losses.minimax_discriminator_loss(real_logits, fake_logits),
                    global_batch_size=global_batch,
                )
            disc_grads = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
            with gen_tape.stop_recording():
                state.discriminator_optimizer.apply_gradients(
                    zip(disc_grads, discriminator.trainable_variables)
                )
            gen_logits = discriminator(fake_images, training=True)
            gen_loss = tf.nn.compute_average_loss(
                losses.modified_generator_loss(gen_logits), global_batch_size=global_batch
            )
        gen_grads = gen_tape.gradient(gen_loss, generator.trainable_variables)
        state.generator_optimizer.apply_gradients(zip(gen_grads, generator.trainable_variables))
        # Divide by the global batch so the replica sum is a mean.
        return {
            "disc_loss": disc_loss,
            "gen_loss": gen_loss,
            "d_real": tf.reduce_sum(losses.mean_probability(real_logits)) / global_batch,
            "d_fake": tf.reduce_sum(losses.mean_probability(fake_logits)) / global_batch,
        }

    @tf.function(jit_compile=jit_compile)
    def train_step(distributed_images: Any) -> dict[str, tf.Tensor]:
        global_noise = models.sample_noise(state.noise_rng, global_batch, config.model)
        per_replica = strategy.run(replica_step, args=(distributed_images, global_noise))
        state.step.assign_add(1)
        return {
            name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
            for name, value in per_replica.items()
        }

    return train_step


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


def _write_json_atomically(path: str, payload: dict[str, Any]) -> None:
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".json")
    with os.fdopen(handle, "w") as stream:
        json.dump(payload, stream, indent=2, sort_keys=True)
    os.replace(temporary, path)


def _check_workdir_config(config: ExperimentConfig, workdir: str, path: str) -> None:
    """Refuses to continue a workdir whose stored run differs in what its checkpoints mean.

    The model fields in _MODEL_FIELDS_THAT_MUST_MATCH and the batch size must match.
    """
    if not os.path.exists(path):
        return
    try:
        with open(path) as stream:
            stored = json.load(stream)
        stored_model = stored["model"]
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(
            f"{path}: unreadable stored config ({error}); use a new workdir"
        ) from error
    requested = dataclasses.asdict(config.model)
    differences = [
        f"model.{name}: stored {stored_model.get(name)!r}, requested {requested[name]!r}"
        for name in _MODEL_FIELDS_THAT_MUST_MATCH
        if stored_model.get(name) != requested[name]
    ]
    stored_batch = stored.get("train", {}).get("batch_size")
    if stored_batch is not None and stored_batch != config.train.batch_size:
        differences.append(
            f"train.batch_size: stored {stored_batch!r}, requested {config.train.batch_size!r}"
        )
    if differences:
        raise ConfigError(
            f"workdir {workdir!r} holds a run with a different configuration; its checkpoints "
            "are left untouched. Use a new workdir, or the stored values:\n  "
            + "\n  ".join(differences)
        )


def _format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


def _default_dataset_factory(config: ExperimentConfig) -> tuple[DatasetFactory, int]:
    folder = input_pipeline.load_image_folder(config.data.data_dir, config.model.channels)

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
    train_config = config.train
    paths = workdir_paths(workdir)
    _check_workdir_config(config, workdir, paths["config"])
    if train_config.deterministic:
        tf.config.experimental.enable_op_determinism()
    # The strategy comes first: splitting the CPU into replicas must precede any TF op.
    strategy = make_strategy(train_config)
    skipped_images = 0
    if make_dataset is None:
        make_dataset, skipped_images = _default_dataset_factory(config)
    replicas = strategy.num_replicas_in_sync
    if train_config.batch_size % replicas:
        raise ConfigError(
            f"train.batch_size={train_config.batch_size} must be divisible by the number of replicas "
            f"({replicas}, strategy {type(strategy).__name__})"
        )
    state = create_gan_state(config, strategy)
    is_chief, role = _worker_role(strategy)
    # Every worker saves (saving a distributed checkpoint takes part in collectives), but only the
    # chief into the workdir; the others into their own scratch folder, and they write no logs.
    checkpoint_dir = paths["checkpoints"] if is_chief else os.path.join(workdir, ".workers", role)
    manager = tf.train.CheckpointManager(
        state.checkpoint,
        checkpoint_dir,
        max_to_keep=train_config.keep_checkpoints if is_chief else 1,
    )
    latest = tf.train.latest_checkpoint(paths["checkpoints"])
    if latest:
        try:
            state.checkpoint.restore(latest).assert_existing_objects_matched()
        except (AssertionError, tf.errors.OpError, ValueError) as error:
            raise TrainingError(
                f"cannot restore {latest} ({error}); it is left untouched"
            ) from error
        log.info("resumed from %s at step %d", latest, int(state.step.numpy()))
    os.makedirs(workdir, exist_ok=True)
    if is_chief and not os.path.exists(paths["config"]):
        _write_json_atomically(paths["config"], config.to_dict())
    start_step = int(state.step.numpy())
    writer = (
        tf.summary.create_file_writer(paths["tensorboard"])
        if is_chief
        else tf.summary.create_noop_writer()
    )
    log.info(
        "training %s%s: %d replica(s), global batch %d, steps %d -> %d, G widths %s, D widths %s",
        type(strategy).__name__,
        f" ({role})" if role else "",
        replicas,
        train_config.batch_size,
        start_step,
        train_config.steps,
        models.generator_widths(config.model),
        models.discriminator_widths(config.model),
    )
    result = TrainResult(
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
    if start_step >= train_config.steps:
        log.info("already trained to step %d (>= %d requested)", start_step, train_config.steps)
        result.final_sample_png = _write_samples(
            state, start_step, paths["samples"], writer, final=True, write=is_chief
        )
        return result

    train_step = make_train_step(state, config, strategy)
    iterator: Iterator[Any] = iter(
        strategy.experimental_distribute_dataset(make_dataset(start_step))
    )
    step = start_step
    interval_start, interval_steps = time.perf_counter(), 0
    run_start = interval_start
    log_path = paths["log"] if is_chief else os.devnull
    with _StopRequest() as stop, writer.as_default(), open(log_path, "a") as log_stream:
        while step < train_config.steps:
            metrics = train_step(next(iterator))
            step += 1
            interval_steps += 1
            if step == start_step + 1:
                # The first step traces the function: keep it out of the throughput figure.
                interval_start, interval_steps = time.perf_counter(), 0
            is_last = step == train_config.steps
            # Read the flag once a step: a signal landing between the checkpoint decision and the
            # break would otherwise stop the run without saving the step it reports.
            stopping = stop.signal_name is not None
            checkpoint_due = step % train_config.checkpoint_every == 0 or is_last or stopping
            if step % train_config.log_every == 0 or checkpoint_due:
                values = {name: float(value) for name, value in metrics.items()}
                if not all(math.isfinite(v) for v in values.values()):
                    raise TrainingError(
                        f"non-finite losses at step {step} ({values}); not saving. The last good "
                        f"checkpoint is {manager.latest_checkpoint}"
                    )
                elapsed = time.perf_counter() - interval_start
                images_per_second = (
                    interval_steps * train_config.batch_size / elapsed
                    if interval_steps
                    else float("nan")
                )
                remaining = (
                    (train_config.steps - step) * train_config.batch_size / images_per_second
                )
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
                log_stream.write(
                    json.dumps(
                        {
                            "step": step,
                            "images_per_second": images_per_second,
                            "replicas": replicas,
                            **values,
                        }
                    )
                    + "\n"
                )
                log_stream.flush()
                result.last_metrics = values
                interval_start, interval_steps = time.perf_counter(), 0
            if train_config.sample_every and step % train_config.sample_every == 0 and not is_last:
                _write_samples(state, step, paths["samples"], writer, final=False, write=is_chief)
            if checkpoint_due:
                manager.save(checkpoint_number=step)
            if stopping:
                result.interrupted = True
                log.warning(
                    "stopped by %s at step %d; checkpoint saved in %s. Run the same command to resume.",
                    stop.signal_name,
                    step,
                    paths["checkpoints"],
                )
                break
    writer.flush()
    result.step = step
    if not result.interrupted:
        result.final_sample_png = _write_samples(
            state, step, paths["samples"], writer, final=True, write=is_chief
        )
        log.info(
            "done: %d steps in %s; samples %s; checkpoints %s; TensorBoard: tensorboard --logdir %s",
            step - start_step,
            _format_duration(time.perf_counter() - run_start),
            result.final_sample_png,
            paths["checkpoints"],
            paths["tensorboard"],
        )
    writer.flush()
    return result


def _worker_role(strategy: tf.distribute.Strategy) -> tuple[bool, str]:
    """(is_chief, "task_type-task_id") under MultiWorkerMirroredStrategy; (True, "") otherwise."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return True, ""
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None:
        return True, ""
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    is_chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)
    return is_chief, f"{task_type}-{task_id}"


def restore_models(
    workdir: str, model_config: ModelConfig | None = None
) -> tuple[tf.keras.Model, tf.keras.Model, int]:
    """Loads G and D from the latest checkpoint in `workdir`.

    Args:
      workdir: a training workdir (holding checkpoints/ and config.json).
      model_config: the architecture; None reads it from the workdir's config.json.

    Returns:
      (generator, discriminator, step).

    Raises:
      FileNotFoundError: no checkpoint (or config.json when model_config is None) in `workdir`.
    """
    paths = workdir_paths(workdir)
    if model_config is None:
        if not os.path.exists(paths["config"]):
            raise FileNotFoundError(
                f"{paths['config']} not found: is {workdir!r} a training workdir?"
            )
        with open(paths["config"]) as stream:
            model_config = ExperimentConfig.from_dict(json.load(stream)).model
    latest = tf.train.latest_checkpoint(paths["checkpoints"])
    if latest is None:
        raise FileNotFoundError(f"no checkpoint in {paths['checkpoints']}")
    generator = models.build_generator(model_config)
    discriminator = models.build_discriminator(model_config)
    step = tf.Variable(0, dtype=tf.int64, trainable=False)
    checkpoint = tf.train.Checkpoint(generator=generator, discriminator=discriminator, step=step)
    checkpoint.restore(latest).expect_partial()
    return generator, discriminator, int(step.numpy())


def sample_images(generator: tf.keras.Model, noise: np.ndarray) -> np.ndarray:
    """G(z) with inference batch norm: float32 [N, S, S, C] in [-1, 1]."""
    return generator(tf.constant(noise, tf.float32), training=False).numpy()
