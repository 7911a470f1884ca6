"""PredictionService and ModelService on a ModelManager, with the official status codes."""

from __future__ import annotations

import re
import time

import grpc
import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving.batching import Batcher
from serving.errors import GRPC_CODE_BY_VALUE, SIGNATURE_DEF_FIELD, RequestError
from serving.model_manager import ModelManager, ServableVersion, shape_text
from serving.stats import ServerStats


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


def _check_inputs(servable: ServableVersion, signature: str, request) -> dict[str, np.ndarray]:
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
                f"input {key!r}: expects shape {shape_text(spec.shape)}, got {shape_text(shape)} "
                f"({where})",
            )
        tensors[key] = value.astype(spec.dtype.as_numpy_dtype, copy=False)
    return tensors


def _resolve(manager: ModelManager, model_spec) -> ServableVersion:
    version = model_spec.version.value if model_spec.HasField("version") else None
    label = model_spec.version_label if model_spec.HasField("version_label") else None
    if not model_spec.name:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "model_spec.name is empty")
    return manager.get(model_spec.name, version, label)


def _model_call(servable: ServableVersion, signature: str, stats: ServerStats | None):
    """name -> array in, name -> array out; a TF error becomes the RequestError TF Serving sends."""
    function = servable.signatures[signature]
    where = f"(signature {signature!r} of model {servable.name!r})"

    def call(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        try:
            outputs = function(
                **{
                    key: tf.constant(value, dtype=servable.input_specs[signature][key].dtype)
                    for key, value in arrays.items()
                }
            )
        except tf.errors.OpError as error:
            names = sorted(arrays)
            field = f"input {names[0]!r}" if len(names) == 1 else f"inputs {names}"
            raise RequestError(
                GRPC_CODE_BY_VALUE.get(error.error_code, grpc.StatusCode.UNKNOWN),
                f"{field}: {_clean_tf_message(error.message)} {where}",
            ) from error
        result = {key: value.numpy() for key, value in outputs.items()}
        if stats is not None:
            stats.count_model_call()
            stats.record("model", time.perf_counter() - started)
        return result

    return call


def _predict(
    manager: ModelManager,
    request,
    batcher: Batcher | None = None,
    stats: ServerStats | None = None,
) -> predict_pb2.PredictResponse:
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
    arrays = _check_inputs(servable, signature, request)
    call = _model_call(servable, signature, stats)
    if batcher is not None and signature in servable.batchable_signatures:
        outputs, waited = batcher.run((id(servable), signature), arrays, call)
        if stats is not None:
            stats.record("queue", waited)
    else:
        outputs = call(arrays)
    response = predict_pb2.PredictResponse()
    response.model_spec.name = servable.name
    response.model_spec.version.value = servable.version
    response.model_spec.signature_name = signature
    for key, value in outputs.items():
        if outputs_wanted and key not in outputs_wanted:
            continue
        response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
    return response


def _abort(context: grpc.ServicerContext, error: RequestError):
    context.abort(error.code, error.message)


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata over the models a ModelManager holds.

    Args:
      manager: the loaded models.
      batcher: merges concurrent requests of batchable signatures (None: no batching).
      stats: where request and model-call timings go (None: not recorded).
    """

    def __init__(
        self,
        manager: ModelManager,
        batcher: Batcher | None = None,
        stats: ServerStats | None = None,
    ):
        self._manager = manager
        self._batcher = batcher
        self._stats = stats

    def Predict(self, request, context):  # noqa: N802  (gRPC method name)
        started = time.perf_counter()
        try:
            response = _predict(self._manager, request, self._batcher, self._stats)
            if self._stats is not None:
                self._stats.record("handler", time.perf_counter() - started)
            return response
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
                    f"({SIGNATURE_DEF_FIELD!r})",
                )
            unsupported = [field for field in fields if field != SIGNATURE_DEF_FIELD]
            if unsupported:
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Metadata field {unsupported[0]} is not supported (metadata_field; only "
                    f"{SIGNATURE_DEF_FIELD!r})",
                )
            servable = _resolve(self._manager, request.model_spec)
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            for key, value in servable.signature_defs.items():
                signature_map.signature_def[key].CopyFrom(value)
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = servable.name
            response.model_spec.version.value = servable.version
            response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
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
