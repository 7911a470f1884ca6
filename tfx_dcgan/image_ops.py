"""Image decoding and scaling: the one definition shared by training input, Transform and export.

Every path that turns encoded image bytes into model input (the `tf.data` folder reader, the TFX
Transform `preprocessing_fn`, the exported feature extractor's serving signature) calls these
functions, so there is no training/serving skew by construction.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "decode_image",
    "center_crop_and_resize",
    "to_model_range",
    "from_model_range",
    "preprocess_encoded_image",
]

# Formats TF 2.16's `tf.io.decode_image` reads (WebP/TIFF are not among them).
SUPPORTED_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")


def decode_image(encoded: tf.Tensor, channels: int) -> tf.Tensor:
    """Decodes one JPEG/PNG/GIF(first frame)/BMP image.

    Args:
      encoded: scalar string tensor, the file's bytes.
      channels: 1 (grayscale) or 3 (RGB); other channel counts are converted.

    Returns:
      uint8 tensor [height, width, channels].
    """
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


def preprocess_encoded_image(encoded: tf.Tensor, size: int, channels: int) -> tf.Tensor:
    """Encoded bytes -> float32 [size, size, channels] in [-1, 1]."""
    return to_model_range(center_crop_and_resize(decode_image(encoded, channels), size))
