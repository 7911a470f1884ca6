"""Loads, hot-swaps and unloads numbered SavedModel versions, as TF Serving's file-system poller does."""

from __future__ import annotations

import dataclasses
import os
import threading
import time

import grpc
import tensorflow as tf
from absl import logging
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (
    get_model_status_pb2,
)
from tensorflow_serving.config import model_server_config_pb2

from serving.batching import batchable
from serving.errors import RequestError

_State = get_model_status_pb2.ModelVersionStatus.State


@dataclasses.dataclass
class _InputSpec:
    dtype: tf.dtypes.DType
    shape: list[int] | None  # None: unknown rank; -1: any size


def shape_text(shape: list[int] | None) -> str:
    if shape is None:
        return "any shape"
    return "[" + ", ".join("?" if size < 0 else str(size) for size in shape) + "]"


class ServableVersion:
    """One loaded version of a model: its signatures and their SignatureDefs."""

    def __init__(self, name: str, version: int, path: str):
        self.name = name
        self.version = version
        self.path = path
        saved_model = saved_model_pb2.SavedModel()
        with tf.io.gfile.GFile(os.path.join(path, "saved_model.pb"), "rb") as handle:
            saved_model.ParseFromString(handle.read())
        meta_graph = next(
            (graph for graph in saved_model.meta_graphs if "serve" in graph.meta_info_def.tags),
            saved_model.meta_graphs[0],
        )
        self.signature_defs = {
            key: value
            for key, value in meta_graph.signature_def.items()
            if not key.startswith("__")
        }
        self._loaded = tf.saved_model.load(path)
        self.signatures = dict(self._loaded.signatures)
        self.input_specs: dict[str, dict[str, _InputSpec]] = {}
        for key, signature_def in self.signature_defs.items():
            specs = {}
            for input_name, info in signature_def.inputs.items():
                shape = None
                if not info.tensor_shape.unknown_rank:
                    shape = [dim.size for dim in info.tensor_shape.dim]
                specs[input_name] = _InputSpec(tf.dtypes.as_dtype(info.dtype), shape)
            self.input_specs[key] = specs
        self.batchable_signatures = {
            key for key, signature_def in self.signature_defs.items() if batchable(signature_def)
        }


@dataclasses.dataclass
class _VersionStatus:
    state: int
    error_code: int = 0
    error_message: str = ""


class _Model:
    """The versions of one configured model."""

    def __init__(self, config: model_server_config_pb2.ModelConfig):
        self.config = config
        self.name = config.name
        self.available: dict[int, ServableVersion] = {}
        self.status: dict[int, _VersionStatus] = {}
        self.failed: dict[int, tuple] = {}  # version -> fingerprint of the files that failed


def _version_folders(base_path: str) -> dict[int, str]:
    if not tf.io.gfile.isdir(base_path):
        return {}
    versions = {}
    for entry in tf.io.gfile.listdir(base_path):
        entry = entry.rstrip("/")
        if entry.isdigit():
            versions[int(entry)] = os.path.join(base_path, entry)
    return versions


def _fingerprint(path: str) -> tuple:
    """What the version folder holds (file names and sizes): a failed load is retried on change."""
    items = []
    for folder, _, files in tf.io.gfile.walk(path):
        for file_name in files:
            file_path = os.path.join(folder, file_name)
            try:
                size = tf.io.gfile.stat(file_path).length
            except tf.errors.NotFoundError:
                size = -1
            items.append((os.path.relpath(file_path, path), size))
    return tuple(sorted(items))


