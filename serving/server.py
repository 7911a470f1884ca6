"""A local gRPC model server speaking TF Serving's API, for tests and laptops.

It implements `tensorflow.serving.PredictionService` (Predict, GetModelMetadata) and
`tensorflow.serving.ModelService` (GetModelStatus) with the protos and stubs of the
`tensorflow-serving-api` package, so a client written against it works unchanged against the
official `tensorflow_model_server`. Like the official server it:

  * reads a `ModelServerConfig` text proto (`serving/models.config`) and serves each model from
    `<base_path>/<version>/` (numeric version folders holding a SavedModel), honouring the version
    policy (`latest`, `all`, `specific`) and `version_labels`;
  * polls the base paths and loads new versions as the Pusher writes them; a version that fails to
    load is logged and reported by GetModelStatus, and the versions already serving keep serving
    (it is retried when its files change, e.g. after a non-atomic copy finishes);
  * answers NOT_FOUND for an unknown model, version or label, FAILED_PRECONDITION for an unknown
    signature and INVALID_ARGUMENT for bad tensors (missing/unknown inputs, wrong dtype or shape,
    unparseable TensorProto, and the model's own checks such as the batch limit or corrupt image
    bytes), with a message naming the field;
  * returns only `signature_def` from GetModelMetadata.

Extras the official server lacks: the standard gRPC health service (`grpc.health.v1.Health`, one
entry per model plus "" for all) and optional server reflection. It binds 127.0.0.1 by default.
It loads SavedModels with `tf.saved_model.load` and never imports the training code.

Run: python -m serving.server --model_config_file=serving/models.config \
         --model_base_path_root=<push_base> [--port=8500]
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import threading
import time
from concurrent import futures

import tfx_dcgan  # noqa: F401  (only for its environment defaults, set before TensorFlow loads)

import grpc
import tensorflow as tf
from absl import app, flags, logging
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

__all__ = [
    "ModelManager",
    "ModelServer",
    "ServableVersion",
    "load_model_server_config",
    "single_model_config",
]

_State = get_model_status_pb2.ModelVersionStatus.State
_GRPC_CODE_BY_VALUE = {code.value[0]: code for code in grpc.StatusCode}
_SIGNATURE_DEF_FIELD = "signature_def"


class RequestError(Exception):
    """An RPC failure: a gRPC status code and a message for the client."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------------------------
# Configuration


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
            model.base_path = os.path.join(
                base_path_root, os.path.basename(model.base_path.rstrip("/"))
            )
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


# --------------------------------------------------------------------------------------------
# Loaded models


@dataclasses.dataclass
class _InputSpec:
    dtype: tf.dtypes.DType
    shape: list[int] | None  # None: unknown rank; -1: any size


def _shape_text(shape: list[int] | None) -> str:
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


# --------------------------------------------------------------------------------------------
# RPC handlers


def _clean_tf_message(message: str) -> str:
    """The useful line of a TF runtime error (assert message or op error), without graph noise."""
    assertion = re.search(r"assertion failed: \[(.*?)\]", message)
    if assertion:
        return assertion.group(1).replace("\\'", "'")
    lines = []
    for line in message.splitlines():
        line = line.strip()
        if (
            not line
            or line.startswith(("[[", "Detected at node", "<stack traces", "Graph execution error"))
            or line.startswith("File ")
        ):
            continue
        lines.append(re.sub(r"\s*\[\[.*$|\s*\[Op:.*$", "", line))
    return " ".join(lines[:2]) or message.strip()


def _check_inputs(servable: ServableVersion, signature: str, request) -> dict[str, tf.Tensor]:
    specs = servable.input_specs[signature]
    where = f"signature {signature!r} of model {servable.name!r}"
    expected = sorted(specs)
    if not request.inputs and specs:
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"PredictRequest.inputs is empty; {where} expects inputs {expected}",
        )
    unknown = sorted(set(request.inputs) - set(specs))
    if unknown:
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"PredictRequest.inputs has unknown key(s) {unknown}; {where} expects {expected}",
        )
    missing = sorted(set(specs) - set(request.inputs))
    if missing:
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"PredictRequest.inputs is missing {missing}; {where} expects {expected}",
        )
    tensors = {}
    for key, spec in specs.items():
        proto = request.inputs[key]
        if proto.dtype != spec.dtype.as_datatype_enum:
            got = tf.dtypes.as_dtype(proto.dtype).name if proto.dtype else "no dtype"
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input {key!r}: expects dtype {spec.dtype.name}, got {got} ({where})",
            )
        try:
            value = tf.make_ndarray(proto)
        except Exception as error:  # noqa: BLE001  (malformed TensorProto content)
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input {key!r}: malformed TensorProto ({type(error).__name__}: {error})",
            ) from error
        shape = list(value.shape)
        if spec.shape is not None and (
            len(shape) != len(spec.shape)
            or any(want >= 0 and want != got for want, got in zip(spec.shape, shape))
        ):
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input {key!r}: expects shape {_shape_text(spec.shape)}, got {_shape_text(shape)} "
                f"({where})",
            )
        tensors[key] = tf.constant(value, dtype=spec.dtype)
    return tensors


