"""The Transform `preprocessing_fn`: raw encoded images -> fixed-size uint8 pixels.

The Transform graph is the one definition of preprocessing in the pipeline: Transform applies it
to the raw examples, the Trainer reads its output, and the exported discriminator feature extractor
applies the same saved graph (`TFTransformOutput.transform_features_layer()`) to raw encoded bytes,
so training and serving cannot disagree. Inside, it calls `image_ops` (decode, centre-crop, resize),
the same functions the non-TFX training path uses.

Storage choice: the transformed example holds the uint8 pixels as one bytes feature
(`features.TRANSFORMED_IMAGE`, image_size**2 * channels bytes, row-major [S, S, C]); readers scale
them to [-1, 1] with `image_ops.to_model_range` (`decode_transformed_images`). That is 3 KiB per
32x32 RGB image (180 MB for CIFAR-10's 60,000), against 12 KiB of float32 plus the per-value
overhead of a FloatList (~740 MB), and the scaling costs one multiply-add per pixel in the input
pipeline. A single bytes value also keeps Transform's and StatisticsGen's statistics cheap (a
3,072-value numeric feature would get histograms per example).

Pipeline parameters: image size and channels come from Transform's `custom_config`
(`{"image_size": 32, "channels": 3}`), which TFX 1.16 passes as `preprocessing_fn(inputs,
custom_config)`.
"""

from __future__ import annotations

from typing import Any

from tfx_dcgan import features, image_ops
from tfx_dcgan.config import DEFAULT_MAX_IMAGE_PIXELS

import tensorflow as tf

__all__ = [
    "IMAGE_SIZE_KEY",
    "CHANNELS_KEY",
    "make_custom_config",
    "preprocessing_fn",
    "encode_pixels",
    "decode_transformed_images",
]

IMAGE_SIZE_KEY = "image_size"
CHANNELS_KEY = "channels"
MAX_IMAGE_PIXELS_KEY = "max_image_pixels"


def make_custom_config(
    image_size: int, channels: int, max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
) -> dict[str, int]:
    """Transform's custom_config: the image geometry (ModelConfig.image_size / .channels) and the
    pixel cap the graph checks before decoding (DataConfig.max_image_pixels; it travels into the
    exported feature extractor with the Transform graph)."""
    return {
        IMAGE_SIZE_KEY: int(image_size),
        CHANNELS_KEY: int(channels),
        MAX_IMAGE_PIXELS_KEY: int(max_image_pixels),
    }


def _geometry(custom_config: dict[str, Any] | None) -> tuple[int, int]:
    config = custom_config or {}
    missing = [key for key in (IMAGE_SIZE_KEY, CHANNELS_KEY) if key not in config]
    if missing:
        raise ValueError(
            f"Transform custom_config must hold {missing} (make it with "
            f"tfx_dcgan.components.preprocessing.make_custom_config), got {sorted(config)}"
        )
    size, channels = int(config[IMAGE_SIZE_KEY]), int(config[CHANNELS_KEY])
    if size <= 0 or channels not in (1, 3):
        raise ValueError(
            f"Transform custom_config: image_size must be positive and channels 1 or 3, "
            f"got image_size={size}, channels={channels}"
        )
    return size, channels


def encode_pixels(images: tf.Tensor) -> tf.Tensor:
    """uint8 [N, S, S, C] -> string [N] of the raw row-major bytes (S*S*C bytes each).

    Graph-only way to get raw bytes: `serialize_tensor` stores a uint8 tensor's data as the
    TensorProto's `tensor_content`, the last field written, so its final S*S*C bytes are the pixels.
    The unit test checks the round trip through `decode_transformed_images`.
    """
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.uint8 or images.shape.rank != 4:
        raise ValueError(
            f"encode_pixels expects uint8 [N, S, S, C], got {images.dtype} {images.shape}"
        )
    num_bytes = tf.reduce_prod(tf.shape(images)[1:])
    return tf.map_fn(
        lambda image: tf.strings.substr(tf.io.serialize_tensor(image), -num_bytes, num_bytes),
        images,
        fn_output_signature=tf.TensorSpec([], tf.string),
    )


def decode_transformed_images(image_bytes: tf.Tensor, image_size: int, channels: int) -> tf.Tensor:
    """Transformed image bytes -> model input.

    Args:
      image_bytes: string [N] (or [N, 1]), values of `features.TRANSFORMED_IMAGE`.
      image_size, channels: the geometry the Transform ran with.

    Returns:
      float32 [N, image_size, image_size, channels] in [-1, 1].
    """
    pixels = tf.io.decode_raw(tf.reshape(image_bytes, [-1]), tf.uint8)
    images = tf.reshape(pixels, [-1, image_size, image_size, channels])
    return image_ops.to_model_range(images)


def preprocessing_fn(
    inputs: dict[str, tf.Tensor], custom_config: dict[str, Any] | None = None
) -> dict[str, tf.Tensor]:
    """TFX Transform entry point (`Transform(preprocessing_fn='tfx_dcgan.components.preprocessing.preprocessing_fn')`).

    Args:
      inputs: raw features from the curated schema; uses `features.IMAGE_ENCODED` (string
        [batch, 1] or [batch]) and, when present, `features.LABEL` (int64 [batch, 1]).
      custom_config: `make_custom_config(image_size, channels)`.

    Returns:
      `features.TRANSFORMED_IMAGE`: string [batch], the centre-cropped, resized uint8 pixels
      (decode with `decode_transformed_images`); `features.TRANSFORMED_LABEL`: int64 [batch] when
      the label is an input (serving feeds only the image bytes).
    """
    size, channels = _geometry(custom_config)
    max_pixels = int((custom_config or {}).get(MAX_IMAGE_PIXELS_KEY, DEFAULT_MAX_IMAGE_PIXELS))
    encoded = tf.reshape(inputs[features.IMAGE_ENCODED], [-1])
    # tf.io.decode_* take one image at a time (a batch of images has ragged sizes).
    images = tf.map_fn(
        lambda one: image_ops.center_crop_and_resize(
            image_ops.decode_image(one, channels, max_pixels), size
        ),
        encoded,
        fn_output_signature=tf.TensorSpec([size, size, channels], tf.uint8),
    )
    outputs = {features.TRANSFORMED_IMAGE: encode_pixels(images)}
    if features.LABEL in inputs:
        outputs[features.TRANSFORMED_LABEL] = tf.reshape(
            tf.cast(inputs[features.LABEL], tf.int64), [-1]
        )
    return outputs
