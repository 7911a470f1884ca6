"""TF Serving's model config file (models.config) read as the official server reads it."""

from __future__ import annotations

import os

import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2


def load_model_server_config(
    path: str, base_path_root: str | None = None
) -> model_server_config_pb2.ModelServerConfig:
    """Reads a TF Serving `ModelServerConfig` text proto.

    Args:
      path: the config file (e.g. serving/models.config).
      base_path_root: if set, each model's base_path becomes `<base_path_root>/<last component of
        base_path>`, e.g. `/models/generator` -> `<root>/generator`, so the file written for the
        official container (which mounts the Pusher's output at /models) serves a local folder.

    Returns:
      The parsed config, base paths rewritten.

    Raises:
      ValueError: the file does not parse, has no model_config_list, repeats a model name, or
        names a platform other than "tensorflow".
    """
    with tf.io.gfile.GFile(path) as handle:
        text = handle.read()
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as error:
        raise ValueError(f"{path}: not a ModelServerConfig text proto: {error}") from error
    if config.WhichOneof("config") != "model_config_list" or not config.model_config_list.config:
        raise ValueError(f"{path}: expected a non-empty model_config_list {{ config {{ ... }} }}")
    names = [model.name for model in config.model_config_list.config]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates or "" in names:
        raise ValueError(f"{path}: model names must be unique and non-empty, got {names}")
    for model in config.model_config_list.config:
        if model.model_platform not in ("", "tensorflow"):
            raise ValueError(
                f"{path}: model {model.name!r} has model_platform {model.model_platform!r}; "
                "only 'tensorflow' is served"
            )
        if not model.base_path:
            raise ValueError(f"{path}: model {model.name!r} has no base_path")
        if base_path_root:
            last = os.path.basename(model.base_path.rstrip("/"))
            if last in ("", ".", ".."):
                raise ValueError(
                    f"{path}: model {model.name!r} has base_path {model.base_path!r}, whose last "
                    f"component cannot be rebased onto {base_path_root!r} (it would leave it)"
                )
            model.base_path = os.path.join(base_path_root, last)
    return config


def single_model_config(
    name: str, base_path: str, num_versions: int = 1
) -> model_server_config_pb2.ModelServerConfig:
    """The config for `--model_name/--model_base_path` (one model, latest `num_versions`)."""
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add(name=name, base_path=base_path)
    model.model_platform = "tensorflow"
    model.model_version_policy.latest.num_versions = num_versions
    return config
