"""`tfx-dcgan train` / `python -m tfx_dcgan.cli.train`: train a DCGAN on a folder of images.

The flags are defined in `tfx_dcgan/cli/flags.py` (shared with the pipeline runners); they become
an `ExperimentConfig` that `train_lib.train` receives with the workdir.

Examples:
  python -m tfx_dcgan.cli.train --data_dir data/cifar10_sample/train --workdir runs/cifar
  python -m tfx_dcgan.cli.train --preset paper_lsun64 --data_dir /data/lsun --workdir runs/lsun
  # Resume: run the same command again (Ctrl-C saves a checkpoint first).
"""

from __future__ import annotations

import logging
import sys

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS / oneDNN before TensorFlow loads)
from tfx_dcgan.cli import command as cli_command
from tfx_dcgan.cli import console as cli_console
from tfx_dcgan.cli import flags as cli_flags
from tfx_dcgan.config import ConfigError

from absl import app

FLAGS = cli_flags.FLAGS

COMMAND = cli_command.Command(
    name="tfx-dcgan train",
    flag_names=("data_dir", "workdir", *(n for n in cli_flags.EXPERIMENT_FLAGS if n != "data_dir")),
)


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger().setLevel(logging.INFO)
    try:
        for name in ("data_dir", "workdir"):
            if not FLAGS[name].value:
                raise ConfigError(f"--{name} is required (see `tfx-dcgan train --help`)")
        config = cli_command.experiment_from_flags().validate()
    except ConfigError as error:
        print(f"error: {cli_command.flag_error_message(error)}", file=sys.stderr)
        return 2
    # The console (its log in <workdir>/logs/) starts before TensorFlow loads.
    console = cli_console.start("train", FLAGS.workdir)
    exit_code = 1
    try:
        exit_code = _train(config)
    finally:
        console.stop(exit_code)
    return exit_code


def _train(config) -> int:
    """Trains with `config` into --workdir; the exit status."""
    from tfx_dcgan import input_pipeline, train_lib  # TensorFlow loads here, after flag parsing.

    try:
        result = train_lib.train(config, FLAGS.workdir)
    except ConfigError as error:
        print(f"error: {cli_command.flag_error_message(error)}", file=sys.stderr)
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

    run_command(main, argv, COMMAND, __doc__)


if __name__ == "__main__":
    run()
