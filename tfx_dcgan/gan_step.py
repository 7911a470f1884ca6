"""One DCGAN training step under a `tf.distribute` strategy (Radford et al. 2015).

One step follows the paper and the reference DCGAN code: draw z, G(z) once, update D on a real
batch and a fake batch (two forward passes, so batch norm sees pure batches), then update G with the
non-saturating loss through the updated D. Adam(2e-4, beta1=0.5) for both.

Distribution: the global batch is split over replicas by `experimental_distribute_dataset`; each
replica divides its per-example losses by the *global* batch (`tf.nn.compute_average_loss`) so
that the optimizers' cross-replica gradient sum is the gradient of the global mean loss. z for the
whole global batch is drawn once per step from one checkpointed RNG and sliced per replica, so the
noise (and, with synchronized batch norm, the whole step) does not depend on the replica count.
Without synchronized batch norm each replica normalises its own share of the batch, which is what
`MirroredStrategy` gives by default; with `ModelConfig.sync_batch_norm` the statistics are those of
the global batch, as in the paper.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from tfx_dcgan import losses, models
from tfx_dcgan.config import ExperimentConfig

import tensorflow as tf

__all__ = ["GanState", "create_gan_state", "make_train_step"]


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
