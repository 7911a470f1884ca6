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

from serving.model_config import load_model_server_config, single_model_config
from serving.model_manager import ModelManager, ServableVersion
from serving.servicers import ModelServicer, PredictionServicer

__all__ = [
    "ModelManager",
    "ModelServer",
    "ServableVersion",
    "load_model_server_config",
    "single_model_config",
]


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
