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

This module is the command line (its flags and main); the server itself is
`serving.model_server.ModelServer`, re-exported here.

Run: python -m serving.server --model_config_file=serving/models.config \
         --model_base_path_root=<push_base> [--port=8500]
"""

from __future__ import annotations

import os
import signal
import threading

import tfx_dcgan  # noqa: F401  (only for its environment defaults, set before TensorFlow loads)

from absl import app, flags, logging

from serving import protos, tls
from serving.batching import BatchingOptions, load_batching_options
from serving.model_config import load_model_server_config, single_model_config
from serving.model_manager import ModelManager, ServableVersion
from serving.model_server import (
    DEFAULT_HOST,
    DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
    DEFAULT_MAX_SEND_MESSAGE_BYTES,
    ModelServer,
    is_loopback,
    set_tensorflow_threads,
)

# The command line's names, and the library's re-exported for callers of `serving.server`.
__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_RECEIVE_MESSAGE_BYTES",
    "DEFAULT_MAX_SEND_MESSAGE_BYTES",
    "ModelManager",
    "ModelServer",
    "ServableVersion",
    "is_loopback",
    "load_model_server_config",
    "main",
    "run",
    "set_tensorflow_threads",
    "single_model_config",
]


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
