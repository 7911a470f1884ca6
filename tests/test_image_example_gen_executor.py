"""ImageExampleGen's executor on a real Examples artifact with Beam's in-memory runner (no DAG).

A flat folder of more images than one chunk, with unusable files among them, exercises the
chunked path end to end: the file manifest, chunk ingest, the hash partition of chunks into
train/eval and the TFRecord chunk sink.
"""

from __future__ import annotations

import glob
import json
import os

import tfx_dcgan  # noqa: F401  (TF_USE_LEGACY_KERAS / oneDNN before TensorFlow loads)
from tfx_dcgan import features
from tfx_dcgan.ingest import images as ingest
from tfx_dcgan.ingest import transforms

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

NUM_IMAGES = 300  # More than two chunks of 128.


def _read_split(uri: str, split: str) -> list[bytes]:
    files = sorted(glob.glob(os.path.join(uri, f"Split-{split}", "data_tfrecord-*.gz")))
    assert files, f"no files in Split-{split}"
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [record.numpy() for record in dataset]


@pytest.fixture(scope="module")
def flat_ingest(tmp_path_factory):
    from tfx_dcgan.components.image_example_gen import component

    root = tmp_path_factory.mktemp("flat")
    data_dir = str(root / "images")
    os.makedirs(data_dir)
    rng = np.random.default_rng(0)
    for i in range(NUM_IMAGES):
        pixels = rng.integers(0, 256, (6 + i % 5, 7, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(data_dir, f"{i:04d}.png"))
    open(os.path.join(data_dir, "empty.jpg"), "wb").close()
    with open(os.path.join(data_dir, "notes.txt"), "w") as handle:
        handle.write("not an image\n")
    return component.ingest_folder(
        data_dir,
        str(root / "examples"),
        ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
    )


def test_every_good_image_lands_once_in_the_split_its_path_hashes_to(flat_ingest):
    buckets = [9, 10]
    paths = {}
    for index, split in enumerate(("train", "eval")):
        for record in _read_split(flat_ingest.uri, split):
            feature = tf.train.Example.FromString(record).features.feature
            path = feature[features.IMAGE_PATH].bytes_list.value[0].decode()
            assert path not in paths, f"{path} written twice"
            paths[path] = index
            assert feature[features.LABEL].int64_list.value == [features.UNLABELLED]
            assert transforms.partition_by_feature(record, 2, buckets, features.IMAGE_PATH) == index
    assert sorted(paths) == [f"{i:04d}.png" for i in range(NUM_IMAGES)]
    assert 10 <= list(paths.values()).count(1) <= 60  # About one in ten in 'eval'.


def test_counts_and_report_are_recorded_and_scratch_files_removed(flat_ingest):
    assert flat_ingest.get_int_custom_property("num_images") == NUM_IMAGES
    assert flat_ingest.get_int_custom_property("num_skipped") == 2
    assert flat_ingest.get_int_custom_property(f"num_skipped_{ingest.EMPTY_FILE}") == 1
    assert flat_ingest.get_int_custom_property(f"num_skipped_{ingest.NOT_AN_IMAGE}") == 1
    with open(os.path.join(flat_ingest.uri, "ingest_report.json")) as handle:
        report = json.load(handle)
    assert sorted(entry[0] for entry in report["first_skipped"]) == ["empty.jpg", "notes.txt"]
    # The manifests and skip samples live in a scratch folder that Do removes.
    assert sorted(os.listdir(flat_ingest.uri)) == [
        "Split-eval",
        "Split-train",
        "ingest_report.json",
        "labels.txt",
    ]


def test_a_folder_without_one_usable_image_is_a_clear_error(tmp_path):
    from tfx_dcgan.components.image_example_gen import component

    data_dir = tmp_path / "bad"
    for name in ("cat", "dog"):
        (data_dir / name).mkdir(parents=True)
        (data_dir / name / "a.jpg").write_text("not an image")
        (data_dir / name / "b.png").write_bytes(b"")
    examples_uri = str(tmp_path / "examples")
    with pytest.raises(ValueError, match=r"no usable image among the 4 files.*2 empty_file"):
        component.ingest_folder(
            str(data_dir),
            examples_uri,
            ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
        )
    # The report is still written for the user to read.
    with open(os.path.join(examples_uri, "ingest_report.json")) as handle:
        assert json.load(handle)["num_skipped"] == 4


@pytest.mark.slow
def test_multi_process_workers_write_the_same_examples_as_the_in_process_run(flat_ingest, tmp_path):
    """The distributed form of the ingest (DirectRunner with two worker processes, each
    unpickling the DoFns as a cluster's workers would) writes the same multiset of serialized
    examples per split as the in-process run."""
    from collections import Counter

    from tfx_dcgan.components.image_example_gen import component

    data_dir = os.path.join(os.path.dirname(flat_ingest.uri), "images")
    distributed = component.ingest_folder(
        data_dir,
        str(tmp_path / "examples"),
        ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
    )

    def canonical(uri: str, split: str) -> Counter:
        # A proto map's wire order depends on the process's hash seed: compare canonical bytes.
        return Counter(
            tf.train.Example.FromString(record).SerializeToString(deterministic=True)
            for record in _read_split(uri, split)
        )

    for split in ("train", "eval"):
        in_process = canonical(flat_ingest.uri, split)
        assert in_process
        assert canonical(distributed.uri, split) == in_process, split
    assert distributed.get_int_custom_property("num_skipped") == 2
