"""Beam tests of ImageExampleGen's worker functions (TestPipeline + assert_that, no TFX)."""

import io
import os

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfx_dcgan import features, ingest
from tfx_dcgan.components.image_example_gen import transforms

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
                results.examples | beam.Map(labels_and_paths),
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
        image = ingest.validate_image(_png(0), 3)
        records = [
            ingest.make_example(
                image, label=0, label_text="", relative_path=f"{i}.png"
            ).SerializeToString()
            for i in range(400)
        ]
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


if __name__ == "__main__":
    tf.test.main()
