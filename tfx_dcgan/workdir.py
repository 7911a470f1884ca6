"""A training workdir: its layout, its stored config, the refusal to mix runs in it, and the
models restored from its latest checkpoint."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from tfx_dcgan import fileio, models
from tfx_dcgan.config import ConfigError, ExperimentConfig, ModelConfig

import tensorflow as tf

__all__ = [
    "CONFIG_FILE",
    "workdir_paths",
    "write_json_atomically",
    "check_workdir_config",
    "restore_models",
]

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
