"""Tests of the Transform preprocessing_fn, run by tf.Transform's Beam implementation in-process."""

import io
import os

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfx_dcgan import features, image_ops
from tfx_dcgan.components import preprocessing

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from PIL import Image
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import schema_utils
from tfx.utils import io_utils

SCHEMA_PATH = os.path.join(os.path.dirname(tfx_dcgan.__file__), "schema", "schema.pbtxt")


def _encode(array: np.ndarray, fmt: str, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


def _raw_examples() -> list[dict]:
    rng = np.random.default_rng(0)
    shapes_formats = [
        ((40, 24), "JPEG", "RGB"),
        ((16, 16), "PNG", "RGBA"),
        ((9, 30), "PNG", "L"),
        ((50, 50), "BMP", "RGB"),
        ((20, 20), "GIF", "RGB"),
    ]
    rows = []
    for i, ((height, width), fmt, mode) in enumerate(shapes_formats):
        data = _encode(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), fmt, mode)
        rows.append(
            {
                features.IMAGE_ENCODED: [data],
                features.IMAGE_FORMAT: [fmt.lower().encode()],
                features.IMAGE_HEIGHT: [height],
                features.IMAGE_WIDTH: [width],
                features.IMAGE_CHANNELS: [3],
                features.LABEL: [i % 2],
                features.LABEL_TEXT: [b"x"],
                features.IMAGE_PATH: [f"{i}.img".encode()],
            }
        )
    return rows


class PreprocessingTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        schema = io_utils.parse_pbtxt_file(SCHEMA_PATH, schema_pb2.Schema())
        cls.metadata = tft.DatasetMetadata(schema)
        cls.rows = _raw_examples()
        cls.output_dir = os.path.join(tf.compat.v1.test.get_temp_dir(), "transform_fn")
        cls.size, cls.channels = 8, 3
        custom_config = preprocessing.make_custom_config(cls.size, cls.channels)

        def fn(inputs):
            return preprocessing.preprocessing_fn(inputs, custom_config)

        with tft_beam.Context(
            temp_dir=os.path.join(cls.output_dir, "tmp"), force_tf_compat_v1=False
        ):
            (transformed, _), transform_fn = (
                cls.rows,
                cls.metadata,
            ) | tft_beam.AnalyzeAndTransformDataset(fn, output_record_batches=False)
            _ = transform_fn | tft_beam.WriteTransformFn(cls.output_dir)
        cls.transformed = transformed

    def _expected(self, encoded: bytes, channels: int, size: int) -> np.ndarray:
        return image_ops.preprocess_encoded_image(tf.constant(encoded), size, channels).numpy()

    def test_schema_gives_dense_raw_features(self):
        spec = schema_utils.schema_as_feature_spec(self.metadata.schema).feature_spec
        self.assertEqual(spec[features.IMAGE_ENCODED], tf.io.FixedLenFeature([1], tf.string))
        self.assertEqual(spec[features.LABEL], tf.io.FixedLenFeature([1], tf.int64))

    def test_transformed_pixels_equal_image_ops_preprocessing(self):
        self.assertLen(self.transformed, len(self.rows))
        for row, out in zip(self.rows, self.transformed):
            image_bytes = out[features.TRANSFORMED_IMAGE]
            self.assertLen(image_bytes, self.size * self.size * self.channels)
            images = preprocessing.decode_transformed_images(
                tf.constant([image_bytes]), self.size, self.channels
            ).numpy()
            expected = self._expected(row[features.IMAGE_ENCODED][0], self.channels, self.size)
            self.assertAllEqual(images[0], expected)  # Bit-exact: same ops, same uint8 quantiser.
            self.assertBetween(images.min(), -1.0, 1.0)
            self.assertBetween(images.max(), -1.0, 1.0)
            self.assertEqual(out[features.TRANSFORMED_LABEL], row[features.LABEL][0])

    def test_saved_transform_graph_serves_image_bytes_alone(self):
        # The exported feature extractor feeds only the encoded bytes through the saved graph.
        output = tft.TFTransformOutput(self.output_dir)
        layer = output.transform_features_layer()
        encoded = [row[features.IMAGE_ENCODED][0] for row in self.rows]
        result = layer({features.IMAGE_ENCODED: tf.constant(encoded)[:, None]})
        images = preprocessing.decode_transformed_images(
            result[features.TRANSFORMED_IMAGE], self.size, self.channels
        ).numpy()
        for image, data in zip(images, encoded):
            self.assertAllEqual(image, self._expected(data, self.channels, self.size))
        spec = output.transformed_feature_spec()
        self.assertEqual(spec[features.TRANSFORMED_IMAGE], tf.io.FixedLenFeature([], tf.string))

    def test_grayscale_geometry_in_a_tf_function(self):
        encoded = tf.constant([[row[features.IMAGE_ENCODED][0]] for row in self.rows[:3]])
        fn = tf.function(
            lambda x: preprocessing.preprocessing_fn(
                {features.IMAGE_ENCODED: x}, preprocessing.make_custom_config(16, 1)
            )
        )
        out = fn(encoded)
        self.assertNotIn(features.TRANSFORMED_LABEL, out)
        images = preprocessing.decode_transformed_images(out[features.TRANSFORMED_IMAGE], 16, 1)
        self.assertEqual(images.shape, (3, 16, 16, 1))
        self.assertAllEqual(images[2], self._expected(encoded[2, 0].numpy(), 1, 16))

    def test_encode_pixels_round_trip(self):
        pixels = np.random.default_rng(1).integers(0, 256, (4, 5, 5, 3), dtype=np.uint8)
        encoded = preprocessing.encode_pixels(tf.constant(pixels))
        decoded = tf.reshape(tf.io.decode_raw(encoded, tf.uint8), [4, 5, 5, 3])
        self.assertAllEqual(decoded, pixels)

    def test_custom_config_is_required(self):
        with self.assertRaisesRegex(ValueError, "image_size"):
            preprocessing.preprocessing_fn({features.IMAGE_ENCODED: tf.constant([[b""]])}, {})
        with self.assertRaisesRegex(ValueError, "channels 1 or 3"):
            preprocessing.preprocessing_fn(
                {features.IMAGE_ENCODED: tf.constant([[b""]])},
                preprocessing.make_custom_config(32, 4),
            )


if __name__ == "__main__":
    tf.test.main()
