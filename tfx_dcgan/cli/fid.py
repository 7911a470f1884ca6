"""`tfx-dcgan fid` / `python -m tfx_dcgan.cli.fid`: FID and KID of generated (or any) images
against a folder of real ones, with the reference Inception network.

The generated side is a second image folder (--fake_dir), a training workdir's latest checkpoint
(--workdir), an exported generator SavedModel (--generator_dir, its `generate` signature) or a
serving endpoint (--server host:port: TF Serving's gRPC API, the `generate` signature of
--server_model). FID depends on the sample count, so every figure is printed and stored with its
count (`fid_2k`). The real folder's features are cached by content, count, seed and network
(--cache_dir), so scoring several models against one real set pays for it once.

Examples:
  tar xzf ../shared/data/cifar10-jpg.tar.gz -C /tmp
  # The sanity anchor: CIFAR-10 train against test at 2,000 images each.
  python -m tfx_dcgan.cli.fid --real_dir /tmp/cifar10/test --fake_dir /tmp/cifar10/train \\
      --count 2000
  # A trained model against the test split, keeping the scored samples as PNG files:
  python -m tfx_dcgan.cli.fid --real_dir /tmp/cifar10/test --workdir runs/cifar --count 2000 \\
      --save_samples runs/cifar/fid_samples --output_json runs/cifar/fid.json
  # The model a TF Serving server publishes:
  python -m tfx_dcgan.cli.fid --real_dir /tmp/cifar10/test --server localhost:8500 --count 2000

Needs the weights once: bash scripts/ensure_fid_weights.sh.
"""

from __future__ import annotations

import json
import logging
import os
import sys

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS / oneDNN before TensorFlow loads)
from tfx_dcgan.cli import command as cli_command
from tfx_dcgan.cli import console as cli_console
from tfx_dcgan.cli import flags as cli_flags

from absl import app, flags

FLAGS = flags.FLAGS

COMMAND = cli_command.Command(
    name="tfx-dcgan fid",
    flag_names=("workdir", "batch_size", "seed", *cli_flags.CLIENT_TLS_FLAGS),
    defaults={"batch_size": 32},
    help_overrides={
        "workdir": "A `tfx-dcgan train` workdir: generate with its latest checkpoint.",
        "batch_size": "Images per Inception forward pass.",
        "seed": "Seed of the generated z and of the real-image subset and KID subsets.",
    },
    own_flags_module=__name__,
)

flags.DEFINE_string("real_dir", "", "Folder of real images (class sub-folders or flat).")
flags.DEFINE_string("fake_dir", "", "Folder of images to score instead of a generator.")
flags.DEFINE_string(
    "generator_dir", "", "An exported generator SavedModel (its `generate` signature)."
)
flags.DEFINE_string(
    "server",
    "",
    "host:port of a TF Serving gRPC endpoint: generate with its --server_model model's "
    "`generate` signature.",
)
flags.DEFINE_string("server_model", "generator", "The served generator's model name.")
flags.DEFINE_string(
    "cache_dir",
    "",
    "Cache of real-image features ('' = ~/.cache/tfx-dcgan/fid_features; 'none' = no cache).",
)
flags.DEFINE_integer(
    "count",
    2000,
    "Images of each side (a seeded random subset of a larger folder; 0 = every image of the "
    "folders). Figures are named with the generated count.",
)
flags.DEFINE_string(
    "save_samples",
    "",
    "Folder to write the scored generated images to (PNG, sample_<index>.png); must be new or "
    "empty, so samples of two runs never mix.",
)
flags.DEFINE_string("output_json", "", "Write the figures to this JSON file too.")
flags.DEFINE_integer("kid_subsets", 100, "KID: random subsets averaged.")
flags.DEFINE_integer("kid_subset_size", 1000, "KID: images of each side per subset (at most).")


