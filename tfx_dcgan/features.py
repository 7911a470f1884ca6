"""Feature names of the raw and the transformed `tf.Example`s.

The image ingest (`tfx_dcgan.components.image_example_gen`), the curated schema
(`tfx_dcgan/schema/schema.pbtxt`), the Transform `preprocessing_fn`, the Trainer's input reader and
the exported feature extractor all refer to features by these constants. Other sources (existing
TFRecords, TFDS) must be mapped onto the raw names so everything downstream is unchanged.
"""

from __future__ import annotations

__all__ = [
    "IMAGE_ENCODED",
    "IMAGE_FORMAT",
    "IMAGE_HEIGHT",
    "IMAGE_WIDTH",
    "IMAGE_CHANNELS",
    "LABEL",
    "LABEL_TEXT",
    "IMAGE_PATH",
    "RAW_FEATURES",
    "UNLABELLED",
    "TRANSFORMED_IMAGE",
    "TRANSFORMED_LABEL",
    "STORED_FORMATS",
]

# --- Raw examples written by the image ingest (one image per tf.Example, every feature present).
IMAGE_ENCODED = "image/encoded"  # bytes: JPEG, PNG, GIF or BMP; TF's decoder is known to read it.
IMAGE_FORMAT = "image/format"  # bytes: one of STORED_FORMATS, the format of IMAGE_ENCODED.
IMAGE_HEIGHT = "image/height"  # int64 >= 1, pixels.
IMAGE_WIDTH = "image/width"  # int64 >= 1, pixels.
IMAGE_CHANNELS = "image/channels"  # int64 in [1, 4]: the source image's own channel count.
LABEL = "label"  # int64: index into the label vocabulary, UNLABELLED for a flat folder.
LABEL_TEXT = "label/text"  # bytes: the class folder's name ("" when unlabelled).
IMAGE_PATH = "image/path"  # bytes: source file path relative to the ingest's input_base.

RAW_FEATURES = (
    IMAGE_ENCODED,
    IMAGE_FORMAT,
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    IMAGE_CHANNELS,
    LABEL,
    LABEL_TEXT,
    IMAGE_PATH,
)

UNLABELLED = -1

# Formats stored in IMAGE_ENCODED: what TF 2.16's `tf.io.decode_image` reads. Anything else that
# Pillow can read (WebP, TIFF, ...) is re-encoded to PNG by the ingest.
STORED_FORMATS = ("jpeg", "png", "gif", "bmp")

# --- Transformed examples written by Transform (see tfx_dcgan.components.preprocessing).
# bytes: the centre-cropped, resized uint8 pixels, row-major [image_size, image_size, channels]
# (image_size**2 * channels bytes). Readers scale them to [-1, 1] with image_ops.to_model_range.
TRANSFORMED_IMAGE = "image_uint8"
TRANSFORMED_LABEL = "label"
