"""Where the probe's GAN-trained D comes from: a training workdir or a SavedModel folder."""

from __future__ import annotations

import dataclasses
import json
import logging
import os

from tfx_dcgan import fileio
from tfx_dcgan.config import ModelConfig
from tfx_dcgan.probe import data as probe_data

import tensorflow as tf

__all__ = ["DiscriminatorSource", "infer_model_config", "load_discriminator_source"]

log = logging.getLogger(__name__)


@dataclasses.dataclass
class DiscriminatorSource:
    """A trained D and where it came from.

    Attributes:
      discriminator: the model (from `models.build_discriminator` or an equivalent SavedModel).
      model_config: its architecture.
      description: where it was loaded from.
      step: GAN training steps (-1 if unknown).
      train_wall_s: GAN training wall time in seconds, estimated from train_log.jsonl (None if
        unknown).
    """

    discriminator: tf.keras.Model
    model_config: ModelConfig
    description: str
    step: int = -1
    train_wall_s: float | None = None


def infer_model_config(discriminator: tf.keras.Model, z_dim: int = 100) -> ModelConfig:
    """Reads D's architecture (size, channels, ndf, kernel) off a loaded model."""
    _, size, _, channels = discriminator.input_shape
    first = discriminator.get_layer("d_conv0")
    return ModelConfig(
        image_size=int(size),
        channels=int(channels),
        ndf=int(first.filters),
        kernel_size=int(first.kernel_size[0]),
        z_dim=z_dim,
    )


def _estimate_train_wall_s(workdir: str, batch_size: int) -> float | None:
    """Sum over train_log.jsonl lines of (steps since last line) x batch / images per second."""
    path = os.path.join(workdir, "train_log.jsonl")
    if not fileio.exists(path):
        return None
    total, last_step = 0.0, 0
    for line in fileio.read_text(path).splitlines():
        try:
            entry = json.loads(line)
            step, rate = int(entry["step"]), float(entry["images_per_second"])
        except (ValueError, KeyError):
            continue
        if rate > 0 and step > last_step:
            total += (step - last_step) * batch_size / rate
        last_step = max(last_step, step)
    return total or None


def load_discriminator_source(
    workdir: str = "", discriminator_dir: str = ""
) -> DiscriminatorSource:
    """Loads the trained D from a training workdir or a SavedModel folder.

    Args:
      workdir: a `tfx-dcgan train` workdir (latest checkpoint, config.json, train_log.jsonl).
      discriminator_dir: a Trainer serving model dir (model_config.json + keras/discriminator/),
        a Model artifact folder holding Format-Serving/, or a Keras SavedModel of D itself.

    Raises:
      ValueError: neither or both given.
      FileNotFoundError: nothing loadable there (the message names the path).
    """
    if bool(workdir) == bool(discriminator_dir):
        raise ValueError("give exactly one of --workdir and --discriminator_dir")
    if workdir:
        from tfx_dcgan.workdir import CONFIG_FILE, restore_models

        experiment = json.loads(fileio.read_text(os.path.join(workdir, CONFIG_FILE)))
        _, discriminator, step = restore_models(workdir)
        config = infer_model_config(discriminator)
        batch = int(experiment.get("train", {}).get("batch_size", 0))
        return DiscriminatorSource(
            discriminator,
            config,
            f"checkpoint in {workdir}",
            step,
            _estimate_train_wall_s(workdir, batch) if batch else None,
        )
    try:
        discriminator, experiment, step, model_dir = probe_data.load_trainer_discriminator(
            discriminator_dir
        )
        description = f"Trainer model {model_dir}"
    except FileNotFoundError:
        if not tf.io.gfile.exists(os.path.join(discriminator_dir, "saved_model.pb")):
            raise FileNotFoundError(
                f"--discriminator_dir {discriminator_dir}: neither a Trainer model (with "
                "model_config.json) nor a Keras SavedModel (saved_model.pb)"
            ) from None
        discriminator = probe_data.load_keras_discriminator(discriminator_dir)
        step, description = -1, f"Keras SavedModel {discriminator_dir}"
    return DiscriminatorSource(discriminator, infer_model_config(discriminator), description, step)


# ----------------------------------------------------------------------------------------------
# The supervised baseline
