"""Image decoding and scaling: the one definition shared by training input, Transform and export.

Every path that turns encoded image bytes into model input (the `tf.data` folder reader, the TFX
Transform `preprocessing_fn`, the exported feature extractor's serving signature) calls these
functions, so there is no training/serving skew by construction.

`decode_image` refuses, before decoding, an image whose header declares more pixels than the cap
(`declared_pixels`: JPEG via `tf.image.extract_jpeg_shape`, PNG/GIF/BMP from their header
bytes), with InvalidArgumentError (gRPC INVALID_ARGUMENT when served). It is in the graph, so the
exported feature extractor is protected under the official TF Serving too; the Python readers
check the same headers earlier (`ingest.check_pixel_cap`) and skip such files.
"""

from __future__ import annotations

from tfx_dcgan.config import DEFAULT_MAX_IMAGE_PIXELS

import tensorflow as tf

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "declared_pixels",
    "decode_image",
    "center_crop_and_resize",
    "to_model_range",
    "from_model_range",
    "preprocess_encoded_image",
]

# Formats TF 2.16's `tf.io.decode_image` reads (WebP/TIFF are not among them).
SUPPORTED_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")


def _header_bytes(encoded: tf.Tensor, count: int) -> tf.Tensor:
    """int64 [count]: the first `count` bytes of `encoded`, zero-padded when it is shorter."""
    head = tf.strings.substr(encoded, 0, count)
    padded = tf.strings.substr(tf.strings.join([head, tf.constant(b"\0" * count)]), 0, count)
    return tf.cast(tf.io.decode_raw(padded, tf.uint8), tf.int64)


def _number(head: tf.Tensor, start: int, size: int, big_endian: bool) -> tf.Tensor:
    digits = [head[start + i] for i in range(size)]
    if not big_endian:
        digits.reverse()
    value = tf.constant(0, tf.int64)
    for digit in digits:
        value = value * 256 + digit
    return value


def declared_pixels(encoded: tf.Tensor) -> tf.Tensor:
    """int64 scalar: height x width as the header of a JPEG/PNG/GIF/BMP declares it, without
    decoding; -1 for other bytes (the decoder then refuses them itself)."""
    head = _header_bytes(encoded, 32)
    prefix = tf.strings.substr(encoded, 0, 8)

    def png():
        return _number(head, 16, 4, True) * _number(head, 20, 4, True)

    def gif():
        return _number(head, 6, 2, False) * _number(head, 8, 2, False)

    def bmp():
        width, height = _number(head, 18, 4, False), _number(head, 22, 4, False)
        signed = lambda v: tf.where(v >= 2**31, 2**32 - v, v)  # noqa: E731 - two's complement
        return signed(width) * signed(height)

    def jpeg():
        shape = tf.cast(tf.image.extract_jpeg_shape(encoded), tf.int64)
        return shape[0] * shape[1]

    return tf.case(
        [
            (tf.equal(prefix, b"\x89PNG\r\n\x1a\n"), png),
            (tf.equal(tf.strings.substr(prefix, 0, 6), b"GIF87a"), gif),
            (tf.equal(tf.strings.substr(prefix, 0, 6), b"GIF89a"), gif),
            (tf.equal(tf.strings.substr(prefix, 0, 2), b"BM"), bmp),
            (tf.equal(tf.strings.substr(prefix, 0, 3), b"\xff\xd8\xff"), jpeg),
        ],
        default=lambda: tf.constant(-1, tf.int64),
    )


def decode_image(
    encoded: tf.Tensor, channels: int, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
) -> tf.Tensor:
    """Decodes one JPEG/PNG/GIF(first frame)/BMP image, refusing decompression bombs first.

    Args:
      encoded: scalar string tensor, the file's bytes.
      channels: 1 (grayscale) or 3 (RGB); other channel counts are converted.
      max_pixels: fail with InvalidArgumentError, before decoding, when the header declares more
        pixels than this (0 = no check).

    Returns:
      uint8 tensor [height, width, channels].
    """
    if max_pixels:
        check = tf.debugging.assert_less_equal(
            declared_pixels(encoded),
            tf.constant(max_pixels, tf.int64),
            message=(
                f"image_bytes: an image declares more than {max_pixels} pixels "
                "(max_image_pixels); refused before decoding"
            ),
        )
        with tf.control_dependencies([check]):
            encoded = tf.identity(encoded)
    if channels == 1:
        # TF 2.16's GIF and BMP decoders accept only 0 or 3 channels: decode to RGB, then convert
        # (the same luma weights decode_jpeg/png use for their own grayscale conversion).
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        image = tf.image.rgb_to_grayscale(image)
    else:
        image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
    image.set_shape([None, None, channels])
    return image


def center_crop_and_resize(image: tf.Tensor, size: int) -> tf.Tensor:
    """Crops the largest centred square and resizes it to `size` x `size`.

    Args:
      image: uint8 or float tensor [height, width, channels].
      size: output side in pixels.

    Returns:
      uint8 tensor [size, size, channels]. Area interpolation when shrinking (no aliasing),
      bilinear when enlarging.
    """
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    side = tf.minimum(height, width)
    top = (height - side) // 2
    left = (width - side) // 2
    square = tf.image.crop_to_bounding_box(image, top, left, side, side)
    method = tf.cond(
        side >= size,
        lambda: tf.image.resize(square, [size, size], method="area"),
        lambda: tf.image.resize(square, [size, size], method="bilinear"),
    )
    resized = tf.cast(tf.clip_by_value(tf.round(method), 0.0, 255.0), tf.uint8)
    resized.set_shape([size, size, image.shape[-1]])
    return resized


def to_model_range(image: tf.Tensor) -> tf.Tensor:
    """Scales uint8 pixels [0, 255] to float32 in [-1, 1] (the range of G's tanh output)."""
    return tf.cast(image, tf.float32) / 127.5 - 1.0


def from_model_range(images: tf.Tensor) -> tf.Tensor:
    """Maps float images in [-1, 1] back to uint8 [0, 255] (values outside are clipped)."""
    scaled = (tf.clip_by_value(tf.cast(images, tf.float32), -1.0, 1.0) + 1.0) * 127.5
    return tf.cast(tf.round(scaled), tf.uint8)


def preprocess_encoded_image(
    encoded: tf.Tensor, size: int, channels: int, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
) -> tf.Tensor:
    """Encoded bytes -> float32 [size, size, channels] in [-1, 1] (see decode_image's cap)."""
    image = decode_image(encoded, channels, max_pixels)
    return to_model_range(center_crop_and_resize(image, size))
