"""One multi-worker training process with a chosen tf.data auto-shard policy (a negative control).

Usage: TF_CONFIG=... python tests/scripts/multi_worker_train.py CONFIG_JSON WORKDIR POLICY OUT
CONFIG_JSON is a workdir's config.json (so the run is the same in every other respect); POLICY is
"data" (what `tfx-dcgan train` does) or "off": every worker then reads the whole stream, so both
workers train on the same half of each global batch, which must not match a single-process run.
OUT: this worker's final G and D weights (.npz), to check that the workers stayed in lockstep.
"""

import json
import sys

import tfx_dcgan  # noqa: F401
from tfx_dcgan import train_lib
from tfx_dcgan.config import ExperimentConfig

import numpy as np
import tensorflow as tf


def main(config_path: str, workdir: str, policy: str, out_path: str) -> None:
    with open(config_path) as stream:
        config = ExperimentConfig.from_dict(json.load(stream))
    shard_policy = {
        "data": tf.data.experimental.AutoShardPolicy.DATA,
        "off": tf.data.experimental.AutoShardPolicy.OFF,
    }[policy]

    factory = []

    def make_dataset(start_step: int) -> tf.data.Dataset:
        # Built here, not before train(): the strategy must come before any TensorFlow op.
        if not factory:
            factory.append(train_lib.default_dataset_factory(config)[0])
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = shard_policy
        return factory[0](start_step).with_options(options)

    result = train_lib.train(config, workdir, make_dataset=make_dataset)
    weights = result.generator.get_weights() + result.discriminator.get_weights()
    np.savez(out_path, *weights)


if __name__ == "__main__":
    main(*sys.argv[1:])
