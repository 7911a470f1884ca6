"""Writes under a file size limit (RLIMIT_FSIZE), as a full disk fails them (EFBIG; CPython
ignores SIGXFSZ): a checkpoint save, then a SavedModel export. Prints one JSON line.

    python tests/scripts/disk_full.py WORKDIR EXPORT_ROOT

1. Trains a tiny DCGAN to step 2 (a checkpoint), hashes the checkpoint folder's files.
2. Limits file size to half the checkpoint's data file (the index and state files stay under
   it) and asks for 4 steps: the save at step 4 fails.
3. Limits file size to 4 KiB and exports G: the export fails.
"""

import hashlib
import json
import os
import resource
import sys

import tfx_dcgan  # noqa: F401
from tfx_dcgan import export, train_lib
from tfx_dcgan.config import ExperimentConfig, ModelConfig, TrainConfig

import tensorflow as tf

MODEL = ModelConfig(image_size=16, z_dim=8, ngf=4, ndf=4, kernel_size=3)


def _dataset(start_step: int) -> tf.data.Dataset:
    images = tf.random.stateless_uniform([8, 16, 16, 3], [1, 2], minval=-1.0, maxval=1.0)
    return tf.data.Dataset.from_tensors(images).repeat()


def _hashes(folder: str) -> dict[str, str]:
    return {
        name: hashlib.sha256(open(os.path.join(folder, name), "rb").read()).hexdigest()
        for name in sorted(os.listdir(folder))
        if os.path.isfile(os.path.join(folder, name))
    }


def _config(steps: int) -> ExperimentConfig:
    train = TrainConfig(batch_size=8, steps=steps, checkpoint_every=2, sample_every=0, log_every=1)
    return ExperimentConfig(model=MODEL, train=train)


def main() -> None:
    workdir, export_root = sys.argv[1:3]
    first = train_lib.train(_config(2), workdir, _dataset)
    checkpoints = os.path.join(workdir, "checkpoints")
    before = _hashes(checkpoints)
    data_file = next(name for name in before if name.startswith("ckpt-2.data"))
    limit = os.path.getsize(os.path.join(checkpoints, data_file)) // 2
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    result = {"checkpoint_limit": limit, "before": before}
    try:
        train_lib.train(_config(4), workdir, _dataset)
        result["checkpoint_error"] = ""
    except train_lib.TrainingError as error:
        result["checkpoint_error"] = str(error)
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    result["after"] = {k: v for k, v in _hashes(checkpoints).items() if k in before}
    result["latest"] = tf.train.latest_checkpoint(checkpoints)

    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    target = os.path.join(export_root, "generator")
    try:
        export.export_generator(first.generator, MODEL, target, step=2)
        result["export_error"] = ""
    except OSError as error:
        result["export_error"] = str(error)
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    result["export_root"] = sorted(os.listdir(export_root)) if os.path.isdir(export_root) else []
    print(json.dumps(result))


if __name__ == "__main__":
    main()
