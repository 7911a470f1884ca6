"""Labelled images for the feature probe: from ingest `tf.Example` splits or from image folders.

Both readers decode with `image_ops.preprocess_encoded_image` (the one preprocessing Transform,
training and serving use) and keep the pixels as uint8 [N, S, S, C]: 4x less memory than float32,
and exact, since `to_model_range(from_model_range(x)) == x` on that function's 256-level output.
`probe.iterate_batches` scales them back to [-1, 1] batch by batch.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence

from tfx_dcgan import artifact, features, image_ops, input_pipeline, models
from tfx_dcgan import config as config_lib
from tfx_dcgan.probe.svm import stratified_split

import numpy as np
import tensorflow as tf

__all__ = [
    "LabelledImages",
    "decode_images",
    "read_examples",
    "read_image_folder",
    "split_files",
    "is_labelled",
    "hold_out",
    "read_model_config",
    "load_trainer_discriminator",
    "load_keras_discriminator",
]

log = logging.getLogger(__name__)


@dataclasses.dataclass
class LabelledImages:
    """Decoded images with their labels.

    Attributes:
      images: uint8 [N, S, S, C].
      labels: int64 [N], class index, or `features.UNLABELLED` (-1).
      class_names: names by class index (may be empty when unknown or unlabelled).
      skipped: number of records/files that could not be decoded (left out).
      encoded: object [N] of the encoded bytes each image was decoded from (None when not
        kept): what a served model receives, so features can be computed through it.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    skipped: int = 0
    encoded: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> LabelledImages:
        encoded = None if self.encoded is None else self.encoded[indices]
        return LabelledImages(
            self.images[indices], self.labels[indices], self.class_names, 0, encoded
        )


