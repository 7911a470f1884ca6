"""A client for the served models, written only against TF Serving's public gRPC API.

It calls `tensorflow.serving.PredictionService/Predict` (and ModelService / GetModelMetadata) with
the stubs from `tensorflow-serving-api`, so it works unchanged against the official
`tensorflow_model_server` and against `serving/server.py`. The model's own limits (batch_limit,
z_dim) come from the generator's `metadata` signature, since GetModelMetadata carries only
signature_defs.

Example:
  with ServingClient("localhost:8500") as client:
      images, z = client.generate(64, seed=0)       # uint8 [64, S, S, C]
      features, scores = client.features([open("cat.jpg", "rb").read()])
"""

from __future__ import annotations

from collections.abc import Sequence

from tfx_dcgan import artifact

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving.tls import ClientTls, client_channel

__all__ = ["ServingClient", "GENERATOR_MODEL", "FEATURES_MODEL"]

GENERATOR_MODEL = artifact.GENERATOR_DIR
FEATURES_MODEL = artifact.FEATURES_DIR


class ServingClient:
    """Calls the generator and feature-extractor models on a TF Serving-compatible server.

    Args:
      target: "host:port" of the gRPC endpoint (TF Serving's default port is 8500).
      generator_model, features_model: served model names.
      version: pin a model version (None: the latest the server has).
      timeout: seconds per RPC.
      channel: an existing gRPC channel (target and tls are then ignored).
      tls: speak TLS (serving.tls.ClientTls: CA, optional client certificate); None: plaintext.
    """

    def __init__(
        self,
        target: str = "localhost:8500",
        *,
        generator_model: str = GENERATOR_MODEL,
        features_model: str = FEATURES_MODEL,
        version: int | None = None,
        timeout: float = 30.0,
        channel: grpc.Channel | None = None,
        tls: ClientTls | None = None,
    ):
        self._own_channel = channel is None
        self._channel = channel or client_channel(
            target,
            tls,
            options=[
                ("grpc.max_send_message_length", -1),
                ("grpc.max_receive_message_length", -1),
            ],
        )
        self._predict_stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._model_stub = model_service_pb2_grpc.ModelServiceStub(self._channel)
        self.generator_model = generator_model
        self.features_model = features_model
        self.version = version
        self.timeout = timeout
        self._metadata: dict[str, dict] = {}

    def close(self) -> None:
        if self._own_channel:
            self._channel.close()

    def __enter__(self) -> ServingClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- raw API -------------------------------------------------------------------------------

    def predict(
        self,
        model: str,
        signature: str,
        inputs: dict[str, np.ndarray],
        output_filter: Sequence[str] = (),
    ) -> dict[str, np.ndarray]:
        """One Predict RPC. Raises grpc.RpcError with the server's status code and message."""
        request = predict_pb2.PredictRequest()
        request.model_spec.name = model
        request.model_spec.signature_name = signature
        if self.version is not None:
            request.model_spec.version.value = self.version
        for key, value in inputs.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        request.output_filter.extend(output_filter)
        response = self._predict_stub.Predict(request, timeout=self.timeout)
        return {key: tf.make_ndarray(proto) for key, proto in response.outputs.items()}

    def signature_defs(self, model: str) -> get_model_metadata_pb2.SignatureDefMap:
        """The model's SignatureDefs (GetModelMetadata with metadata_field 'signature_def')."""
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        request.model_spec.name = model
        if self.version is not None:
            request.model_spec.version.value = self.version
        response = self._predict_stub.GetModelMetadata(request, timeout=self.timeout)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        return signature_map

    def model_status(self, model: str) -> dict[int, str]:
        """version -> state name (AVAILABLE, LOADING, END, ...) from ModelService.GetModelStatus."""
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = model
        response = self._model_stub.GetModelStatus(request, timeout=self.timeout)
        names = get_model_status_pb2.ModelVersionStatus.State.Name
        return {entry.version: names(entry.state) for entry in response.model_version_status}

    # -- the models ----------------------------------------------------------------------------

    def metadata(self, model: str | None = None) -> dict:
        """The model's `metadata` signature as Python values (cached per model)."""
        model = model or self.generator_model
        if model not in self._metadata:
            outputs = self.predict(model, "metadata", {})
            values = {}
            for key, value in outputs.items():
                item = value.item()
                values[key] = item.decode() if isinstance(item, bytes) else item
            self._metadata[model] = values
        return self._metadata[model]

    def generate(self, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """`count` images drawn by the server from `seed` (deterministic).

        Requests above the model's batch_limit are split; chunk k uses seed + k.

        Returns:
          (images uint8 [count, S, S, C], z float32 [count, z_dim]).
        """
        if count <= 0:
            raise ValueError(f"count must be positive, got {count}")
        limit = int(self.metadata()["batch_limit"])
        images, noise = [], []
        for chunk, start in enumerate(range(0, count, limit)):
            size = min(limit, count - start)
            outputs = self.predict(
                self.generator_model,
                "generate",
                {"seed": np.int64(seed + chunk), "count": np.int64(size)},
                output_filter=("images", "z"),
            )
            images.append(outputs["images"])
            noise.append(outputs["z"])
        return np.concatenate(images), np.concatenate(noise)

    def generate_from_z(self, z: np.ndarray) -> np.ndarray:
        """G(z) through `serving_default`: float32 [N, z_dim] -> uint8 [N, S, S, C]."""
        z = np.asarray(z, np.float32)
        outputs = self.predict(self.generator_model, "serving_default", {"z": z}, ("images",))
        return outputs["images"]

    def interpolate(
        self, z0: np.ndarray, z1: np.ndarray, steps: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The linear walk z0 -> z1 (`steps` points, ends included): (images uint8, z)."""
        outputs = self.predict(
            self.generator_model,
            "interpolate",
            {
                "z0": np.asarray(z0, np.float32),
                "z1": np.asarray(z1, np.float32),
                "steps": np.int64(steps),
            },
            output_filter=("images", "z"),
        )
        return outputs["images"], outputs["z"]

    def features(self, encoded_images: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """Probe features and D's realness score of encoded images (JPEG/PNG/GIF/BMP, any size).

        Returns:
          (features float32 [N, F], scores float32 [N] in (0, 1)).
        """
        if not encoded_images:
            raise ValueError("features() needs at least one encoded image")
        outputs = self.predict(
            self.features_model,
            "serving_default",
            {"image_bytes": np.array(list(encoded_images), dtype=object)},
            output_filter=("features", "score"),
        )
        return outputs["features"], outputs["score"]
