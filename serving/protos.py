"""TF Serving's `SSLConfig` and `BatchingParameters` messages, for reading the official files.

The `tensorflow-serving-api` wheel ships only the API and model-config protos, not
`tensorflow_serving/config/ssl_config.proto` nor the `BatchingParameters` message of
`tensorflow_serving/servables/tensorflow/session_bundle_config.proto`. This module declares both
with the official package, names and field numbers, so `--ssl_config_file` and
`--batching_parameters_file` parse the same text files the official server reads. Fields of
BatchingParameters added to the official proto after those declared here are refused by the
parser with a message naming the field (never silently ignored).
"""

from __future__ import annotations

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    text_format,
    wrappers_pb2,
)

__all__ = ["SSLConfig", "BatchingParameters", "parse_text_file"]

_PACKAGE = "tensorflow.serving"
_FILE = "tfx_dcgan_serving/official_config_subset.proto"
_FieldProto = descriptor_pb2.FieldDescriptorProto


def _build_file() -> descriptor_pb2.FileDescriptorProto:
    file_proto = descriptor_pb2.FileDescriptorProto(
        name=_FILE, package=_PACKAGE, syntax="proto3", dependency=["google/protobuf/wrappers.proto"]
    )
    ssl = file_proto.message_type.add(name="SSLConfig")
    for number, (name, kind) in enumerate(
        (
            ("server_key", _FieldProto.TYPE_STRING),
            ("server_cert", _FieldProto.TYPE_STRING),
            ("custom_ca", _FieldProto.TYPE_STRING),
            ("client_verify", _FieldProto.TYPE_BOOL),
        ),
        start=1,
    ):
        ssl.field.add(name=name, number=number, type=kind, label=_FieldProto.LABEL_OPTIONAL)
    batching = file_proto.message_type.add(name="BatchingParameters")
    wrapped = {
        1: ("max_batch_size", ".google.protobuf.Int64Value"),
        2: ("batch_timeout_micros", ".google.protobuf.Int64Value"),
        3: ("max_enqueued_batches", ".google.protobuf.Int64Value"),
        4: ("num_batch_threads", ".google.protobuf.Int64Value"),
        5: ("thread_pool_name", ".google.protobuf.StringValue"),
    }
    for number, (name, type_name) in wrapped.items():
        batching.field.add(
            name=name,
            number=number,
            type=_FieldProto.TYPE_MESSAGE,
            type_name=type_name,
            label=_FieldProto.LABEL_OPTIONAL,
        )
    batching.field.add(
        name="allowed_batch_sizes",
        number=6,
        type=_FieldProto.TYPE_INT64,
        label=_FieldProto.LABEL_REPEATED,
    )
    batching.field.add(
        name="pad_variable_length_inputs",
        number=7,
        type=_FieldProto.TYPE_BOOL,
        label=_FieldProto.LABEL_OPTIONAL,
    )
    return file_proto


def _message_classes():
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(_build_file())
    factory = message_factory.MessageFactory(pool)
    return tuple(
        factory.GetPrototype(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
        for name in ("SSLConfig", "BatchingParameters")
    )


SSLConfig, BatchingParameters = _message_classes()


def parse_text_file(path: str, message_class, flag: str):
    """Parses a text-format proto file; errors name the flag, the file and the bad line.

    Raises:
      ValueError: the file is missing or does not parse as `message_class`.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise ValueError(f"--{flag}={path}: cannot read the file ({error.strerror})") from error
    message = message_class()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as error:
        raise ValueError(
            f"--{flag}={path}: not a tensorflow.serving.{message_class.DESCRIPTOR.name} text "
            f"proto: {error}"
        ) from error
    return message
