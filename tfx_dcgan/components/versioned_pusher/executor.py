"""VersionedPusher's executor: atomic, never-overwriting, numbered pushes for TF Serving.

TF Serving's file-system poller serves `<base>/<model_name>/<version>/saved_model.pb`, loading a
version as soon as its directory appears. TFX 1.16's Pusher copies the whole `Format-Serving`
directory (so one model per artifact) to `<base>/<unix seconds>/` in place, which a poller can read
half-written, and when that directory exists (two pushes in one second) it skips the copy yet
reports the model pushed. This executor instead, for each named sub-directory of the model:

  1. picks a version: the current unix time, or one more than the newest existing version of any
     of the pushed models if that is larger, so versions only increase and both models of a push
     share a number;
  2. copies the SavedModel into a hidden temporary directory in the same parent (the poller
     ignores names that are not numbers);
  3. renames it to `<version>`: atomic on a POSIX file system. A version that already exists is
     never replaced; the push moves to the next number instead.

On object stores (gs://, s3://) a directory rename is a copy and deletes, not atomic: the version
is then copied in place with `saved_model.pb` last (`fileio.publish_directory`), so a poller that
finds `saved_model.pb` finds the whole model.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

from tfx_dcgan import fileio

import tensorflow as tf
from absl import logging
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

__all__ = [
    "Executor",
    "MODEL_KEY",
    "MODEL_BLESSING_KEY",
    "PUSHED_MODEL_KEY",
    "PUSH_BASE_KEY",
    "MODEL_NAMES_KEY",
    "PUSH_UNBLESSED_KEY",
    "PUSH_RECORD_FILE",
    "existing_versions",
    "next_version",
    "publish_saved_model",
]

MODEL_KEY = "model"
MODEL_BLESSING_KEY = "model_blessing"
PUSHED_MODEL_KEY = "pushed_model"
PUSH_BASE_KEY = "push_base"
MODEL_NAMES_KEY = "model_names"
PUSH_UNBLESSED_KEY = "push_unblessed"
PUSH_RECORD_FILE = "push.json"
_MAX_ATTEMPTS = 100


def existing_versions(model_base: str) -> list[int]:
    """Numeric version directories under `<push_base>/<model_name>`, ascending."""
    if not tf.io.gfile.isdir(model_base):
        return []
    names = (name.rstrip("/") for name in tf.io.gfile.listdir(model_base))
    return sorted(int(name) for name in names if name.isdigit())


def next_version(model_bases: list[str], now: float | None = None) -> int:
    """max(unix seconds, 1 + newest version under any of `model_bases`)."""
    now_seconds = int(time.time() if now is None else now)
    newest = max((v for base in model_bases for v in existing_versions(base)), default=-1)
    return max(now_seconds, newest + 1)


def publish_saved_model(source: str, model_base: str, version: int) -> tuple[int, str]:
    """Copies one SavedModel to `<model_base>/<version>` (or the next free version) atomically.

    Args:
      source: a SavedModel directory (saved_model.pb at its root).
      model_base: `<push_base>/<model_name>`.
      version: the first version number to try.

    Returns:
      (version, destination) actually used.

    Raises:
      FileNotFoundError: `source` holds no saved_model.pb.
      RuntimeError: no free version after many attempts.
    """
    if not tf.io.gfile.exists(os.path.join(source, "saved_model.pb")):
        raise FileNotFoundError(f"{source} is not a SavedModel (no saved_model.pb)")
    tf.io.gfile.makedirs(model_base)
    temporary = os.path.join(model_base, f".tmp-push-{uuid.uuid4().hex}")
    fileio.copy_tree(source, temporary)
    try:
        for candidate in range(version, version + _MAX_ATTEMPTS):
            destination = os.path.join(model_base, str(candidate))
            if fileio.publish_directory(temporary, destination, marker="saved_model.pb"):
                return candidate, destination
            logging.info("version %s exists; trying the next one", destination)
    finally:
        if tf.io.gfile.exists(temporary):
            tf.io.gfile.rmtree(temporary)
    raise RuntimeError(f"no free version under {model_base} in {version}..{candidate}")


class Executor(base_executor.BaseExecutor):
    """Publishes `model_names` sub-directories of the model's serving dir (see module docstring)."""

    def Do(  # noqa: N802 - TFX API.
        self,
        input_dict: dict[str, list],
        output_dict: dict[str, list],
        exec_properties: dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        pushed_model = artifact_utils.get_single_instance(output_dict[PUSHED_MODEL_KEY])
        blessings = input_dict.get(MODEL_BLESSING_KEY) or []
        if blessings:
            blessing = artifact_utils.get_single_instance(blessings)
            if not blessing.get_int_custom_property("blessed"):
                if not exec_properties.get(PUSH_UNBLESSED_KEY):
                    logging.info("model not blessed by %s: not pushing", blessing.uri)
                    pushed_model.set_int_custom_property("pushed", 0)
                    return
                logging.warning(
                    "model not blessed by %s; pushing it anyway (push_unblessed is set)",
                    blessing.uri,
                )
        elif not exec_properties.get(PUSH_UNBLESSED_KEY):
            # The component refuses this combination; an executor run by hand gets the same rule.
            raise ValueError("no model_blessing input and push_unblessed is not set: not pushing")

        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        serving_dir = path_utils.serving_model_dir(model.uri)
        push_base = exec_properties[PUSH_BASE_KEY]
        names = json.loads(exec_properties[MODEL_NAMES_KEY])
        sources = {name: os.path.join(serving_dir, name) for name in names}
        for name, source in sources.items():  # Check all before publishing any.
            if not tf.io.gfile.exists(os.path.join(source, "saved_model.pb")):
                raise FileNotFoundError(
                    f"model artifact {model.uri} has no SavedModel {name!r} ({source}/saved_model.pb)"
                )
        version = next_version([os.path.join(push_base, name) for name in names])
        pushed = {}
        for name, source in sources.items():
            used_version, destination = publish_saved_model(
                source, os.path.join(push_base, name), version
            )
            pushed[name] = {"version": used_version, "destination": destination}
            logging.info("pushed %s -> %s", source, destination)

        pushed_model.set_int_custom_property("pushed", 1)
        pushed_model.set_string_custom_property("pushed_destination", push_base)
        pushed_model.set_string_custom_property(
            "pushed_version", str(max(p["version"] for p in pushed.values()))
        )
        pushed_model.set_string_custom_property("pushed_models", json.dumps(pushed))
        tf.io.gfile.makedirs(pushed_model.uri)
        with tf.io.gfile.GFile(os.path.join(pushed_model.uri, PUSH_RECORD_FILE), "w") as handle:
            json.dump(
                {"push_base": push_base, "models": pushed, "source": serving_dir}, handle, indent=2
            )
