"""The local model server as a class: `ModelServer` wires the ModelManager, the servicers,
batching, TLS and the message limits into one gRPC server (the command line is serving/server.py).

    server = ModelServer(load_model_server_config("serving/models.config", push_base), port=0)
    port = server.start()   # loads the models, then serves on 127.0.0.1:port
    ...
    server.stop()

Importing this module defines no flags, so benchmarks and tests can embed the server.
"""

from __future__ import annotations

import ipaddress
from concurrent import futures

import tfx_dcgan  # noqa: F401  (only for its environment defaults, set before TensorFlow loads)

import grpc
from absl import logging
from tensorflow_serving.apis import (
    model_service_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from serving import protos, tls
from serving.batching import Batcher, BatchingOptions
from serving.model_manager import ModelManager
from serving.servicers import ModelServicer, PredictionServicer
from serving.stats import ServerStats

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_RECEIVE_MESSAGE_BYTES",
    "DEFAULT_MAX_SEND_MESSAGE_BYTES",
    "ModelServer",
    "is_loopback",
    "set_tensorflow_threads",
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
