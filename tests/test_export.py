"""Tests for tfx_dcgan.export: every signature, loaded in a fresh process, equals the Keras call."""

import io
import json
import os
import subprocess
import sys
import textwrap

import tfx_dcgan  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfx_dcgan import export, image_ops, models
from tfx_dcgan.config import ModelConfig

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

BATCH_LIMIT = 6
RGB = ModelConfig(image_size=16, channels=3, z_dim=8, noise="uniform", ngf=4, ndf=4)
GRAY = ModelConfig(image_size=16, channels=1, z_dim=5, noise="normal", ngf=4, ndf=4, kernel_size=4)

# Runs in a fresh interpreter that never imports tfx_dcgan: the SavedModels must stand alone.
_PROBE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    root, inputs_path, outputs_path = sys.argv[1:4]
    inputs = dict(np.load(inputs_path, allow_pickle=True))
    results, errors, listing = {}, {}, {}

    def call(model, signature, prefix, **kwargs):
        out = model.signatures[signature](**{k: tf.constant(v) for k, v in kwargs.items()})
        for key, value in out.items():
            results[f"{prefix}/{signature}/{key}"] = value.numpy()

    def expect_error(model, signature, label, **kwargs):
        try:
            model.signatures[signature](**{k: tf.constant(v) for k, v in kwargs.items()})
            errors[label] = "NO ERROR"
        except tf.errors.InvalidArgumentError as error:
            errors[label] = error.message

    for name in ("gen_rgb", "gen_gray"):
        model = tf.saved_model.load(f"{root}/{name}")
        listing[name] = sorted(model.signatures)
        call(model, "serving_default", name, z=inputs[f"{name}/z"])
        call(model, "generate", name, seed=np.int64(7), count=np.int64(4))
        out = model.signatures["generate"](seed=tf.constant(7, tf.int64), count=tf.constant(4, tf.int64))
        results[f"{name}/generate_again/images"] = out["images"].numpy()
        call(model, "interpolate", name, z0=inputs[f"{name}/z0"], z1=inputs[f"{name}/z1"],
             steps=np.int64(5))
        call(model, "metadata", name)
        z_dim = inputs[f"{name}/z"].shape[1]
        expect_error(model, "serving_default", f"{name}/z_over",
                     z=np.zeros([7, z_dim], np.float32))
        expect_error(model, "generate", f"{name}/count_over", seed=np.int64(1), count=np.int64(7))
        expect_error(model, "interpolate", f"{name}/steps_over", z0=inputs[f"{name}/z0"],
                     z1=inputs[f"{name}/z1"], steps=np.int64(7))
        expect_error(model, "interpolate", f"{name}/z0_size",
                     z0=np.zeros([z_dim + 1], np.float32), z1=inputs[f"{name}/z1"],
                     steps=np.int64(3))

    model = tf.saved_model.load(f"{root}/disc_rgb")
    listing["disc_rgb"] = sorted(model.signatures)
    call(model, "serving_default", "disc_rgb", image_bytes=inputs["disc_rgb/image_bytes"])
    call(model, "features_from_pixels", "disc_rgb", images=inputs["disc_rgb/images"])
    call(model, "metadata", "disc_rgb")
    expect_error(model, "serving_default", "disc_rgb/bytes_over",
                 image_bytes=np.array([inputs["disc_rgb/image_bytes"][0]] * 7, object))
    expect_error(model, "serving_default", "disc_rgb/corrupt", image_bytes=np.array([b"junk"], object))
    expect_error(model, "features_from_pixels", "disc_rgb/pixels_over",
                 images=np.zeros([7, 16, 16, 3], np.float32))

    np.savez(outputs_path, **results)
    with open(outputs_path + ".json", "w") as handle:
        json.dump({"errors": errors, "listing": listing,
                   "tfx_dcgan_imported": any(m.startswith("tfx_dcgan") for m in sys.modules)},
                  handle)
    """
)


def _encode(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("exports"))
    nets = {
        "gen_rgb": (models.build_generator(RGB, seed=1), RGB),
        "gen_gray": (models.build_generator(GRAY, seed=2), GRAY),
    }
    for name, (generator, cfg) in nets.items():
        assert (
            export.export_generator(
                generator, cfg, f"{root}/{name}", step=11, batch_limit=BATCH_LIMIT
            )
            == f"{root}/{name}"
        )
    discriminator = models.build_discriminator(RGB, seed=3)
    export.export_discriminator_features(
        discriminator, RGB, f"{root}/disc_rgb", step=11, batch_limit=BATCH_LIMIT
    )

    rng = np.random.default_rng(0)
    pictures = [
        _encode(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8), "PNG"),
        _encode(rng.integers(0, 256, (64, 48, 3), dtype=np.uint8), "JPEG"),
        _encode(rng.integers(0, 256, (9, 9, 3), dtype=np.uint8), "BMP"),
    ]
    inputs = {
        "disc_rgb/image_bytes": np.array(pictures, dtype=object),
        "disc_rgb/images": rng.uniform(-1, 1, (3, 16, 16, 3)).astype(np.float32),
    }
    for name, (_, cfg) in nets.items():
        inputs[f"{name}/z"] = rng.uniform(-1, 1, (3, cfg.z_dim)).astype(np.float32)
        inputs[f"{name}/z0"] = rng.uniform(-1, 1, (cfg.z_dim,)).astype(np.float32)
        inputs[f"{name}/z1"] = rng.uniform(-1, 1, (1, cfg.z_dim)).astype(np.float32)
    inputs_path, outputs_path = f"{root}/inputs.npz", f"{root}/outputs.npz"
    np.savez(inputs_path, **inputs)

    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env.update(TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    process = subprocess.run(
        [sys.executable, "-c", _PROBE, root, inputs_path, outputs_path],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    with open(outputs_path + ".json") as handle:
        report = json.load(handle)
    return {
        "root": root,
        "nets": nets,
        "discriminator": discriminator,
        "inputs": inputs,
        "outputs": dict(np.load(outputs_path)),
        "report": report,
    }


def test_fresh_process_lists_every_signature_without_project_code(exported):
    listing = exported["report"]["listing"]
    assert listing["gen_rgb"] == sorted(export.GENERATOR_SIGNATURES)
    assert listing["gen_gray"] == sorted(export.GENERATOR_SIGNATURES)
    assert listing["disc_rgb"] == sorted(export.FEATURE_SIGNATURES)
    assert exported["report"]["tfx_dcgan_imported"] is False


@pytest.mark.parametrize("name", ["gen_rgb", "gen_gray"])
def test_generator_signatures_equal_keras(exported, name):
    generator, cfg = exported["nets"][name]
    out, inputs = exported["outputs"], exported["inputs"]
    shape = (cfg.image_size, cfg.image_size, cfg.channels)

    raw = generator(inputs[f"{name}/z"], training=False).numpy()
    np.testing.assert_allclose(out[f"{name}/serving_default/raw"], raw, atol=1e-6)
    images = out[f"{name}/serving_default/images"]
    assert images.dtype == np.uint8 and images.shape == (3, *shape)
    np.testing.assert_array_equal(images, image_ops.from_model_range(raw).numpy())

    # generate: deterministic, the stateless draw of the configured distribution, and equal to
    # serving_default (here: Keras) on the z it returns.
    z = out[f"{name}/generate/z"]
    assert z.shape == (4, cfg.z_dim) and z.dtype == np.float32
    np.testing.assert_array_equal(
        out[f"{name}/generate_again/images"], out[f"{name}/generate/images"]
    )
    seed = tf.constant([7, 0], tf.int64)
    if cfg.noise == "uniform":
        expected_z = tf.random.stateless_uniform(z.shape, seed, -1.0, 1.0, alg="philox")
    else:
        expected_z = tf.random.stateless_normal(z.shape, seed, alg="philox")
    np.testing.assert_array_equal(z, expected_z.numpy())
    generated_raw = generator(z, training=False).numpy()
    np.testing.assert_allclose(out[f"{name}/generate/raw"], generated_raw, atol=1e-6)
    np.testing.assert_array_equal(
        out[f"{name}/generate/images"], image_ops.from_model_range(generated_raw).numpy()
    )

    # interpolate: a straight line from z0 to z1 (both ends included) through G.
    walk = out[f"{name}/interpolate/z"]
    z0, z1 = inputs[f"{name}/z0"], inputs[f"{name}/z1"][0]
    assert walk.shape == (5, cfg.z_dim)
    np.testing.assert_allclose(walk[0], z0, atol=1e-6)
    np.testing.assert_allclose(walk[-1], z1, atol=1e-6)
    np.testing.assert_allclose(walk[2], (z0 + z1) / 2, atol=1e-6)
    np.testing.assert_allclose(
        out[f"{name}/interpolate/raw"], generator(walk, training=False).numpy(), atol=1e-6
    )
    assert out[f"{name}/interpolate/images"].shape == (5, *shape)

    metadata = {k.split("/")[-1]: v for k, v in out.items() if k.startswith(f"{name}/metadata/")}
    assert metadata["noise"] == cfg.noise.encode()
    for field in ("image_size", "channels", "z_dim", "ngf", "ndf", "kernel_size"):
        assert int(metadata[field]) == getattr(cfg, field), field
    assert int(metadata["step"]) == 11 and int(metadata["batch_limit"]) == BATCH_LIMIT


def test_feature_signatures_equal_keras(exported):
    discriminator = exported["discriminator"]
    extractor = models.build_feature_extractor(discriminator)
    out, inputs = exported["outputs"], exported["inputs"]

    pixels = tf.stack(
        [
            image_ops.preprocess_encoded_image(tf.constant(blob), RGB.image_size, RGB.channels)
            for blob in inputs["disc_rgb/image_bytes"]
        ]
    )
    for signature, images in (
        ("serving_default", pixels),
        ("features_from_pixels", inputs["disc_rgb/images"]),
    ):
        features = out[f"disc_rgb/{signature}/features"]
        assert features.shape == (3, models.feature_size(RGB)) and features.dtype == np.float32
        np.testing.assert_allclose(features, extractor(images, training=False).numpy(), atol=1e-5)
        logits = discriminator(images, training=False).numpy()[:, 0]
        np.testing.assert_allclose(out[f"disc_rgb/{signature}/logits"], logits, atol=1e-5)
        np.testing.assert_allclose(
            out[f"disc_rgb/{signature}/score"], 1 / (1 + np.exp(-logits)), atol=1e-6
        )
    assert int(out["disc_rgb/metadata/feature_size"]) == models.feature_size(RGB)


def test_errors_name_the_field(exported):
    errors = exported["report"]["errors"]
    expected = {
        "gen_rgb/z_over": ["z:", "batch_limit of 6"],
        "gen_gray/count_over": ["count:", "batch_limit of 6"],
        "gen_rgb/steps_over": ["steps:", "batch_limit of 6"],
        "gen_rgb/z0_size": ["z0:", "z_dim=8"],
        "disc_rgb/bytes_over": ["image_bytes:", "batch_limit of 6"],
        "disc_rgb/pixels_over": ["images:", "batch_limit of 6"],
        "disc_rgb/corrupt": ["Unknown image file format"],
    }
    for label, needles in expected.items():
        for needle in needles:
            assert needle in errors[label], (label, errors[label])


def test_config_asset_and_no_leftovers(exported):
    root = exported["root"]
    with open(os.path.join(root, "gen_gray", export.CONFIG_ASSET)) as handle:
        payload = json.load(handle)
    assert payload["model"]["noise"] == "normal" and payload["model"]["z_dim"] == 5
    assert payload["step"] == 11 and payload["batch_limit"] == BATCH_LIMIT
    with open(os.path.join(root, "disc_rgb", export.CONFIG_ASSET)) as handle:
        assert json.load(handle)["feature_size"] == models.feature_size(RGB)
    assert not [name for name in os.listdir(root) if ".tmp-" in name]


def test_existing_export_dir_is_never_overwritten(exported):
    target = os.path.join(exported["root"], "gen_rgb")
    before = sorted(os.listdir(target))
    generator, cfg = exported["nets"]["gen_rgb"]
    with pytest.raises(FileExistsError, match="gen_rgb"):
        export.export_generator(generator, cfg, target, step=12)
    assert sorted(os.listdir(target)) == before
    with pytest.raises(ValueError, match="z_dim"):
        export.export_generator(generator, GRAY, os.path.join(exported["root"], "other"), step=1)
    with pytest.raises(ValueError, match="batch_limit"):
        export.export_generator(
            generator, cfg, os.path.join(exported["root"], "x"), step=1, batch_limit=0
        )


def test_custom_preprocessing_is_used(tmp_path):
    discriminator = models.build_discriminator(RGB, seed=4)

    def preprocess(encoded):
        # A stand-in for the Transform graph: every image becomes mid-grey.
        count = tf.shape(encoded)[0]
        return tf.zeros(tf.stack([count, 16, 16, 3]), tf.float32)

    path = export.export_discriminator_features(
        discriminator, RGB, str(tmp_path / "disc"), step=0, preprocess_encoded=preprocess
    )
    loaded = tf.saved_model.load(path)
    out = loaded.signatures["serving_default"](image_bytes=tf.constant([b"not decoded", b"x"]))
    expected = models.build_feature_extractor(discriminator)(
        tf.zeros([2, 16, 16, 3]), training=False
    )
    np.testing.assert_allclose(out["features"].numpy(), expected.numpy(), atol=1e-6)
    assert int(loaded.signatures["metadata"]()["batch_limit"]) == export.DEFAULT_BATCH_LIMIT
