"""Probe features through the exported feature extractor, the SavedModel the Pusher publishes.

The evaluator does not rebuild D: it feeds the raw encoded image bytes to the extractor's
`serving_default` signature (Transform graph, then D with the batch-norm statistics the Trainer
re-estimated on the real training split), exactly what TF Serving runs for a client. What the
probe judges is therefore what is served.

`save_feature_rows` / `load_feature_rows` keep a few (image bytes, feature row) pairs next to the
evaluation, so anyone can check a served version against the rows the evaluator computed.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from tfx_dcgan import export, fileio, progress
from tfx_dcgan.probe.config import ProbeError

import numpy as np
import tensorflow as tf

__all__ = [
    "ExportedFeatureExtractor",
    "save_feature_rows",
    "load_feature_rows",
]

log = logging.getLogger(__name__)


class ExportedFeatureExtractor:
    """The exported `discriminator_features` SavedModel, called on encoded images in batches."""

    def __init__(self, saved_model_dir: str) -> None:
        """Loads the SavedModel and its `assets.extra/model_config.json`.

        Raises:
          FileNotFoundError: no SavedModel there (the message names the folder).
        """
        if not fileio.exists(os.path.join(saved_model_dir, "saved_model.pb")):
            raise FileNotFoundError(
                f"{saved_model_dir}: no saved_model.pb (expected the Trainer's exported feature "
                "extractor)"
            )
        self.path = saved_model_dir
        self._loaded = tf.saved_model.load(saved_model_dir)
        self._serve = self._loaded.signatures["serving_default"]
        asset = os.path.join(saved_model_dir, export.CONFIG_ASSET)
        self.config: dict[str, Any] = (
            json.loads(fileio.read_text(asset)) if fileio.exists(asset) else {}
        )
        self.batch_limit = int(self.config.get("batch_limit", export.DEFAULT_BATCH_LIMIT))

    @property
    def batch_norm(self) -> dict[str, Any]:
        """Where the extractor's BN statistics come from ({"source": "reestimated", ...})."""
        return dict(self.config.get("batch_norm", {"source": "unknown"}))

    @property
    def preprocessing(self) -> str:
        """The preprocessing inside the SavedModel ("transform_graph" from the Trainer)."""
        return str(self.config.get("preprocessing", "unknown"))

    def features(
        self, encoded: Sequence[bytes], *, batch_size: int = 256, name: str = "features"
    ) -> np.ndarray:
        """float32 [N, F] probe features of N encoded images (JPEG/PNG/GIF/BMP bytes).

        Raises:
          ProbeError: no images.
        """
        if len(encoded) == 0:
            raise ProbeError(f"{name}: no images")
        batch_size = max(1, min(int(batch_size), self.batch_limit))
        rows, start, last = [], time.perf_counter(), time.perf_counter()
        with progress.task(f"probe {name}", f"probe {name}", total=len(encoded), unit="img") as bar:
            for offset in range(0, len(encoded), batch_size):
                batch = tf.constant(list(encoded[offset : offset + batch_size]), tf.string)
                rows.append(self._serve(image_bytes=batch)["features"].numpy())
                done = offset + len(rows[-1])
                bar.update(done, total=len(encoded))
                if time.perf_counter() - last >= 10.0 or done == len(encoded):
                    last = time.perf_counter()
                    rate = done / max(last - start, 1e-9)
                    log.info("%s: %d/%d images, %.0f images/s", name, done, len(encoded), rate)
        return np.concatenate(rows)


def save_feature_rows(
    path: str, encoded: Sequence[bytes], features: np.ndarray, labels: np.ndarray
) -> None:
    """Writes (encoded images, their feature rows, labels) to `path` as .npz, without pickle.

    The bytes are stored concatenated (`encoded`, uint8) with `offsets` (int64 [N + 1]).
    """
    blobs = [bytes(item) for item in encoded]
    offsets = np.cumsum([0] + [len(blob) for blob in blobs]).astype(np.int64)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        encoded=np.frombuffer(b"".join(blobs), np.uint8),
        offsets=offsets,
        features=np.asarray(features, np.float32),
        labels=np.asarray(labels, np.int64),
    )
    fileio.write_atomically(path, buffer.getvalue())


def load_feature_rows(path: str) -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """(encoded images, float32 [N, F] features, int64 [N] labels) from `save_feature_rows`."""
    with np.load(io.BytesIO(fileio.read_bytes(path)), allow_pickle=False) as stored:
        data, offsets = stored["encoded"].tobytes(), stored["offsets"]
        encoded = [data[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
        return encoded, stored["features"], stored["labels"]
