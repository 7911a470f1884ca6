"""Prints (JSON) the first training step's metrics under several strategies, in one fresh process.

Usage: python tests/scripts/first_step_losses.py
Splits the CPU into 2 logical devices first, then runs the same step (same seed, same real batch)
under the default strategy and under MirroredStrategy with and without synchronized batch norm.
"""

import json

import tfx_dcgan  # noqa: F401
from tfx_dcgan import train_lib
from tfx_dcgan.config import ExperimentConfig, ModelConfig, TrainConfig

import numpy as np
import tensorflow as tf

train_lib.configure_cpu_replicas(2)
images = np.random.default_rng(0).uniform(-1, 1, size=(16, 16, 16, 3)).astype(np.float32)


def first_steps(strategy, sync, steps=2):
    config = ExperimentConfig(
        workdir="unused",
        model=ModelConfig(image_size=16, ngf=8, ndf=8, kernel_size=3, sync_batch_norm=sync),
        train=TrainConfig(batch_size=16, steps=steps, seed=3),
    )
    state = train_lib.create_gan_state(config, strategy)
    step = train_lib.make_train_step(state, config, strategy)
    dataset = tf.data.Dataset.from_tensors(images).repeat()
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    history = [{k: float(v) for k, v in step(next(iterator)).items()} for _ in range(steps)]
    return {"replicas": strategy.num_replicas_in_sync, "steps": history}


devices = [d.name for d in tf.config.list_logical_devices("CPU")]


def mirrored():
    return tf.distribute.MirroredStrategy(
        devices, cross_device_ops=tf.distribute.ReductionToOneDevice()
    )


print(
    json.dumps(
        {
            "default": first_steps(tf.distribute.get_strategy(), sync=False),
            "mirrored_sync_bn": first_steps(mirrored(), sync=True),
            "mirrored_local_bn": first_steps(mirrored(), sync=False),
        }
    )
)
