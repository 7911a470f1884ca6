"""DCGAN generator, discriminator and the discriminator's probe features.

Follows the architecture guidelines of Radford, Metz & Chintala (2015), arXiv:1511.06434, Section 3:
  * no pooling: strided convolutions in D, fractionally-strided (transposed) convolutions in G;
  * batch norm in both networks, except G's output layer and D's input layer;
  * no fully connected hidden layers: G's first layer is a projection of z reshaped to a 4x4 map,
    D's last conv map is flattened into a single logit;
  * ReLU in G with a Tanh output, LeakyReLU(0.2) in D;
  * weights drawn from N(0, 0.02).

Widths: G's 4x4 projection has `ngf * 2**(n-1)` channels and halves at each stride-2 layer, where
n = log2(image_size / 4); D's first layer has `ndf` channels and doubles at each layer. For
image_size=64, ngf=128 this is the paper's LSUN generator 4x4x1024 -> 512 -> 256 -> 128 -> 3.
"""

from __future__ import annotations

from tfx_dcgan.config import ModelConfig

import tensorflow as tf

__all__ = [
    "LEAKY_RELU_SLOPE",
    "WEIGHT_INIT_STDDEV",
    "generator_widths",
    "discriminator_widths",
    "build_generator",
    "build_discriminator",
    "discriminator_conv_activation_names",
    "build_feature_extractor",
    "build_features_and_logits",
    "feature_size",
    "sample_noise",
]

LEAKY_RELU_SLOPE = 0.2
WEIGHT_INIT_STDDEV = 0.02
PROBE_GRID = 4


def _weight_init(seed: int | None) -> tf.keras.initializers.Initializer:
    return tf.keras.initializers.RandomNormal(mean=0.0, stddev=WEIGHT_INIT_STDDEV, seed=seed)


def _seed(base: int | None, offset: int) -> int | None:
    return None if base is None else base * 1000 + offset


def _batch_norm(config: ModelConfig, name: str) -> tf.keras.layers.Layer:
    # gamma starts at 1 and beta at 0 (Keras's defaults; the authors' Torch code drew gamma from
    # N(1, 0.02)); momentum 0.9 is Torch's 0.1.
    return tf.keras.layers.BatchNormalization(
        momentum=0.9,
        epsilon=1e-5,
        synchronized=config.sync_batch_norm,
        name=name,
    )


def generator_widths(config: ModelConfig) -> list[int]:
    """Channel counts of G's hidden maps, from the 4x4 projection up: e.g. [256, 128, 64]."""
    n = config.num_resolution_steps
    return [config.ngf * 2 ** (n - 1 - i) for i in range(n)]


def discriminator_widths(config: ModelConfig) -> list[int]:
    """Channel counts of D's conv layers, from the input side: e.g. [64, 128, 256]."""
    return [config.ndf * 2**i for i in range(config.num_resolution_steps)]


def build_generator(config: ModelConfig, seed: int | None = None) -> tf.keras.Model:
    """Builds G: z -> image.

    Args:
      config: architecture; validated here.
      seed: seeds the N(0, 0.02) weight initialisers (None: random).

    Returns:
      A Keras model mapping float32 [batch, z_dim] to float32 [batch, image_size, image_size,
      channels] in [-1, 1] (tanh).
    """
    config.validate()
    widths = generator_widths(config)
    z = tf.keras.Input(shape=(config.z_dim,), name="z")
    # The projection of z is a matrix multiply reshaped to a 4x4 map (paper, Fig. 1); its bias is
    # redundant with the following batch norm.
    x = tf.keras.layers.Dense(
        4 * 4 * widths[0],
        use_bias=False,
        kernel_initializer=_weight_init(_seed(seed, 0)),
        name="g_project",
    )(z)
    x = tf.keras.layers.Reshape((4, 4, widths[0]), name="g_reshape")(x)
    x = _batch_norm(config, "g_bn0")(x)
    x = tf.keras.layers.ReLU(name="g_relu0")(x)
    for i, width in enumerate(widths[1:], start=1):
        x = tf.keras.layers.Conv2DTranspose(
            width,
            config.kernel_size,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=_weight_init(_seed(seed, i)),
            name=f"g_deconv{i}",
        )(x)
        x = _batch_norm(config, f"g_bn{i}")(x)
        x = tf.keras.layers.ReLU(name=f"g_relu{i}")(x)
    n = len(widths)
    x = tf.keras.layers.Conv2DTranspose(
        config.channels,
        config.kernel_size,
        strides=2,
        padding="same",
        use_bias=True,
        kernel_initializer=_weight_init(_seed(seed, n)),
        name=f"g_deconv{n}",
    )(x)
    images = tf.keras.layers.Activation("tanh", name="g_tanh", dtype="float32")(x)
    return tf.keras.Model(z, images, name="generator")


