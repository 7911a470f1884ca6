"""`tf.data` reader of image folders for training outside TFX (the CLI and tests).

Layout: a folder of images, flat (unlabelled) or with one sub-folder per class; searched
recursively. Files are checked once with the same decoder the model input uses; the corrupt or
unreadable ones are skipped and counted, never fatal.

The order of images is a pure function of (seed, step): epoch e visits the files in
`stateless_shuffle(range(n), seed=[seed, e])`. A run resumed at step s therefore sees exactly the
batches an uninterrupted run would, without storing iterator state in checkpoints.
"""

from __future__ import annotations

import dataclasses
import logging

from tfx_dcgan import fileio, image_ops
from tfx_dcgan.config import DEFAULT_MAX_IMAGE_PIXELS
from tfx_dcgan.ingest import lister

import tensorflow as tf

__all__ = [
    "DataError",
    "ImageFolder",
    "list_image_files",
    "scan_image_files",
    "load_image_folder",
    "make_image_dataset",
]

log = logging.getLogger(__name__)


class DataError(ValueError):
    """The data set cannot be used; the message names the path and what was expected."""


@dataclasses.dataclass(frozen=True)
class ImageFolder:
    """A scanned image folder.

    Attributes:
      root: the folder.
      paths: readable image files, sorted.
      labels: class index of each path (-1 for a flat, unlabelled folder).
      class_names: sorted sub-folder names (empty when flat).
      skipped: (path, reason) of files that are not decodable images.
      converted: path -> PNG bytes for images TensorFlow cannot decode but Pillow can (WebP,
        TIFF), re-encoded once, as the pipeline's ingest does.
    """

    root: str
    paths: tuple[str, ...]
    labels: tuple[int, ...]
    class_names: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    converted: dict[str, bytes] = dataclasses.field(default_factory=dict)

    @property
    def num_images(self) -> int:
        return len(self.paths)


def list_image_files(data_dir: str) -> tuple[list[str], list[int], list[str]]:
    """Lists the candidate files with `ingest.lister.list_tree` (the pipeline's lister and rule).

    Every non-hidden file counts once (links add no duplicates); top-level sub-folders are the
    classes, and files directly in `data_dir` are unlabelled. Files are not chosen by extension:
    `scan_image_files` recognises images by their content.

    Returns:
      (paths, labels, class_names): labels index the sorted class names; -1 for unlabelled files.

    Raises:
      DataError: `data_dir` is missing, not a folder, or holds no files.
    """
    if not data_dir:
        raise DataError("no data folder given (--data_dir): expected a folder of images")
    if not fileio.exists(data_dir):
        raise DataError(f"data folder {data_dir!r} does not exist")
    if not fileio.isdir(data_dir):
        raise DataError(f"data folder {data_dir!r} is not a folder")
    listed = lister.list_tree(data_dir)
    class_names = sorted({f.class_name for f in listed if f.class_name})
    index = {name: i for i, name in enumerate(class_names)}
    paths = [f.path for f in listed]
    labels = [index.get(f.class_name, -1) for f in listed]
    if not paths:
        raise DataError(
            f"data folder {data_dir!r} holds no image files (flat or in class sub-folders; "
            "names starting with '.' or '_' are skipped)"
        )
    return paths, labels, class_names


_HEADER_BYTES = 1 << 19  # the JPEG frame header follows the APP segments, usually < 64 KiB


def oversized_files(paths: list[str], max_pixels: int) -> dict[str, str]:
    """path -> reason for each file whose header declares more than `max_pixels` pixels.

    Reads only the first 512 KiB of a file (all of a JPEG whose frame header lies further in),
    never its pixels: the check the ingest makes (`ingest.check_pixel_cap`), before any decode.
    """
    from tfx_dcgan.ingest import formats
    from tfx_dcgan.ingest import images as ingest

    oversized = {}
    if not max_pixels:
        return oversized
    for path in paths:
        try:
            with tf.io.gfile.GFile(path, "rb") as stream:
                head = stream.read(_HEADER_BYTES)
                fmt = formats.detect_format(head)
                if fmt == "jpeg" and formats.header_dimensions(head, fmt) is None:
                    head += stream.read()
            ingest.check_pixel_cap(head, fmt, max_pixels)
        except ingest.ImageSkipped as skipped:
            oversized[path] = f"too large: {skipped.detail}"
        except (OSError, tf.errors.OpError):
            pass  # unreadable: the decode scan reports it
    return oversized


def scan_image_files(
    paths: list[str], channels: int, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
) -> tuple[list[bool], list[str]]:
    """Decodes every file once, in parallel, with the model's decoder to find the unusable ones.

    Files whose header declares more than `max_pixels` pixels are refused first, undecoded.

    Returns:
      (ok, reasons): per path, whether it decodes, and why not ("" when it does).
    """
    oversized = oversized_files(paths, max_pixels)
    sizes = []
    for path in paths:
        try:
            sizes.append(tf.io.gfile.stat(path).length)
        except tf.errors.OpError:
            sizes.append(-1)
    checked = [path for path in paths if path not in oversized]

    def check(index: tf.Tensor, path: tf.Tensor) -> tf.Tensor:
        image = image_ops.decode_image(tf.io.read_file(path), channels, max_pixels)
        with tf.control_dependencies([tf.debugging.assert_positive(tf.size(image))]):
            return tf.identity(index)

    # A decode error would end the iterator; ignore_errors drops just that element, and the
    # indices that come through are the good files.
    dataset = (
        tf.data.Dataset.from_tensor_slices(
            (tf.range(len(checked), dtype=tf.int64), checked or [""])
        )
        .take(len(checked))
        .map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
        .ignore_errors(log_warning=False)
    )
    good_paths = {checked[int(index)] for index in dataset.as_numpy_iterator()}
    ok, reasons = [], []
    for path, size in zip(paths, sizes):
        if path in oversized:
            ok.append(False)
            reasons.append(oversized[path])
        elif path in good_paths:
            ok.append(True)
            reasons.append("")
        elif size < 0:
            ok.append(False)
            reasons.append("unreadable file")
        elif size == 0:
            ok.append(False)
            reasons.append("empty file")
        else:
            ok.append(False)
            reasons.append("not a decodable image (corrupt, truncated or another format)")
    return ok, reasons