def _generator():
    """`generate(seed, n) -> images` and a description, from --workdir or --generator_dir."""
    import numpy as np
    import tensorflow as tf

    if FLAGS.server:
        from serving import client as client_lib

        client = client_lib.ServingClient(
            FLAGS.server,
            generator_model=FLAGS.server_model,
            timeout=600,
            tls=cli_flags.client_tls_from_flags(),
        )

        def generate(seed: int, n: int) -> np.ndarray:
            return client.generate(n, seed=seed)[0]

        return generate, f"{FLAGS.server} (model {FLAGS.server_model!r})"
    if FLAGS.generator_dir:
        signature = tf.saved_model.load(FLAGS.generator_dir).signatures["generate"]

        def generate(seed: int, n: int) -> np.ndarray:
            out = signature(seed=tf.constant(seed, tf.int64), count=tf.constant(n, tf.int64))
            return out["images"].numpy()

        return generate, FLAGS.generator_dir
    from tfx_dcgan import fileio
    from tfx_dcgan.config import ExperimentConfig
    from tfx_dcgan.workdir import restore_models, workdir_paths

    config = ExperimentConfig.from_dict(
        json.loads(fileio.read_text(workdir_paths(FLAGS.workdir)["config"]))
    ).model
    generator, _, step = restore_models(FLAGS.workdir, config)

    def generate(seed: int, n: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        shape = (n, config.z_dim)
        z = rng.uniform(-1, 1, shape) if config.noise == "uniform" else rng.normal(size=shape)
        return generator(tf.constant(z, tf.float32), training=False).numpy()

    return generate, f"{FLAGS.workdir} (step {step})"


def _check_flags() -> None:
    sources = [s for s in (FLAGS.fake_dir, FLAGS.workdir, FLAGS.generator_dir, FLAGS.server) if s]
    if not FLAGS.real_dir:
        raise app.UsageError("--real_dir is required (the folder of real images)")
    if len(sources) != 1:
        raise app.UsageError(
            "give exactly one of --fake_dir, --workdir, --generator_dir and --server"
        )
    from tfx_dcgan import fileio

    if (
        FLAGS.save_samples
        and fileio.isdir(FLAGS.save_samples)
        and fileio.listdir(FLAGS.save_samples)
    ):
        raise app.UsageError(
            f"--save_samples={FLAGS.save_samples!r} is not empty: give a new folder (samples of "
            "two runs would mix)"
        )
    if FLAGS.count < 0 or (FLAGS.count == 0 and not FLAGS.fake_dir):
        raise app.UsageError("--count must be positive (0 = all images works with --fake_dir only)")
    if FLAGS.save_samples and FLAGS.fake_dir:
        raise app.UsageError("--save_samples writes generated images: not with --fake_dir")


def _real_features(network):
    """Features of --real_dir (a seeded --count subset), from the cache when it has them."""
    from tfx_dcgan.metrics import sample_quality, scoring

    real_paths, real_images = scoring.folder_images(FLAGS.real_dir, FLAGS.count, FLAGS.seed)

    def compute():
        return scoring.extract_features(
            network, real_images, expected=len(real_paths), batch_size=FLAGS.batch_size, name="real"
        )

    if FLAGS.cache_dir == "none":
        return compute()
    key = {
        "kind": "image_folder",
        "files": sample_quality.fingerprint_files(real_paths, root=FLAGS.real_dir),
        "count": FLAGS.count,
        "seed": FLAGS.seed,
        "network": sample_quality.weights_fingerprint(),
    }
    features, _ = sample_quality.cached_features(
        FLAGS.cache_dir or sample_quality.default_cache_dir(), key, compute
    )
    return features


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    _check_flags()
    logging.getLogger().setLevel(logging.INFO)
    # The console starts before TensorFlow loads; its log goes beside --output_json.
    console = cli_console.start("fid", _log_dir())
    exit_code = 1
    try:
        exit_code = _score()
    finally:
        console.stop(exit_code)
    return exit_code


def _log_dir() -> str:
    """Where the console log goes: the folder of --output_json, else runs/fid (never into
    --save_samples, which holds only the scored images)."""
    if FLAGS.output_json and "://" not in FLAGS.output_json:
        return os.path.dirname(os.path.abspath(FLAGS.output_json))
    return os.path.join("runs", "fid")


def _score() -> int:
    """Scores the generated side against --real_dir and prints FID/KID; the exit status."""
    from tfx_dcgan import fileio
    from tfx_dcgan.metrics import inception, inception_weights, scoring

    try:
        network = inception.InceptionPool3()
    except inception_weights.WeightsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not fileio.isdir(FLAGS.real_dir):
        print(f"error: --real_dir={FLAGS.real_dir!r} is not a folder", file=sys.stderr)
        return 2
    real = _real_features(network)
    if FLAGS.fake_dir:
        fake_paths, fake_images = scoring.folder_images(FLAGS.fake_dir, FLAGS.count, FLAGS.seed)
        expected, source = len(fake_paths), FLAGS.fake_dir
    else:
        generate, source = _generator()
        fake_images = scoring.generated_images(
            generate,
            FLAGS.count,
            batch_size=FLAGS.batch_size,
            seed=FLAGS.seed,
            save_dir=FLAGS.save_samples,
        )
        expected = FLAGS.count
    fake = scoring.extract_features(
        network, fake_images, expected=expected, batch_size=FLAGS.batch_size, name="generated"
    )
    result = scoring.score(
        real,
        fake,
        kid_subsets=FLAGS.kid_subsets,
        kid_subset_size=FLAGS.kid_subset_size,
        seed=FLAGS.seed,
    )
    result.update(real_dir=FLAGS.real_dir, generated=source)
    label = scoring.count_label(len(fake))
    print(
        f"FID ({len(real)} real from {FLAGS.real_dir}, {len(fake)} from {source}): "
        f"fid_{label} = {result[f'fid_{label}']:.3f}; kid_{label} = "
        f"{result[f'kid_{label}']:.5f} ± {result[f'kid_{label}_std']:.5f}"
    )
    if FLAGS.save_samples:
        print(f"scored samples: {FLAGS.save_samples} ({len(fake)} PNG files)")
    if FLAGS.output_json:
        fileio.write_atomically(FLAGS.output_json, json.dumps(result, indent=2) + "\n")
        print(f"written: {FLAGS.output_json}")
    return 0


def run(argv: list[str] | None = None) -> None:
    """Console entry: parses flags (absl) and exits with main's status."""
    from tfx_dcgan.cli import run_command

    run_command(main, argv, COMMAND, __doc__)


if __name__ == "__main__":
    run()
