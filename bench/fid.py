"""Throughput of the reference FID network (resize + Inception pool3) on this CPU.

    .venv/bin/python bench/fid.py [--images 64] [--batch_sizes 16,32,64] [--onednn on,off]

Each (oneDNN, batch size) runs in a fresh process (TF_ENABLE_ONEDNN_OPTS must be set before
TensorFlow loads) on random 32x32 uint8 images; prints images/s after one warm-up batch, and the
seconds the timed images took. Needs the weights (bash scripts/ensure_fid_weights.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _worker(images: int, batch_size: int) -> None:
    sys.path.insert(0, REPO_ROOT)
    import tfx_dcgan  # noqa: F401
    from tfx_dcgan.metrics import inception

    import numpy as np

    network = inception.InceptionPool3()
    data = np.random.default_rng(0).integers(0, 256, (images, 32, 32, 3), dtype=np.uint8)
    network(data[:batch_size]).numpy()  # traces the function
    start = time.perf_counter()
    for begin in range(0, images, batch_size):
        network(data[begin : begin + batch_size]).numpy()
    seconds = time.perf_counter() - start
    print(json.dumps({"images": images, "seconds": seconds, "images_per_s": images / seconds}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64, help="timed images per variant")
    parser.add_argument("--batch_sizes", default="16,32,64")
    parser.add_argument("--onednn", default="on,off")
    parser.add_argument("--worker", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(*args.worker)
        return
    print(f"{'oneDNN':>6} {'batch':>5} {'images/s':>9} {'seconds':>8}")
    for onednn in args.onednn.split(","):
        for batch in (int(b) for b in args.batch_sizes.split(",")):
            env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1" if onednn == "on" else "0")
            env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            done = subprocess.run(
                [sys.executable, __file__, "--worker", str(args.images), str(batch)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode or not lines:
                print(f"{onednn:>6} {batch:>5} failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            record = json.loads(lines[-1])
            print(
                f"{onednn:>6} {batch:>5} {record['images_per_s']:>9.1f} {record['seconds']:>8.1f}"
            )


if __name__ == "__main__":
    main()
