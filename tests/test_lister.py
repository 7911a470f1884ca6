"""One lister, one rule: the training reader and the pipeline's ingest see the same files, once each.

The folder has every trap the rule names: a directory symlink back up the tree (a loop), a link to
a sibling class folder, a symlinked class folder outside the tree, a file symlink to a file already
in the tree, hidden names of both kinds, upper-case extensions, unicode and space names, a WebP and
an extension-less PNG. The expected list is written out below.
"""

from __future__ import annotations

import glob
import os

import tfx_dcgan  # noqa: F401
from tfx_dcgan import features, input_pipeline
from tfx_dcgan.ingest import lister

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

# relative path -> class
EXPECTED = {
    "birds/f.png": "birds",
    "cats/B.JPG": "cats",
    "cats/a.png": "cats",
    "cats/sub/c d.png": "cats",
    "dogs/e.webp": "dogs",
    "dogs/noext": "dogs",
    "dogs/ü.png": "dogs",
}


def _image(path: str, fmt: str, seed: int) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, fmt, **({"lossless": True} if fmt == "WEBP" else {}))


@pytest.fixture
def tricky_folder(tmp_path):
    root = tmp_path / "images"
    outside = tmp_path / "outside_birds"
    for folder in (root / "cats" / "sub", root / "dogs", root / ".hidden_dir", outside):
        os.makedirs(folder)
    os.makedirs(root / "_private")
    _image(str(root / "cats" / "a.png"), "PNG", 1)
    _image(str(root / "cats" / "B.JPG"), "JPEG", 2)
    _image(str(root / "cats" / "sub" / "c d.png"), "PNG", 3)
    _image(str(root / "cats" / ".hidden.png"), "PNG", 4)
    _image(str(root / "cats" / "_skipped.png"), "PNG", 5)
    _image(str(root / "dogs" / "ü.png"), "PNG", 6)
    _image(str(root / "dogs" / "e.webp"), "WEBP", 7)
    _image(str(root / "dogs" / "noext"), "PNG", 8)
    _image(str(root / ".hidden_dir" / "x.png"), "PNG", 9)
    _image(str(root / "_private" / "y.png"), "PNG", 10)
    _image(str(outside / "f.png"), "PNG", 11)
    os.symlink("..", root / "cats" / "loop")  # back up to the root
    os.symlink("../cats", root / "dogs" / "cats_link")  # into a sibling class
    os.symlink("../cats/a.png", root / "dogs" / "dup.png")  # a file already in the tree
    os.symlink(str(outside), root / "birds")  # a symlinked class folder
    return str(root)


def test_the_lister_lists_each_file_once_with_its_class(tricky_folder):
    listed = lister.list_tree(tricky_folder)
    assert {f.relative_path: f.class_name for f in listed} == EXPECTED
    assert len(listed) == len(EXPECTED)


def test_the_training_reader_reads_the_same_files(tricky_folder):
    folder = input_pipeline.load_image_folder(tricky_folder, channels=3)
    relative = [os.path.relpath(p, tricky_folder) for p in folder.paths]
    assert dict(zip(relative, (folder.class_names[i] for i in folder.labels))) == EXPECTED
    assert folder.skipped == ()
    assert list(folder.converted) == [os.path.join(tricky_folder, "dogs", "e.webp")]
    batch = next(
        iter(
            input_pipeline.make_image_dataset(
                folder.paths,
                image_size=8,
                channels=3,
                global_batch_size=len(EXPECTED),
                converted=folder.converted,
            )
        )
    )
    assert batch.shape == (len(EXPECTED), 8, 8, 3)
    assert float(tf.reduce_min(batch)) >= -1.0 and float(tf.reduce_max(batch)) <= 1.0


@pytest.mark.slow
def test_the_pipeline_ingest_reads_the_same_files(tricky_folder, tmp_path):
    from tfx_dcgan.components.image_example_gen import component

    examples = component.ingest_folder(
        tricky_folder,
        str(tmp_path / "examples"),
        ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
    )
    records = []
    for path in glob.glob(os.path.join(examples.uri, "Split-*", "*.gz")):
        records += list(tf.data.TFRecordDataset(path, compression_type="GZIP"))
    got = {}
    for record in records:
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        relative = feature[features.IMAGE_PATH].bytes_list.value[0].decode()
        assert relative not in got, f"{relative} ingested twice"
        got[relative] = feature[features.LABEL_TEXT].bytes_list.value[0].decode()
    assert got == EXPECTED
    assert examples.get_int_custom_property("num_skipped") == 0
    assert examples.get_int_custom_property("num_converted") == 1
