"""Benchmark of the Beam image ingest (ImageExampleGen's executor) against a plain tf.data decode.

    python bench/ingest.py --limit=5000               # a 5,000-image subset of CIFAR-10 (JPEG repack)
    python bench/ingest.py                            # all 60,000 images
    python bench/ingest.py --metadata=runs/pipeline/metadata.db   # + component times of a run

Measures, on the same files:
  * ceiling: `tf.data` reading and decoding each file with `image_ops.decode_image`
    (parallel map, AUTOTUNE): the least work any ingest must do;
  * Beam ingest: ImageExampleGen's executor `Do` (list files, read, validate with the same decoder,
    build tf.Examples, write gzipped TFRecords, count) on the DirectRunner: multi-processing with
    --workers processes, multi-threading with --workers threads, and in-process (in_memory, one
    worker). Beam's fixed cost (starting
    worker processes that import TensorFlow) is measured on an 8-image set and reported apart,
    so both the end-to-end and the steady-state rates are visible.
Then, given an ML Metadata database, prints the wall time of each component of that pipeline's
latest run (MLMD execution create -> last update times).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tfx_dcgan  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

flags.DEFINE_string(
    "archive",
    os.path.join(_REPO, "..", "shared", "data", "cifar10-jpg.tar.gz"),
    "CIFAR-10 JPEG repack (cifar10/{train,test}/<class>/*.jpg).",
)
flags.DEFINE_string("work_dir", "/tmp/tfx_dcgan_bench_ingest", "Unpack and output folder.")
flags.DEFINE_integer("limit", 0, "Use this many images (spread over splits and classes); 0 = all.")
flags.DEFINE_integer("workers", 2, "DirectRunner worker processes for the multi-processing run.")
flags.DEFINE_bool("in_memory", True, "Also time the in-process (one worker) DirectRunner.")
flags.DEFINE_string(
    "metadata",
    os.path.join(_REPO, "runs", "pipeline", "metadata.db"),
    "ML Metadata database of a pipeline run whose component times to print ('' to skip).",
)
flags.DEFINE_string("pipeline_name", "tfx_dcgan", "Pipeline name in that database.")


def _unpack() -> str:
    root = os.path.join(FLAGS.work_dir, "cifar10")
    if not os.path.isdir(root):
        os.makedirs(FLAGS.work_dir, exist_ok=True)
        print(f"unpacking {FLAGS.archive} -> {FLAGS.work_dir}", flush=True)
        subprocess.run(["tar", "xzf", FLAGS.archive, "-C", FLAGS.work_dir], check=True)
    return root


def _subset(root: str, limit: int, name: str) -> tuple[str, list[str]]:
    """A folder of symlinks to `limit` images, the same share from every split/class folder."""
    folders = sorted(os.path.join(dirpath) for dirpath, dirnames, files in os.walk(root) if files)
    per_folder = {f: sorted(os.listdir(f)) for f in folders}
    total = sum(len(v) for v in per_folder.values())
    if not limit or limit >= total:
        return root, [os.path.join(f, n) for f, names in per_folder.items() for n in names]
    target = os.path.join(FLAGS.work_dir, name)
    shutil.rmtree(target, ignore_errors=True)
    paths = []
    for folder, names in per_folder.items():
        take = max(1, round(limit * len(names) / total))
        destination = os.path.join(target, os.path.relpath(folder, root))
        os.makedirs(destination)
        for file_name in names[:take]:
            os.symlink(os.path.join(folder, file_name), os.path.join(destination, file_name))
            paths.append(os.path.join(folder, file_name))
    return target, paths


def _tf_data_rates(paths: list[str], passes: int = 3) -> list[float]:
    """images/s of `passes` full tf.data passes over `paths` (they vary by 1.5x run to run here)."""
    from tfx_dcgan import image_ops

    import tensorflow as tf

    def load(path):
        return tf.shape(image_ops.decode_image(tf.io.read_file(path), 3))

    dataset = (
        tf.data.Dataset.from_tensor_slices(paths)
        .map(load, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(256)
        .prefetch(tf.data.AUTOTUNE)
    )
    for _ in dataset.take(1):  # Warm-up: graph building and thread pools.
        pass
    rates = []
    for _ in range(passes):
        started = time.perf_counter()
        count = sum(int(batch.shape[0]) for batch in dataset)
        rates.append(count / (time.perf_counter() - started))
    return rates


def _beam_ingest(data_dir: str, beam_args: list[str]) -> tuple[float, int]:
    """Runs ImageExampleGen's executor once; returns (seconds, images written)."""
    from tfx_dcgan.components.image_example_gen import component

    out_dir = tempfile.mkdtemp(dir=FLAGS.work_dir, prefix="examples-")
    started = time.perf_counter()
    examples = component.ingest_folder(data_dir, out_dir, beam_args)
    seconds = time.perf_counter() - started
    images = examples.get_int_custom_property("num_images")
    shutil.rmtree(out_dir, ignore_errors=True)
    return seconds, images


def main(argv):
    del argv
    root = _unpack()
    data_dir, paths = _subset(root, FLAGS.limit, f"subset-{FLAGS.limit}")
    tiny_dir, _ = _subset(root, 8, "subset-tiny")
    print(f"{len(paths)} images in {data_dir}", flush=True)

    rates = _tf_data_rates(paths)
    ceiling = max(rates)  # The ceiling is the best pass.
    print(
        f"tf.data read + decode_image (ceiling): {ceiling:8.0f} images/s "
        f"(best of {len(rates)} passes: {', '.join(f'{r:.0f}' for r in rates)})",
        flush=True,
    )

    modes = [
        (
            f"multi_processing, {FLAGS.workers} workers",
            ["--direct_running_mode=multi_processing", f"--direct_num_workers={FLAGS.workers}"],
        )
    ]
    modes.append(
        (
            f"multi_threading, {FLAGS.workers} threads",
            ["--direct_running_mode=multi_threading", f"--direct_num_workers={FLAGS.workers}"],
        )
    )
    if FLAGS.in_memory:
        modes.append(
            ("in_memory, 1 worker", ["--direct_running_mode=in_memory", "--direct_num_workers=1"])
        )
    for label, args in modes:
        fixed, _ = _beam_ingest(tiny_dir, args)
        seconds, images = _beam_ingest(data_dir, args)
        if seconds > 1.2 * fixed:
            steady = images / (seconds - fixed)
            after = f"{steady:6.0f} images/s after start-up ({steady / ceiling:.2f}x of tf.data)"
        else:
            after = "start-up dominates: use a larger --limit for a steady-state rate"
        print(
            f"Beam ingest ({label}): {images} images in {seconds:.1f} s = "
            f"{images / seconds:6.0f} images/s end to end ({images / seconds / ceiling:.2f}x of "
            f"tf.data); fixed start-up {fixed:.1f} s (8 images); {after}",
            flush=True,
        )

    if FLAGS.metadata and os.path.exists(FLAGS.metadata):
        from pipelines import run_info

        summary = run_info.summarize_latest_run(
            FLAGS.metadata, FLAGS.pipeline_name, executed_only=True
        )
        print(f"component wall times of run {summary.run_id} ({FLAGS.metadata}):")
        for c in sorted(summary.components.values(), key=lambda c: c.execution_id):
            print(f"  {c.node_id:<18} {c.state:<9} {c.seconds:7.1f} s")
        total = sum(c.seconds for c in summary.components.values())
        print(f"  {'sum':<18} {'':<9} {total:7.1f} s (plus ~1 min importing TFX)")


if __name__ == "__main__":
    app.run(main)
