"""Tests of tfx_dcgan.ingest on images made in memory (no Beam, no TFX)."""

import io
import os

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfx_dcgan import features, image_ops
from tfx_dcgan.ingest import images as ingest
from tfx_dcgan.ingest import lister

import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from PIL import Image


def _encode(array: np.ndarray, fmt: str, mode: str = "RGB", **kwargs) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert(mode).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _pixels(height=12, width=20, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


class ValidateImageTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters(
        ("JPEG", "RGB", "jpeg", 3),
        ("JPEG", "L", "jpeg", 1),
        ("PNG", "RGB", "png", 3),
        ("PNG", "RGBA", "png", 4),
        ("PNG", "L", "png", 1),
        ("GIF", "RGB", "gif", 3),
        ("BMP", "RGB", "bmp", 3),
        ("JPEG", "CMYK", "jpeg", 4),
    )
    def test_tf_formats_are_stored_unchanged(self, fmt, mode, stored_format, source_channels):
        data = _encode(_pixels(), fmt, mode)
        image = ingest.validate_image(data, channels=3)
        self.assertFalse(image.converted)
        self.assertEqual(image.encoded, data)
        self.assertEqual(image.format, stored_format)
        self.assertEqual((image.height, image.width), (12, 20))
        self.assertEqual(image.channels, source_channels)

    @parameterized.parameters(("WEBP", "RGB", 3), ("TIFF", "RGBA", 4), ("TIFF", "CMYK", 4))
    def test_other_formats_are_converted_to_png_losslessly(self, fmt, mode, source_channels):
        pixels = _pixels()
        data = _encode(pixels, fmt, mode, **({"lossless": True} if fmt == "WEBP" else {}))
        image = ingest.validate_image(data, channels=3)
        self.assertTrue(image.converted)
        self.assertEqual(image.format, "png")
        self.assertEqual(image.channels, source_channels)
        self.assertEqual(ingest.detect_format(image.encoded), "png")
        decoded = image_ops.decode_image(tf.constant(image.encoded), 3).numpy()
        self.assertEqual(decoded.shape, (12, 20, 3))
        if mode != "CMYK":  # Lossless sources: the PNG holds exactly the source pixels.
            np.testing.assert_array_equal(decoded, pixels)

    @parameterized.parameters("GIF", "BMP")
    def test_grayscale_output_of_formats_tf_decodes_only_in_rgb(self, fmt):
        # TF 2.16's own GIF/BMP decoders accept 0 or 3 channels only (image_ops converts after
        # an RGB decode); ingest stores these as PNG so any TF decoder reads them at channels=1.
        data = _encode(_pixels(), fmt)
        with self.assertRaises(tf.errors.InvalidArgumentError):
            tf.io.decode_image(tf.constant(data), channels=1, expand_animations=False)
        self.assertEqual(image_ops.decode_image(tf.constant(data), 1).shape, (12, 20, 1))
        image = ingest.validate_image(data, channels=1)
        self.assertEqual(image_ops.decode_image(tf.constant(image.encoded), 1).shape, (12, 20, 1))

    def test_empty_truncated_and_non_images_are_skipped_with_reasons(self):
        jpeg = _encode(_pixels(32, 32), "JPEG")
        png = _encode(_pixels(32, 32), "PNG")
        cases = {
            b"": ingest.EMPTY_FILE,
            jpeg[: len(jpeg) // 2]: ingest.CORRUPT_IMAGE,
            png[: len(png) // 2]: ingest.CORRUPT_IMAGE,
            b"\xff\xd8\xff" + b"\x00" * 50: ingest.CORRUPT_IMAGE,
            b"hello, this is a text file\n": ingest.NOT_AN_IMAGE,
            bytes(range(256)) * 4: ingest.NOT_AN_IMAGE,
        }
        for data, reason in cases.items():
            with self.assertRaises(ingest.ImageSkipped) as raised:
                ingest.validate_image(data, channels=3)
            self.assertEqual(raised.exception.reason, reason, msg=repr(data[:16]))

    def test_batch_validation_equals_one_by_one(self):
        pixels = _pixels(16, 16)
        jpeg = _encode(pixels, "JPEG")
        datas = [
            jpeg,
            _encode(pixels, "PNG", "RGBA"),
            jpeg[:100],
            b"",
            _encode(pixels, "WEBP"),
            _encode(pixels, "JPEG", "L"),
            b"text",
            _encode(pixels, "GIF"),
            _encode(pixels, "BMP"),
        ]
        for channels in (1, 3):
            batch = ingest.validate_images(datas, channels)
            self.assertLen(batch, len(datas))
            for data, result in zip(datas, batch):
                try:
                    expected = ingest.validate_image(data, channels)
                except ingest.ImageSkipped as skipped:
                    self.assertIsInstance(result, ingest.ImageSkipped)
                    self.assertEqual(result.reason, skipped.reason)
                    continue
                self.assertEqual(result, expected)
        # All good: one TensorFlow call for the batch; the header gives the source channels.
        good = ingest.validate_images([jpeg, datas[1], datas[5]], 3)
        self.assertEqual([image.channels for image in good], [3, 4, 1])

    def test_rejects_bad_channel_setting(self):
        with self.assertRaisesRegex(ValueError, "channels must be 1 or 3"):
            ingest.validate_image(_encode(_pixels(), "PNG"), channels=4)


class ListAndExampleTest(tf.test.TestCase, parameterized.TestCase):
    def _write(self, path: str, data: bytes) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)

    def test_class_folders_under_split_roots(self):
        base = self.get_temp_dir()
        png = _encode(_pixels(), "PNG")
        for rel in (
            "train/dog/1.png",
            "train/cat/2.png",
            "train/cat/deep/3.png",
            "test/bird/4.png",
            "train/.DS_Store",
            "train/cat/.hidden.png",
        ):
            self._write(os.path.join(base, rel), png)
        train = lister.list_image_files(base, "train/*")
        self.assertEqual(
            [(f.relative_path, f.label_text) for f in train],
            [
                ("train/cat/2.png", "cat"),
                ("train/cat/deep/3.png", "cat"),
                ("train/dog/1.png", "dog"),
            ],
        )
        test = lister.list_image_files(base, "test/*/*")
        self.assertEqual(
            [(f.relative_path, f.label_text) for f in test], [("test/bird/4.png", "bird")]
        )
        vocabulary = lister.build_label_vocabulary(f.label_text for f in train + test)
        self.assertEqual(vocabulary, ["bird", "cat", "dog"])

    def test_flat_folder_is_unlabelled(self):
        base = self.get_temp_dir()
        self._write(os.path.join(base, "flat", "a.jpg"), _encode(_pixels(), "JPEG"))
        files = lister.list_image_files(os.path.join(base, "flat"))
        self.assertEqual([(f.relative_path, f.label_text) for f in files], [("a.jpg", "")])
        result = ingest.ingest_file(files[0], {}, channels=3)
        self.assertIsNone(result.skip_reason)
        label = result.example.features.feature[features.LABEL].int64_list.value
        self.assertEqual(list(label), [features.UNLABELLED])

    def test_missing_input_base_names_the_folder(self):
        with self.assertRaisesRegex(FileNotFoundError, "no_such_folder"):
            lister.list_image_files(os.path.join(self.get_temp_dir(), "no_such_folder"))

    def test_ingest_file_builds_every_feature(self):
        base = self.get_temp_dir()
        data = _encode(_pixels(), "JPEG")
        self._write(os.path.join(base, "cat", "x.jpg"), data)
        (image_file,) = lister.list_image_files(base)
        result = ingest.ingest_file(image_file, {"cat": 1, "dog": 0}, channels=3)
        feature = result.example.features.feature
        self.assertCountEqual(feature.keys(), features.RAW_FEATURES)
        self.assertEqual(feature[features.IMAGE_ENCODED].bytes_list.value, [data])
        self.assertEqual(feature[features.IMAGE_FORMAT].bytes_list.value, [b"jpeg"])
        self.assertEqual(feature[features.IMAGE_HEIGHT].int64_list.value, [12])
        self.assertEqual(feature[features.IMAGE_WIDTH].int64_list.value, [20])
        self.assertEqual(feature[features.IMAGE_CHANNELS].int64_list.value, [3])
        self.assertEqual(feature[features.LABEL].int64_list.value, [1])
        self.assertEqual(feature[features.LABEL_TEXT].bytes_list.value, [b"cat"])
        self.assertEqual(feature[features.IMAGE_PATH].bytes_list.value, [b"cat/x.jpg"])

    def test_unreadable_file_is_skipped(self):
        missing = lister.ImageFile(os.path.join(self.get_temp_dir(), "gone.jpg"), "gone.jpg", "")
        result = ingest.ingest_file(missing, {}, channels=3)
        self.assertEqual(result.skip_reason, ingest.UNREADABLE)
        self.assertIsNone(result.example)

    def test_ingest_files_batch_equals_ingest_file(self):
        base = self.get_temp_dir()
        self._write(os.path.join(base, "batch", "cat", "a.png"), _encode(_pixels(), "PNG"))
        self._write(os.path.join(base, "batch", "dog", "b.jpg"), b"")
        files = lister.list_image_files(os.path.join(base, "batch"))
        files.append(lister.ImageFile(os.path.join(base, "nope.png"), "nope.png", "cat"))
        label_ids = {"cat": 0, "dog": 1}
        batch = ingest.ingest_files(files, label_ids, channels=3)
        single = [ingest.ingest_file(f, label_ids, channels=3) for f in files]
        self.assertEqual(
            [r.skip_reason for r in batch], [None, ingest.EMPTY_FILE, ingest.UNREADABLE]
        )
        self.assertEqual(batch[0].example, single[0].example)
        self.assertEqual([r.skip_reason for r in single], [r.skip_reason for r in batch])

    def test_listing_with_trailing_slash_and_relative_base(self):
        base = self.get_temp_dir()
        self._write(os.path.join(base, "rel", "cat", "a.png"), _encode(_pixels(), "PNG"))
        expected = [("cat/a.png", "cat")]
        for input_base in (os.path.join(base, "rel") + "/", os.path.join(base, ".", "rel")):
            files = lister.list_image_files(input_base, "*")
            self.assertEqual([(f.relative_path, f.label_text) for f in files], expected)
        cwd = os.getcwd()
        try:
            os.chdir(base)
            files = lister.list_image_files("rel", "*")
        finally:
            os.chdir(cwd)
        self.assertEqual([(f.relative_path, f.label_text) for f in files], expected)

    def test_split_root(self):
        self.assertEqual(lister.split_root("train/*/*"), "train")
        self.assertEqual(lister.split_root("*"), "")
        self.assertEqual(lister.split_root("a/b/c?/*"), "a/b")


if __name__ == "__main__":
    tf.test.main()
