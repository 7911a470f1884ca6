"""The tf.data image-folder reader: listing, corrupt files, order, resumption."""

from __future__ import annotations

import os

import tfx_dcgan  # noqa: F401
from tfx_dcgan import input_pipeline

import numpy as np
import pytest
from conftest import write_corrupt_files, write_image_folder


def test_class_folders_give_labels(image_folder):
    paths, labels, classes = input_pipeline.list_image_files(image_folder)
    assert classes == ["cats", "dogs"]
    assert len(paths) == 12 + 12 + 3  # three unusable files still have image extensions
    assert sorted(set(labels)) == [0, 1]
    assert all(("cats" in p) == (label == 0) for p, label in zip(paths, labels))


def test_flat_folder_is_unlabelled(tmp_path):
    write_image_folder(str(tmp_path), {"": 5})
    paths, labels, classes = input_pipeline.list_image_files(str(tmp_path))
    assert len(paths) == 5 and classes == [] and set(labels) == {-1}


def test_corrupt_files_are_skipped_and_counted(image_folder):
    folder = input_pipeline.load_image_folder(image_folder, channels=3)
    assert folder.num_images == 24
    reasons = dict((os.path.basename(p), r) for p, r in folder.skipped)
    assert set(reasons) == {"empty.png", "truncated.jpg", "notes.jpg"}
    assert reasons["empty.png"] == "empty file"
    assert "not a decodable image" in reasons["notes.jpg"]
    assert not any(p.endswith(("empty.png", "truncated.jpg", "notes.jpg")) for p in folder.paths)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda root: os.path.join(root, "missing"), "does not exist"),
        (lambda root: root, "holds no image files"),
    ],
)
def test_unusable_folders_raise_a_clear_error(tmp_path, make, message):
    with pytest.raises(input_pipeline.DataError, match=message):
        input_pipeline.load_image_folder(make(str(tmp_path)), channels=3)


def test_folder_of_only_corrupt_files_is_an_error(tmp_path):
    write_corrupt_files(str(tmp_path))
    with pytest.raises(
        input_pipeline.DataError, match="none of its 3 image files could be decoded"
    ):
        input_pipeline.load_image_folder(str(tmp_path), channels=3)


def test_dataset_batches_shapes_and_range(image_folder):
    folder = input_pipeline.load_image_folder(image_folder, channels=1)
    dataset = input_pipeline.make_image_dataset(
        folder.paths, image_size=16, channels=1, global_batch_size=5
    )
    batches = list(dataset.take(7).as_numpy_iterator())  # 35 images: wraps past one epoch of 24
    for batch in batches:
        assert batch.shape == (5, 16, 16, 1) and batch.dtype == np.float32
        assert batch.min() >= -1.0 and batch.max() <= 1.0


def test_epochs_are_permutations_and_order_depends_on_seed(tmp_path):
    root = str(tmp_path)
    write_image_folder(root, {"": 8}, size=4)
    folder = input_pipeline.load_image_folder(root, channels=3)

    # Identify images by their pixels: each random image is unique.
    def epoch_keys(seed):
        dataset = input_pipeline.make_image_dataset(
            folder.paths, image_size=4, channels=3, global_batch_size=8, seed=seed
        )
        return [
            tuple(tuple(img.ravel()[:6]) for img in b) for b in dataset.take(2).as_numpy_iterator()
        ]

    first, second = epoch_keys(0)
    assert len(set(first)) == 8 and set(first) == set(second)  # each epoch sees every image once
    assert first != second  # reshuffled each epoch
    assert epoch_keys(0) == [first, second]  # deterministic for a seed
    assert epoch_keys(1)[0] != first


def test_start_step_positions_the_stream(image_folder):
    folder = input_pipeline.load_image_folder(image_folder, channels=3)
    kwargs = dict(image_size=8, channels=3, global_batch_size=5, seed=4)
    full = list(
        input_pipeline.make_image_dataset(folder.paths, **kwargs).take(9).as_numpy_iterator()
    )
    resumed = list(
        input_pipeline.make_image_dataset(folder.paths, start_step=6, **kwargs)
        .take(3)
        .as_numpy_iterator()
    )
    for expected, got in zip(full[6:], resumed):
        np.testing.assert_array_equal(expected, got)
