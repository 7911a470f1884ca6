"""A training workdir: its layout, its stored config, the refusal to mix runs in it, its
checkpoints (saved so that a failed or killed save leaves the previous one in charge) and the
models restored from its latest checkpoint."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from tfx_dcgan import fileio, models
from tfx_dcgan.config import ConfigError, ExperimentConfig, ModelConfig, TrainConfig

import tensorflow as tf

if TYPE_CHECKING:
    from tfx_dcgan.gan_step import GanState

__all__ = [
    "TrainingError",
    "PAUSE_IN_SAVE_ENV",
    "PAUSE_MARKER",
    "checkpoint_manager",
    "restore_latest",
    "save_checkpoint",
    "pause_in_save_from_environment",
    "CONFIG_FILE",
    "workdir_paths",
    "write_json_atomically",
    "check_workdir_config",
    "restore_models",
]

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
# Fields that must match when a run continues in an existing workdir: anything that changes the
# variables' shapes or what the checkpoint's numbers mean.
MODEL_FIELDS_THAT_MUST_MATCH = (
    "image_size",
    "channels",
    "z_dim",
    "noise",
    "ngf",
    "ndf",
    "kernel_size",
    "sync_batch_norm",
)


def workdir_paths(workdir: str) -> dict[str, str]:
    """Where a run writes: checkpoints/, tensorboard/, samples/, config.json, train_log.jsonl."""
    return {
        "checkpoints": os.path.join(workdir, "checkpoints"),
        "tensorboard": os.path.join(workdir, "tensorboard"),
        "samples": os.path.join(workdir, "samples"),
        "config": os.path.join(workdir, CONFIG_FILE),
        "log": os.path.join(workdir, "train_log.jsonl"),
    }


def write_json_atomically(path: str, payload: dict[str, Any]) -> None:
    """Writes `payload` as JSON, whole or not at all (fileio.write_atomically)."""
    fileio.write_atomically(path, json.dumps(payload, indent=2, sort_keys=True))


def check_workdir_config(config: ExperimentConfig, workdir: str, path: str) -> None:
    """Refuses to continue a workdir whose stored run differs in what its checkpoints mean.

    The model fields in MODEL_FIELDS_THAT_MUST_MATCH and the batch size must match.
    """
    if not fileio.exists(path):
        return
    try:
        stored = json.loads(fileio.read_text(path))
        stored_model = stored["model"]
    except (OSError, tf.errors.OpError, ValueError, KeyError) as error:
        raise ConfigError(
            f"{path}: unreadable stored config ({error}); use a new workdir"
        ) from error
    requested = dataclasses.asdict(config.model)
    differences = [
        f"model.{name}: stored {stored_model.get(name)!r}, requested {requested[name]!r}"
        for name in MODEL_FIELDS_THAT_MUST_MATCH
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


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite losses, unusable checkpoint); nothing good was overwritten."""


def checkpoint_manager(
    state: GanState,
    paths: dict[str, str],
    workdir: str,
    train_config: TrainConfig,
    is_chief: bool,
    role: str,
) -> tf.train.CheckpointManager:
    """Every worker saves (saving a distributed checkpoint takes part in collectives), but only the
    chief into the workdir; the others into their own scratch folder, and they write no logs."""
    checkpoint_dir = paths["checkpoints"] if is_chief else os.path.join(workdir, ".workers", role)
    return tf.train.CheckpointManager(
        state.checkpoint,
        checkpoint_dir,
        max_to_keep=train_config.keep_checkpoints if is_chief else 1,
    )


def restore_latest(state: GanState, checkpoint_dir: str) -> None:
    """Restores the newest checkpoint of `checkpoint_dir` into `state`, if there is one.

    Raises:
      TrainingError: the checkpoint does not fit the state (it is left untouched).
    """
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    if not latest:
        return
    try:
        state.checkpoint.restore(latest).assert_existing_objects_matched()
    except (AssertionError, tf.errors.OpError, ValueError) as error:
        raise TrainingError(f"cannot restore {latest} ({error}); it is left untouched") from error
    log.info("resumed from %s at step %d", latest, int(state.step.numpy()))


# Test-only fault injection: "<step>:<seconds>" makes the checkpoint save of <step> pause for
# <seconds> after its files are written and before the checkpoint state names them, writing
# `<checkpoint_dir>/.paused-in-save` first, so a test can kill a run in the middle of a save.
PAUSE_IN_SAVE_ENV = "TFX_DCGAN_TEST_PAUSE_IN_SAVE"
PAUSE_MARKER = ".paused-in-save"


def pause_in_save_from_environment() -> tuple[int, float] | None:
    """The (step, seconds) of PAUSE_IN_SAVE_ENV, or None when unset."""
    value = os.environ.get(PAUSE_IN_SAVE_ENV, "")
    if not value:
        return None
    try:
        step, seconds = value.split(":")
        return int(step), float(seconds)
    except ValueError:
        raise ConfigError(f"{PAUSE_IN_SAVE_ENV}={value!r}: expected '<step>:<seconds>'") from None


def save_checkpoint(
    manager: tf.train.CheckpointManager, step: int, pause_in_save: tuple[int, float] | None = None
) -> str:
    """Saves checkpoint `step`; a failed write leaves the previous checkpoint in charge.

    TensorFlow writes the data and index files first and names them in the `checkpoint` state
    file last, so a run killed or failing mid-save resumes from the previous checkpoint.

    Raises:
      TrainingError: the files could not be written (disk full, file size limit): the message
        names the folder and the limit; the previous checkpoint's files are not touched.
    """
    options = None
    if pause_in_save and pause_in_save[0] == step:

        def pause(*_: Any) -> None:
            fileio.write_atomically(fileio.join(manager.directory, PAUSE_MARKER), str(step))
            time.sleep(pause_in_save[1])

        options = tf.train.CheckpointOptions(experimental_write_callbacks=[pause])
    try:
        return manager.save(checkpoint_number=step, options=options)
    except (OSError, tf.errors.OpError) as error:
        staging = fileio.join(manager.directory, f"ckpt-{step}_temp")
        if fileio.isdir(staging):  # TensorFlow's half-written shard folder
            fileio.rmtree(staging)
        raise TrainingError(
            f"could not write checkpoint {step} in {manager.directory}: "
            f"{fileio.describe_write_failure(manager.directory, error)}. The previous checkpoint "
            f"({manager.latest_checkpoint or 'none'}) is untouched; free space and run the same "
            "command to resume from it"
        ) from error


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
        if not fileio.exists(paths["config"]):
            raise FileNotFoundError(
                f"{paths['config']} not found: is {workdir!r} a training workdir?"
            )
        model_config = ExperimentConfig.from_dict(
            json.loads(fileio.read_text(paths["config"]))
        ).model
    latest = tf.train.latest_checkpoint(paths["checkpoints"])
    if latest is None:
        raise FileNotFoundError(f"no checkpoint in {paths['checkpoints']}")
    generator = models.build_generator(model_config)
    discriminator = models.build_discriminator(model_config)
    step = tf.Variable(0, dtype=tf.int64, trainable=False)
    checkpoint = tf.train.Checkpoint(generator=generator, discriminator=discriminator, step=step)
    checkpoint.restore(latest).expect_partial()
    return generator, discriminator, int(step.numpy())
