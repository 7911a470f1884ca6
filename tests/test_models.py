"""The paper's architecture rules (Radford et al. 2015, Section 3), one test each."""

from __future__ import annotations

import tfx_dcgan  # noqa: F401
from tfx_dcgan import models
from tfx_dcgan.config import ConfigError, ModelConfig

import numpy as np
import pytest
import tensorflow as tf

GEOMETRIES = [(16, 3), (32, 3), (32, 1), (64, 3), (64, 1)]


def _config(image_size=32, channels=3, **kwargs):
    values = dict(image_size=image_size, channels=channels, ngf=8, ndf=8)
    values.update(kwargs)
    return ModelConfig(**values)


def _layers_of(model, layer_type):
    return [layer for layer in model.layers if type(layer) is layer_type]


def _next_layer(model, layer):
    """The layer that consumes `layer`'s output (these models are chains)."""
    index = model.layers.index(layer)
    return model.layers[index + 1]


@pytest.mark.parametrize("image_size,channels", GEOMETRIES)
def test_generator_shapes_and_range(image_size, channels):
    config = _config(image_size, channels)
    generator = models.build_generator(config, seed=1)
    z = tf.random.uniform([5, config.z_dim], -1.0, 1.0, seed=3)
    for training in (True, False):
        images = generator(z, training=training).numpy()
        assert images.shape == (5, image_size, image_size, channels)
        assert images.dtype == np.float32
        assert images.min() >= -1.0 and images.max() <= 1.0


@pytest.mark.parametrize("image_size,channels", GEOMETRIES)
def test_discriminator_output_is_one_logit(image_size, channels):
    config = _config(image_size, channels)
    discriminator = models.build_discriminator(config, seed=1)
    logits = discriminator(tf.zeros([3, image_size, image_size, channels]), training=False)
    assert logits.shape == (3, 1)


@pytest.mark.parametrize("image_size", [16, 32, 64])
def test_generator_uses_fractionally_strided_convs_and_no_pooling(image_size):
    config = _config(image_size)
    generator = models.build_generator(config)
    deconvs = _layers_of(generator, tf.keras.layers.Conv2DTranspose)
    assert len(deconvs) == config.num_resolution_steps  # 4 -> image_size, doubling
    for layer in deconvs:
        assert layer.strides == (2, 2)
        assert layer.kernel_size == (config.kernel_size, config.kernel_size)
    forbidden = (
        tf.keras.layers.MaxPool2D,
        tf.keras.layers.AveragePooling2D,
        tf.keras.layers.UpSampling2D,
        tf.keras.layers.GlobalAveragePooling2D,
        tf.keras.layers.Conv2D,
    )
    assert not [layer for layer in generator.layers if type(layer) in forbidden]


@pytest.mark.parametrize("image_size", [16, 32, 64])
def test_discriminator_uses_strided_convs_and_no_pooling(image_size):
    config = _config(image_size)
    discriminator = models.build_discriminator(config)
    convs = _layers_of(discriminator, tf.keras.layers.Conv2D)
    assert len(convs) == config.num_resolution_steps
    assert [layer.strides for layer in convs] == [(2, 2)] * len(convs)
    assert convs[-1].output_shape[1:3] == (4, 4)  # down to a 4x4 map
    pooling = [layer for layer in discriminator.layers if "Pool" in type(layer).__name__]
    assert not pooling


def test_no_fully_connected_hidden_layers():
    config = _config(64)
    generator = models.build_generator(config)
    discriminator = models.build_discriminator(config)
    # G: the only Dense is the projection of z, directly on the input and reshaped to 4x4.
    dense = _layers_of(generator, tf.keras.layers.Dense)
    assert [layer.name for layer in dense] == ["g_project"]
    assert generator.layers.index(dense[0]) == 1
    assert isinstance(_next_layer(generator, dense[0]), tf.keras.layers.Reshape)
    # D: the only Dense is the output logit, on the flattened last conv map.
    dense = _layers_of(discriminator, tf.keras.layers.Dense)
    assert [layer.name for layer in dense] == ["d_logit"]
    assert dense[0].units == 1
    assert discriminator.layers[-1] is dense[0]
    assert isinstance(discriminator.layers[-2], tf.keras.layers.Flatten)


def test_generator_batch_norm_everywhere_but_output():
    config = _config(32)
    generator = models.build_generator(config)
    bns = _layers_of(generator, tf.keras.layers.BatchNormalization)
    deconvs = _layers_of(generator, tf.keras.layers.Conv2DTranspose)
    # One BN after the projection and after every deconv except the last (output) one.
    assert len(bns) == len(deconvs)
    for layer in deconvs[:-1]:
        assert isinstance(_next_layer(generator, layer), tf.keras.layers.BatchNormalization)
    output_layer = deconvs[-1]
    after = _next_layer(generator, output_layer)
    assert isinstance(after, tf.keras.layers.Activation)
    assert after.get_config()["activation"] == "tanh"
    assert generator.layers[-1] is after


def test_generator_relu_after_every_hidden_batch_norm():
    generator = models.build_generator(_config(32))
    for bn in _layers_of(generator, tf.keras.layers.BatchNormalization):
        assert isinstance(_next_layer(generator, bn), tf.keras.layers.ReLU)
    assert not _layers_of(generator, tf.keras.layers.LeakyReLU)


