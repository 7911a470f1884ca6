"""Seconds per FID figure: the moment formula (2,048 x 2,048 eigh + SVD) against the low-rank
path `distances.fid_from_features` takes when samples are fewer than features.

    .venv/bin/python bench/fid_distance.py [--counts 20,256,500,2000] [--repeats 3]

Random float64 features of Inception's width (2,048); prints the median seconds of each path and
the relative difference of the two figures (they are equal in exact arithmetic).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _median_seconds(function, repeats: int) -> tuple[float, float]:
    times, value = [], 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> None:
    sys.path.insert(0, REPO_ROOT)
    from tfx_dcgan.metrics import distances

    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="20,256,500,2000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'count':>6} {'moments s':>10} {'low-rank s':>11} {'speed-up':>9} {'rel. diff':>10}")
    for count in (int(c) for c in args.counts.split(",")):
        x = np.abs(rng.normal(size=(count, 2048)))
        y = np.abs(rng.normal(0.1, 1.2, size=(count, 2048)))
        moments_s, by_moments = _median_seconds(
            lambda x=x, y=y: distances.frechet_distance(
                *distances.feature_moments(x), *distances.feature_moments(y)
            ),
            args.repeats,
        )
        low_rank_s, low_rank = _median_seconds(
            lambda x=x, y=y: distances.fid_from_features(x, y), args.repeats
        )
        print(
            f"{count:>6} {moments_s:>10.2f} {low_rank_s:>11.3f} {moments_s / low_rank_s:>8.0f}x "
            f"{abs(by_moments - low_rank) / abs(by_moments):>10.1e}"
        )


if __name__ == "__main__":
    main()
