"""`tfx-dcgan probe` / `python -m tfx_dcgan.cli.probe`: the paper's feature-probe table.

Prints one table: the linear L2-SVM probe on a GAN-trained discriminator, on a random-init D of
the same architecture, and a supervised CNN of D's architecture, each at all labels and at k
labels per class, with the training budget (steps, wall time) behind each row (Radford et al.
2015, Sections 5.1-5.2). Rows are stored in --output_dir as they finish; the same command again
skips them (resumable; add --seeds or rows later).

Data: image folders with one sub-folder per class; --data_root holding train/ and test/, or
--train_dir (and optionally --test_dir; without it a stratified --test_fraction of train is held
out). SVHN: --svhn_dir (same layout as --data_root).

Examples:
  tar xzf ../shared/data/cifar10-jpg.tar.gz -C /tmp
  # CIFAR-10, the paper's protocol. On 2 CPU cores at ndf=64 (7,168 features), estimated from
  # measured parts: ~15 min per all-labels probe row, ~1 min per few-labels probe row, ~10-15
  # min per supervised all-labels row: about 1 h per seed. Interrupt and re-run at will.
  python -m tfx_dcgan.cli.probe --data_root /tmp/cifar10 --workdir runs/cifar \\
      --output_dir runs/cifar/probe_table --seeds 0,1,2
  # Random D and supervised rows only, quick MNIST check:
  python -m tfx_dcgan.cli.probe --train_dir /tmp/mnist10k --image_size 32 --channels 1 \\
      --ndf 32 --output_dir /tmp/mnist_probe --label_budgets all,100
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS / oneDNN before TensorFlow loads)
from tfx_dcgan.cli import command as cli_command
from tfx_dcgan.cli import console as cli_console
from tfx_dcgan.config import ModelConfig

from absl import app, flags

FLAGS = flags.FLAGS

# The shared flags this command reads (tfx_dcgan/cli/flags.py), with what they mean here; its own
# flags are defined below.
COMMAND = cli_command.Command(
    name="tfx-dcgan probe",
    flag_names=(
        "workdir",
        "output_dir",
        "image_size",
        "channels",
        "ndf",
        "kernel_size",
        "batch_size",
    ),
    defaults={"batch_size": 256},
    help_overrides={
        "workdir": "A `tfx-dcgan train` workdir: the GAN-trained D comes from its latest "
        "checkpoint (architecture from its config.json, budget from train_log.jsonl).",
        "output_dir": "Where rows/, results.json and results.md are written (required).",
        "image_size": "Image side when no trained D is given (else read from D).",
        "channels": "1 or 3, when no trained D is given (else read from D).",
        "ndf": "D's first-layer width when no trained D is given.",
        "kernel_size": "D's kernel side when no trained D is given.",
        "batch_size": "Images per forward pass when extracting features.",
    },
    own_flags_module=__name__,
)

# Data.
flags.DEFINE_string(
    "data_root",
    "",
    "Folder holding train/ and test/ image folders (class sub-folders), e.g. "
    "/tmp/cifar10 from ../shared/data/cifar10-jpg.tar.gz.",
)
flags.DEFINE_string(
    "train_dir", "", "Training image folder (class sub-folders) when not using --data_root."
)
flags.DEFINE_string(
    "test_dir",
    "",
    "Test image folder; empty: hold out --test_fraction of --train_dir (each class).",
)
flags.DEFINE_string(
    "svhn_dir",
    "",
    "SVHN as image folders (train/ and test/ with sub-folders 0..9), for users who "
    "have it; the paper's SVHN point is the 100-labels-per-class row (1000 labels in all). "
    "Same as --data_root otherwise.",
)
flags.DEFINE_float(
    "test_fraction",
    0.2,
    "Share of each class of train held out as the test set when there is no test folder.",
)
flags.DEFINE_integer(
    "max_train_examples", 0, "Use a seeded random subset of this many train images (0 = all)."
)
flags.DEFINE_integer(
    "max_test_examples", 0, "Use a seeded random subset of this many test images (0 = all)."
)
flags.DEFINE_integer("split_seed", 0, "Seed of the test hold-out and of the subsets above.")

# Models.
flags.DEFINE_string(
    "discriminator_dir",
    "",
    "Instead of --workdir: a Trainer serving model dir (model_config.json "
    "+ keras/discriminator/), a Model artifact folder, or a Keras SavedModel of D.",
)
flags.DEFINE_integer("random_seed", 0, "Weight seed of the random-init D.")

# Table.
flags.DEFINE_list(
    "rows",
    ["probe_trained", "probe_random", "supervised"],
    "Which methods: probe_trained, probe_random, supervised.",
)
flags.DEFINE_list(
    "label_budgets",
    ["all", "1000", "100"],
    "Labels per class for each method: 'all' or a number k (k labels of every class, seeded).",
)
flags.DEFINE_list(
    "seeds",
    ["0"],
    "Probe seeds: each method and budget runs once per seed (validation split, "
    "few-label draw, supervised init); the table shows mean ± std.",
)

# Probe.
flags.DEFINE_list(
    "c_grid",
    ["1e-5", "3e-5", "1e-4", "3e-4", "1e-3"],
    "SVM C values tried (LinearSVC's parameterisation), chosen on a held-out part of train.",
)
flags.DEFINE_float(
    "validation_fraction",
    0.1,
    "Share of each class of the (labelled) train set held out to choose C.",
)
flags.DEFINE_enum(
    "solver",
    "auto",
    ["auto", "primal", "liblinear", "sgd"],
    "SVM solver (auto = primal L-BFGS; see tfx_dcgan/probe/svm.py).",
)
flags.DEFINE_integer(
    "max_iter",
    0,
    "SVM solver iteration cap (0 = its default: primal 100, liblinear 2000, sgd 30 epochs).",
)

# Supervised baseline.
flags.DEFINE_integer(
    "supervised_steps", 5000, "Optimizer steps of the supervised CNN on all labels."
)
flags.DEFINE_integer(
    "supervised_few_label_steps", 2000, "Optimizer steps of the supervised CNN on k labels/class."
)
flags.DEFINE_integer("supervised_batch_size", 64, "Batch size of the supervised CNN.")
flags.DEFINE_float("supervised_learning_rate", 2e-4, "Adam learning rate of the supervised CNN.")
flags.DEFINE_float("supervised_beta1", 0.5, "Adam beta1 of the supervised CNN.")


def _parse_budgets(values: list[str]) -> tuple[int, ...]:
    budgets = []
    for value in values:
        if value.strip().lower() == "all":
            budgets.append(0)
        else:
            try:
                number = int(value)
            except ValueError:
                raise app.UsageError(
                    f"--label_budgets: {value!r} is neither 'all' nor a number of labels per class"
                ) from None
            if number <= 0:
                raise app.UsageError(f"--label_budgets: {number} must be positive")
            budgets.append(number)
    return tuple(budgets)


def _data_dirs() -> tuple[str, str]:
    roots = [v for v in (FLAGS.data_root, FLAGS.svhn_dir) if v]
    if len(roots) > 1 or (roots and FLAGS.train_dir):
        raise app.UsageError("give one of --data_root, --svhn_dir or --train_dir")
    if roots:
        root = roots[0]
        train_dir, test_dir = os.path.join(root, "train"), os.path.join(root, "test")
        from tfx_dcgan import fileio

        if not fileio.isdir(train_dir):
            raise app.UsageError(f"{root} has no train/ folder (expected train/ and test/)")
        return train_dir, test_dir if fileio.isdir(test_dir) else ""
    if not FLAGS.train_dir:
        raise app.UsageError("give --data_root, --svhn_dir or --train_dir (labelled image folders)")
    return FLAGS.train_dir, FLAGS.test_dir


def _parse_seeds_and_grid() -> tuple[tuple[int, ...], tuple[float, ...]]:
    try:
        seeds = tuple(int(s) for s in FLAGS.seeds)
        c_grid = tuple(float(c) for c in FLAGS.c_grid)
    except ValueError as error:
        raise app.UsageError(f"--seeds / --c_grid must be numbers: {error}") from None
    return seeds, c_grid


def _model_source() -> tuple[ModelConfig, Any]:
    """(the architecture, the trained D's DiscriminatorSource or None)."""
    from tfx_dcgan.probe import discriminators

    if FLAGS.workdir or FLAGS.discriminator_dir:
        trained = discriminators.load_discriminator_source(
            FLAGS.workdir or "", FLAGS.discriminator_dir
        )
        print(f"trained D: {trained.description}, step {trained.step}")
        return trained.model_config, trained
    model_config = ModelConfig(
        image_size=FLAGS.image_size,
        channels=FLAGS.channels,
        ndf=FLAGS.ndf,
        kernel_size=FLAGS.kernel_size,
    )
    model_config.validate()
    return model_config, None


def _read_data(train_dir: str, test_dir: str, model_config: ModelConfig) -> Any:
    """The probe's data (probe.ProbeData) through the protocol the evaluator shares."""
    from tfx_dcgan import probe
    from tfx_dcgan.probe import data as probe_data

    def read(folder: str, max_examples: int) -> probe_data.LabelledImages:
        return probe_data.read_image_folder(
            folder,
            model_config.image_size,
            model_config.channels,
            max_examples=max_examples,
            seed=FLAGS.split_seed,
        )

    train = read(train_dir, FLAGS.max_train_examples)
    test = read(test_dir, FLAGS.max_test_examples) if test_dir else None
    return probe.prepare_probe_data(
        train,
        test,
        test_fraction=FLAGS.test_fraction,
        seed=FLAGS.split_seed,
        train_name=train_dir,
        test_name=test_dir,
        allow_unlabelled_train=False,
    )


def _baseline_config(seeds: tuple[int, ...], c_grid: tuple[float, ...]) -> Any:
    from tfx_dcgan import probe
    from tfx_dcgan.probe import baselines, supervised

    unknown = set(FLAGS.rows) - set(baselines.ROW_KINDS)
    if unknown:
        raise app.UsageError(
            f"--rows: unknown {sorted(unknown)}; choose from {baselines.ROW_KINDS}"
        )
    return baselines.BaselineConfig(
        output_dir=FLAGS.output_dir,
        kinds=tuple(k for k in baselines.ROW_KINDS if k in FLAGS.rows),
        label_budgets=_parse_budgets(FLAGS.label_budgets),
        seeds=seeds,
        probe=probe.ProbeConfig(
            c_grid=c_grid,
            validation_fraction=FLAGS.validation_fraction,
            solver=FLAGS.solver,
            max_iter=FLAGS.max_iter,
            batch_size=FLAGS.batch_size,
        ).validate(),
        supervised=supervised.SupervisedConfig(
            steps=FLAGS.supervised_steps,
            few_label_steps=FLAGS.supervised_few_label_steps,
            batch_size=FLAGS.supervised_batch_size,
            learning_rate=FLAGS.supervised_learning_rate,
            beta1=FLAGS.supervised_beta1,
        ),
    )


def _run_key(
    train_dir: str, data: Any, model_config: ModelConfig, trained: Any, c_grid: tuple[float, ...]
) -> dict[str, Any]:
    """What the stored rows depend on: rows of another key are refused (baselines)."""
    return {
        "train": os.path.abspath(train_dir),
        "test": data.test_source,
        "num_train": len(data.train),
        "num_test": len(data.test),
        "model_config": {
            "image_size": model_config.image_size,
            "channels": model_config.channels,
            "ndf": model_config.ndf,
            "kernel_size": model_config.kernel_size,
        },
        "trained_d": trained.description if trained else None,
        "trained_step": trained.step if trained else None,
        "random_seed": FLAGS.random_seed,
        "c_grid": list(c_grid),
        "solver": FLAGS.solver,
        "supervised": [
            FLAGS.supervised_steps,
            FLAGS.supervised_few_label_steps,
            FLAGS.supervised_batch_size,
            FLAGS.supervised_learning_rate,
        ],
    }


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if not FLAGS.output_dir:
        raise app.UsageError("--output_dir is required (rows are stored there as they finish)")
    logging.getLogger().setLevel(logging.INFO)
    # The console (its log in <output_dir>/logs/) starts before TensorFlow loads.
    console = cli_console.start("probe", FLAGS.output_dir)
    exit_code = 1
    try:
        exit_code = _probe_table()
    finally:
        console.stop(exit_code)
    return exit_code


def _probe_table() -> int:
    """Runs the comparison table's rows and prints it; the exit status."""
    from tfx_dcgan import input_pipeline, models, probe
    from tfx_dcgan.probe import baselines

    train_dir, test_dir = _data_dirs()
    seeds, c_grid = _parse_seeds_and_grid()
    config = _baseline_config(seeds, c_grid)
    model_config, trained = _model_source()
    try:
        data = _read_data(train_dir, test_dir, model_config)
    except input_pipeline.DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except probe.ProbeError as error:
        print(f"error: {error}; the probe needs class sub-folders", file=sys.stderr)
        return 2
    try:
        rows = baselines.run_baselines(
            data.train,
            data.test,
            config,
            model_config=model_config,
            trained=trained,
            run_key=_run_key(train_dir, data, model_config, trained, c_grid),
            random_seed=FLAGS.random_seed,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"\ntrain: {train_dir} ({len(data.train)} images); "
        f"test: {data.test_source} ({len(data.test)} images)"
    )
    print(
        f"architecture: {model_config.image_size}x{model_config.image_size}x"
        f"{model_config.channels}, ndf={model_config.ndf}, kernel {model_config.kernel_size}; "
        f"{models.feature_size(model_config)} probe features\n"
    )
    print(baselines.format_table(rows))
    print(f"\nwritten: {os.path.join(FLAGS.output_dir, 'results.md')} and results.json")
    return 0


def run(argv: list[str] | None = None) -> None:
    """Console entry: parses flags (absl) and exits with main's status."""
    from tfx_dcgan.cli import run_command

    run_command(main, argv, COMMAND, __doc__)


if __name__ == "__main__":
    run()