def test_discriminator_batch_norm_everywhere_but_input_and_leaky_relu():
    discriminator = models.build_discriminator(_config(64))
    convs = _layers_of(discriminator, tf.keras.layers.Conv2D)
    first = _next_layer(discriminator, convs[0])
    assert isinstance(first, tf.keras.layers.LeakyReLU)  # no BN on the input layer
    assert convs[0].use_bias
    for conv in convs[1:]:
        bn = _next_layer(discriminator, conv)
        assert isinstance(bn, tf.keras.layers.BatchNormalization)
        assert not conv.use_bias  # redundant with BN's beta
        assert isinstance(_next_layer(discriminator, bn), tf.keras.layers.LeakyReLU)
    for activation in _layers_of(discriminator, tf.keras.layers.LeakyReLU):
        assert activation.alpha == pytest.approx(0.2)
    assert not _layers_of(discriminator, tf.keras.layers.ReLU)


def test_widths_follow_ngf_ndf_and_paper_lsun_shape():
    paper = ModelConfig(image_size=64, ngf=128, ndf=64, kernel_size=4)
    assert models.generator_widths(paper) == [1024, 512, 256, 128]
    assert models.discriminator_widths(paper) == [64, 128, 256, 512]
    generator = models.build_generator(paper)
    assert generator.get_layer("g_project").units == 4 * 4 * 1024
    deconvs = _layers_of(generator, tf.keras.layers.Conv2DTranspose)
    assert [layer.filters for layer in deconvs] == [512, 256, 128, 3]
    assert deconvs[0].kernel_size == (4, 4)


def test_weights_are_normal_with_stddev_002():
    config = ModelConfig(image_size=32, ngf=32, ndf=32)
    for model in (
        models.build_generator(config, seed=5),
        models.build_discriminator(config, seed=5),
    ):
        for layer in model.layers:
            if isinstance(layer, (tf.keras.layers.Conv2D, tf.keras.layers.Dense)):
                kernel = layer.kernel.numpy().ravel()
                assert abs(kernel.mean()) < 0.002, layer.name
                if kernel.size >= 2000:
                    assert kernel.std() == pytest.approx(0.02, rel=0.08), layer.name
                # A normal, not a truncated normal: about 4.6% of draws lie beyond 2 sigma.
                if kernel.size >= 20000:
                    beyond = np.mean(np.abs(kernel) > 0.04)
                    assert 0.03 < beyond < 0.06, layer.name


def test_seeded_builds_are_reproducible():
    config = _config(32)
    first = models.build_generator(config, seed=11).get_weights()
    second = models.build_generator(config, seed=11).get_weights()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_sync_batch_norm_option():
    for sync in (False, True):
        generator = models.build_generator(_config(32, sync_batch_norm=sync))
        discriminator = models.build_discriminator(_config(32, sync_batch_norm=sync))
        bns = _layers_of(generator, tf.keras.layers.BatchNormalization)
        bns += _layers_of(discriminator, tf.keras.layers.BatchNormalization)
        assert bns and all(layer.synchronized is sync for layer in bns)


@pytest.mark.parametrize("image_size,ndf", [(16, 4), (32, 8), (64, 8)])
def test_feature_extractor_is_max_pooled_conv_activations(image_size, ndf):
    config = _config(image_size, ndf=ndf)
    discriminator = models.build_discriminator(config, seed=2)
    extractor = models.build_feature_extractor(discriminator)
    images = tf.random.uniform([3, image_size, image_size, 3], -1.0, 1.0, seed=4)
    features = extractor(images, training=False).numpy()
    assert features.shape == (3, models.feature_size(config))
    assert models.feature_size(config) == 16 * sum(
        ndf * 2**i for i in range(config.num_resolution_steps)
    )
    # Recompute by hand: each LeakyReLU output, max over non-overlapping windows to 4x4.
    names = models.discriminator_conv_activation_names(discriminator)
    probe = tf.keras.Model(discriminator.input, [discriminator.get_layer(n).output for n in names])
    expected = []
    for activation in probe(images, training=False):
        activation = activation.numpy()
        n, side, _, width = activation.shape
        window = side // 4
        pooled = activation.reshape(n, 4, window, 4, window, width).max(axis=(2, 4))
        expected.append(pooled.reshape(n, -1))
    np.testing.assert_allclose(features, np.concatenate(expected, axis=1), rtol=1e-6, atol=1e-6)


def test_feature_extractor_shares_weights_with_discriminator():
    discriminator = models.build_discriminator(_config(32), seed=2)
    extractor = models.build_feature_extractor(discriminator)
    assert extractor.get_layer("d_conv0") is discriminator.get_layer("d_conv0")


def test_noise_distributions():
    rng = tf.random.Generator.from_seed(0)
    uniform = models.sample_noise(rng, 4000, _config(32)).numpy()
    assert uniform.shape == (4000, 100)
    assert uniform.min() >= -1.0 and uniform.max() <= 1.0
    assert uniform.std() == pytest.approx(2 / np.sqrt(12), rel=0.02)
    normal = models.sample_noise(rng, 4000, _config(32, noise="normal")).numpy()
    assert normal.std() == pytest.approx(1.0, rel=0.02)
    assert np.abs(normal).max() > 1.0


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("image_size", 48, "model.image_size must be a power of two >= 16"),
        ("image_size", 8, "model.image_size must be a power of two >= 16"),
        ("channels", 4, "model.channels"),
        ("noise", "cauchy", "model.noise"),
        ("ngf", 0, "model.ngf"),
    ],
)
def test_invalid_model_config_names_the_field(field, value, message):
    with pytest.raises(ConfigError, match=message):
        models.build_generator(ModelConfig(**{field: value}))
