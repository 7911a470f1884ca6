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

from tfx_dcgan import progress
from tfx_dcgan.ingest import images as ingest
from tfx_dcgan.ingest import lister

import apache_beam as beam
import tensorflow as tf
from apache_beam.io import filebasedsink
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics.metric import Metrics

__all__ = [
    "METRICS_NAMESPACE",
    "IMAGES_COUNTER",
    "CONVERTED_COUNTER",
    "skipped_counter_name",
    "write_manifest",
    "ManifestChunks",
    "IngestDoFn",
    "write_skip_sample",
    "partition_by_feature",
    "partition_chunk",
    "PartitionChunks",
    "WriteTFRecords",
    "WriteTFRecordChunks",
]

METRICS_NAMESPACE = "ImageExampleGen"
IMAGES_COUNTER = "images"
CONVERTED_COUNTER = "converted"


def skipped_counter_name(reason: str) -> str:
    return f"skipped_{reason}"


def write_manifest(entries: list[tuple[str, str, str]], path: str) -> None:
    """Writes the (path, relative_path, label_text) list one split ingests, as JSON."""
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(entries))


class ManifestChunks(beam.DoFn):
    """Chunk index i -> entries [i * chunk_size, (i + 1) * chunk_size) of a manifest file.

    The file list reaches the workers as a file, not inside the pipeline: `beam.Create` pickles
    and bz2-compresses its values into the pipeline definition, about 1.3 s per 20,000 files on
    this project's 2-core machines. Each worker reads the manifest once (on first use).
    """

    def __init__(self, manifest_path: str, chunk_size: int):
        self._manifest_path = manifest_path
        self._chunk_size = chunk_size
        self._entries: list | None = None

    def process(self, index: int):
        if self._entries is None:
            with tf.io.gfile.GFile(self._manifest_path) as handle:
                self._entries = json.load(handle)  # [path, relative_path, label_text] lists.
        chunk = self._entries[index * self._chunk_size : (index + 1) * self._chunk_size]
        if chunk:
            yield chunk


class IngestDoFn(beam.DoFn):
    """Chunks (lists) of (path, relative_path, label_text) -> chunks (lists) of serialized tf.Examples.

    Elements stay chunks on the way out too: Beam's per-element cost (about 30 us in the Python
    DirectRunner) would otherwise be paid per image, as much as decoding a CIFAR-10 JPEG. A chunk
    whose files are all skipped yields nothing on the main output. Skipped files go to the SKIPPED
    output as (relative_path, reason, detail); every outcome increments a Beam counter. A chunk is
    decoded by one TensorFlow call when all its images are good (see ingest.validate_images).
    """

    SKIPPED = "skipped"

    def __init__(
        self,
        label_ids: dict[str, int],
        channels: int,
        max_pixels: int = ingest.DEFAULT_MAX_PIXELS,
        progress_id: str = "",
    ):
        """Args:
        label_ids: label text -> label id.
        channels: 1 or 3.
        max_pixels: the decompression-bomb cap (0 = off).
        progress_id: a `tfx_dcgan.progress` bar that each finished chunk advances ("" = none);
          Beam's workers expose no live counters, so the chunks report themselves.
        """
        self._label_ids = label_ids
        self._channels = channels
        self._max_pixels = max_pixels
        self._progress_id = progress_id
        self._images = Metrics.counter(METRICS_NAMESPACE, IMAGES_COUNTER)
        self._converted = Metrics.counter(METRICS_NAMESPACE, CONVERTED_COUNTER)
        self._skipped = {
            reason: Metrics.counter(METRICS_NAMESPACE, skipped_counter_name(reason))
            for reason in ingest.SKIP_REASONS
        }

    def process(self, batch):
        image_files = [lister.ImageFile(*element) for element in batch]
        records = []
        converted = 0
        for image_file, result in zip(
            image_files,
            ingest.ingest_files(image_files, self._label_ids, self._channels, self._max_pixels),
        ):
            if result.example is None:
                self._skipped[result.skip_reason].inc()
                yield beam.pvalue.TaggedOutput(
                    self.SKIPPED,
                    (image_file.relative_path, result.skip_reason, result.detail[:300]),
                )
                continue
            converted += int(result.converted)
            records.append(result.example.SerializeToString())
        self._images.inc(len(records))
        self._converted.inc(converted)
        if self._progress_id:
            progress.attach(self._progress_id).advance(
                1, images=len(records), skipped=len(image_files) - len(records)
            )
        if records:
            yield records


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


def partition_chunk(chunk: list[bytes], buckets: list[int], feature_name: str) -> list[list[bytes]]:
    """Splits a chunk of serialized examples by `partition_by_feature`: one list per bucket."""
    parts: list[list[bytes]] = [[] for _ in buckets]
    for record in chunk:
        parts[partition_by_feature(record, len(buckets), buckets, feature_name)].append(record)
    return parts


class PartitionChunks(beam.DoFn):
    """Chunks of serialized examples -> a sub-chunk on output tag str(i) for each split i.

    The same rule as `partition_by_feature` on each record, without a Beam element per record.
    """

    def __init__(self, buckets: list[int], feature_name: str):
        self._buckets = list(buckets)
        self._feature_name = feature_name

    def process(self, chunk):
        for index, part in enumerate(partition_chunk(chunk, self._buckets, self._feature_name)):
            if part:
                yield beam.pvalue.TaggedOutput(str(index), part)


@beam.ptransform_fn
def WriteTFRecords(records: beam.pvalue.PCollection, split_uri: str):  # noqa: N802 - Beam style.
    """Writes serialized examples as gzipped TFRecords named like TFX's ExampleGen output.

    No shuffle here (TFX's WriteSplit has one): the ingest already reshuffles the file list.
    """
    return records | "Write" >> beam.io.WriteToTFRecord(
        os.path.join(split_uri, "data_tfrecord"), file_name_suffix=".gz"
    )


class _TFRecordChunkSink(filebasedsink.FileBasedSink):
    """A Beam file sink whose elements are lists of records, written with TensorFlow's writer.

    Beam's own TFRecord sink frames, checksums and gzips each record in Python (its CRC32C falls
    back to crcmod without python-snappy); `tf.io.TFRecordWriter` does all three in C++. Beam's
    FileBasedSink still owns the temporary files, the shard naming and the final rename, so a
    retried bundle never leaves a partial shard behind.
    """

    def __init__(self, file_path_prefix: str):
        super().__init__(
            file_path_prefix,
            coder=None,
            file_name_suffix=".gz",
            num_shards=0,
            shard_name_template=None,
            mime_type="application/octet-stream",
            compression_type=CompressionTypes.UNCOMPRESSED,
        )

    def open(self, temp_path):
        return tf.io.TFRecordWriter(temp_path, tf.io.TFRecordOptions(compression_type="GZIP"))

    def write_record(self, file_handle, value):
        for record in value:
            file_handle.write(record)

    def close(self, file_handle):
        file_handle.close()


@beam.ptransform_fn
def WriteTFRecordChunks(chunks: beam.pvalue.PCollection, split_uri: str):  # noqa: N802
    """`WriteTFRecords` for a PCollection of lists of serialized examples (same files, same names)."""
    return chunks | "Write" >> beam.io.Write(
        _TFRecordChunkSink(os.path.join(split_uri, "data_tfrecord"))
    )
