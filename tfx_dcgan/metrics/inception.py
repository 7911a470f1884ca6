"""The reference FID network (TF Inception of 2015-12-05, pool3) in plain TensorFlow ops.

A port of NVIDIA's TorchScript version (`inception_weights.py` reads its weights): every
convolution is followed by batch norm without a scale term (eps 1e-3) and ReLU; explicit
symmetric padding as in PyTorch; 3x3 average pools exclude the padding; the last block max-pools
(the quirk of the 2015 graph that FID implementations keep). Images go in as uint8 pixels:

  1. resized to 299x299 bilinearly, align_corners=False *without* half-pixel centres (the
     reference resize; TF's default `tf.image.resize` differs by up to 15% on single features);
  2. scaled to (x - 128) / 128;
  3. pool3: float32 [N, 2048].
"""

from __future__ import annotations

from tfx_dcgan.metrics import inception_weights

import numpy as np
import tensorflow as tf

__all__ = ["INPUT_SIZE", "FEATURE_SIZE", "reference_resize", "InceptionPool3"]

INPUT_SIZE = 299
FEATURE_SIZE = 2048
_BN_EPSILON = 1e-3

# Each Inception block: (kind, branch specs). A branch is a list of steps: a conv name relative to
# the block, or ("avg"|"max", stride, padding) for a 3x3 pool.
_A_BRANCHES = (["conv"], ["tower.conv", "tower.conv_1"],
               ["tower_1.conv", "tower_1.conv_1", "tower_1.conv_2"],
               [("avg", 1, 1), "tower_2.conv"])  # fmt: skip
_B_BRANCHES = (["conv"], ["tower.conv", "tower.conv_1", "tower.conv_2"], [("max", 2, 0)])
_C_BRANCHES = (["conv"], ["tower.conv", "tower.conv_1", "tower.conv_2"],
               ["tower_1.conv", "tower_1.conv_1", "tower_1.conv_2", "tower_1.conv_3",
                "tower_1.conv_4"],
               [("avg", 1, 1), "tower_2.conv"])  # fmt: skip
_D_BRANCHES = (["tower.conv", "tower.conv_1"],
               ["tower_1.conv", "tower_1.conv_1", "tower_1.conv_2", "tower_1.conv_3"],
               [("max", 2, 0)])  # fmt: skip
_BLOCKS = (
    ("mixed", _A_BRANCHES),
    ("mixed_1", _A_BRANCHES),
    ("mixed_2", _A_BRANCHES),
    ("mixed_3", _B_BRANCHES),
    ("mixed_4", _C_BRANCHES),
    ("mixed_5", _C_BRANCHES),
    ("mixed_6", _C_BRANCHES),
    ("mixed_7", _C_BRANCHES),
    ("mixed_8", _D_BRANCHES),
    ("mixed_9", "E-avg"),
    ("mixed_10", "E-max"),
)
_STEM = ("conv", "conv_1", "conv_2", ("max", 2, 0), "conv_3", "conv_4", ("max", 2, 0))


def reference_resize(images: tf.Tensor) -> tf.Tensor:
    """uint8 or float [N, H, W, C] (0..255) -> float32 [N, 299, 299, 3] (0..255), the reference
    bilinear resize (grayscale repeated to 3 channels)."""
    images = tf.cast(images, tf.float32)
    if images.shape[-1] == 1:
        images = tf.repeat(images, 3, axis=-1)
    return tf.compat.v1.image.resize_bilinear(
        images, [INPUT_SIZE, INPUT_SIZE], align_corners=False, half_pixel_centers=False
    )


def _pool(x: tf.Tensor, kind: str, stride: int, padding: int) -> tf.Tensor:
    # 3x3 windows; with padding 1 and stride 1, TF's SAME pads 1 on each side and (like
    # PyTorch's count_include_pad=False and -inf max padding) ignores the padded cells.
    mode = "SAME" if padding else "VALID"
    if kind == "avg":
        return tf.nn.avg_pool2d(x, 3, stride, mode)
    return tf.nn.max_pool2d(x, 3, stride, mode)


