"""VersionedPusher's executor: atomic, never-overwriting, numbered pushes for TF Serving.

TF Serving's file-system poller serves `<base>/<model_name>/<version>/saved_model.pb`, loading a
version as soon as its directory appears. TFX 1.16's Pusher copies the whole `Format-Serving`
directory (so one model per artifact) to `<base>/<unix seconds>/` in place, which a poller can read
half-written, and when that directory exists (two pushes in one second) it skips the copy yet
reports the model pushed. This executor instead, for each named sub-directory of the model:

  1. picks a version: the current unix time, or one more than the newest existing version of any
     of the pushed models if that is larger, so versions only increase and both models of a push
     share a number (always: a number taken for either model is skipped for both);
  2. copies every SavedModel into a hidden temporary directory in the same parent (the poller
     ignores names that are not numbers) before publishing any;
  3. renames each to `<version>`: atomic on a POSIX file system. A version that already exists is
     never replaced; the push moves to the next number instead. A push that fails part-way
     withdraws the versions it had published, so it leaves a new version of both models or of
     neither (`publish_together`).

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
    "publish_together",
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
    (used,) = publish_together({"model": source}, {"model": model_base}, version).values()
    return used["version"], used["destination"]


def _stage(sources: dict[str, str], model_bases: dict[str, str]) -> dict[str, str]:
    """Copies every SavedModel into a hidden folder beside its versions; returns those folders."""
    staged: dict[str, str] = {}
    try:
        for name, source in sources.items():
            if not tf.io.gfile.exists(os.path.join(source, "saved_model.pb")):
                raise FileNotFoundError(f"{source} is not a SavedModel (no saved_model.pb)")
            tf.io.gfile.makedirs(model_bases[name])
            staged[name] = os.path.join(model_bases[name], f".tmp-push-{uuid.uuid4().hex}")
            fileio.copy_tree(source, staged[name])
    except BaseException:
        for folder in staged.values():
            fileio.rmtree(folder)
        raise
    return staged


def _withdraw(published: dict[str, dict[str, Any]]) -> None:
    """Removes the versions a failed push had already published (newest push only)."""
    for name, record in published.items():
        logging.warning(
            "withdrawing %s (%s) of a push that did not finish", record["destination"], name
        )
        fileio.rmtree(record["destination"])


def publish_together(
    sources: dict[str, str], model_bases: dict[str, str], version: int
) -> dict[str, dict[str, Any]]:
    """Publishes several SavedModels under one shared version number, all or none.

    Every model is first copied into a hidden folder beside its versions (TF Serving's poller
    ignores names that are not numbers); then, at the first version number free for every model,
    each is published (`fileio.publish_directory`: a rename on local disk). If a version appears
    meanwhile (another pusher) the models already published are withdrawn and the next number is
    tried; if publishing fails (an error), they are withdrawn and the error is raised, so a push
    leaves either a new version of every model or of none.

    Args:
      sources: model name -> SavedModel directory.
      model_bases: model name -> `<push_base>/<model_name>`.
      version: the first version number to try.

    Returns:
      model name -> {"version", "destination"}; every version is the same number.

    Raises:
      FileNotFoundError: a source holds no saved_model.pb (nothing is published).
      RuntimeError: no version free for all models after many attempts.
    """
    staged = _stage(sources, model_bases)
    try:
        for candidate in range(version, version + _MAX_ATTEMPTS):
            destinations = {
                name: os.path.join(model_bases[name], str(candidate)) for name in sources
            }
            if any(tf.io.gfile.exists(d) for d in destinations.values()):
                continue
            published: dict[str, dict[str, Any]] = {}
            try:
                for name, destination in destinations.items():
                    if not fileio.publish_directory(
                        staged[name], destination, marker="saved_model.pb"
                    ):
                        break
                    published[name] = {"version": candidate, "destination": destination}
            except BaseException:
                _withdraw(published)
                raise
            if len(published) == len(sources):
                return published
            _withdraw(published)  # a version appeared under another pusher: try the next one
            staged = {**staged, **_stage({n: sources[n] for n in published}, model_bases)}
            logging.info("version %d is taken; trying the next one", candidate)
    finally:
        for folder in staged.values():
            if tf.io.gfile.exists(folder):
                fileio.rmtree(folder)
    raise RuntimeError(
        f"no version free for every model under {sorted(model_bases.values())} in "
        f"{version}..{version + _MAX_ATTEMPTS - 1}"
    )


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
        model_bases = {name: os.path.join(push_base, name) for name in names}
        version = next_version(list(model_bases.values()))
        pushed = publish_together(sources, model_bases, version)
        for name, record in pushed.items():
            logging.info("pushed %s -> %s", sources[name], record["destination"])

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
