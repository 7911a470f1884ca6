"""Prints (JSON) the first training step's metrics under several strategies, in one fresh process.

Usage: python tests/scripts/first_step_losses.py
Splits the CPU into 2 logical devices first, then runs the same step (same seed, same real batch)
under the default strategy and under MirroredStrategy with and without synchronized batch norm.
"sgd" repeats one step with both Adams swapped for plain SGD: Adam's update is invariant to a
constant gradient scale, so only SGD weights show whether the cross-replica gradient aggregation
is the gradient of the global mean loss.
"""

import json

import tfx_dcgan  # noqa: F401
from tfx_dcgan import distribute, gan_step
from tfx_dcgan.config import ExperimentConfig, ModelConfig, TrainConfig

import numpy as np
import tensorflow as tf

distribute.configure_cpu_replicas(2)
images = np.random.default_rng(0).uniform(-1, 1, size=(16, 16, 16, 3)).astype(np.float32)


def first_steps(strategy, sync, steps=2):
    config = ExperimentConfig(
        model=ModelConfig(image_size=16, ngf=8, ndf=8, kernel_size=3, sync_batch_norm=sync),
        train=TrainConfig(batch_size=16, steps=steps, seed=3),
    )
    state = gan_step.create_gan_state(config, strategy)
    step = gan_step.make_train_step(state, config, strategy)
    dataset = tf.data.Dataset.from_tensors(images).repeat()
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    history = [{k: float(v) for k, v in step(next(iterator)).items()} for _ in range(steps)]
    return {"replicas": strategy.num_replicas_in_sync, "steps": history}


devices = [d.name for d in tf.config.list_logical_devices("CPU")]


def mirrored():
    return tf.distribute.MirroredStrategy(
        devices, cross_device_ops=tf.distribute.ReductionToOneDevice()
    )


def weights_after_one_sgd_step(strategy, sync):
    config = ExperimentConfig(
        model=ModelConfig(image_size=16, ngf=8, ndf=8, kernel_size=3, sync_batch_norm=sync),
        train=TrainConfig(batch_size=16, steps=1, seed=3),
    )
    state = gan_step.create_gan_state(config, strategy)
    before = [
        v.numpy()
        for v in state.generator.trainable_variables + state.discriminator.trainable_variables
    ]
    with strategy.scope():
        state.generator_optimizer = tf.keras.optimizers.SGD(0.5)
        state.discriminator_optimizer = tf.keras.optimizers.SGD(0.5)
    step = gan_step.make_train_step(state, config, strategy)
    dataset = tf.data.Dataset.from_tensors(images).repeat()
    step(next(iter(strategy.experimental_distribute_dataset(dataset))))
    after = [
        v.numpy()
        for v in state.generator.trainable_variables + state.discriminator.trainable_variables
    ]
    return before, after


def sgd_comparison():
    before, single = weights_after_one_sgd_step(tf.distribute.get_strategy(), sync=False)
    _, replicated = weights_after_one_sgd_step(mirrored(), sync=True)
    return {
        "num_variables": len(single),
        "max_update": max(float(np.abs(a - b).max()) for a, b in zip(single, before)),
        "max_difference": max(float(np.abs(a - b).max()) for a, b in zip(single, replicated)),
        # Per variable: |replicated - single| / |single update|, worst case.
        "max_relative_difference": max(
            float(np.abs(r - s).max() / max(np.abs(s - b).max(), 1e-12))
            for s, r, b in zip(single, replicated, before)
        ),
    }


print(
    json.dumps(
        {
            "default": first_steps(tf.distribute.get_strategy(), sync=False),
            "mirrored_sync_bn": first_steps(mirrored(), sync=True),
            "mirrored_local_bn": first_steps(mirrored(), sync=False),
            "sgd": sgd_comparison(),
        }
    )
)
