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

Hardening, as the official server offers it: TLS from the same `--ssl_config_file` (or PEM file
paths), optionally requiring client certificates; gRPC message-size limits (64 MiB received,
256 MiB sent by default; larger requests get RESOURCE_EXHAUSTED); server-side batching from the
same `--batching_parameters_file` (serving/batching.py says where it differs). It binds 127.0.0.1
by default and warns when bound to any other address.

Extras the official server lacks: the standard gRPC health service (`grpc.health.v1.Health`, one
entry per model plus "" for all) and optional server reflection. It loads SavedModels with
`tf.saved_model.load` (files are only read: no pickle, no import of anything in a model folder)
and never imports the training code.

Run: python -m serving.server --model_config_file=serving/models.config \
         --model_base_path_root=<push_base> [--port=8500]
"""

from __future__ import annotations

import ipaddress
import os
import signal
import threading
from concurrent import futures

import tfx_dcgan  # noqa: F401  (only for its environment defaults, set before TensorFlow loads)

import grpc
from absl import app, flags, logging
from tensorflow_serving.apis import (
    model_service_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from serving import protos, tls
from serving.batching import Batcher, BatchingOptions, load_batching_options
from serving.model_config import load_model_server_config, single_model_config
from serving.model_manager import ModelManager, ServableVersion
from serving.servicers import ModelServicer, PredictionServicer
from serving.stats import ServerStats

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_RECEIVE_MESSAGE_BYTES",
    "DEFAULT_MAX_SEND_MESSAGE_BYTES",
    "ModelManager",
    "ModelServer",
    "ServableVersion",
    "is_loopback",
    "load_model_server_config",
    "single_model_config",
]

DEFAULT_HOST = "127.0.0.1"
# The largest request the server reads: 64 MiB holds a full batch (1024) of ~60 KB images; a
# bigger message is refused by gRPC with RESOURCE_EXHAUSTED before it is parsed. Responses may be
# larger (a batch of float images): 256 MiB.
DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_SEND_MESSAGE_BYTES = 256 * 1024 * 1024


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or "localhost") is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def set_tensorflow_threads(intra_op: int, inter_op: int) -> None:
    """TensorFlow's CPU thread pools for every model call in this process (0: TensorFlow's choice).

    The official server's --tensorflow_intra_op_parallelism / --tensorflow_inter_op_parallelism.
    Call before the first TensorFlow op runs (the pools are fixed then). Under concurrent load on
    few cores, intra_op 1 avoids threads spinning on each other: bench/serving_load.py measures it.
    """
    import tensorflow as tf

    for name, value in (
        ("tensorflow_intra_op_parallelism", intra_op),
        ("tensorflow_inter_op_parallelism", inter_op),
    ):
        if value < 0:
            raise ValueError(f"--{name} must be >= 0 (0: TensorFlow's choice), got {value}")
    current = (
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    )
    if current != (intra_op, inter_op):
        try:
            tf.config.threading.set_intra_op_parallelism_threads(intra_op)
            tf.config.threading.set_inter_op_parallelism_threads(inter_op)
        except RuntimeError as error:  # the runtime already started with other pools
            raise ValueError(
                "--tensorflow_intra_op_parallelism/--tensorflow_inter_op_parallelism must be set "
                f"before TensorFlow starts ({error})"
            ) from error
    logging.info(
        "TensorFlow threads: intra_op %s, inter_op %s",
        intra_op or "TensorFlow's choice",
        inter_op or "TensorFlow's choice",
    )


def _check_message_bytes(name: str, value: int) -> int:
    if value == 0 or value < -1:
        raise ValueError(f"{name} must be a positive byte count or -1 (unlimited), got {value}")
    return value


class ModelServer:
    """The gRPC server: PredictionService, ModelService, health (optional), reflection (optional).

    Example:
      server = ModelServer(load_model_server_config("serving/models.config", push_base), port=0)
      port = server.start()   # loads the models, then serves on 127.0.0.1:port
      ...
      server.stop()

    Args:
      config: the models to serve.
      host, port: where to listen (port 0: a free one). A non-loopback host logs a warning.
      poll_seconds: seconds between scans for new versions (<= 0: once at start).
      max_workers: gRPC threads, i.e. requests handled at once (batching merges only those).
      enable_health, enable_reflection: extra gRPC services.
      max_receive_message_bytes, max_send_message_bytes: gRPC message limits (-1: unlimited).
      ssl_config: TLS (None: plaintext); with client_verify, client certificates are required.
      batching: merge concurrent requests of batchable signatures (None: off).
    """

    def __init__(
        self,
        config: model_server_config_pb2.ModelServerConfig,
        *,
        host: str = DEFAULT_HOST,
        port: int = 8500,
        poll_seconds: float = 1.0,
        max_workers: int = 16,
        enable_health: bool = True,
        enable_reflection: bool = False,
        max_receive_message_bytes: int = DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
        max_send_message_bytes: int = DEFAULT_MAX_SEND_MESSAGE_BYTES,
        ssl_config: protos.SSLConfig | None = None,
        batching: BatchingOptions | None = None,
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
        self.ssl_config = ssl_config
        self.stats = ServerStats()
        self.batcher = (
            Batcher(batching, on_batch=self.stats.count_batch) if batching is not None else None
        )
        options = [
            (
                "grpc.max_send_message_length",
                _check_message_bytes("max_send_message_bytes", max_send_message_bytes),
            ),
            (
                "grpc.max_receive_message_length",
                _check_message_bytes("max_receive_message_bytes", max_receive_message_bytes),
            ),
        ]
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="rpc"),
            options=options,
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionServicer(self.manager, self.batcher, self.stats), self._server
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
        address = f"{self.host}:{self.requested_port}"
        if self.ssl_config is not None:
            self.port = self._server.add_secure_port(
                address, tls.server_credentials(self.ssl_config)
            )
        else:
            self.port = self._server.add_insecure_port(address)
        if not self.port:
            raise OSError(f"could not bind {address} (--host/--port)")
        if not is_loopback(self.host):
            logging.warning(
                "listening on %s:%d, reachable from other machines%s; bind 127.0.0.1 (the "
                "default) unless clients elsewhere need it",
                self.host,
                self.port,
                ""
                if self.ssl_config is not None
                else ", WITHOUT TLS (--ssl_cert_file/--ssl_key_file)",
            )
        self._server.start()
        self.manager.start_polling(self.poll_seconds)
        logging.info(
            "serving %s on %s:%d (%s%s)",
            self.manager.model_names,
            self.host,
            self.port,
            "TLS" if self.ssl_config is not None else "plaintext",
            ", batching" if self.batcher is not None else "",
        )
        return self.port

    def stop(self, grace: float | None = 1.0) -> None:
        if self._health is not None:
            self._health.enter_graceful_shutdown()
        self.manager.stop()
        self._server.stop(grace).wait()
        if self.batcher is not None:
            self.batcher.stop()

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
    "host",
    DEFAULT_HOST,
    "Address to bind. The default, 127.0.0.1, is reachable from this machine only; 0.0.0.0 "
    "exposes the server to the network (a warning is logged; use TLS there).",
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
flags.DEFINE_integer(
    "max_workers",
    16,
    "gRPC worker threads: requests handled at once (with batching, at most this many merge).",
    lower_bound=1,
)
flags.DEFINE_integer(
    "max_receive_message_bytes",
    DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
    "Largest request read, in bytes (-1: unlimited); a larger one gets RESOURCE_EXHAUSTED. "
    "Official server: --grpc_channel_arguments=grpc.max_receive_message_length=N.",
)
flags.DEFINE_integer(
    "max_send_message_bytes",
    DEFAULT_MAX_SEND_MESSAGE_BYTES,
    "Largest response sent, in bytes (-1: unlimited).",
)
flags.DEFINE_string(
    "ssl_config_file",
    None,
    "TLS as the official server takes it: a tensorflow.serving.SSLConfig text proto with the PEM "
    "texts server_key, server_cert and optionally custom_ca + client_verify: true (require client "
    "certificates signed by custom_ca). Or use --ssl_cert_file/--ssl_key_file.",
)
flags.DEFINE_string("ssl_cert_file", None, "TLS: the server's certificate chain (PEM file).")
flags.DEFINE_string("ssl_key_file", None, "TLS: the server's private key (PEM file).")
flags.DEFINE_string(
    "ssl_client_ca_file",
    None,
    "TLS: require client certificates signed by this CA (PEM file).",
)
flags.DEFINE_bool(
    "enable_batching",
    False,
    "Merge concurrent requests of signatures whose inputs all have a batch dimension "
    "(serving_default, features_from_pixels) into one model call; others pass through.",
)
flags.DEFINE_string(
    "batching_parameters_file",
    None,
    "BatchingParameters text proto, the official server's format (e.g. "
    "serving/batching_parameters.txt); needs --enable_batching. Default: the official defaults.",
)
flags.DEFINE_integer(
    "tensorflow_intra_op_parallelism",
    0,
    "Threads one TensorFlow op may use (0: TensorFlow's choice, as the official server). Under "
    "many concurrent requests on few cores, 1 is faster (see bench/serving_load.py).",
    lower_bound=0,
)
flags.DEFINE_integer(
    "tensorflow_inter_op_parallelism",
    0,
    "TensorFlow ops run at once within a model call (0: TensorFlow's choice).",
    lower_bound=0,
)
flags.DEFINE_bool("enable_health_check", True, "Serve grpc.health.v1.Health (per model and '').")
flags.DEFINE_bool("enable_reflection", False, "Serve gRPC server reflection.")


def _ssl_config_from_flags() -> protos.SSLConfig | None:
    file_flags = [FLAGS.ssl_cert_file, FLAGS.ssl_key_file, FLAGS.ssl_client_ca_file]
    if FLAGS.ssl_config_file:
        if any(file_flags):
            raise app.UsageError(
                "use --ssl_config_file or --ssl_cert_file/--ssl_key_file, not both"
            )
        return tls.load_ssl_config(FLAGS.ssl_config_file)
    if not any(file_flags):
        return None
    if not (FLAGS.ssl_cert_file and FLAGS.ssl_key_file):
        raise app.UsageError("--ssl_cert_file and --ssl_key_file go together")
    return tls.ssl_config_from_files(
        FLAGS.ssl_cert_file, FLAGS.ssl_key_file, FLAGS.ssl_client_ca_file or ""
    )


def _server_from_flags() -> ModelServer:
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
    if FLAGS.batching_parameters_file and not FLAGS.enable_batching:
        raise app.UsageError("--batching_parameters_file needs --enable_batching")
    batching = None
    if FLAGS.enable_batching:
        batching = (
            load_batching_options(FLAGS.batching_parameters_file)
            if FLAGS.batching_parameters_file
            else BatchingOptions()
        )
    return ModelServer(
        config,
        host=FLAGS.host,
        port=FLAGS.port,
        poll_seconds=FLAGS.file_system_poll_wait_seconds,
        max_workers=FLAGS.max_workers,
        enable_health=FLAGS.enable_health_check,
        enable_reflection=FLAGS.enable_reflection,
        max_receive_message_bytes=FLAGS.max_receive_message_bytes,
        max_send_message_bytes=FLAGS.max_send_message_bytes,
        ssl_config=_ssl_config_from_flags(),
        batching=batching,
    )


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        set_tensorflow_threads(
            FLAGS.tensorflow_intra_op_parallelism, FLAGS.tensorflow_inter_op_parallelism
        )
        server = _server_from_flags()
    except ValueError as error:  # a bad file or value: the message names the flag and the file
        raise app.UsageError(str(error)) from error
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