class InceptionPool3(tf.Module):
    """uint8 images -> the reference network's pool3 features (see the module docstring)."""

    def __init__(self, weights: dict[str, np.ndarray] | None = None) -> None:
        """Args: weights: from `inception_weights.load_weights()` (loaded when None).

        Raises:
          inception_weights.WeightsError: no weights (the message says how to fetch them).
        """
        super().__init__(name="inception_pool3")
        weights = weights if weights is not None else inception_weights.load_weights()
        self._convs: dict[str, tuple] = {}
        for key in weights:
            if key.endswith(".weight"):
                name = key[: -len(".weight")]
                kernel = np.transpose(weights[key], (2, 3, 1, 0))  # OIHW -> HWIO
                scale = 1.0 / np.sqrt(weights[f"{name}.var"] + _BN_EPSILON)
                padding = np.broadcast_to(weights[f"{name}.padding"], (2,)).astype(int)
                self._convs[name] = (
                    tf.constant(kernel, tf.float32),
                    int(weights[f"{name}.stride"]),
                    (int(padding[0]), int(padding[1])),
                    tf.constant(scale, tf.float32),
                    tf.constant(weights[f"{name}.beta"] - weights[f"{name}.mean"] * scale),
                )
        if len(self._convs) != 94:
            raise inception_weights.WeightsError(
                f"expected the 94 convolutions of the reference network, found {len(self._convs)}"
            )

    def _conv(self, x: tf.Tensor, name: str) -> tf.Tensor:
        kernel, stride, (pad_h, pad_w), scale, shift = self._convs[f"layers.{name}"]
        if pad_h or pad_w:
            x = tf.pad(x, [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]])
        x = tf.nn.conv2d(x, kernel, stride, "VALID")
        return tf.nn.relu(x * scale + shift)

    def _steps(self, x: tf.Tensor, block: str, steps) -> tf.Tensor:
        for step in steps:
            if isinstance(step, tuple):
                x = _pool(x, *step)
            else:
                x = self._conv(x, f"{block}.{step}" if block else step)
        return x

    def _block_e(self, x: tf.Tensor, block: str, pool: str) -> tf.Tensor:
        a = self._conv(x, f"{block}.tower_conv")
        b = self._conv(self._conv(x, f"{block}.tower_1_conv"), f"{block}.tower_1_conv_1")
        branches = [
            self._conv(x, f"{block}.conv"),
            self._conv(a, f"{block}.tower_mixed_conv"),
            self._conv(a, f"{block}.tower_mixed_conv_1"),
            self._conv(b, f"{block}.tower_1_mixed_conv"),
            self._conv(b, f"{block}.tower_1_mixed_conv_1"),
            self._conv(_pool(x, pool, 1, 1), f"{block}.tower_2_conv"),
        ]
        return tf.concat(branches, axis=-1)

    @tf.function(input_signature=[tf.TensorSpec([None, INPUT_SIZE, INPUT_SIZE, 3], tf.float32)])
    def from_resized(self, resized: tf.Tensor) -> tf.Tensor:
        """float32 [N, 299, 299, 3] in 0..255 (after `reference_resize`) -> float32 [N, 2048]."""
        x = self._steps((resized - 128.0) / 128.0, "", _STEM)
        for block, branches in _BLOCKS:
            if isinstance(branches, str):
                x = self._block_e(x, block, "avg" if branches == "E-avg" else "max")
            else:
                x = tf.concat([self._steps(x, block, b) for b in branches], axis=-1)
        return tf.reduce_mean(x, axis=[1, 2])  # the 8x8 average pool

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        """uint8 [N, H, W, 1 or 3] -> float32 [N, 2048] pool3 features."""
        return self.from_resized(reference_resize(images))
