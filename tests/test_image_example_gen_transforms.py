"""Beam tests of ImageExampleGen's worker functions (TestPipeline + assert_that, no TFX)."""

import io
import os

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfx_dcgan import features
from tfx_dcgan.ingest import images as ingest
from tfx_dcgan.ingest import transforms

import apache_beam as beam
import numpy as np
import tensorflow as tf
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from PIL import Image


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def _unlabelled_records(count: int) -> list[bytes]:
    """Serialized examples of one image under the paths 0.png, 1.png, ..."""
    image = ingest.validate_image(_png(0), 3)
    return [
        ingest.make_example(
            image, label=0, label_text="", relative_path=f"{i}.png"
        ).SerializeToString()
        for i in range(count)
    ]


class IngestDoFnTest(tf.test.TestCase):
    def test_chunks_become_examples_and_skips(self):
        base = self.get_temp_dir()
        entries = []
        for name, data in (("cat/a.png", _png(0)), ("dog/b.png", _png(1)), ("dog/c.png", b"")):
            path = os.path.join(base, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(data)
            entries.append((path, name, name.split("/")[0]))
        chunks = [entries[:2], entries[2:]]

        def labels_and_paths(record):
            feature = tf.train.Example.FromString(record).features.feature
            return (
                feature[features.LABEL].int64_list.value[0],
                feature[features.IMAGE_PATH].bytes_list.value[0].decode(),
            )

        with TestPipeline() as pipeline:
            results = (
                pipeline
                | beam.Create(chunks)
                | beam.ParDo(transforms.IngestDoFn({"cat": 0, "dog": 1}, 3)).with_outputs(
                    transforms.IngestDoFn.SKIPPED, main="examples"
                )
            )
            assert_that(
                results.examples | "Chunks" >> beam.Map(len),
                equal_to([2]),  # The chunk of only a skipped file yields no empty chunk.
                label="ChunkSizes",
            )
            assert_that(
                results.examples | beam.FlatMap(lambda chunk: chunk) | beam.Map(labels_and_paths),
                equal_to([(0, "cat/a.png"), (1, "dog/b.png")]),
                label="Examples",
            )
            assert_that(
                results[transforms.IngestDoFn.SKIPPED],
                equal_to([("dog/c.png", ingest.EMPTY_FILE, "zero bytes")]),
                label="Skipped",
            )
        counters = {
            c.key.metric.name: c.committed
            for c in pipeline.result.metrics().query()["counters"]
            if c.key.metric.namespace == transforms.METRICS_NAMESPACE
        }
        self.assertEqual(counters[transforms.IMAGES_COUNTER], 2)
        self.assertEqual(counters[transforms.skipped_counter_name(ingest.EMPTY_FILE)], 1)

    def test_partition_is_a_deterministic_function_of_the_path(self):
        records = _unlabelled_records(400)
        buckets = [9, 10]
        splits = [
            transforms.partition_by_feature(r, 2, buckets, features.IMAGE_PATH) for r in records
        ]
        self.assertEqual(
            splits,
            [transforms.partition_by_feature(r, 2, buckets, features.IMAGE_PATH) for r in records],
        )
        self.assertBetween(splits.count(1), 20, 60)  # About one in ten in 'eval'.
        # Same path, different pixels: same split (the hash ignores the image bytes).
        other = ingest.make_example(
            ingest.validate_image(_png(5), 3), label=3, label_text="x", relative_path="0.png"
        ).SerializeToString()
        self.assertEqual(
            transforms.partition_by_feature(other, 2, buckets, features.IMAGE_PATH), splits[0]
        )

    def test_chunk_partition_equals_the_per_record_rule(self):
        records = _unlabelled_records(300)
        buckets = [9, 10]
        parts = transforms.partition_chunk(records, buckets, features.IMAGE_PATH)
        expected = [[], []]
        for record in records:
            expected[
                transforms.partition_by_feature(record, 2, buckets, features.IMAGE_PATH)
            ].append(record)
        self.assertEqual(parts, expected)
        self.assertNotEmpty(parts[1])

    def test_chunk_writer_writes_what_beams_tfrecord_writer_writes(self):
        records = [f"record {i} ".encode() * (i % 7 + 1) for i in range(1000)]
        chunks = [records[i : i + 128] for i in range(0, len(records), 128)]
        beam_dir = os.path.join(self.get_temp_dir(), "beam")
        chunk_dir = os.path.join(self.get_temp_dir(), "chunks")
        with TestPipeline() as pipeline:
            _ = pipeline | "Records" >> beam.Create(records) | transforms.WriteTFRecords(beam_dir)
            _ = (
                pipeline
                | "Chunks" >> beam.Create(chunks)
                | transforms.WriteTFRecordChunks(chunk_dir)
            )

        def read(folder):
            names = sorted(os.listdir(folder))
            self.assertTrue(names)
            for name in names:  # TFX's ExampleGen naming: data_tfrecord-SSSSS-of-NNNNN.gz
                self.assertRegex(name, r"^data_tfrecord-\d{5}-of-\d{5}\.gz$")
            paths = [os.path.join(folder, name) for name in names]
            dataset = tf.data.TFRecordDataset(paths, compression_type="GZIP")
            return sorted(record.numpy() for record in dataset)

        self.assertEqual(read(chunk_dir), sorted(records))
        self.assertEqual(read(chunk_dir), read(beam_dir))


if __name__ == "__main__":
    tf.test.main()