def _resolve(manager: ModelManager, model_spec) -> ServableVersion:
    version = model_spec.version.value if model_spec.HasField("version") else None
    label = model_spec.version_label if model_spec.HasField("version_label") else None
    if not model_spec.name:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "model_spec.name is empty")
    return manager.get(model_spec.name, version, label)


def _predict(manager: ModelManager, request) -> predict_pb2.PredictResponse:
    servable = _resolve(manager, request.model_spec)
    signature = request.model_spec.signature_name or "serving_default"
    if signature not in servable.signature_defs:
        raise RequestError(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"Serving signature key {signature!r} not found (model_spec.signature_name; model "
            f"{servable.name!r} has {sorted(servable.signature_defs)})",
        )
    outputs_wanted = list(request.output_filter)
    known_outputs = servable.signature_defs[signature].outputs
    unknown = sorted(set(outputs_wanted) - set(known_outputs))
    if unknown:
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"output_filter names unknown output(s) {unknown}; signature {signature!r} has "
            f"{sorted(known_outputs)}",
        )
    tensors = _check_inputs(servable, signature, request)
    try:
        outputs = servable.signatures[signature](**tensors)
    except tf.errors.OpError as error:
        names = sorted(tensors)
        field = f"input {names[0]!r}" if len(names) == 1 else f"inputs {names}"
        raise RequestError(
            _GRPC_CODE_BY_VALUE.get(error.error_code, grpc.StatusCode.UNKNOWN),
            f"{field}: {_clean_tf_message(error.message)} (signature {signature!r} of model "
            f"{servable.name!r})",
        ) from error
    response = predict_pb2.PredictResponse()
    response.model_spec.name = servable.name
    response.model_spec.version.value = servable.version
    response.model_spec.signature_name = signature
    for key, value in outputs.items():
        if outputs_wanted and key not in outputs_wanted:
            continue
        response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
    return response


def _abort(context: grpc.ServicerContext, error: RequestError):
    context.abort(error.code, error.message)


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata over the models a ModelManager holds."""

    def __init__(self, manager: ModelManager):
        self._manager = manager

    def Predict(self, request, context):  # noqa: N802  (gRPC method name)
        try:
            return _predict(self._manager, request)
        except RequestError as error:
            logging.info(
                "Predict %s: %s %s", request.model_spec.name, error.code.name, error.message
            )
            _abort(context, error)
        except Exception as error:  # noqa: BLE001  (report, keep serving)
            logging.exception("Predict failed")
            context.abort(grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {error}")

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            fields = list(request.metadata_field)
            if not fields:
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "GetModelMetadataRequest.metadata_field must name at least one field "
                    f"({_SIGNATURE_DEF_FIELD!r})",
                )
            unsupported = [field for field in fields if field != _SIGNATURE_DEF_FIELD]
            if unsupported:
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Metadata field {unsupported[0]} is not supported (metadata_field; only "
                    f"{_SIGNATURE_DEF_FIELD!r})",
                )
            servable = _resolve(self._manager, request.model_spec)
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            for key, value in servable.signature_defs.items():
                signature_map.signature_def[key].CopyFrom(value)
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = servable.name
            response.model_spec.version.value = servable.version
            response.metadata[_SIGNATURE_DEF_FIELD].Pack(signature_map)
            return response
        except RequestError as error:
            _abort(context, error)


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus: per-version state (and the load error of a version that failed)."""

    def __init__(self, manager: ModelManager):
        self._manager = manager

    def GetModelStatus(self, request, context):  # noqa: N802
        try:
            spec = request.model_spec
            if not spec.name:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "model_spec.name is empty")
            version = spec.version.value if spec.HasField("version") else None
            statuses = self._manager.version_status(spec.name, version)
            response = get_model_status_pb2.GetModelStatusResponse()
            for number in sorted(statuses, reverse=True):
                status = statuses[number]
                entry = response.model_version_status.add(version=number, state=status.state)
                entry.status.error_code = status.error_code
                entry.status.error_message = status.error_message
            return response
        except RequestError as error:
            _abort(context, error)


# --------------------------------------------------------------------------------------------
# Server