def is_labelled(labels: np.ndarray) -> tuple[bool, str]:
    """Whether a probe can run on these labels; if not, why (a sentence for the user)."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return False, "no examples"
    if np.all(labels < 0):
        return False, "the examples carry no labels (a flat, unlabelled image folder)"
    known = np.unique(labels[labels >= 0])
    if len(known) < 2:
        return False, f"the examples have a single class ({int(known[0])}): nothing to classify"
    return True, ""


def decode_images(
    encoded: Sequence[bytes] | np.ndarray,
    image_size: int,
    channels: int,
    *,
    from_files: bool = False,
    batch_size: int = 256,
    max_pixels: int = config_lib.DEFAULT_MAX_IMAGE_PIXELS,
) -> tuple[np.ndarray, np.ndarray]:
    """Decodes and resizes images in parallel; undecodable ones are dropped, not fatal.

    Args:
      encoded: encoded image bytes, or file paths when `from_files`.
      image_size, channels: output geometry (centre crop, resize; see image_ops).
      from_files: read each element as a path first.
      batch_size: images per decoded batch.

    Returns:
      (uint8 [M, image_size, image_size, channels], int64 [M] indices into `encoded` of the images
      that decoded), M <= len(encoded), in input order.
    """
    count = len(encoded)
    out = np.empty((count, image_size, image_size, channels), np.uint8)
    if count == 0:
        return out, np.zeros((0,), np.int64)

    def load(index: tf.Tensor, value: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        data = tf.io.read_file(value) if from_files else value
        image = image_ops.preprocess_encoded_image(data, image_size, channels, max_pixels)
        return index, image_ops.from_model_range(image)

    dataset = (
        tf.data.Dataset.from_tensor_slices((tf.range(count, dtype=tf.int64), list(encoded)))
        .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        # A corrupt image ends the element, not the pass.
        .ignore_errors(log_warning=False)
        .batch(batch_size)
        .prefetch(2)
    )
    kept = []
    filled = 0
    for indices, images in dataset.as_numpy_iterator():
        out[filled : filled + len(indices)] = images
        filled += len(indices)
        kept.append(indices)
    indices = np.concatenate(kept) if kept else np.zeros((0,), np.int64)
    return out[:filled], indices


def split_files(split_uri: str) -> list[str]:
    """The TFRecord files of one split folder (`.../Split-train/`), sorted.

    Raises:
      FileNotFoundError: the folder is missing or holds no files.
    """
    if not tf.io.gfile.isdir(split_uri):
        raise FileNotFoundError(f"split folder {split_uri} does not exist")
    files = sorted(
        os.path.join(split_uri, name)
        for name in tf.io.gfile.listdir(split_uri)
        if not name.endswith("/") and not name.startswith(".")
    )
    if not files:
        raise FileNotFoundError(f"split folder {split_uri} holds no TFRecord files")
    return files


def read_examples(
    split_uri: str,
    image_size: int,
    channels: int,
    *,
    max_examples: int = 0,
    seed: int = 0,
    image_key: str = features.IMAGE_ENCODED,
    label_key: str = features.LABEL,
    label_text_key: str = features.LABEL_TEXT,
) -> LabelledImages:
    """Reads one split of the image ingest's gzipped `tf.Example` TFRecords.

    Args:
      split_uri: the split's folder (`<examples.uri>/Split-<name>`); `*.gz` files are read as
        GZIP, others uncompressed.
      image_size, channels: model input geometry.
      max_examples: keep a seeded random subset of this many examples (0 = all).
      seed: seed of that subset.
      image_key, label_key, label_text_key: feature names (defaults: tfx_dcgan.features).
        A missing label feature means unlabelled (-1).

    Returns:
      LabelledImages; class_names are rebuilt from label_text where present.
    """
    files = split_files(split_uri)
    spec = {
        image_key: tf.io.FixedLenFeature([], tf.string),
        label_key: tf.io.FixedLenFeature([], tf.int64, default_value=features.UNLABELLED),
        label_text_key: tf.io.FixedLenFeature([], tf.string, default_value=""),
    }
    encoded, labels, names = [], [], {}
    for path in files:
        compression = "GZIP" if path.endswith(".gz") else ""
        dataset = tf.data.TFRecordDataset(path, compression_type=compression).batch(1024)
        for records in dataset:
            parsed = tf.io.parse_example(records, spec)
            encoded.extend(parsed[image_key].numpy().tolist())
            batch_labels = parsed[label_key].numpy()
            labels.append(batch_labels)
            for label, text in zip(batch_labels, parsed[label_text_key].numpy()):
                if label >= 0 and text and int(label) not in names:
                    names[int(label)] = text.decode("utf-8", "replace")
    labels_array = np.concatenate(labels).astype(np.int64) if labels else np.zeros((0,), np.int64)
    if max_examples and len(encoded) > max_examples:
        chosen = np.sort(
            np.random.default_rng(seed).choice(len(encoded), max_examples, replace=False)
        )
        encoded = [encoded[i] for i in chosen]
        labels_array = labels_array[chosen]
    images, kept = decode_images(encoded, image_size, channels)
    skipped = len(encoded) - len(kept)
    if skipped:
        log.warning("%s: %d examples did not decode and were left out", split_uri, skipped)
    class_names = []
    if names:
        class_names = [names.get(i, str(i)) for i in range(max(names) + 1)]
    log.info("read %d examples from %s (%d files)", len(kept), split_uri, len(files))
    kept_encoded = np.empty(len(kept), dtype=object)
    kept_encoded[:] = [encoded[i] for i in kept]
    return LabelledImages(images, labels_array[kept], class_names, skipped, kept_encoded)


def read_image_folder(
    data_dir: str,
    image_size: int,
    channels: int,
    *,
    max_examples: int = 0,
    seed: int = 0,
    max_pixels: int = config_lib.DEFAULT_MAX_IMAGE_PIXELS,
) -> LabelledImages:
    """Reads a folder of images (class sub-folders give labels; flat means unlabelled).

    Args:
      data_dir: the folder (see `input_pipeline.list_image_files`).
      image_size, channels: model input geometry.
      max_examples: keep a seeded random subset of this many images (0 = all).
      seed: seed of that subset.
      max_pixels: images whose header declares more pixels are skipped undecoded (counted in
        `skipped`; `input_pipeline.oversized_files`).

    Returns:
      LabelledImages with class_names the sorted sub-folder names.
    """
    paths, labels, class_names = input_pipeline.list_image_files(data_dir)
    labels_array = np.asarray(labels, np.int64)
    if max_examples and len(paths) > max_examples:
        chosen = np.sort(
            np.random.default_rng(seed).choice(len(paths), max_examples, replace=False)
        )
        paths = [paths[i] for i in chosen]
        labels_array = labels_array[chosen]
    oversized = input_pipeline.oversized_files(paths, max_pixels)
    for path, reason in list(oversized.items())[:10]:
        log.warning("%s skipped: %s", path, reason)
    if oversized:
        keep = [i for i, path in enumerate(paths) if path not in oversized]
        paths, labels_array = [paths[i] for i in keep], labels_array[keep]
    images, kept = decode_images(
        paths, image_size, channels, from_files=True, max_pixels=max_pixels
    )
    skipped = len(paths) - len(kept) + len(oversized)
    if skipped:
        log.warning("%s: %d files did not decode and were left out", data_dir, skipped)
    log.info("read %d images in %d classes from %s", len(kept), len(class_names), data_dir)
    return LabelledImages(images, labels_array[kept], list(class_names), skipped)


def hold_out(
    data: LabelledImages, fraction: float, seed: int = 0
) -> tuple[LabelledImages, LabelledImages]:
    """Splits labelled data into (train, test) with `fraction` of each class in test (seeded)."""
    train_idx, test_idx = stratified_split(data.labels, fraction, seed)
    return data.subset(train_idx), data.subset(test_idx)


def read_model_config(model_dir: str) -> tuple[config_lib.ExperimentConfig, int]:
    """Reads `<model_dir>/model_config.json` as (ExperimentConfig, step).

    Raises:
      ValueError: the file is not a tfx-dcgan model config (naming the file).
    """
    values, step = artifact.read_model_config(model_dir)
    try:
        experiment = config_lib.ExperimentConfig.from_dict(values)
        experiment.model.validate()
    except (config_lib.ConfigError, TypeError) as error:
        raise ValueError(
            f"{artifact.paths(model_dir).model_config}: not a tfx-dcgan model config: {error}"
        ) from error
    return experiment, step


def load_trainer_discriminator(
    model_uri: str,
) -> tuple[tf.keras.Model, config_lib.ExperimentConfig, int, str]:
    """Loads D from a Trainer model artifact (or a serving model dir).

    Returns:
      (discriminator, experiment config, training step (-1 if unknown), serving model dir).

    Raises:
      FileNotFoundError: the layout is not the Trainer's (the message names the missing path).
    """
    model_dir = artifact.find_serving_model_dir(model_uri)
    experiment, step = read_model_config(model_dir)
    keras_dir = artifact.paths(model_dir).keras_discriminator
    if not tf.io.gfile.exists(keras_dir):
        raise FileNotFoundError(f"{keras_dir} not found: the Trainer should export D there")
    discriminator = load_keras_discriminator(keras_dir)
    return discriminator, experiment, step, model_dir


def load_keras_discriminator(keras_dir: str) -> tf.keras.Model:
    """Loads a Keras SavedModel of D (as saved from `models.build_discriminator`'s model).

    Raises:
      ValueError: the loaded model lacks D's layers (`d_lrelu*`) that the probe reads.
    """
    discriminator = tf.keras.models.load_model(keras_dir, compile=False)
    models.discriminator_conv_activation_names(discriminator)
    return discriminator
