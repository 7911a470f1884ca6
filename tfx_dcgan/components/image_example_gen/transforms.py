"""The Beam functions ImageExampleGen's workers run.

They live apart from executor.py on purpose: Beam workers unpickle a DoFn by importing its module,
and executor.py imports TFX (about 35 s per worker process on this project's 2-core machines),
while this module needs only Beam, TensorFlow and Pillow. The hash partition reproduces TFX's
`_PartitionFn` (sha256 of the partition feature, then bucket ranges) for the same reason.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os

from tfx_dcgan import ingest

import apache_beam as beam
import tensorflow as tf
from apache_beam.metrics.metric import Metrics

__all__ = [
    "METRICS_NAMESPACE",
    "IMAGES_COUNTER",
    "CONVERTED_COUNTER",
    "skipped_counter_name",
    "IngestDoFn",
    "write_skip_sample",
    "partition_by_feature",
    "WriteTFRecords",
]

METRICS_NAMESPACE = "ImageExampleGen"
IMAGES_COUNTER = "images"
CONVERTED_COUNTER = "converted"


def skipped_counter_name(reason: str) -> str:
    return f"skipped_{reason}"


class IngestDoFn(beam.DoFn):
    """Chunks (lists) of (path, relative_path, label_text) -> serialized tf.Examples.

    Skipped files go to the SKIPPED output as (relative_path, reason, detail); every outcome
    increments a Beam counter. A chunk is decoded by one TensorFlow call when all its images are
    good (see ingest.validate_images).
    """

    SKIPPED = "skipped"

    def __init__(self, label_ids: dict[str, int], channels: int):
        self._label_ids = label_ids
        self._channels = channels
        self._images = Metrics.counter(METRICS_NAMESPACE, IMAGES_COUNTER)
        self._converted = Metrics.counter(METRICS_NAMESPACE, CONVERTED_COUNTER)
        self._skipped = {
            reason: Metrics.counter(METRICS_NAMESPACE, skipped_counter_name(reason))
            for reason in ingest.SKIP_REASONS
        }

    def process(self, batch):
        image_files = [ingest.ImageFile(*element) for element in batch]
        images = converted = 0
        for image_file, result in zip(
            image_files, ingest.ingest_files(image_files, self._label_ids, self._channels)
        ):
            if result.example is None:
                self._skipped[result.skip_reason].inc()
                yield beam.pvalue.TaggedOutput(
                    self.SKIPPED,
                    (image_file.relative_path, result.skip_reason, result.detail[:300]),
                )
                continue
            images += 1
            converted += int(result.converted)
            yield result.example.SerializeToString()
        self._images.inc(images)
        self._converted.inc(converted)


def write_skip_sample(sample: list, path: str) -> None:
    """Writes a list of (relative_path, reason, detail) as JSON."""
    with tf.io.gfile.GFile(path, "w") as handle:
        json.dump([list(entry) for entry in sample], handle)


def partition_by_feature(
    record: bytes, num_partitions: int, buckets: list[int], feature_name: str
) -> int:
    """Split index of an example: sha256 of one feature, then cumulative bucket ranges.

    Args:
      record: a serialized tf.Example.
      num_partitions: len(buckets) (Beam's Partition passes it).
      buckets: cumulative hash buckets, e.g. [9, 10] for train:eval = 9:1.
      feature_name: feature hashed; "" hashes the whole serialized example.
    """
    assert num_partitions == len(buckets), "partitions do not match the bucket list"
    example = tf.train.Example.FromString(record)
    if feature_name:
        key = example.features.feature[feature_name].SerializeToString(deterministic=True)
    else:
        key = example.SerializeToString(deterministic=True)
    bucket = int(hashlib.sha256(key).hexdigest(), 16) % buckets[-1]
    return bisect.bisect(buckets, bucket)


@beam.ptransform_fn
def WriteTFRecords(records: beam.pvalue.PCollection, split_uri: str):  # noqa: N802 - Beam style.
    """Writes serialized examples as gzipped TFRecords named like TFX's ExampleGen output.

    No shuffle here (TFX's WriteSplit has one): the ingest already reshuffles the file list.
    """
    return records | "Write" >> beam.io.WriteToTFRecord(
        os.path.join(split_uri, "data_tfrecord"), file_name_suffix=".gz"
    )
