"""The supervised baseline: a CNN with D's conv stack trained from scratch on the same labels."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from tfx_dcgan import image_ops, models, probe
from tfx_dcgan.config import ModelConfig

import numpy as np
import tensorflow as tf

__all__ = [
    "SupervisedConfig",
    "build_supervised_classifier",
    "train_supervised_classifier",
    "predict_classes",
]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SupervisedConfig:
    """Training of the supervised same-architecture CNN.

    Attributes:
      steps: optimizer steps when trained on all labels.
      few_label_steps: optimizer steps when trained on k labels per class.
      batch_size: examples per step (sampled in shuffled epochs of the labelled set).
      learning_rate, beta1: Adam's (the DCGAN values by default).
    """

    steps: int = 5000
    few_label_steps: int = 2000
    batch_size: int = 64
    learning_rate: float = 2e-4
    beta1: float = 0.5


def build_supervised_classifier(
    config: ModelConfig, num_classes: int, seed: int | None = None
) -> tf.keras.Model:
    """D's architecture with a softmax classifier instead of the realness logit.

    Returns:
      A Keras model: float32 [N, S, S, C] in [-1, 1] -> logits [N, num_classes]; layers d_conv*,
      d_bn*, d_lrelu*, d_flatten as in `models.build_discriminator`, then `class_logits`.
    """
    discriminator = models.build_discriminator(config, seed=seed)
    flat = discriminator.get_layer("d_flatten").output
    logits = tf.keras.layers.Dense(
        num_classes,
        kernel_initializer=tf.keras.initializers.RandomNormal(
            stddev=models.WEIGHT_INIT_STDDEV, seed=seed
        ),
        name="class_logits",
        dtype="float32",
    )(flat)
    return tf.keras.Model(discriminator.input, logits, name="supervised_classifier")


def train_supervised_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    model_config: ModelConfig,
    num_classes: int,
    config: SupervisedConfig,
    steps: int,
    seed: int = 0,
) -> tuple[tf.keras.Model, dict[str, Any]]:
    """Trains `build_supervised_classifier` with Adam on softmax cross-entropy.

    Args:
      images: uint8 [N, S, S, C] labelled train images.
      labels: int [N].
      model_config: the architecture (D's).
      num_classes: softmax width.
      config: batch size and optimiser.
      steps: optimizer steps.
      seed: init and batch order.

    Returns:
      (the trained network with BN statistics re-estimated on `images` and frozen,
       {"steps", "train_wall_s", "final_loss"}).
    """
    tf.keras.utils.set_random_seed(seed)
    network = build_supervised_classifier(model_config, num_classes, seed=seed)
    optimizer = tf.keras.optimizers.Adam(config.learning_rate, beta_1=config.beta1)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def train_step(batch_images: tf.Tensor, batch_labels: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            logits = network(batch_images, training=True)
            loss = loss_fn(batch_labels, logits)
        grads = tape.gradient(loss, network.trainable_variables)
        optimizer.apply_gradients(zip(grads, network.trainable_variables))
        return loss

    rng = np.random.default_rng(seed)
    batch = min(config.batch_size, len(images))
    order, position = rng.permutation(len(images)), 0
    start = time.perf_counter()
    last_log = start
    loss = float("nan")
    for step in range(steps):
        if position + batch > len(order):
            order, position = rng.permutation(len(images)), 0
        index = np.sort(order[position : position + batch])
        position += batch
        loss = float(
            train_step(
                image_ops.to_model_range(images[index]),
                tf.constant(labels[index], tf.int64),
            )
        )
        now = time.perf_counter()
        if now - last_log > 30 or step + 1 == steps:
            last_log = now
            log.info(
                "supervised: step %d/%d, loss %.4f, %.1f steps/s",
                step + 1,
                steps,
                loss,
                (step + 1) / (now - start),
            )
    wall = time.perf_counter() - start
    frozen = probe.reestimate_batch_norm(network, images, batch_size=256)
    return frozen, {"steps": steps, "train_wall_s": round(wall, 1), "final_loss": loss}


def predict_classes(
    network: tf.keras.Model, images: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    forward = probe.make_inference_fn(network)
    return np.concatenate(
        [
            forward(batch).numpy().argmax(axis=1)
            for batch in probe.iterate_batches(images, batch_size)
        ]
    )


# ----------------------------------------------------------------------------------------------
# The table
