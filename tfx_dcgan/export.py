"""SavedModel export of the generator and the discriminator's probe features, for TF Serving.

Two SavedModels leave a training run (the layout the Trainer writes and the Pusher publishes):

Generator (`export_generator`), signatures:
  * `serving_default`: `z` float32 [N, z_dim] -> `images` uint8 [N, S, S, C] (ready to save) and
    `raw` float32 [N, S, S, C] in [-1, 1] (G's tanh output).
  * `generate`: `seed` int64 scalar, `count` int64 scalar -> `images`, `raw` and the `z` float32
    [count, z_dim] it drew with a stateless (Philox) RNG from `model_config.noise`, so the same seed
    gives the same images on every server, and equals `serving_default` on the returned `z`.
  * `interpolate`: `z0`, `z1` float32 [z_dim] or [1, z_dim], `steps` int64 scalar (>= 2) -> `images`,
    `raw` and `z` [steps, z_dim]: the linear walk from z0 to z1, both ends included (Radford et al.
    2015, Section 6.1).
  * `metadata`: no inputs -> the model config (image_size, channels, z_dim, ngf, ndf, kernel_size,
    noise, step, batch_limit) as scalar tensors. TF Serving's `GetModelMetadata` only returns
    `signature_def`, so the config travels in this signature (and in `assets.extra/model_config.json`).

Discriminator features (`export_discriminator_features`), signatures:
  * `serving_default`: `image_bytes` string [N] (encoded JPEG/PNG/GIF/BMP, any size: the same
    preprocessing as training, `image_ops.preprocess_encoded_image`, or the Transform graph passed
    in) -> `features` float32 [N, F] (the paper's Section 5.1 probe features) and `score` float32 [N]
    (D(x) = sigmoid(logit), D's belief that the image is real) and `logits` float32 [N].
  * `features_from_pixels`: `images` float32 [N, S, S, C] in [-1, 1] -> the same outputs.
  * `metadata`: as above, plus `feature_size`.
  D runs once per request (one model gives features and logit). `assets.extra/model_config.json`
  also says which preprocessing is inside (`preprocessing`: "transform_graph" from the Trainer) and
  where the batch-norm statistics come from (`batch_norm`: the Trainer re-estimates them on the
  real training split, the statistics the feature probe judged).

Every batch is bounded by `batch_limit`; a larger one fails with InvalidArgumentError whose message
names the input (TF Serving maps it to gRPC INVALID_ARGUMENT). Networks run with `training=False`.
Exports are atomic: written to a temporary sibling folder, then renamed; an existing `export_dir`
is never overwritten.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from collections.abc import Callable

from tfx_dcgan import fileio, image_ops, models
from tfx_dcgan.config import ModelConfig

import tensorflow as tf

__all__ = [
    "CONFIG_ASSET",
    "DEFAULT_BATCH_LIMIT",
    "GENERATOR_SIGNATURES",
    "FEATURE_SIGNATURES",
    "export_generator",
    "export_discriminator_features",
]

DEFAULT_BATCH_LIMIT = 1024
# TF Serving's convention for extra files next to a SavedModel (it ignores this folder).
CONFIG_ASSET = os.path.join("assets.extra", "model_config.json")
GENERATOR_SIGNATURES = ("serving_default", "generate", "interpolate", "metadata")
FEATURE_SIGNATURES = ("serving_default", "features_from_pixels", "metadata")


def _check_batch(size: tf.Tensor, batch_limit: int, field: str) -> list[tf.Operation]:
    """Asserts 0 <= size <= batch_limit with a message naming `field`."""
    size = tf.cast(size, tf.int64)
    return [
        tf.debugging.assert_less_equal(
            size,
            tf.constant(batch_limit, tf.int64),
            message=f"{field}: batch size exceeds the model's batch_limit of {batch_limit}",
        ),
        tf.debugging.assert_non_negative(size, message=f"{field}: must be >= 0"),
    ]


def _config_tensors(model_config: ModelConfig, step: int, batch_limit: int) -> dict[str, tf.Tensor]:
    values = {
        "image_size": tf.constant(model_config.image_size, tf.int64),
        "channels": tf.constant(model_config.channels, tf.int64),
        "z_dim": tf.constant(model_config.z_dim, tf.int64),
        "ngf": tf.constant(model_config.ngf, tf.int64),
        "ndf": tf.constant(model_config.ndf, tf.int64),
        "kernel_size": tf.constant(model_config.kernel_size, tf.int64),
        "noise": tf.constant(model_config.noise, tf.string),
        "step": tf.constant(step, tf.int64),
        "batch_limit": tf.constant(batch_limit, tf.int64),
    }
    return values


def _write_config_asset(saved_model_dir: str, payload: dict) -> None:
    path = os.path.join(saved_model_dir, CONFIG_ASSET)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(payload, indent=2, sort_keys=True))


def _save_atomically(module: tf.Module, signatures: dict, export_dir: str, payload: dict) -> str:
    """Saves `module` to a temporary sibling of `export_dir`, then publishes it there (a rename
    on local disk; on object stores a copy with saved_model.pb last, see fileio)."""
    export_dir = export_dir.rstrip("/")
    if tf.io.gfile.exists(export_dir):
        raise FileExistsError(
            f"export_dir {export_dir!r} already exists; exports never overwrite (choose a new folder)"
        )
    parent = os.path.dirname(export_dir) or "."
    tf.io.gfile.makedirs(parent)
    temporary = os.path.join(parent, f".{os.path.basename(export_dir)}.tmp-{uuid.uuid4().hex}")
    try:
        try:
            tf.saved_model.save(module, temporary, signatures=signatures)
            _write_config_asset(temporary, payload)
        except (OSError, tf.errors.OpError) as error:
            raise OSError(
                f"could not write the SavedModel for {export_dir} (staged in {temporary}, now "
                f"removed; nothing was published): {fileio.describe_write_failure(temporary, error)}"
            ) from error
        if not fileio.publish_directory(temporary, export_dir, marker="saved_model.pb"):
            raise FileExistsError(
                f"export_dir {export_dir!r} appeared while exporting; not replaced"
            )
    finally:
        fileio.rmtree(temporary)
    return export_dir


def _validate(model_config: ModelConfig, batch_limit: int, step: int) -> None:
    model_config.validate()
    if int(batch_limit) <= 0:
        raise ValueError(f"batch_limit must be a positive integer, got {batch_limit}")
    if int(step) < 0:
        raise ValueError(f"step must be >= 0, got {step}")


def export_generator(
    generator: tf.keras.Model,
    model_config: ModelConfig,
    export_dir: str,
    *,
    step: int,
    batch_limit: int = DEFAULT_BATCH_LIMIT,
) -> str:
    """Exports G as a SavedModel with `serving_default`, `generate`, `interpolate`, `metadata`.

    Args:
      generator: Keras model from `models.build_generator(model_config)`: float32 [N, z_dim] ->
        float32 [N, S, S, C] in [-1, 1].
      model_config: the architecture G was built with (z size, noise distribution, image shape).
      export_dir: the SavedModel folder to create; must not exist yet.
      step: training step of the weights (reported by `metadata`).
      batch_limit: the largest N (z rows, `count`, `steps`) any signature accepts.

    Returns:
      `export_dir`.

    Raises:
      FileExistsError: `export_dir` exists.
      ValueError: bad `batch_limit`/`step`, or G's input does not match `model_config.z_dim`.
    """
    _validate(model_config, batch_limit, step)
    z_dim = model_config.z_dim
    if generator.input_shape[-1] != z_dim:
        raise ValueError(
            f"generator takes z of size {generator.input_shape[-1]}, model_config.z_dim is {z_dim}"
        )
    batch_limit = int(batch_limit)

    def run_generator(z: tf.Tensor) -> dict[str, tf.Tensor]:
        raw = tf.cast(generator(z, training=False), tf.float32)
        return {"images": image_ops.from_model_range(raw), "raw": raw}

    @tf.function(input_signature=[tf.TensorSpec([None, z_dim], tf.float32, name="z")])
    def serve(z):
        with tf.control_dependencies(_check_batch(tf.shape(z)[0], batch_limit, "z")):
            z = tf.identity(z)
        return run_generator(z)

    @tf.function(input_signature=[])
    def metadata():
        return _config_tensors(model_config, step, batch_limit)

    module = tf.Module()
    module.generator = generator
    signatures = {
        "serving_default": serve,
        "generate": _generate_signature(run_generator, model_config, batch_limit),
        "interpolate": _interpolate_signature(run_generator, z_dim, batch_limit),
        "metadata": metadata,
    }
    payload = {
        "model": dataclasses.asdict(model_config),
        "step": int(step),
        "batch_limit": batch_limit,
        "signatures": list(GENERATOR_SIGNATURES),
    }
    return _save_atomically(module, signatures, export_dir, payload)


GeneratorFn = Callable[[tf.Tensor], dict[str, tf.Tensor]]


def _generate_signature(
    run_generator: GeneratorFn, model_config: ModelConfig, batch_limit: int
) -> tf.types.experimental.GenericFunction:
    """`generate(seed, count)`: `count` images from z drawn statelessly from `seed`."""
    z_dim, noise = model_config.z_dim, model_config.noise

    @tf.function(
        input_signature=[
            tf.TensorSpec([], tf.int64, name="seed"),
            tf.TensorSpec([], tf.int64, name="count"),
        ]
    )
    def generate(seed, count):
        checks = _check_batch(count, batch_limit, "count")
        with tf.control_dependencies(checks):
            shape = tf.stack([count, tf.constant(z_dim, tf.int64)])
        # Stateless Philox: the draw is a pure function of (seed, count), on any device or server.
        rng_seed = tf.stack([seed, tf.constant(0, tf.int64)])
        if noise == "uniform":
            z = tf.random.stateless_uniform(
                shape, rng_seed, minval=-1.0, maxval=1.0, dtype=tf.float32, alg="philox"
            )
        else:
            z = tf.random.stateless_normal(shape, rng_seed, dtype=tf.float32, alg="philox")
        outputs = run_generator(z)
        outputs["z"] = z
        return outputs

    return generate


def _interpolation_checks(
    z0: tf.Tensor, z1: tf.Tensor, steps: tf.Tensor, z_dim: int, batch_limit: int
) -> list[tf.Operation]:
    checks = _check_batch(steps, batch_limit, "steps") + [
        tf.debugging.assert_greater_equal(
            steps, tf.constant(2, tf.int64), message="steps: must be >= 2 (both ends included)"
        )
    ]
    for name, z in (("z0", z0), ("z1", z1)):
        checks += [
            tf.debugging.assert_equal(
                tf.size(z),
                z_dim,
                message=f"{name}: must hold z_dim={z_dim} values ([z_dim] or [1, z_dim])",
            ),
            tf.debugging.assert_less_equal(
                tf.rank(z), 2, message=f"{name}: must have shape [z_dim] or [1, z_dim]"
            ),
        ]
    return checks


def _interpolate_signature(
    run_generator: GeneratorFn, z_dim: int, batch_limit: int
) -> tf.types.experimental.GenericFunction:
    """`interpolate(z0, z1, steps)`: images along the straight line from z0 to z1, ends included."""

    @tf.function(
        input_signature=[
            tf.TensorSpec(None, tf.float32, name="z0"),
            tf.TensorSpec(None, tf.float32, name="z1"),
            tf.TensorSpec([], tf.int64, name="steps"),
        ]
    )
    def interpolate(z0, z1, steps):
        with tf.control_dependencies(_interpolation_checks(z0, z1, steps, z_dim, batch_limit)):
            start = tf.reshape(z0, [1, z_dim])
            end = tf.reshape(z1, [1, z_dim])
            alphas = tf.reshape(tf.linspace(0.0, 1.0, tf.cast(steps, tf.int32)), [-1, 1])
        z = start + alphas * (end - start)
        outputs = run_generator(z)
        outputs["z"] = z
        return outputs

    return interpolate


def _default_preprocess(model_config: ModelConfig) -> Callable[[tf.Tensor], tf.Tensor]:
    size, channels = model_config.image_size, model_config.channels

    def preprocess(encoded: tf.Tensor) -> tf.Tensor:
        return tf.map_fn(
            lambda one: image_ops.preprocess_encoded_image(one, size, channels),
            encoded,
            fn_output_signature=tf.TensorSpec([size, size, channels], tf.float32),
        )

    return preprocess


def export_discriminator_features(
    discriminator: tf.keras.Model,
    model_config: ModelConfig,
    export_dir: str,
    *,
    step: int,
    preprocess_encoded: Callable[[tf.Tensor], tf.Tensor] | None = None,
    preprocessing: str = "",
    batch_norm: dict | None = None,
    batch_limit: int = DEFAULT_BATCH_LIMIT,
) -> str:
    """Exports D's probe features and realness score as a SavedModel.

    D runs once per request: one Keras model gives the features and the logit.

    Args:
      discriminator: Keras model from `models.build_discriminator(model_config)`, normally with
        batch-norm statistics re-estimated on the real training images and frozen
        (`probe.reestimate_batch_norm`), the statistics the feature probe judges.
      model_config: the architecture D was built with.
      export_dir: the SavedModel folder to create; must not exist yet.
      step: training step of the weights (reported by `metadata`).
      preprocess_encoded: string [N] of encoded images -> float32 [N, S, S, C] in [-1, 1], e.g. the
        Transform graph; if it is a trackable (tf.Module / Keras layer) its resources are saved with
        the model. None: `image_ops.preprocess_encoded_image` mapped over the batch.
      preprocessing: what `preprocess_encoded` is, recorded in `assets.extra/model_config.json`
        ("transform_graph" from the Trainer); default "custom", or "image_ops" when None.
      batch_norm: where the BN statistics come from (e.g. {"source": "reestimated", "split":
        "train", "examples": 50000}), recorded likewise; default {"source": "training"}.
      batch_limit: the largest N either signature accepts.

    Returns:
      `export_dir`.

    Raises:
      FileExistsError: `export_dir` exists.
      ValueError: bad `batch_limit`/`step`.
    """
    _validate(model_config, batch_limit, step)
    batch_limit = int(batch_limit)
    size, channels = model_config.image_size, model_config.channels
    features_and_logits = models.build_features_and_logits(discriminator)
    preprocess = preprocess_encoded or _default_preprocess(model_config)

    def run_discriminator(images: tf.Tensor) -> dict[str, tf.Tensor]:
        features, logits = features_and_logits(images, training=False)
        logits = tf.reshape(tf.cast(logits, tf.float32), [-1])
        features = tf.cast(features, tf.float32)
        return {"features": features, "score": tf.sigmoid(logits), "logits": logits}

    @tf.function(
        input_signature=[tf.TensorSpec([None, size, size, channels], tf.float32, name="images")]
    )
    def features_from_pixels(images):
        with tf.control_dependencies(_check_batch(tf.shape(images)[0], batch_limit, "images")):
            images = tf.identity(images)
        return run_discriminator(images)

    @tf.function(input_signature=[])
    def metadata():
        values = _config_tensors(model_config, step, batch_limit)
        values["feature_size"] = tf.constant(models.feature_size(model_config), tf.int64)
        return values

    module = tf.Module()
    module.discriminator = discriminator
    module.features_and_logits = features_and_logits
    if isinstance(preprocess_encoded, (tf.Module, tf.keras.layers.Layer)):
        module.preprocess = preprocess_encoded
    signatures = {
        "serving_default": _encoded_images_signature(
            run_discriminator, preprocess, model_config, batch_limit
        ),
        "features_from_pixels": features_from_pixels,
        "metadata": metadata,
    }
    payload = {
        "model": dataclasses.asdict(model_config),
        "step": int(step),
        "batch_limit": batch_limit,
        "feature_size": models.feature_size(model_config),
        "signatures": list(FEATURE_SIGNATURES),
        "preprocessing": preprocessing or ("image_ops" if preprocess_encoded is None else "custom"),
        "batch_norm": dict(batch_norm or {"source": "training"}),
    }
    return _save_atomically(module, signatures, export_dir, payload)


def _encoded_images_signature(
    run_discriminator: Callable[[tf.Tensor], dict[str, tf.Tensor]],
    preprocess: Callable[[tf.Tensor], tf.Tensor],
    model_config: ModelConfig,
    batch_limit: int,
) -> tf.types.experimental.GenericFunction:
    """`serving_default(image_bytes)`: encoded images, preprocessed in the graph, then D."""
    size, channels = model_config.image_size, model_config.channels

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve(image_bytes):
        with tf.control_dependencies(
            _check_batch(tf.shape(image_bytes)[0], batch_limit, "image_bytes")
        ):
            image_bytes = tf.identity(image_bytes)
        images = tf.ensure_shape(
            tf.cast(preprocess(image_bytes), tf.float32), [None, size, size, channels]
        )
        return run_discriminator(images)

    return serve