def load_image_folder(
    data_dir: str, channels: int, max_reported: int = 10, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
) -> ImageFolder:
    """Lists and checks an image folder; logs the skipped files (the first `max_reported`).

    Args:
      data_dir: the folder (see list_image_files).
      channels: 1 or 3.
      max_reported: how many skipped files are logged by name.
      max_pixels: images declaring more pixels are skipped undecoded (DataConfig.max_image_pixels).

    Raises:
      DataError: the folder is missing or empty, or no file in it decodes.
    """
    paths, labels, class_names = list_image_files(data_dir)
    ok, reasons = scan_image_files(paths, channels, max_pixels)
    converted = _convert_with_pillow(
        [
            p
            for p, good, r in zip(paths, ok, reasons)
            if not good and r != "empty file" and not r.startswith("too large")
        ],
        channels,
        max_pixels,
    )
    ok = [good or p in converted for p, good in zip(paths, ok)]
    skipped = tuple((p, r) for p, good, r in zip(paths, ok, reasons) if not good)
    for path, reason in skipped[:max_reported]:
        log.warning("skipping %s: %s", path, reason)
    if len(skipped) > max_reported:
        log.warning("... and %d more unusable files", len(skipped) - max_reported)
    good_paths = tuple(p for p, good in zip(paths, ok) if good)
    good_labels = tuple(label for label, good in zip(labels, ok) if good)
    if not good_paths:
        raise DataError(
            f"data folder {data_dir!r}: none of its {len(paths)} image files could be decoded"
        )
    log.info(
        "data folder %s: %d images, %d classes, %d skipped (corrupt or unreadable)",
        data_dir,
        len(good_paths),
        len(class_names),
        len(skipped),
    )
    if converted:
        log.info("%d images TensorFlow cannot decode were converted to PNG", len(converted))
    return ImageFolder(data_dir, good_paths, good_labels, tuple(class_names), skipped, converted)


def _convert_with_pillow(paths: list[str], channels: int, max_pixels: int) -> dict[str, bytes]:
    """PNG re-encodings of the files Pillow reads and TensorFlow does not (path -> bytes)."""
    from tfx_dcgan.ingest import images

    converted = {}
    for path in paths:
        try:
            validated = images.validate_image(images.read_bytes(path), channels, max_pixels)
        except (OSError, tf.errors.OpError, images.ImageSkipped):
            continue
        if validated.converted:
            converted[path] = validated.encoded
    return converted


def make_image_dataset(
    paths: list[str] | tuple[str, ...],
    *,
    image_size: int,
    channels: int,
    global_batch_size: int,
    start_step: int = 0,
    seed: int = 0,
    parallel_reads: int = 0,
    converted: dict[str, bytes] | None = None,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> tf.data.Dataset:
    """An infinite dataset of shuffled, preprocessed batches, positioned at `start_step`.

    Args:
      paths: decodable image files (from `load_image_folder`).
      image_size, channels: output geometry; images are centre-cropped and resized.
      global_batch_size: images per batch (all replicas together); the last partial batch of the
        stream never occurs because the stream is infinite.
      start_step: the batch index to start at (resumption).
      seed: seed of the per-epoch order.
      parallel_reads: decode parallelism (0 = AUTOTUNE).
      converted: path -> encoded bytes to use instead of the file (`ImageFolder.converted`).
      max_pixels: the decoder's pixel cap (the one `load_image_folder` checked the files with).

    Returns:
      Dataset of float32 [global_batch_size, image_size, image_size, channels] in [-1, 1].
    """
    count = len(paths)
    if count == 0:
        raise DataError("no images to train on")
    consumed = start_step * global_batch_size
    start_epoch, offset = divmod(consumed, count)
    all_paths = tf.constant(list(paths))
    parallel = parallel_reads or tf.data.AUTOTUNE

    def epoch_order(epoch: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        return tf.data.Dataset.from_tensor_slices(order)

    read = _make_reader(all_paths, paths, converted or {})

    def load(index: tf.Tensor) -> tf.Tensor:
        return image_ops.preprocess_encoded_image(read(index), image_size, channels, max_pixels)

    dataset = (
        tf.data.Dataset.range(start_epoch, 2**62)
        .flat_map(epoch_order)
        .skip(offset)
        .map(load, num_parallel_calls=parallel, deterministic=True)
        .batch(global_batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    options = tf.data.Options()
    # The stream is built from indices, not files: shard by data when distributed over workers.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _make_reader(all_paths: tf.Tensor, paths, converted: dict[str, bytes]):
    """index -> encoded bytes: the file, or its PNG conversion for the few that have one."""
    if not converted:
        return lambda index: tf.io.read_file(tf.gather(all_paths, index))
    replacement = tf.constant([converted.get(p, b"") for p in paths], tf.string)
    has_replacement = tf.constant([p in converted for p in paths], tf.bool)
    return lambda index: tf.cond(
        tf.gather(has_replacement, index),
        lambda: tf.gather(replacement, index),
        lambda: tf.io.read_file(tf.gather(all_paths, index)),
    )
