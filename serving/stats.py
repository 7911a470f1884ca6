"""Where a Predict request's time goes inside the server: counters and bounded timing samples."""

from __future__ import annotations

import collections
import threading

import numpy as np

__all__ = ["ServerStats"]

# Timings kept per kind (the newest); enough for p99 of a load run, bounded in memory.
_KEPT = 200_000


class ServerStats:
    """Thread-safe request and model-call counters and timing samples.

    Kinds of timing (seconds per request):
      handler: the whole Predict handler (checks, TensorProto <-> array, model, response);
      model: the model call the request was part of (merged with others when batching);
      queue: time waiting in the batching queue (batched signatures only).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._timings: dict[str, collections.deque] = collections.defaultdict(
            lambda: collections.deque(maxlen=_KEPT)
        )
        self.requests = 0
        self.model_calls = 0
        self.batched_requests = 0
        self.batched_rows = 0
        self.padded_rows = 0

    def record(self, kind: str, seconds: float) -> None:
        with self._lock:
            self._timings[kind].append(seconds)
            if kind == "handler":
                self.requests += 1

    def count_model_call(self) -> None:
        with self._lock:
            self.model_calls += 1

    def count_batch(self, requests: int, rows: int, padded: int, seconds: float) -> None:
        del seconds
        with self._lock:
            self.batched_requests += requests
            self.batched_rows += rows
            self.padded_rows += padded

    def reset(self) -> None:
        with self._lock:
            self._timings.clear()
            self.requests = self.model_calls = 0
            self.batched_requests = self.batched_rows = self.padded_rows = 0

    def snapshot(self) -> dict:
        """Counters plus, per timing kind, n / mean / p50 / p99 in milliseconds."""
        with self._lock:
            timings = {kind: np.asarray(values) * 1000.0 for kind, values in self._timings.items()}
            result = {
                "requests": self.requests,
                "model_calls": self.model_calls,
                "batched_requests": self.batched_requests,
                "batched_rows": self.batched_rows,
                "padded_rows": self.padded_rows,
            }
        for kind, values in sorted(timings.items()):
            if values.size:
                result[f"{kind}_ms"] = {
                    "n": int(values.size),
                    "mean": float(values.mean()),
                    "p50": float(np.percentile(values, 50)),
                    "p99": float(np.percentile(values, 99)),
                }
        return result