class ModelManager:
    """Loads, serves and retires model versions according to a ModelServerConfig."""

    def __init__(
        self,
        config: model_server_config_pb2.ModelServerConfig,
        on_change=None,
    ):
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._models = {model.name: _Model(model) for model in config.model_config_list.config}
        self._on_change = on_change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def model_names(self) -> list[str]:
        return sorted(self._models)

    # -- lookups (request threads) -----------------------------------------------------------

    def _model(self, name: str) -> _Model:
        model = self._models.get(name)
        if model is None:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: model {name!r} is not served "
                f"(model_spec.name; serving {self.model_names})",
            )
        return model

    def get(
        self, name: str, version: int | None = None, label: str | None = None
    ) -> ServableVersion:
        """The version a request names (latest available by default); NOT_FOUND otherwise."""
        model = self._model(name)
        with self._lock:
            available = dict(model.available)
        if label:
            labels = dict(model.config.version_labels)
            if label not in labels:
                raise RequestError(
                    grpc.StatusCode.NOT_FOUND,
                    f"Servable not found for request: model {name!r} has no version_label "
                    f"{label!r} (model_spec.version_label; labels {sorted(labels)})",
                )
            version = labels[label]
        if version is not None:
            if version not in available:
                raise RequestError(
                    grpc.StatusCode.NOT_FOUND,
                    f"Servable not found for request: Specific({name}, {version}) "
                    f"(model_spec.version; available versions {sorted(available)})",
                )
            return available[version]
        if not available:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: Latest({name}): no version is available",
            )
        return available[max(available)]

    def version_status(self, name: str, version: int | None = None) -> dict[int, _VersionStatus]:
        model = self._model(name)
        with self._lock:
            status = dict(model.status)
        if version is not None:
            if version not in status:
                raise RequestError(
                    grpc.StatusCode.NOT_FOUND,
                    f"Could not find version {version} of model {name!r} (model_spec.version; "
                    f"known versions {sorted(status)})",
                )
            return {version: status[version]}
        if not status:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {name!r}"
            )
        return status

    def available_versions(self, name: str) -> list[int]:
        model = self._model(name)
        with self._lock:
            return sorted(model.available)

    # -- loading (poller thread) -------------------------------------------------------------

    def poll(self) -> None:
        """Scans every base path once: loads wanted versions, retires unwanted ones."""
        with self._poll_lock:
            for model in self._models.values():
                self._poll_model(model)
        if self._on_change is not None:
            self._on_change(self)

    def _poll_model(self, model: _Model) -> None:
        on_disk = _version_folders(model.config.base_path)
        policy = model.config.model_version_policy
        kind = policy.WhichOneof("policy_choice") or "latest"
        candidates = sorted(on_disk, reverse=True)
        if kind == "latest":
            wanted = max(1, policy.latest.num_versions or 1)
        elif kind == "all":
            wanted = len(candidates)
        else:
            specific = set(policy.specific.versions)
            candidates = [version for version in candidates if version in specific]
            wanted = len(specific)
        serving: list[int] = []
        for version in candidates:
            if len(serving) >= wanted:
                break
            if version in model.available:
                serving.append(version)
                continue
            if self._load(model, version, on_disk[version]):
                serving.append(version)
        with self._lock:
            for version in list(model.available):
                if version not in serving:
                    del model.available[version]
                    model.status[version] = _VersionStatus(_State.END)
                    logging.info("model %s: unloaded version %d", model.name, version)

    def _load(self, model: _Model, version: int, path: str) -> bool:
        fingerprint = _fingerprint(path)
        if model.failed.get(version) == fingerprint:
            return False  # Same files as the failed attempt: do not retry (nor log) every poll.
        with self._lock:
            model.status[version] = _VersionStatus(_State.LOADING)
        started = time.monotonic()
        try:
            servable = ServableVersion(model.name, version, path)
        except Exception as error:  # noqa: BLE001  (any load failure keeps the old versions up)
            model.failed[version] = fingerprint
            code = getattr(error, "error_code", grpc.StatusCode.UNKNOWN.value[0])
            message = f"{type(error).__name__}: {str(error).strip().splitlines()[0][:500]}"
            with self._lock:
                model.status[version] = _VersionStatus(_State.END, code, message)
            logging.error(
                "model %s: version %d at %s failed to load (versions %s keep serving): %s",
                model.name,
                version,
                path,
                sorted(model.available),
                message,
            )
            return False
        model.failed.pop(version, None)
        with self._lock:
            model.available[version] = servable
            model.status[version] = _VersionStatus(_State.AVAILABLE)
        logging.info(
            "model %s: loaded version %d from %s in %.1f s (signatures %s)",
            model.name,
            version,
            path,
            time.monotonic() - started,
            sorted(servable.signature_defs),
        )
        return True

    def start_polling(self, interval_seconds: float) -> None:
        """Polls every `interval_seconds` in a daemon thread (<= 0: never; the initial poll only)."""
        if interval_seconds <= 0 or self._thread is not None:
            return

        def loop():
            while not self._stop.wait(interval_seconds):
                try:
                    self.poll()
                except Exception:  # noqa: BLE001  (a bad poll must not kill the poller)
                    logging.exception("model poll failed")

        self._thread = threading.Thread(target=loop, name="model-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