def build_discriminator(config: ModelConfig, seed: int | None = None) -> tf.keras.Model:
    """Builds D: image -> realness logit.

    Args:
      config: architecture; validated here.
      seed: seeds the N(0, 0.02) weight initialisers (None: random).

    Returns:
      A Keras model mapping float32 [batch, image_size, image_size, channels] in [-1, 1] to
      float32 [batch, 1] logits (apply a sigmoid for D(x)).
    """
    config.validate()
    widths = discriminator_widths(config)
    images = tf.keras.Input(
        shape=(config.image_size, config.image_size, config.channels), name="images"
    )
    x = images
    for i, width in enumerate(widths):
        # No batch norm on the input layer (paper, Section 3), so that layer keeps its bias.
        x = tf.keras.layers.Conv2D(
            width,
            config.kernel_size,
            strides=2,
            padding="same",
            use_bias=(i == 0),
            kernel_initializer=_weight_init(_seed(seed, 100 + i)),
            name=f"d_conv{i}",
        )(x)
        if i > 0:
            x = _batch_norm(config, f"d_bn{i}")(x)
        x = tf.keras.layers.LeakyReLU(LEAKY_RELU_SLOPE, name=f"d_lrelu{i}")(x)
    x = tf.keras.layers.Flatten(name="d_flatten")(x)
    logits = tf.keras.layers.Dense(
        1, kernel_initializer=_weight_init(_seed(seed, 199)), name="d_logit", dtype="float32"
    )(x)
    return tf.keras.Model(images, logits, name="discriminator")


def discriminator_conv_activation_names(discriminator: tf.keras.Model) -> list[str]:
    """Names of D's per-conv-layer output activations (the LeakyReLU layers), input side first."""
    names = [layer.name for layer in discriminator.layers if layer.name.startswith("d_lrelu")]
    if not names:
        raise ValueError(
            f"model {discriminator.name!r} has no 'd_lrelu*' layers: not a discriminator built by "
            "tfx_dcgan.models.build_discriminator"
        )
    return names


def feature_size(config: ModelConfig) -> int:
    """Length of the probe feature vector: 4 * 4 * sum of D's conv widths."""
    return PROBE_GRID * PROBE_GRID * sum(discriminator_widths(config))


def build_feature_extractor(discriminator: tf.keras.Model) -> tf.keras.Model:
    """The paper's probe features (Section 5.1): every D conv layer, max-pooled to 4x4, concatenated.

    The returned model shares D's layers (and weights). Call it with `training=False` so batch norm
    uses fixed statistics: per-batch statistics would make an image's features depend on its batch.

    Args:
      discriminator: a model from `build_discriminator`.

    Returns:
      A Keras model mapping float32 [batch, size, size, channels] in [-1, 1] to float32
      [batch, feature_size(config)]: for each conv layer (input side first) its [4, 4, width] max-pooled
      map flattened in (row, column, channel) order.
    """
    pooled = []
    for name in discriminator_conv_activation_names(discriminator):
        activation = discriminator.get_layer(name).output
        side = int(activation.shape[1])
        if side % PROBE_GRID:
            raise ValueError(f"layer {name} has side {side}, not a multiple of {PROBE_GRID}")
        window = side // PROBE_GRID
        if window > 1:
            activation = tf.keras.layers.MaxPool2D(window, name=f"probe_pool_{name}")(activation)
        pooled.append(tf.keras.layers.Flatten(name=f"probe_flat_{name}")(activation))
    features = tf.keras.layers.Concatenate(name="probe_features")(pooled)
    return tf.keras.Model(discriminator.input, features, name="discriminator_features")


def build_features_and_logits(discriminator: tf.keras.Model) -> tf.keras.Model:
    """One pass of D giving both the probe features and D's logit.

    Args:
      discriminator: a model from `build_discriminator` (its layers and weights are shared).

    Returns:
      A Keras model: float32 [batch, size, size, channels] in [-1, 1] -> (features float32
      [batch, feature_size(config)], as `build_feature_extractor`; logits float32 [batch, 1]).
    """
    extractor = build_feature_extractor(discriminator)
    return tf.keras.Model(
        discriminator.input,
        [extractor.output, discriminator.output],
        name="discriminator_features_and_logits",
    )


def sample_noise(
    rng: tf.random.Generator, batch_size: int | tf.Tensor, config: ModelConfig
) -> tf.Tensor:
    """Draws z: float32 [batch_size, z_dim], U[-1, 1] (the paper) or N(0, 1)."""
    shape = (
        tf.stack([batch_size, config.z_dim])
        if isinstance(batch_size, tf.Tensor)
        else (batch_size, config.z_dim)
    )
    if config.noise == "uniform":
        return rng.uniform(shape, minval=-1.0, maxval=1.0, dtype=tf.float32)
    return rng.normal(shape, dtype=tf.float32)