class ModelServer:
    """The gRPC server: PredictionService, ModelService, health (optional), reflection (optional).

    Example:
      server = ModelServer(load_model_server_config("serving/models.config", push_base), port=0)
      port = server.start()   # loads the models, then serves on 127.0.0.1:port
      ...
      server.stop()
    """

    def __init__(
        self,
        config: model_server_config_pb2.ModelServerConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 8500,
        poll_seconds: float = 1.0,
        max_workers: int = 8,
        enable_health: bool = True,
        enable_reflection: bool = False,
        max_message_bytes: int = -1,
    ):
        self.host = host
        self.requested_port = port
        self.poll_seconds = poll_seconds
        self._health = None
        if enable_health:
            from grpc_health.v1 import health, health_pb2, health_pb2_grpc

            self._health = health.HealthServicer()
            self._health_pb2 = health_pb2
            self._health_pb2_grpc = health_pb2_grpc
        self.manager = ModelManager(config, on_change=self._update_health)
        options = [
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
        ]
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="rpc"),
            options=options,
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionServicer(self.manager), self._server
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelServicer(self.manager), self._server
        )
        service_names = [
            prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"].full_name,
            model_service_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name,
        ]
        if self._health is not None:
            self._health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
            service_names.append(self._health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
        if enable_reflection:
            from grpc_reflection.v1alpha import reflection

            service_names.append(reflection.SERVICE_NAME)
            reflection.enable_server_reflection(service_names, self._server)
        self.port: int | None = None

    def _update_health(self, manager: ModelManager) -> None:
        if self._health is None:
            return
        serving_enum = self._health_pb2.HealthCheckResponse
        all_up = True
        for name in manager.model_names:
            up = bool(manager.available_versions(name))
            all_up = all_up and up
            self._health.set(name, serving_enum.SERVING if up else serving_enum.NOT_SERVING)
        self._health.set("", serving_enum.SERVING if all_up else serving_enum.NOT_SERVING)

    def start(self) -> int:
        """Loads what the config names, starts serving and polling; returns the bound port."""
        self.manager.poll()
        self.port = self._server.add_insecure_port(f"{self.host}:{self.requested_port}")
        if not self.port:
            raise OSError(f"could not bind {self.host}:{self.requested_port} (--host/--port)")
        self._server.start()
        self.manager.start_polling(self.poll_seconds)
        logging.info("serving %s on %s:%d", self.manager.model_names, self.host, self.port)
        return self.port

    def stop(self, grace: float | None = 1.0) -> None:
        if self._health is not None:
            self._health.enter_graceful_shutdown()
        self.manager.stop()
        self._server.stop(grace).wait()

    def wait_for_termination(self) -> None:
        self._server.wait_for_termination()


# --------------------------------------------------------------------------------------------
# Command line

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "model_config_file",
    None,
    "ModelServerConfig text proto naming the models (e.g. serving/models.config); "
    "or use --model_name/--model_base_path for one model.",
)
flags.DEFINE_string(
    "model_base_path_root",
    None,
    "Rebase every base_path of --model_config_file onto this folder: /models/generator -> "
    "<root>/generator (the Pusher's base directory).",
)
flags.DEFINE_string("model_name", None, "Serve one model under this name (with --model_base_path).")
flags.DEFINE_string("model_base_path", None, "Folder of numeric version folders for --model_name.")
flags.DEFINE_string(
    "host", "127.0.0.1", "Address to bind; 0.0.0.0 exposes the server to the network."
)
flags.DEFINE_integer(
    "port", 8500, "gRPC port (0: pick a free one, see --port_file).", lower_bound=0
)
flags.DEFINE_string("port_file", None, "Write the bound port to this file once serving.")
flags.DEFINE_float(
    "file_system_poll_wait_seconds",
    1.0,
    "Seconds between scans of the base paths for new versions (<= 0: scan once at start).",
)
flags.DEFINE_integer("max_workers", 8, "gRPC worker threads (concurrent requests).", lower_bound=1)
flags.DEFINE_integer(
    "max_message_bytes", -1, "Largest gRPC message sent or received (-1: unlimited)."
)
flags.DEFINE_bool("enable_health_check", True, "Serve grpc.health.v1.Health (per model and '').")
flags.DEFINE_bool("enable_reflection", False, "Serve gRPC server reflection.")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if FLAGS.model_config_file:
        if FLAGS.model_name or FLAGS.model_base_path:
            raise app.UsageError(
                "use --model_config_file or --model_name/--model_base_path, not both"
            )
        config = load_model_server_config(FLAGS.model_config_file, FLAGS.model_base_path_root)
    elif FLAGS.model_name and FLAGS.model_base_path:
        config = single_model_config(FLAGS.model_name, FLAGS.model_base_path)
    else:
        raise app.UsageError(
            "--model_config_file, or --model_name and --model_base_path, is required"
        )
    server = ModelServer(
        config,
        host=FLAGS.host,
        port=FLAGS.port,
        poll_seconds=FLAGS.file_system_poll_wait_seconds,
        max_workers=FLAGS.max_workers,
        enable_health=FLAGS.enable_health_check,
        enable_reflection=FLAGS.enable_reflection,
        max_message_bytes=FLAGS.max_message_bytes,
    )
    port = server.start()
    if FLAGS.port_file:
        temporary = FLAGS.port_file + ".tmp"
        with open(temporary, "w") as handle:
            handle.write(str(port))
        os.replace(temporary, FLAGS.port_file)
    stopped = threading.Event()

    def shutdown(signum, frame):
        del frame
        logging.info("signal %d: stopping", signum)
        stopped.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    while not stopped.wait(1.0):
        pass
    server.stop(grace=5.0)


def run() -> None:
    app.run(main)


if __name__ == "__main__":
    run()
