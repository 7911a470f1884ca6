"""The TFX Trainer's `run_fn` (GenericExecutor): transformed examples -> trained, exported DCGAN.

`Trainer(run_fn='tfx_dcgan.components.trainer_module.run_fn', custom_config={'experiment': cfg.to_dict()})`.
`run_fn` rebuilds the `ExperimentConfig` (training steps from `TrainArgs.num_steps` when set) and
honours all of it: the strategy (`train.strategy`, `train.cpu_replicas`), synchronized batch
norm, the seeds and the bookkeeping intervals. It trains with `train_lib.train` (checkpoints/,
tensorboard/, samples/ end up in the model run directory), then writes the model artifact whose
layout `tfx_dcgan/artifact.py` owns (generator/, discriminator_features/, keras/,
model_config.json).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from tfx_dcgan import artifact, distribute, export, features, fileio, train_lib
from tfx_dcgan.components import preprocessing
from tfx_dcgan.config import ConfigError, ExperimentConfig, replace

import tensorflow as tf

__all__ = [
    "EXPERIMENT_KEY",
    "CHECKPOINT_ROOT_KEY",
    "experiment_from_custom_config",
    "make_transformed_dataset_factory",
    "training_split_images",
    "freeze_batch_norm_on_training_split",
    "TransformPreprocess",
    "write_model_artifact",
    "run_fn",
]

log = logging.getLogger(__name__)

EXPERIMENT_KEY = "experiment"
# Optional custom_config entry: a folder that outlives Trainer executions, so a Trainer that died
# (pre-emption, Ctrl-C, OOM) resumes from its checkpoints when the pipeline runs again.
CHECKPOINT_ROOT_KEY = "checkpoint_root"
# What a finished run copies from its durable workdir into the execution's model run directory.
_RUN_OUTPUTS = ("samples", "tensorboard", "checkpoints", "train_log.jsonl", "config.json")
SHUFFLE_BUFFER = 10_000


def experiment_from_custom_config(
    custom_config: dict[str, Any] | None, train_steps: int | None = None
) -> ExperimentConfig:
    """Rebuilds the run's ExperimentConfig from Trainer custom_config.

    Args:
      custom_config: `{"experiment": ExperimentConfig.to_dict()}`.
      train_steps: TrainArgs.num_steps; overrides `train.steps` when positive.

    Raises:
      ConfigError: no "experiment" entry, or an invalid config.
    """
    if not custom_config or EXPERIMENT_KEY not in custom_config:
        raise ConfigError(
            f"Trainer custom_config must hold {EXPERIMENT_KEY!r}: ExperimentConfig.to_dict(); "
            f"got keys {sorted(custom_config or {})}"
        )
    config = ExperimentConfig.from_dict(dict(custom_config[EXPERIMENT_KEY]))
    if train_steps:
        config = replace(config, train=replace(config.train, steps=int(train_steps)))
    return config.validate()


def training_workdir(
    custom_config: dict[str, Any] | None, model_run_dir: str, train_files: list[str]
) -> str:
    """Where the Trainer trains: a durable folder keyed by what determines the run.

    With `checkpoint_root` in custom_config the folder is `<checkpoint_root>/<key>`, the key a hash
    of the experiment config (steps excluded, so asking for more steps continues a run) and the
    training files (a new Transform output starts afresh). A Trainer execution that died leaves
    its checkpoints there, and the next execution with the same inputs resumes from them. Without
    it, the execution's own model run directory (no resumption across executions).
    """
    root = (custom_config or {}).get(CHECKPOINT_ROOT_KEY)
    if not root:
        return model_run_dir
    experiment = json.loads(json.dumps((custom_config or {}).get(EXPERIMENT_KEY, {})))
    experiment.pop("workdir", None)  # configs written before the workdir left ExperimentConfig
    experiment.get("train", {}).pop("steps", None)
    payload = json.dumps(
        {"experiment": experiment, "train_files": sorted(train_files)}, sort_keys=True
    )
    return os.path.join(root, hashlib.sha256(payload.encode()).hexdigest()[:16])


def copy_run_outputs(workdir: str, model_run_dir: str) -> None:
    """Copies samples, TensorBoard logs, checkpoints and logs into the model run directory."""
    if os.path.abspath(workdir) == os.path.abspath(model_run_dir):
        return
    for name in _RUN_OUTPUTS:
        source = os.path.join(workdir, name)
        target = os.path.join(model_run_dir, name)
        if fileio.isdir(source):
            fileio.copy_tree(source, target)
        elif fileio.exists(source):
            fileio.makedirs(model_run_dir)
            tf.io.gfile.copy(source, target, overwrite=True)


def make_transformed_dataset_factory(
    file_patterns: list[str],
    *,
    image_size: int,
    channels: int,
    global_batch_size: int,
    seed: int = 0,
    shuffle_buffer: int = SHUFFLE_BUFFER,
    parallel_reads: int = 0,
) -> Callable[[int], tf.data.Dataset]:
    """`start_step -> dataset` over Transform's output, as train_lib.train expects.

    The order is a pure function of the seed: records are read from the sorted files, repeated
    forever and shuffled with a fixed seed; a resumed run skips `start_step * global_batch_size`
    records (reading them, which costs seconds per million) and so sees the same batches.

    Args:
      file_patterns: gzipped TFRecord globs of transformed examples (FnArgs.train_files).
      image_size, channels: the Transform geometry.
      global_batch_size: images per batch over all replicas.
      seed: shuffle seed.
      shuffle_buffer: records in the shuffle buffer.
      parallel_reads: parallel batch decodes (0 = AUTOTUNE; DataConfig.parallel_reads).

    Returns:
      A function returning an infinite Dataset of float32 [global_batch_size, image_size,
      image_size, channels] in [-1, 1], batched with drop_remainder.

    Raises:
      FileNotFoundError: no file matches `file_patterns`.
      ValueError: the files hold no example (repeated, they would give no batch at all).
    """
    files = sorted({path for pattern in file_patterns for path in tf.io.gfile.glob(pattern)})
    if not files:
        raise FileNotFoundError(f"no transformed examples match {file_patterns}")
    if not any(True for _ in tf.data.TFRecordDataset(files, compression_type="GZIP").take(1)):
        raise ValueError(
            f"the training split is empty: the {len(files)} transformed example files matching "
            f"{file_patterns} hold no image (were all images skipped at ingest? see the Examples "
            "artifact's ingest_report.json)"
        )
    spec = {features.TRANSFORMED_IMAGE: tf.io.FixedLenFeature([], tf.string)}

    def parse(serialized: tf.Tensor) -> tf.Tensor:
        parsed = tf.io.parse_example(serialized, spec)
        return preprocessing.decode_transformed_images(
            parsed[features.TRANSFORMED_IMAGE], image_size, channels
        )

    def make_dataset(start_step: int) -> tf.data.Dataset:
        dataset = (
            tf.data.TFRecordDataset(files, compression_type="GZIP")
            .repeat()
            .shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=False)
            .skip(int(start_step) * global_batch_size)
            .batch(global_batch_size, drop_remainder=True)
            .map(parse, num_parallel_calls=parallel_reads or tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE)
        )
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return dataset.with_options(options)

    return make_dataset


def training_split_images(
    file_patterns: list[str], *, image_size: int, channels: int, batch_size: int = 256
) -> tuple[Callable[[], tf.data.Dataset], int]:
    """(a callable giving one ordered pass over the training split, its number of images).

    Each pass yields float32 [<= batch_size, image_size, image_size, channels] in [-1, 1], the
    images the Trainer trained on, once each (no shuffle, no repeat).
    """
    files = sorted({path for pattern in file_patterns for path in tf.io.gfile.glob(pattern)})
    spec = {features.TRANSFORMED_IMAGE: tf.io.FixedLenFeature([], tf.string)}

    def parse(serialized: tf.Tensor) -> tf.Tensor:
        parsed = tf.io.parse_example(serialized, spec)
        return preprocessing.decode_transformed_images(
            parsed[features.TRANSFORMED_IMAGE], image_size, channels
        )

    def one_pass() -> tf.data.Dataset:
        return (
            tf.data.TFRecordDataset(files, compression_type="GZIP")
            .batch(batch_size)
            .map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(2)
        )

    count = int(
        tf.data.TFRecordDataset(files, compression_type="GZIP").reduce(
            tf.constant(0, tf.int64), lambda total, _: total + 1
        )
    )
    return one_pass, count


def freeze_batch_norm_on_training_split(
    discriminator: tf.keras.Model, train_files: list[str], image_size: int, channels: int
) -> tuple[tf.keras.Model, dict[str, Any]]:
    """D with batch-norm statistics re-estimated on every real training image, then frozen.

    The training-time moving statistics mix real and generated batches; the feature probe
    judges D with statistics of real images, and the exported extractor carries those same
    statistics, so the features served are the features that were judged.

    Returns:
      (the frozen copy, {"source": "reestimated", "split": "train", "examples": N, "seconds": s}).
    """
    from tfx_dcgan import probe  # scikit-learn and the probe's helpers: only where needed

    start = time.perf_counter()
    images, count = training_split_images(train_files, image_size=image_size, channels=channels)
    frozen = probe.reestimate_batch_norm(discriminator, images)
    info = {
        "source": "reestimated",
        "split": "train",
        "examples": count,
        "seconds": round(time.perf_counter() - start, 3),
    }
    log.info(
        "batch-norm statistics re-estimated on %d training images in %.1f s", count, info["seconds"]
    )
    return frozen, info


class TransformPreprocess(tf.Module):
    """Encoded image bytes -> model input through the saved Transform graph.

    A tf.Module so that `export.export_discriminator_features` saves the Transform graph's
    resources with the feature extractor.
    """

    def __init__(self, transform_output_dir: str, image_size: int, channels: int):
        super().__init__(name="transform_preprocess")
        import tensorflow_transform as tft  # Heavy import, only where the Trainer needs it.

        self.transform_layer = tft.TFTransformOutput(
            transform_output_dir
        ).transform_features_layer()
        self._image_size = image_size
        self._channels = channels

    def __call__(self, encoded: tf.Tensor) -> tf.Tensor:
        """string [N] -> float32 [N, image_size, image_size, channels] in [-1, 1]."""
        outputs = self.transform_layer({features.IMAGE_ENCODED: tf.reshape(encoded, [-1, 1])})
        return preprocessing.decode_transformed_images(
            outputs[features.TRANSFORMED_IMAGE], self._image_size, self._channels
        )


def write_model_artifact(
    serving_model_dir: str,
    config: ExperimentConfig,
    generator: tf.keras.Model,
    discriminator: tf.keras.Model,
    step: int,
    preprocess_encoded: Callable[[tf.Tensor], tf.Tensor] | None,
    *,
    feature_discriminator: tf.keras.Model | None = None,
    batch_norm: dict[str, Any] | None = None,
) -> artifact.ModelArtifactPaths:
    """Writes the model artifact layout (tfx_dcgan/artifact.py) under `serving_model_dir`.

    `keras/discriminator` is D as trained (its optimizer-side state, for resuming and the probe
    CLI); `discriminator_features` is `feature_discriminator` (D with frozen BN statistics of
    the real training split, see freeze_batch_norm_on_training_split), or D when None.
    """
    fileio.makedirs(serving_model_dir)
    paths = artifact.paths(serving_model_dir)
    export.export_generator(generator, config.model, paths.generator, step=step)
    export.export_discriminator_features(
        feature_discriminator or discriminator,
        config.model,
        paths.discriminator_features,
        step=step,
        preprocess_encoded=preprocess_encoded,
        preprocessing="transform_graph"
        if isinstance(preprocess_encoded, TransformPreprocess)
        else "",
        batch_norm=batch_norm,
    )
    generator.save(paths.keras_generator, save_format="tf", include_optimizer=False)
    discriminator.save(paths.keras_discriminator, save_format="tf", include_optimizer=False)
    artifact.write_model_config(serving_model_dir, config.to_dict(), step)
    return paths


def run_fn(fn_args: Any) -> None:
    """TFX Trainer entry point.

    Args:
      fn_args: tfx.components.FnArgs: custom_config (see experiment_from_custom_config),
        train_files, transform_output, model_run_dir (checkpoints, TensorBoard, samples),
        serving_model_dir (the exported layout), train_steps.

    Raises:
      RuntimeError: training was interrupted by a signal before the requested steps.
    """
    config = experiment_from_custom_config(fn_args.custom_config, fn_args.train_steps)
    # Logical CPU devices must be set before the first TensorFlow op of this process (the
    # dataset check below is one); under LocalDagRunner the runner has set them already.
    distribute.configure_cpu_replicas(config.train.cpu_replicas)
    workdir = training_workdir(fn_args.custom_config, fn_args.model_run_dir, fn_args.train_files)
    log.info("training in %s", workdir)
    model = config.model
    make_dataset = make_transformed_dataset_factory(
        fn_args.train_files,
        image_size=model.image_size,
        channels=model.channels,
        global_batch_size=config.train.batch_size,
        seed=config.data.shuffle_seed,
        parallel_reads=config.data.parallel_reads,
    )
    result = train_lib.train(config, workdir, make_dataset)
    if result.interrupted:
        raise RuntimeError(
            f"training stopped by a signal at step {result.step} of {config.train.steps}; the "
            f"checkpoint in {result.checkpoint_dir} is kept (the next run with the same inputs "
            "resumes from it when checkpoint_root is set), the model is not exported"
        )
    copy_run_outputs(workdir, fn_args.model_run_dir)
    preprocess = TransformPreprocess(fn_args.transform_output, model.image_size, model.channels)
    frozen, batch_norm = freeze_batch_norm_on_training_split(
        result.discriminator, fn_args.train_files, model.image_size, model.channels
    )
    paths = write_model_artifact(
        fn_args.serving_model_dir,
        config,
        result.generator,
        result.discriminator,
        result.step,
        preprocess,
        feature_discriminator=frozen,
        batch_norm=batch_norm,
    )
    log.info(
        "trained to step %d; samples %s; TensorBoard %s; exported %s",
        result.step,
        result.final_sample_png,
        result.tensorboard_dir,
        paths,
    )
