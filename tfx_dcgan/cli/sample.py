"""`tfx-dcgan sample`: a PNG grid from a served generator, or features of images.

Talks only TF Serving's public gRPC API (`serving.client`), so it works against the official
`tensorflow_model_server` as well as `serving/server.py`.

  tfx-dcgan sample --server localhost:8500 --n 64 --out grid.png --seed 0
  tfx-dcgan sample --server localhost:8500 --features a.jpg,b.png [--features_out f.npz]
"""

from __future__ import annotations

import tfx_dcgan  # noqa: F401  (environment defaults before TensorFlow loads)
from tfx_dcgan import visualize
from tfx_dcgan.cli import command as cli_command
from tfx_dcgan.cli import flags as cli_flags

import grpc
import numpy as np
from absl import app, flags

from serving import client as client_lib

FLAGS = flags.FLAGS
flags.DEFINE_string("server", "localhost:8500", "gRPC address host:port of the model server.")
flags.DEFINE_integer("n", 64, "Number of images to generate.", lower_bound=1)
flags.DEFINE_string("out", "grid.png", "PNG file for the image grid.")
flags.DEFINE_integer(
    "scale", 1, "Integer upscaling of the grid (nearest neighbour).", lower_bound=1
)
flags.DEFINE_list(
    "features",
    None,
    "Comma-separated image files: print D's realness score and probe features for each instead "
    "of sampling.",
)
flags.DEFINE_string(
    "features_out", None, "With --features: also save paths/features/scores (.npz)."
)
flags.DEFINE_string("generator_model", client_lib.GENERATOR_MODEL, "Served generator model name.")
flags.DEFINE_string("features_model", client_lib.FEATURES_MODEL, "Served feature model name.")
flags.DEFINE_integer("model_version", None, "Pin a model version (default: the latest served).")
flags.DEFINE_float("timeout", 60.0, "Seconds per RPC.", lower_bound=0.1)


COMMAND = cli_command.Command(
    name="tfx-dcgan sample",
    flag_names=("seed", *cli_flags.CLIENT_TLS_FLAGS),
    help_overrides={"seed": "Seed of the server-side noise draw (same seed, same images)."},
    own_flags_module=__name__,
)


def sample_grid(
    client: client_lib.ServingClient, n: int, seed: int, out: str, scale: int = 1
) -> str:
    """Generates `n` images from `seed` through the server and writes them as a PNG grid."""
    images, _ = client.generate(n, seed=seed)
    return visualize.save_image_grid(images, out, scale=scale)


def describe_features(
    client: client_lib.ServingClient, paths: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Reads `paths`, calls the feature model once, prints one line per image."""
    from tfx_dcgan import fileio

    blobs = [fileio.read_bytes(path) for path in paths]
    features, scores = client.features(blobs)
    for path, row, score in zip(paths, features, scores):
        head = " ".join(f"{value:.3f}" for value in row[:4])
        print(
            f"{path}\tscore={score:.4f}\tfeatures[{row.size}] mean={row.mean():.4f} "
            f"max={row.max():.4f} first=[{head} ...]"
        )
    return features, scores


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        client_tls = cli_flags.client_tls_from_flags()
    except ValueError as error:
        raise app.UsageError(str(error)) from error
    with client_lib.ServingClient(
        FLAGS.server,
        tls=client_tls,
        generator_model=FLAGS.generator_model,
        features_model=FLAGS.features_model,
        version=FLAGS.model_version,
        timeout=FLAGS.timeout,
    ) as client:
        try:
            if FLAGS.features:
                features, scores = describe_features(client, FLAGS.features)
                if FLAGS.features_out:
                    np.savez(
                        FLAGS.features_out,
                        paths=np.array(FLAGS.features),
                        features=features,
                        scores=scores,
                    )
                    print(f"wrote {FLAGS.features_out}")
            else:
                path = sample_grid(client, FLAGS.n, FLAGS.seed, FLAGS.out, FLAGS.scale)
                print(f"wrote {FLAGS.n} images (seed {FLAGS.seed}) to {path}")
        except grpc.RpcError as error:
            raise SystemExit(
                f"error: {FLAGS.server} answered {error.code().name}: {error.details()}"
            ) from None
        except OSError as error:
            raise SystemExit(f"error: {error}") from None
    return 0


def run(argv: list[str] | None = None) -> None:
    """Entry of `tfx-dcgan sample` (tfx_dcgan.cli dispatches here) and `python -m`."""
    from tfx_dcgan import cli

    cli.run_command(main, argv, COMMAND, __doc__)


if __name__ == "__main__":
    run()
