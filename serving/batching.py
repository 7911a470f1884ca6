"""Server-side batching: concurrent Predict requests merged into one model call.

What the official server's `--enable_batching --batching_parameters_file=...` does, read from the
same `BatchingParameters` text file, with two deliberate differences (README, "Serving"):

  * Only signatures whose inputs and outputs all have a batch dimension are batched
    (`serving_default`, `features_from_pixels` of this project's models); the others (`generate`,
    `interpolate`, `metadata`: scalar or no inputs) pass through unbatched. The official
    BatchingSession batches every signature of a model and rejects those.
  * A request larger than `max_batch_size` runs alone, unbatched (the official server refuses it
    unless large-batch splitting is on).

Requests queue per (model version, signature, per-row shapes). A batch thread takes a queue's
oldest requests, up to `max_batch_size` rows, once the queue holds that many rows or its oldest
request has waited `batch_timeout_micros`; it concatenates their inputs along axis 0, pads the batch
to the next of `allowed_batch_sizes` by repeating the first row (as the official BatchingSession
does), makes one model call and hands each request its rows. Padding also makes a request's answer
independent of its neighbours: TensorFlow's CPU kernels take other code paths at one or two rows
(README: a ~1e-9 difference), and every padded batch has at least the smallest allowed size. If
the merged call fails, each request is retried alone, so a bad request fails by itself. More than
`max_enqueued_batches x max_batch_size` waiting rows on one queue: UNAVAILABLE, as the official
server answers when its batch queue is full.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import threading
import time
from collections.abc import Callable

import grpc
import numpy as np

from serving import protos
from serving.errors import RequestError

__all__ = ["BatchingOptions", "Batcher", "batchable", "load_batching_options"]

ModelCall = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class BatchingOptions:
    """The BatchingParameters fields this server honours, with the official defaults.

    Attributes:
      max_batch_size: rows per merged model call (official default 1000).
      batch_timeout_micros: longest wait for a batch to fill (default 0: whatever queued while the
        batch threads were busy).
      max_enqueued_batches: queue bound, in batches of max_batch_size rows (default 10).
      num_batch_threads: model calls in flight at once (default: the machine's cores).
      allowed_batch_sizes: sizes a merged batch is padded up to; increasing, the last equal to
        max_batch_size; empty: no padding.
    """

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10
    num_batch_threads: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)
    allowed_batch_sizes: tuple[int, ...] = ()

    def validate(self, where: str = "batching") -> BatchingOptions:
        """Raises ValueError naming the field and `where` (the file) when a value is out of range."""
        for name in ("max_batch_size", "max_enqueued_batches", "num_batch_threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{where}: {name} must be >= 1, got {getattr(self, name)}")
        if self.batch_timeout_micros < 0:
            raise ValueError(
                f"{where}: batch_timeout_micros must be >= 0, got {self.batch_timeout_micros}"
            )
        sizes = list(self.allowed_batch_sizes)
        if sizes:
            if sizes != sorted(set(sizes)) or sizes[0] < 1:
                raise ValueError(f"{where}: allowed_batch_sizes must increase, got {sizes}")
            if sizes[-1] != self.max_batch_size:
                raise ValueError(
                    f"{where}: the last allowed_batch_sizes entry ({sizes[-1]}) must equal "
                    f"max_batch_size ({self.max_batch_size})"
                )
        return self

    def padded_size(self, rows: int) -> int:
        """The executed batch size for `rows` merged rows (rows <= max_batch_size)."""
        for size in self.allowed_batch_sizes:
            if size >= rows:
                return size
        return rows


def load_batching_options(path: str) -> BatchingOptions:
    """Reads an official `--batching_parameters_file` (BatchingParameters text proto).

    Raises:
      ValueError: unreadable, unparseable (an unknown field is named), or out-of-range values.
    """
    flag = "batching_parameters_file"
    proto = protos.parse_text_file(path, protos.BatchingParameters, flag)
    defaults = BatchingOptions()
    values = {}
    for name in (
        "max_batch_size",
        "batch_timeout_micros",
        "max_enqueued_batches",
        "num_batch_threads",
    ):
        values[name] = (
            getattr(proto, name).value if proto.HasField(name) else getattr(defaults, name)
        )
    if proto.pad_variable_length_inputs:
        raise ValueError(
            f"--{flag}={path}: pad_variable_length_inputs is not supported by the local server "
            "(this project's batched signatures have fixed per-row shapes)"
        )
    return BatchingOptions(allowed_batch_sizes=tuple(proto.allowed_batch_sizes), **values).validate(
        f"--{flag}={path}"
    )


def batchable(signature_def) -> bool:
    """Whether every input and output of a SignatureDef has a variable leading batch dimension."""
    tensors = list(signature_def.inputs.values()) + list(signature_def.outputs.values())
    if not signature_def.inputs:
        return False
    for info in tensors:
        shape = info.tensor_shape
        if shape.unknown_rank or not shape.dim or shape.dim[0].size != -1:
            return False
    return True


class _Task:
    __slots__ = ("inputs", "rows", "call", "enqueued", "done", "outputs", "error", "waited")

    def __init__(self, inputs: dict[str, np.ndarray], call: ModelCall):
        self.inputs = inputs
        self.rows = int(next(iter(inputs.values())).shape[0])
        self.call = call
        self.enqueued = time.perf_counter()
        self.done = threading.Event()
        self.outputs: dict[str, np.ndarray] | None = None
        self.error: BaseException | None = None
        self.waited = 0.0


class Batcher:
    """Merges concurrent calls of batchable signatures; see the module docstring.

    Args:
      options: the batching parameters.
      on_batch: called after each merged model call with (requests merged, rows, padded rows,
        seconds); for statistics.
    """

    def __init__(
        self,
        options: BatchingOptions,
        on_batch: Callable[[int, int, int, float], None] | None = None,
    ):
        self.options = options.validate()
        self._on_batch = on_batch
        self._queues: dict[tuple, collections.deque[_Task]] = {}
        self._rows: dict[tuple, int] = collections.defaultdict(int)
        self._condition = threading.Condition()
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._work, name=f"batch-{index}", daemon=True)
            for index in range(options.num_batch_threads)
        ]
        for thread in self._threads:
            thread.start()

    def run(
        self, key: tuple, inputs: dict[str, np.ndarray], call: ModelCall
    ) -> tuple[dict[str, np.ndarray], float]:
        """Runs `call` on `inputs`, merged with concurrent calls of the same `key`.

        Args:
          key: what may be merged: requests of one model version and signature.
          inputs: name -> array, all with the same leading size (the request's rows).
          call: the model call; it gets merged (and padded) inputs, returns name -> array with the
            same leading size, and raises RequestError for a bad request.

        Returns:
          (this request's outputs, seconds it waited in the queue).
        """
        task = _Task(inputs, call)
        if task.rows > self.options.max_batch_size:
            return call(inputs), 0.0
        shapes = tuple(
            (name, value.dtype.str, value.shape[1:]) for name, value in sorted(inputs.items())
        )
        queue_key = (key, shapes)
        limit = self.options.max_enqueued_batches * self.options.max_batch_size
        with self._condition:
            if self._stopping:
                raise RequestError(grpc.StatusCode.UNAVAILABLE, "the server is shutting down")
            if self._rows[queue_key] + task.rows > limit:
                raise RequestError(
                    grpc.StatusCode.UNAVAILABLE,
                    f"The batch scheduling queue is full ({self._rows[queue_key]} rows waiting, "
                    f"max_enqueued_batches x max_batch_size = {limit}); retry later",
                )
            self._queues.setdefault(queue_key, collections.deque()).append(task)
            self._rows[queue_key] += task.rows
            self._condition.notify()
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.outputs, task.waited

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    # -- batch threads -----------------------------------------------------------------------

    def _next_batch(self) -> list[_Task] | None:
        """Under the lock: the tasks of a ready queue, or None (and how long to wait) if none."""
        timeout = self.options.batch_timeout_micros / 1e6
        while not self._stopping:
            now = time.perf_counter()
            soonest = None
            for queue_key, queue in self._queues.items():
                if not queue:
                    continue
                deadline = queue[0].enqueued + timeout
                if self._rows[queue_key] >= self.options.max_batch_size or deadline <= now:
                    return self._take(queue_key, queue)
                soonest = deadline if soonest is None else min(soonest, deadline)
            self._condition.wait(None if soonest is None else max(0.0, soonest - now))
        return None

    def _take(self, queue_key: tuple, queue: collections.deque) -> list[_Task]:
        tasks, rows = [], 0
        while queue and rows + queue[0].rows <= self.options.max_batch_size:
            task = queue.popleft()
            tasks.append(task)
            rows += task.rows
        self._rows[queue_key] -= rows
        if queue:
            self._condition.notify()  # the rest may be ready for another thread
        return tasks

    def _work(self) -> None:
        while True:
            with self._condition:
                tasks = self._next_batch()
            if tasks is None:
                return
            started = time.perf_counter()
            for task in tasks:
                task.waited = started - task.enqueued
            self._execute(tasks)

    def _execute(self, tasks: list[_Task]) -> None:
        rows = sum(task.rows for task in tasks)
        padded = self.options.padded_size(rows)
        names = sorted(tasks[0].inputs)
        merged = {}
        for name in names:
            parts = [task.inputs[name] for task in tasks]
            if padded > rows:
                parts.append(np.repeat(parts[0][:1], padded - rows, axis=0))
            merged[name] = np.concatenate(parts, axis=0)
        started = time.perf_counter()
        try:
            outputs = tasks[0].call(merged)
            for name, value in outputs.items():
                if value.shape[:1] != (padded,):
                    raise RequestError(
                        grpc.StatusCode.INTERNAL,
                        f"output {name!r} has leading size {value.shape[:1]}, expected {padded}",
                    )
        except BaseException as error:  # noqa: BLE001  (handed to the waiting request threads)
            if len(tasks) == 1:
                tasks[0].error = error
                tasks[0].done.set()
                return
            for task in tasks:  # one bad request must not fail its neighbours
                self._execute([task])
            return
        if self._on_batch is not None:
            self._on_batch(len(tasks), rows, padded, time.perf_counter() - started)
        offset = 0
        for task in tasks:
            task.outputs = {
                name: value[offset : offset + task.rows] for name, value in outputs.items()
            }
            offset += task.rows
            task.done.set()
