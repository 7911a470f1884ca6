"""The model artifact's layout: the one contract between Trainer, evaluator, Pusher and clients.

The Trainer writes, under the Model artifact's serving model dir (`<uri>/Format-Serving/`):

    generator/                    SavedModel: z -> images (export.export_generator)
    discriminator_features/       SavedModel: encoded image bytes -> D's probe features, through
                                  the Transform graph (export.export_discriminator_features)
    keras/generator/, keras/discriminator/   Keras SavedModels (the evaluator loads D from here)
    model_config.json             ExperimentConfig.to_dict() plus {"step": N}

The Pusher publishes `generator/` and `discriminator_features/` (SERVED_MODELS) as TF Serving
models of those names; the serving client calls them by the same names.

Light on purpose: no TensorFlow or training import, since the serving client and server read it.
File access goes through `tf.io.gfile` only in the functions that need it (imported there), so
paths may be gs://.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

__all__ = [
    "GENERATOR_DIR",
    "FEATURES_DIR",
    "KERAS_DIR",
    "MODEL_CONFIG_FILE",
    "SERVING_SUBDIR",
    "SERVED_MODELS",
    "ModelArtifactPaths",
    "paths",
    "find_serving_model_dir",
    "read_model_config",
    "write_model_config",
]

GENERATOR_DIR = "generator"
FEATURES_DIR = "discriminator_features"
KERAS_DIR = "keras"
MODEL_CONFIG_FILE = "model_config.json"
# TFX's serving model dir inside a Model artifact (tfx.utils.path_utils.serving_model_dir).
SERVING_SUBDIR = "Format-Serving"
# The SavedModels the Pusher publishes, which are also the TF Serving model names.
SERVED_MODELS = (GENERATOR_DIR, FEATURES_DIR)


@dataclasses.dataclass(frozen=True)
class ModelArtifactPaths:
    """Every path of the layout under one serving model dir."""

    root: str
    generator: str
    discriminator_features: str
    keras_generator: str
    keras_discriminator: str
    model_config: str


def paths(serving_model_dir: str) -> ModelArtifactPaths:
    """The layout's paths under `serving_model_dir` (nothing is read or created)."""
    return ModelArtifactPaths(
        root=serving_model_dir,
        generator=os.path.join(serving_model_dir, GENERATOR_DIR),
        discriminator_features=os.path.join(serving_model_dir, FEATURES_DIR),
        keras_generator=os.path.join(serving_model_dir, KERAS_DIR, "generator"),
        keras_discriminator=os.path.join(serving_model_dir, KERAS_DIR, "discriminator"),
        model_config=os.path.join(serving_model_dir, MODEL_CONFIG_FILE),
    )


def find_serving_model_dir(model_uri: str) -> str:
    """The folder holding `model_config.json` for a Model artifact's uri or that folder itself.

    Raises:
      FileNotFoundError: neither holds model_config.json (the message lists where it looked).
    """
    import tensorflow as tf

    candidates = [os.path.join(model_uri, SERVING_SUBDIR), model_uri]
    for candidate in candidates:
        if tf.io.gfile.exists(os.path.join(candidate, MODEL_CONFIG_FILE)):
            return candidate
    raise FileNotFoundError(
        f"no {MODEL_CONFIG_FILE} in {' or '.join(candidates)}: expected the Trainer's model "
        f"layout (<serving_model_dir>/{MODEL_CONFIG_FILE} and {KERAS_DIR}/discriminator/)"
    )


def read_model_config(serving_model_dir: str) -> tuple[dict[str, Any], int]:
    """Reads `<serving_model_dir>/model_config.json`.

    Returns:
      (the ExperimentConfig dict, the training step; -1 when the file has none).
    """
    import tensorflow as tf

    with tf.io.gfile.GFile(paths(serving_model_dir).model_config) as stream:
        values = json.load(stream)
    step = int(values.pop("step", -1))
    return values, step


def write_model_config(serving_model_dir: str, experiment: dict[str, Any], step: int) -> str:
    """Writes model_config.json (the experiment dict plus "step"); returns its path."""
    import tensorflow as tf

    path = paths(serving_model_dir).model_config
    with tf.io.gfile.GFile(path, "w") as handle:
        json.dump({**experiment, "step": int(step)}, handle, indent=2, sort_keys=True)
    return path
