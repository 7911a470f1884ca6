"""`tfx-dcgan train` / `python -m tfx_dcgan.train`: train a DCGAN on a folder of images.

Flags are read here only; they become an `ExperimentConfig` that `train_lib.train` receives.

Examples:
  python -m tfx_dcgan.train --data_dir data/cifar10_sample/train --workdir runs/cifar
  python -m tfx_dcgan.train --preset paper_lsun64 --data_dir /data/lsun --workdir runs/lsun
  # Resume: run the same command again (Ctrl-C saves a checkpoint first).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS / oneDNN before TensorFlow loads)
from tfx_dcgan.config import (
    NOISE_DISTRIBUTIONS,
    STRATEGIES,
    ConfigError,
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    TrainConfig,
)

from absl import app, flags

_MODEL = ModelConfig()
_TRAIN = TrainConfig()
_DATA = DataConfig()

# Named starting points; explicit flags override them.
PRESETS: dict[str, dict[str, object]] = {
    "none": {},
    # The paper's LSUN/faces/ImageNet generator: 4x4x1024 -> 512 -> 256 -> 128 -> 64x64x3.
    "paper_lsun64": {"image_size": 64, "ngf": 128, "ndf": 64, "kernel_size": 4},
    # CIFAR-10 at the paper's batch and the authors' 5x5 kernels.
    "cifar32": {"image_size": 32, "ngf": 64, "ndf": 64, "kernel_size": 5},
    # What the quick-start trains in a few minutes on 2 CPU cores.
    "quick": {
        "image_size": 32,
        "ngf": 32,
        "ndf": 32,
        "kernel_size": 5,
        "steps": 600,
        "log_every": 25,
        "sample_every": 100,
        "checkpoint_every": 100,
    },
}

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "data_dir",
    None,
    "Folder of training images: flat, or one sub-folder per class "
    "(searched recursively; .jpg .jpeg .png .gif .bmp). Corrupt files are skipped and counted.",
)
flags.DEFINE_string(
    "workdir",
    None,
    "Output folder: checkpoints/, tensorboard/, samples/*.png, config.json, "
    "train_log.jsonl. Re-running with the same workdir resumes from its latest checkpoint.",
)
flags.DEFINE_enum(
    "preset",
    "none",
    list(PRESETS),
    "Starting values for the flags below: paper_lsun64 (the "
    "paper's 64x64 generator, ngf 128, 4x4 kernels), cifar32 (32x32, ngf=ndf=64, 5x5), quick "
    "(32x32, ngf=ndf=32, 600 steps). Flags given explicitly win.",
)
flags.DEFINE_integer(
    "image_size",
    _MODEL.image_size,
    "Image side in pixels, a power of two >= 16 (32 for "
    "CIFAR-10, 64 as in the paper). Images are centre-cropped to a square and resized.",
)
flags.DEFINE_integer(
    "channels", _MODEL.channels, "3 for RGB, 1 for grayscale (images are converted)."
)
flags.DEFINE_integer("z_dim", _MODEL.z_dim, "Length of the noise vector z (the paper: 100).")
flags.DEFINE_enum(
    "noise",
    _MODEL.noise,
    list(NOISE_DISTRIBUTIONS),
    "Distribution of z: uniform in [-1, 1] (the paper) or standard normal.",
)
flags.DEFINE_integer(
    "ngf",
    _MODEL.ngf,
    "Generator width: channels of G's last hidden layer; each layer "
    "towards the 4x4 projection doubles it (ngf 128 at 64x64 is the paper's 1024-512-256-128).",
)
flags.DEFINE_integer(
    "ndf", _MODEL.ndf, "Discriminator width: channels of D's first conv; doubles per layer."
)
flags.DEFINE_integer(
    "kernel_size", _MODEL.kernel_size, "Conv kernel side: 5 (the authors' code) or 4 (dcgan.torch)."
)
flags.DEFINE_bool(
    "sync_batch_norm",
    _MODEL.sync_batch_norm,
    "Batch-norm statistics over the global batch "
    "across replicas (the paper's semantics). Off: each replica normalises its own share.",
)
flags.DEFINE_integer(
    "batch_size",
    _TRAIN.batch_size,
    "Global batch size, split evenly over replicas (the paper: 128).",
)
flags.DEFINE_integer(
    "steps",
    _TRAIN.steps,
    "Total training steps (one D and one G update each). A resumed "
    "run continues up to this number.",
)
flags.DEFINE_float(
    "learning_rate", _TRAIN.learning_rate, "Adam learning rate for G and D (the paper: 2e-4)."
)
flags.DEFINE_float("beta1", _TRAIN.beta1, "Adam beta1 (the paper: 0.5).")
flags.DEFINE_integer(
    "seed", _TRAIN.seed, "Seeds weight init, the noise stream and the fixed sample grid."
)
flags.DEFINE_integer("shuffle_seed", _DATA.shuffle_seed, "Seed of the per-epoch image order.")
flags.DEFINE_enum(
    "strategy",
    _TRAIN.strategy,
    list(STRATEGIES),
    "tf.distribute strategy: auto (MirroredStrategy "
    "over visible GPUs, else the default CPU strategy), mirrored, multi_worker (reads TF_CONFIG), "
    "one_device, default.",
)
flags.DEFINE_integer(
    "cpu_replicas",
    _TRAIN.cpu_replicas,
    "Split the CPU into this many logical devices so "
    "MirroredStrategy runs that many replicas without GPUs (0: leave the CPU whole).",
)
flags.DEFINE_integer(
    "log_every", _TRAIN.log_every, "Print progress and write TensorBoard scalars every N steps."
)
flags.DEFINE_integer(
    "sample_every",
    _TRAIN.sample_every,
    "Write a PNG grid of the fixed z (and a TensorBoard "
    "image) every N steps; 0 writes only the final grid.",
)
flags.DEFINE_integer(
    "checkpoint_every",
    _TRAIN.checkpoint_every,
    "Save a checkpoint every N steps (also at the end and on Ctrl-C / SIGTERM).",
)
flags.DEFINE_integer(
    "keep_checkpoints", _TRAIN.keep_checkpoints, "How many recent checkpoints to keep."
)
flags.DEFINE_integer("sample_grid", _TRAIN.sample_grid, "Number of images in the sample grid.")
flags.DEFINE_integer(
    "parallel_reads", _DATA.parallel_reads, "Image decode parallelism (0: AUTOTUNE)."
)
flags.DEFINE_bool(
    "deterministic", _TRAIN.deterministic, "TF op determinism: bit-identical replays, slower."
)

flags.mark_flag_as_required("data_dir")
flags.mark_flag_as_required("workdir")


def _value(name: str) -> object:
    """The flag's value, or the preset's when the flag was not given explicitly."""
    preset = PRESETS[FLAGS.preset]
    if name in preset and not FLAGS[name].present:
        return preset[name]
    return FLAGS[name].value


def config_from_flags() -> ExperimentConfig:
    """Builds the run's ExperimentConfig from the parsed flags (and --preset)."""

    def section(cls: type) -> object:
        return cls(**{f.name: _value(f.name) for f in dataclasses.fields(cls)})

    return ExperimentConfig(
        workdir=FLAGS.workdir,
        data=section(DataConfig),
        model=section(ModelConfig),
        train=section(TrainConfig),
    )


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger().setLevel(logging.INFO)
    from tfx_dcgan import input_pipeline, train_lib  # TensorFlow loads here, after flag parsing.

    try:
        config = config_from_flags().validate()
        result = train_lib.train(config)
    except ConfigError as error:
        # Name the flag the user typed: "model.ngf" is set by --ngf.
        print(
            "error: " + re.sub(r"\b(?:model|train|data)\.(\w+)", r"--\1", str(error)),
            file=sys.stderr,
        )
        return 2
    except input_pipeline.DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except train_lib.TrainingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if result.interrupted:
        print(
            f"interrupted at step {result.step}; checkpoint in {result.checkpoint_dir}. "
            "Run the same command to resume."
        )
        return 130
    print(f"trained to step {result.step}")
    print(f"  sample grid : {result.final_sample_png}")
    print(f"  checkpoints : {result.checkpoint_dir}")
    print(f"  TensorBoard : tensorboard --logdir {result.tensorboard_dir}")
    if result.skipped_images:
        print(
            f"  skipped {result.skipped_images} unreadable image file(s) (listed in the log above)"
        )
    return 0


def run(argv: list[str] | None = None) -> None:
    """Console entry: parses flags (absl) and exits with main's status."""
    from tfx_dcgan.cli import run_command

    run_command(main, argv, __name__)


if __name__ == "__main__":
    run()
