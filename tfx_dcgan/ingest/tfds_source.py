"""TensorFlow Datasets source: a data set prepared in a local `data_dir` -> raw image `tf.Example`s.

Plain functions and one Beam DoFn, with no TFX import (Beam workers unpickle the DoFn by importing
this module); `tfx_dcgan.components.tfds_example_gen` runs them in a Beam pipeline.

Each element's image (a uint8 tensor `[height, width, channels]`, as TFDS decodes it) is encoded
to PNG with `tf.io.encode_png` (lossless) and goes through `ingest.validate_images`, the same
check the image-folder ingest makes, then `ingest.make_example`, so the examples carry exactly the
feature names and types of `tfx_dcgan.features`:

    image/encoded   PNG bytes            image/format  b"png"
    image/height, image/width, image/channels (the element's own channel count, 1-4)
    label           the ClassLabel index (features.UNLABELLED when no label feature)
    label/text      the ClassLabel name ("" for an integer label without names)
    image/path      b"tfds://<name>/<tfds split>/<index in that split>"

Nothing is downloaded: the data set must already be prepared in `data_dir`
(`tfds.builder(name, data_dir=...).download_and_prepare()` run where there is network, or
`tfds.dataset_builders.store_as_tfds_dataset` / `TfDataBuilder` for your own data), otherwise
`load_source` raises TfdsNotPreparedError naming the data set and the folder.

Parallelism: the TFDS splits are cut into index ranges (`plan_chunks`), aligned to the TFDS shard
files, and each Beam element reads one range with `builder.as_dataset(split='train[a:b]')`, so the
work spreads over workers like the image ingest's file chunks.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from tfx_dcgan import features, progress
from tfx_dcgan.ingest import images as ingest
from tfx_dcgan.ingest import transforms
from tfx_dcgan.ingest.tfds_splits import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_SPLIT_MAPPING,
    Chunk,
    parse_split_mapping,
    plan_chunks,
)

import apache_beam as beam
import tensorflow as tf
from absl import logging
from apache_beam.metrics.metric import Metrics

__all__ = [
    "DEFAULT_SPLIT_MAPPING",
    "DEFAULT_CHUNK_SIZE",
    "METRICS_NAMESPACE",
    "IMAGES_COUNTER",
    "CONVERTED_COUNTER",
    "TfdsNotPreparedError",
    "TfdsSource",
    "Chunk",
    "image_path",
    "load_source",
    "parse_split_mapping",
    "plan_chunks",
    "output_split_index",
    "TfdsToExampleDoFn",
]


METRICS_NAMESPACE = "TfdsExampleGen"
IMAGES_COUNTER = transforms.IMAGES_COUNTER
CONVERTED_COUNTER = transforms.CONVERTED_COUNTER


class TfdsNotPreparedError(FileNotFoundError):
    """The TFDS data set is not prepared in the given data_dir (nothing downloads at run time)."""


@dataclasses.dataclass(frozen=True)
class TfdsSource:
    """A prepared TFDS data set and the features to read from it.

    Attributes:
      name: the data set as given ('name', 'name/config', 'name:1.0.0', 'name/config:1.0.0').
      data_dir: the TFDS data_dir.
      builder_dir: the prepared variant folder, `<data_dir>/<name>[/<config>]/<version>`.
      image_key: top-level feature holding the image (uint8, rank 2 or 3).
      label_key: top-level integer feature holding the label, "" for none.
      label_names: the ClassLabel names (label i is label_names[i]); () without names.
      split_sizes: TFDS split name -> number of elements.
      shard_lengths: TFDS split name -> elements per shard file, in order.
    """

    name: str
    data_dir: str
    builder_dir: str
    image_key: str
    label_key: str
    label_names: tuple[str, ...]
    split_sizes: dict[str, int]
    shard_lengths: dict[str, tuple[int, ...]]

    @property
    def dataset_name(self) -> str:
        """The bare data set name (no config or version), used in image/path."""
        return self.name.split(":")[0].split("/")[0]


def image_path(dataset_name: str, tfds_split: str, index: int) -> str:
    """The image/path of element `index` of a TFDS split: 'tfds://name/split/index'."""
    return f"tfds://{dataset_name}/{tfds_split}/{index}"


def _dtype_of(feature) -> tf.dtypes.DType | None:
    dtype = getattr(feature, "np_dtype", None)
    if dtype is None:
        dtype = getattr(feature, "dtype", None)
    try:
        return tf.as_dtype(dtype)
    except TypeError:
        return None


def _prepared_builder(name: str, data_dir: str) -> Any:
    """The TFDS builder of a data set prepared in `data_dir` (TfdsNotPreparedError otherwise)."""
    import tensorflow_datasets as tfds  # ~7 s; only the TFDS paths pay it.

    if not name:
        raise ValueError("TFDS source: the data set name is empty")
    if not tf.io.gfile.isdir(data_dir):
        raise TfdsNotPreparedError(
            f"TFDS data set {name!r}: data_dir {data_dir!r} is not a folder (nothing is "
            "downloaded at run time; prepare the data set there first)"
        )
    hint = (
        "Nothing is downloaded at run time: prepare it first where there is network, e.g. "
        f"tfds.builder({name!r}, data_dir={data_dir!r}).download_and_prepare(), and copy the "
        "folder here (or write your own with tfds.dataset_builders.store_as_tfds_dataset)."
    )
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise TfdsNotPreparedError(
            f"TFDS data set {name!r} is not prepared in data_dir {data_dir!r} (no prepared folder "
            f"and no registered builder of that name). {hint}"
        ) from None
    if not builder.is_prepared():
        raise TfdsNotPreparedError(
            f"TFDS data set {name!r} is not prepared in data_dir {data_dir!r} (expected "
            f"{os.path.join(str(builder.data_dir), 'dataset_info.json')}). {hint}"
        )
    return builder


def _check_image_feature(name: str, top_level: dict[str, Any], image_key: str) -> None:
    if image_key not in top_level:
        raise ValueError(
            f"TFDS data set {name!r} has no image feature {image_key!r}; its features: "
            f"{sorted(top_level)} (set the image feature key)"
        )
    image_feature = top_level[image_key]
    shape = tuple(image_feature.shape)
    if _dtype_of(image_feature) != tf.uint8 or len(shape) not in (2, 3):
        raise ValueError(
            f"TFDS data set {name!r}: feature {image_key!r} must be a uint8 image [height, width"
            f"(, channels)], got {type(image_feature).__name__} shape {shape} dtype "
            f"{_dtype_of(image_feature)}"
        )
    if len(shape) == 3 and shape[2] not in (None, 1, 2, 3, 4):
        raise ValueError(
            f"TFDS data set {name!r}: feature {image_key!r} has {shape[2]} channels, expected 1-4"
        )


def _label_names(name: str, top_level: dict[str, Any], label_key: str) -> tuple[str, ...]:
    """The ClassLabel names of the label feature, () without names or without a label."""
    import tensorflow_datasets as tfds

    if not label_key:
        return ()
    if label_key not in top_level:
        raise ValueError(
            f"TFDS data set {name!r} has no label feature {label_key!r}; its features: "
            f"{sorted(top_level)} (set the label feature key, or '' for unlabelled)"
        )
    label_feature = top_level[label_key]
    dtype = _dtype_of(label_feature)
    if dtype is None or not dtype.is_integer or tuple(label_feature.shape) != ():
        raise ValueError(
            f"TFDS data set {name!r}: label feature {label_key!r} must be a scalar integer "
            f"(e.g. ClassLabel), got {type(label_feature).__name__} shape "
            f"{tuple(label_feature.shape)} dtype {dtype}"
        )
    if isinstance(label_feature, tfds.features.ClassLabel):
        return tuple(label_feature.names)
    return ()


def load_source(name: str, data_dir: str, image_key: str = "image", label_key: str = "label"):
    """Opens a prepared TFDS data set and checks its image and label features.

    Args:
      name: 'name', 'name/config', 'name:version' or 'name/config:version'.
      data_dir: the TFDS data_dir the data set was prepared in (local or any tf.io.gfile path).
      image_key: top-level feature holding a uint8 image `[height, width(, channels)]`,
        channels 1-4.
      label_key: top-level integer feature (a ClassLabel gives the label texts); "" for none.

    Returns:
      A TfdsSource.

    Raises:
      TfdsNotPreparedError: `data_dir` does not exist, or the data set is not prepared in it.
      ValueError: the image or label feature is missing or of the wrong type.
    """
    builder = _prepared_builder(name, data_dir)
    info = builder.info
    top_level = dict(info.features.items()) if hasattr(info.features, "items") else {}
    _check_image_feature(name, top_level, image_key)
    label_names = _label_names(name, top_level, label_key)
    return TfdsSource(
        name=name,
        data_dir=data_dir,
        builder_dir=str(builder.data_dir),
        image_key=image_key,
        label_key=label_key,
        label_names=label_names,
        split_sizes={split: info.splits[split].num_examples for split in info.splits},
        shard_lengths={split: tuple(info.splits[split].shard_lengths) for split in info.splits},
    )


def output_split_index(element: tuple[str, bytes], num_partitions: int, names: list[str]) -> int:
    """beam.Partition function: the index of an (output_split, example) pair's split in `names`.

    It lives here, not in the executor, so that workers never import TFX to unpickle it.
    """
    del num_partitions
    return names.index(element[0])


class TfdsToExampleDoFn(beam.DoFn):
    """Chunks -> (output_split, serialized tf.Example); skipped elements go to SKIPPED.

    Workers open the prepared folder with `tfds.builder_from_directory`, so they need neither the
    data set's builder code nor TFX. SKIPPED items are (image/path, reason, detail).
    """

    SKIPPED = "skipped"

    def __init__(self, source: TfdsSource, channels: int, progress_id: str = ""):
        """Args:
        source: the prepared data set.
        channels: 1 or 3.
        progress_id: a `tfx_dcgan.progress` bar each finished chunk advances ("" = none).
        """
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self._source = source
        self._channels = channels
        self._progress_id = progress_id
        self._builder = None
        self._images = Metrics.counter(METRICS_NAMESPACE, IMAGES_COUNTER)
        self._converted = Metrics.counter(METRICS_NAMESPACE, CONVERTED_COUNTER)
        self._skipped = {
            reason: Metrics.counter(METRICS_NAMESPACE, transforms.skipped_counter_name(reason))
            for reason in ingest.SKIP_REASONS
        }

    def setup(self):
        import tensorflow_datasets as tfds

        self._builder = tfds.builder_from_directory(self._source.builder_dir)

    def _read(self, chunk: Chunk) -> tuple[list[bytes], list[int]]:
        image_key, label_key = self._source.image_key, self._source.label_key

        def encode(element):
            image = element[image_key]
            if image.shape.rank == 2:
                image = image[..., tf.newaxis]
            label = element[label_key] if label_key else tf.constant(features.UNLABELLED)
            return tf.io.encode_png(image), tf.cast(label, tf.int64)

        dataset = self._builder.as_dataset(
            split=f"{chunk.tfds_split}[{chunk.start}:{chunk.end}]", shuffle_files=False
        ).map(encode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        pngs, labels = [], []
        for png, label in dataset.as_numpy_iterator():
            pngs.append(png)
            labels.append(int(label))
        if len(pngs) != chunk.end - chunk.start:
            raise RuntimeError(
                f"TFDS data set {self._source.name!r}: {chunk.tfds_split}[{chunk.start}:"
                f"{chunk.end}] gave {len(pngs)} elements"
            )
        return pngs, labels

    def process(self, chunk: Chunk):
        pngs, labels = self._read(chunk)
        names = self._source.label_names
        images = converted = 0
        for offset, (outcome, label) in enumerate(
            zip(ingest.validate_images(pngs, self._channels), labels)
        ):
            path = image_path(self._source.dataset_name, chunk.tfds_split, chunk.start + offset)
            if isinstance(outcome, ingest.ImageSkipped):
                self._skipped[outcome.reason].inc()
                yield beam.pvalue.TaggedOutput(
                    self.SKIPPED, (path, outcome.reason, outcome.detail[:300])
                )
                continue
            if label == features.UNLABELLED:
                label_text = ""
            elif names and 0 <= label < len(names):
                label_text = names[label]
            else:
                label_text = ""
                if names:
                    logging.warning("%s: label %d has no ClassLabel name", path, label)
            example = ingest.make_example(
                outcome, label=label, label_text=label_text, relative_path=path
            )
            images += 1
            converted += int(outcome.converted)
            yield chunk.output_split, example.SerializeToString()
        self._images.inc(images)
        self._converted.inc(converted)
        if self._progress_id:
            progress.attach(self._progress_id).advance(1, images=images, skipped=len(pngs) - images)
