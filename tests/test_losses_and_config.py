"""Losses against their closed forms; config validation and round trips; image ops."""

from __future__ import annotations

import json

import tfx_dcgan  # noqa: F401
from tfx_dcgan import image_ops, losses, visualize
from tfx_dcgan.config import ConfigError, DataConfig, ExperimentConfig, ModelConfig, TrainConfig

import numpy as np
import pytest
import tensorflow as tf


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_discriminator_loss_matches_cross_entropy():
    real = np.array([[2.0], [-1.0], [0.0]], np.float32)
    fake = np.array([[-3.0], [0.5], [0.0]], np.float32)
    expected = -np.log(_sigmoid(real[:, 0])) - np.log(1.0 - _sigmoid(fake[:, 0]))
    got = losses.minimax_discriminator_loss(real, fake).numpy()
    assert got.shape == (3,)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_generator_loss_is_non_saturating():
    fake = np.array([-8.0, 0.0, 4.0], np.float32)
    np.testing.assert_allclose(
        losses.modified_generator_loss(fake).numpy(), -np.log(_sigmoid(fake)), rtol=1e-5
    )
    # Non-saturating: when D confidently rejects fakes, G's gradient stays large (≈ -1 per logit)
    # where the minimax log(1 - D(G(z))) gradient would vanish.
    logits = tf.Variable([-8.0])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(losses.modified_generator_loss(logits))
    assert tape.gradient(loss, logits).numpy()[0] < -0.99


def test_losses_are_stable_for_extreme_logits():
    extreme = np.array([1e4, -1e4], np.float32)
    assert np.all(np.isfinite(losses.minimax_discriminator_loss(extreme, extreme).numpy()))
    assert np.all(np.isfinite(losses.modified_generator_loss(extreme).numpy()))


def test_defaults_follow_the_paper():
    train = TrainConfig()
    model = ModelConfig()
    assert (train.learning_rate, train.beta1, train.batch_size) == (2e-4, 0.5, 128)
    assert (model.z_dim, model.noise) == (100, "uniform")


def test_config_round_trip_through_json():
    config = ExperimentConfig(
        data=DataConfig(data_dir="/data", shuffle_seed=3),
        model=ModelConfig(image_size=64, ngf=128, kernel_size=4),
        train=TrainConfig(steps=7, strategy="mirrored"),
    )
    again = ExperimentConfig.from_dict(json.loads(config.to_json()))
    assert again == config


def test_config_rejects_unknown_fields():
    with pytest.raises(
        ConfigError, match="unknown fields in config section 'model': \\['width'\\]"
    ):
        ExperimentConfig.from_dict({"model": {"width": 3}})


@pytest.mark.parametrize(
    "train_kwargs,message",
    [
        ({"batch_size": 0}, "train.batch_size must be positive"),
        ({"steps": -1}, "train.steps must be positive"),
        ({"strategy": "tpu"}, "train.strategy must be one of"),
        ({"beta1": 1.0}, "train.beta1"),
    ],
)
def test_train_config_errors_name_the_field(train_kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ExperimentConfig(train=TrainConfig(**train_kwargs)).validate()


def test_workdir_is_required():
    from tfx_dcgan import train_lib

    with pytest.raises(ConfigError, match="workdir must be set"):
        train_lib.train(ExperimentConfig(), "")


def test_config_files_of_older_runs_still_load():
    # config.json written while the workdir was part of the config.
    values = {**ExperimentConfig().to_dict(), "workdir": "/old/run"}
    assert ExperimentConfig.from_dict(values) == ExperimentConfig()


def test_center_crop_and_resize_keeps_the_centre():
    # A 40x20 image whose centre 20x20 square is white and the rest black.
    image = np.zeros([40, 20, 3], np.uint8)
    image[10:30] = 255
    out = image_ops.center_crop_and_resize(tf.constant(image), 10).numpy()
    assert out.shape == (10, 10, 3) and out.dtype == np.uint8
    assert out.min() == 255
    upscaled = image_ops.center_crop_and_resize(tf.constant(image), 64).numpy()
    assert upscaled.shape == (64, 64, 3) and upscaled.min() == 255


def test_model_range_round_trip():
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    scaled = image_ops.to_model_range(pixels).numpy()
    assert scaled.min() == -1.0 and scaled.max() == 1.0
    np.testing.assert_array_equal(image_ops.from_model_range(scaled).numpy(), pixels)


def test_preprocess_converts_grayscale_and_rgba(tmp_path):
    from PIL import Image

    gray = np.full([8, 8], 200, np.uint8)
    path = tmp_path / "g.png"
    Image.fromarray(gray, "L").save(path)
    rgb = image_ops.preprocess_encoded_image(tf.io.read_file(str(path)), 16, 3).numpy()
    assert rgb.shape == (16, 16, 3)
    np.testing.assert_allclose(rgb, 200 / 127.5 - 1, atol=1e-6)
    rgba = np.zeros([8, 8, 4], np.uint8)
    rgba[..., 0] = 255
    path = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(path)
    one = image_ops.preprocess_encoded_image(tf.io.read_file(str(path)), 16, 1).numpy()
    assert one.shape == (16, 16, 1)


def test_image_grid_png(tmp_path):
    images = np.linspace(-1, 1, 6 * 4 * 4 * 3, dtype=np.float32).reshape(6, 4, 4, 3)
    grid = visualize.make_grid(images, columns=3, padding=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 3)
    np.testing.assert_array_equal(grid[1:5, 1:5], visualize.to_uint8(images[0]))
    path = visualize.save_image_grid(images, str(tmp_path / "a" / "grid.png"), scale=2)
    from PIL import Image

    assert Image.open(path).size == (2 * (3 * 6 + 2), 2 * (2 * 6 + 2))  # padding 2, scale 2


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP"])
def test_every_format_decodes_to_grayscale_and_rgb(tmp_path, fmt):
    from PIL import Image

    pixels = np.zeros([8, 8, 3], np.uint8)
    pixels[..., 0] = 200
    path = tmp_path / f"image.{fmt.lower()}"
    Image.fromarray(pixels).save(path, fmt)
    encoded = tf.io.read_file(str(path))
    gray = image_ops.decode_image(encoded, 1).numpy()
    rgb = image_ops.decode_image(encoded, 3).numpy()
    assert gray.shape == (8, 8, 1) and rgb.shape == (8, 8, 3)
    # Red 200 has luma about 0.299 * 200 = 60 (GIF's palette and JPEG round a little).
    assert abs(int(gray.mean()) - 60) <= 4
