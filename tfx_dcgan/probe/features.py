"""Batches, exact batch-norm re-estimation, streamed feature extraction, standardisation."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from tfx_dcgan import image_ops, models
from tfx_dcgan import progress as console_progress
from tfx_dcgan.probe.config import (
    Images,
    ProbeError,
)

import numpy as np
import tensorflow as tf

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------------------------
# Batches


def iterate_batches(images: Images, batch_size: int) -> Iterator[tf.Tensor]:
    """Yields float32 [B, S, S, C] batches in [-1, 1].

    Args:
      images: uint8 [N, S, S, C] (pixels, scaled with `image_ops.to_model_range`) or float32
        [N, S, S, C] already in [-1, 1]; or a zero-argument callable returning a fresh iterable of
        such batches (e.g. a `tf.data.Dataset`), called once per pass.
      batch_size: batch size when `images` is an array.
    """
    if callable(images):
        for batch in images():
            yield _to_model_input(batch)
        return
    for start in range(0, len(images), batch_size):
        yield _to_model_input(images[start : start + batch_size])


def _to_model_input(batch: Any) -> tf.Tensor:
    batch = tf.convert_to_tensor(batch)
    if batch.dtype == tf.uint8:
        return image_ops.to_model_range(batch)
    return tf.cast(batch, tf.float32)


def _num_examples(images: Images) -> int | None:
    return None if callable(images) else len(images)


class _Progress:
    """Logs 'what: done/total (pct), rate, eta' at most every `every_s` seconds."""

    def __init__(self, what: str, total: int | None, every_s: float = 10.0) -> None:
        self.what, self.total, self.every_s = what, total, every_s
        self.start = self.last = time.perf_counter()
        self.done = 0
        self.bar = console_progress.task(what, what, total=total or 0, unit="img")

    def update(self, count: int) -> None:
        self.done += count
        self.bar.update(self.done, total=self.total)
        now = time.perf_counter()
        if now - self.last >= self.every_s:
            self.last = now
            log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        elapsed = (now or time.perf_counter()) - self.start
        rate = self.done / elapsed if elapsed > 0 else float("nan")
        if self.total:
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            return (
                f"{self.what}: {self.done}/{self.total} ({100.0 * self.done / self.total:.0f}%), "
                f"{rate:.0f} img/s, eta {eta:.0f} s"
            )
        return f"{self.what}: {self.done} images, {rate:.0f} img/s"

    def finish(self) -> float:
        self.bar.close()
        elapsed = time.perf_counter() - self.start
        log.info("%s done: %d images in %.1f s", self.what, self.done, elapsed)
        return elapsed


def make_inference_fn(model: tf.keras.Model) -> Callable[[tf.Tensor], tf.Tensor]:
    """`model(x, training=False)` as one traced function for any batch size."""
    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
    return tf.function(lambda x: model(x, training=False), input_signature=[spec])


# ----------------------------------------------------------------------------------------------
# Batch-norm re-estimation and feature extraction


def reestimate_batch_norm(
    model: tf.keras.Model, images: Images, *, batch_size: int = 256
) -> tf.keras.Model:
    """A copy of `model` whose BN layers hold the exact statistics of their inputs on `images`.

    Layers are done in order, input side first: the input of BN layer k depends on the (already
    re-estimated, frozen) statistics of layers < k, so each layer gets one pass over the data
    through the prefix of the network that feeds it. Per-channel mean and (biased) variance are
    merged across batches in float64 (Chan et al.'s pairwise update), so the result is the
    population statistic over all images and pixels, independent of batch size and order.

    The copy is frozen (`trainable = False`, which in Keras 2 also makes BN run in inference mode);
    still call it with `training=False`. The caller's model is not modified.

    Args:
      model: a functional Keras model (e.g. from `models.build_discriminator`), float32 input
        [N, S, S, C] in [-1, 1].
      images: the real training images (see `iterate_batches`).
      batch_size: images per forward pass when `images` is an array.

    Returns:
      The re-estimated copy (same layer names and weights otherwise).
    """
    copy = tf.keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    bn_layers = [
        layer for layer in copy.layers if isinstance(layer, tf.keras.layers.BatchNormalization)
    ]
    for layer in bn_layers:
        prefix = tf.keras.Model(copy.input, layer.input)
        forward = make_inference_fn(prefix)
        rank = len(layer.input.shape)
        channel_axes = [axis % rank for axis in layer.axis]
        reduce_axes = [axis for axis in range(rank) if axis not in channel_axes]

        @tf.function(input_signature=[tf.TensorSpec([None, *prefix.input_shape[1:]], tf.float32)])
        def batch_moments(x, forward=forward, reduce_axes=reduce_axes, rank=rank):
            values = forward(x)
            mean = tf.reduce_mean(values, axis=reduce_axes)
            centred = values - tf.reshape(
                mean, [1 if a in reduce_axes else -1 for a in range(rank)]
            )
            m2 = tf.reduce_sum(tf.square(centred), axis=reduce_axes)
            count = tf.reduce_prod(tf.gather(tf.shape(values), reduce_axes))
            return mean, m2, count

        total, mean, m2 = 0, None, None
        progress = _Progress(f"batch-norm statistics of {layer.name}", _num_examples(images))
        for batch in iterate_batches(images, batch_size):
            batch_mean, batch_m2, batch_count = batch_moments(batch)
            batch_mean = batch_mean.numpy().astype(np.float64)
            batch_m2 = batch_m2.numpy().astype(np.float64)
            batch_count = int(batch_count)
            if mean is None:
                total, mean, m2 = batch_count, batch_mean, batch_m2
            else:
                delta = batch_mean - mean
                new_total = total + batch_count
                mean = mean + delta * (batch_count / new_total)
                m2 = m2 + batch_m2 + delta**2 * (total * batch_count / new_total)
                total = new_total
            progress.update(int(batch.shape[0]))
        if mean is None:
            raise ProbeError("no images to re-estimate batch-norm statistics on")
        progress.finish()
        layer.moving_mean.assign(mean.reshape(layer.moving_mean.shape).astype(np.float32))
        layer.moving_variance.assign(
            (m2 / total).reshape(layer.moving_variance.shape).astype(np.float32)
        )
    copy.trainable = False
    return copy


def extract_features(
    discriminator: tf.keras.Model,
    images: Images,
    *,
    batch_size: int = 256,
    num_examples: int | None = None,
    name: str = "features",
) -> np.ndarray:
    """The paper's probe features of every image, streamed in batches.

    Args:
      discriminator: a model from `models.build_discriminator` (normally after
        `reestimate_batch_norm`); run with `training=False`.
      images: see `iterate_batches`.
      batch_size: images per forward pass when `images` is an array.
      num_examples: number of images when `images` is a callable (preallocates the output).
      name: label of the progress lines.

    Returns:
      float32 [N, models.feature_size(config)]; only this matrix is held, never per-layer float64
      copies.
    """
    extractor = models.build_feature_extractor(discriminator)
    forward = make_inference_fn(extractor)
    size = int(extractor.output_shape[-1])
    total = _num_examples(images) if num_examples is None else num_examples
    chunks: list[np.ndarray] = []
    out = np.empty((total, size), np.float32) if total is not None else None
    progress = _Progress(f"extracting {name}", total)
    offset = 0
    for batch in iterate_batches(images, batch_size):
        values = forward(batch).numpy()
        if out is not None:
            if offset + len(values) > len(out):
                raise ProbeError(f"{name}: more images than num_examples={total}")
            out[offset : offset + len(values)] = values
        else:
            chunks.append(values)
        offset += len(values)
        progress.update(len(values))
    progress.finish()
    if out is None:
        return np.concatenate(chunks) if chunks else np.zeros((0, size), np.float32)
    if offset != len(out):
        raise ProbeError(f"{name}: got {offset} images, expected {len(out)}")
    return out


def standardize_features(
    train: np.ndarray, *others: np.ndarray, chunk_rows: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Scales features to zero mean, unit variance on `train`, in place (no float64 copies).

    Args:
      train: float32 [N, F]; its per-feature mean/std (accumulated in float64) define the scaling.
      *others: further float32 [M, F] arrays (validation, test) scaled with train's statistics.
      chunk_rows: rows per step, bounding temporary memory.

    Returns:
      (mean, std), float64 [F]; constant features get std 1.
    """
    count = len(train)
    sums = np.zeros(train.shape[1], np.float64)
    for start in range(0, count, chunk_rows):
        sums += train[start : start + chunk_rows].sum(axis=0, dtype=np.float64)
    mean = sums / max(count, 1)
    squares = np.zeros(train.shape[1], np.float64)
    for start in range(0, count, chunk_rows):
        squares += np.square(train[start : start + chunk_rows] - mean).sum(axis=0)
    std = np.sqrt(squares / max(count, 1))
    std[std < 1e-8] = 1.0
    mean32, inv32 = mean.astype(np.float32), (1.0 / std).astype(np.float32)
    for array in (train, *others):
        for start in range(0, len(array), chunk_rows):
            block = array[start : start + chunk_rows]
            block -= mean32
            block *= inv32
    return mean, std
