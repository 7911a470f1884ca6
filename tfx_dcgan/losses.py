"""GAN losses, per example (reduce with `tf.nn.compute_average_loss` under a strategy).

Names follow TF-GAN (`tensorflow_gan/python/losses/losses_impl.py`): the discriminator minimises the
minimax cross-entropy of Goodfellow et al. (2014); the generator minimises the non-saturating
("modified") loss -log D(G(z)), as DCGAN does.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["minimax_discriminator_loss", "modified_generator_loss", "mean_probability"]


def _flatten_logits(logits: tf.Tensor) -> tf.Tensor:
    return tf.reshape(tf.cast(logits, tf.float32), [-1])


def minimax_discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """-log D(x) - log(1 - D(G(z))) for each example.

    Args:
      real_logits: float [batch, 1] or [batch], D's logits on real images.
      fake_logits: float [batch, 1] or [batch], D's logits on generated images (same batch size).

    Returns:
      float32 [batch], non-negative.
    """
    real = _flatten_logits(real_logits)
    fake = _flatten_logits(fake_logits)
    # softplus(-l) = -log(sigmoid(l)) and softplus(l) = -log(1 - sigmoid(l)), computed stably.
    return tf.nn.softplus(-real) + tf.nn.softplus(fake)


def modified_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """Non-saturating generator loss -log D(G(z)) for each example: float32 [batch], >= 0."""
    return tf.nn.softplus(-_flatten_logits(fake_logits))


def mean_probability(logits: tf.Tensor) -> tf.Tensor:
    """Per-example sigmoid(logit), float32 [batch]: D(x) or D(G(z)) for progress reports."""
    return tf.sigmoid(_flatten_logits(logits))
