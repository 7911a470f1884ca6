"""Local fast paths against tf.io.gfile: listing a folder tree and reading image files.

    .venv/bin/python bench/fileio.py [--folder data/cifar10_sample] [--repeats 3]

Prints the best of --repeats passes for each way (warm page cache). The figures justify
tfx_dcgan/fileio.py's LOCAL_FAST_PATHS (the stdlib is used for local paths only there).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tfx_dcgan  # noqa: E402,F401

import tensorflow as tf  # noqa: E402


def _scandir_walk(folder: str, files: list[str]) -> None:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir():
                _scandir_walk(entry.path, files)
            else:
                os.stat(entry.path)  # the lister stats each file for its inode
                files.append(entry.path)


def _gfile_walk(folder: str, files: list[str]) -> None:
    for name in tf.io.gfile.listdir(folder):
        path = os.path.join(folder, name.rstrip("/"))
        if tf.io.gfile.isdir(path):
            _gfile_walk(path, files)
        else:
            files.append(path)


def _best(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="data/cifar10_sample")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    files: list[str] = []
    _scandir_walk(args.folder, files)
    print(f"{args.folder}: {len(files)} files")
    scandir_s = _best(lambda: _scandir_walk(args.folder, []), args.repeats)
    gfile_s = _best(lambda: _gfile_walk(args.folder, []), args.repeats)
    print(
        f"listing   os.scandir + os.stat: {scandir_s * 1e3:7.1f} ms   tf.io.gfile: {gfile_s * 1e3:7.1f} ms"
    )

    def read_open():
        for path in files:
            with open(path, "rb") as stream:
                stream.read()

    def read_gfile():
        for path in files:
            with tf.io.gfile.GFile(path, "rb") as stream:
                stream.read()

    open_us = _best(read_open, args.repeats) / len(files) * 1e6
    gfile_us = _best(read_gfile, args.repeats) / len(files) * 1e6
    print(f"reading   open(): {open_us:6.1f} us/file   tf.io.gfile.GFile: {gfile_us:6.1f} us/file")


if __name__ == "__main__":
    main()
